"""Microsoft Entra's default attribute-mapping targets for a custom SCIM app.

User and group targets from the mapping tables of Microsoft Learn, "Tutorial:
Develop and plan provisioning for a SCIM endpoint in Microsoft Entra ID"
(https://learn.microsoft.com/en-us/entra/identity/app-provisioning/use-scim-to-provision-users-and-groups);
the user list completed from the default "scim" job template as a Microsoft
engineer's sample lists it (https://github.com/marcusca10/AzureAdScimEfCore,
``Microsoft.SCIM.WebHostSample/Models/TargetUser.cs``).

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
