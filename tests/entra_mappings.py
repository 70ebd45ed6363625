"""Microsoft Entra's default attribute-mapping targets (reference §6.1, §6.2).

Shared by the schema and discovery tests: every one must resolve and be
discoverable at /Schemas.
"""

ENTRA_USER_TARGETS = [
    "userName",
    "active",
    "displayName",
    "title",
    'emails[type eq "work"].value',
    "preferredLanguage",
    "name.givenName",
    "name.familyName",
    "name.formatted",
    'addresses[type eq "work"].formatted',
    'addresses[type eq "work"].streetAddress',
    'addresses[type eq "work"].locality',
    'addresses[type eq "work"].region',
    'addresses[type eq "work"].postalCode',
    'addresses[type eq "work"].country',
    'phoneNumbers[type eq "work"].value',
    'phoneNumbers[type eq "mobile"].value',
    'phoneNumbers[type eq "fax"].value',
    "externalId",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
    'emails[type eq "other"].Value',
    'addresses[type eq "other"].Formatted',
]
ENTRA_GROUP_TARGETS = ["displayName", "members", "externalId"]
