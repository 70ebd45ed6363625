"""The SCIM schemas and resource types served by this provider, as data.

One source of truth: the :class:`~shared.scim.attribute.Schema` objects below are
rendered at ``/Schemas`` (RFC 7643 §7) and ``/ResourceTypes`` (RFC 7643 §6)
and drive validation, PATCH, filtering and projection.

* ``USER`` — the core User schema, RFC 7643 §4.1, characteristics as in the
  schema representation of RFC 7643 §8.7.1.
* ``ENTERPRISE_USER`` — the enterprise User extension, RFC 7643 §4.3.
* ``GROUP`` — the core Group schema, RFC 7643 §4.2.
* ``COMMON_ATTRIBUTES`` — ``id``, ``externalId`` and ``meta`` (RFC 7643 §3.1),
  part of every resource but not of any schema's attribute list.

Canonical values (``canonicalValues``) are advisory: RFC 7643 §2.3.1 and §4.1.2
say service providers MAY allow other values, so they are listed, never
enforced.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from shared.scim.attribute import Attribute, Schema

# --- URNs -------------------------------------------------------------------

#: Core User schema (RFC 7643 §4.1, §8.2).
USER_URN = "urn:ietf:params:scim:schemas:core:2.0:User"
#: Enterprise User extension (RFC 7643 §4.3).
ENTERPRISE_USER_URN = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
#: Core Group schema (RFC 7643 §4.2).
GROUP_URN = "urn:ietf:params:scim:schemas:core:2.0:Group"
#: Schema of ``/Schemas`` resources (RFC 7643 §7).
SCHEMA_URN = "urn:ietf:params:scim:schemas:core:2.0:Schema"
#: Schema of ``/ResourceTypes`` resources (RFC 7643 §6).
RESOURCE_TYPE_URN = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
#: The namespace of SCIM's core schemas (RFC 7643 §10.2): their attributes sit at a resource's top level.
CORE_SCHEMAS = "urn:ietf:params:scim:schemas:core:"
#: Schema of ``/ServiceProviderConfig`` (RFC 7643 §5).
SERVICE_PROVIDER_CONFIG_URN = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"

# Protocol messages (RFC 7644 §3, registered in RFC 7644 §8.2).
#: List/query response (RFC 7644 §3.4.2).
LIST_RESPONSE_URN = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
#: POST ``/.search`` request (RFC 7644 §3.4.3).
SEARCH_REQUEST_URN = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
#: PATCH request (RFC 7644 §3.5.2).
PATCH_OP_URN = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
#: Bulk request (RFC 7644 §3.7).
BULK_REQUEST_URN = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
#: Bulk response (RFC 7644 §3.7).
BULK_RESPONSE_URN = "urn:ietf:params:scim:api:messages:2.0:BulkResponse"
#: Error response (RFC 7644 §3.12).
ERROR_URN = "urn:ietf:params:scim:api:messages:2.0:Error"


# --- helpers ----------------------------------------------------------------


def _string(name: str, description: str, **characteristics) -> Attribute:
    """A simple string attribute with the RFC 7643 §2.2 defaults."""
    return Attribute(name=name, type="string", description=description, **characteristics)


def _multi_valued(
    name: str,
    description: str,
    value: Attribute,
    type_description: str,
    canonical_types: tuple[str, ...] = (),
    **characteristics,
) -> Attribute:
    """A multi-valued complex attribute with the RFC 7643 §2.4 sub-attributes.

    ``value``, ``display``, ``type`` and ``primary``, as every multi-valued
    attribute of the User schema in RFC 7643 §8.7.1 has them.
    """
    return Attribute(
        name=name,
        type="complex",
        multi_valued=True,
        description=description,
        sub_attributes=(
            value,
            _string("display", "A human-readable name, primarily used for display purposes."),
            _string("type", type_description, canonical_values=canonical_types),
            Attribute(
                name="primary",
                type="boolean",
                description=(
                    "A Boolean value indicating the 'primary' or preferred attribute value "
                    "for this attribute. The primary attribute value 'true' MUST appear no "
                    "more than once."
                ),
            ),
        ),
        **characteristics,
    )


# --- common attributes (RFC 7643 §3.1) --------------------------------------

COMMON_ATTRIBUTES: tuple[Attribute, ...] = (
    _string(
        "id",
        "A unique identifier for a SCIM resource as defined by the service provider. "
        "REQUIRED.",
        case_exact=True,
        mutability="readOnly",
        returned="always",
        uniqueness="server",
    ),
    _string(
        "externalId",
        "A String that is an identifier for the resource as defined by the provisioning client.",
        case_exact=True,
    ),
    Attribute(
        name="meta",
        type="complex",
        description="A complex attribute containing resource metadata.",
        mutability="readOnly",
        sub_attributes=(
            _string(
                "resourceType",
                "The name of the resource type of the resource.",
                case_exact=True,
                mutability="readOnly",
            ),
            Attribute(
                name="created",
                type="dateTime",
                description="The \"DateTime\" that the resource was added to the service provider.",
                mutability="readOnly",
            ),
            Attribute(
                name="lastModified",
                type="dateTime",
                description="The most recent DateTime that the details of this resource were "
                "updated at the service provider.",
                mutability="readOnly",
            ),
            Attribute(
                name="location",
                type="reference",
                reference_types=("uri",),
                description="The URI of the resource being returned.",
                case_exact=True,
                mutability="readOnly",
            ),
            _string(
                "version",
                "The version of the resource being returned (an entity tag, RFC 7232).",
                case_exact=True,
                mutability="readOnly",
            ),
        ),
    ),
)

_COMMON_BY_LOWER: dict[str, Attribute] = {a.name.lower(): a for a in COMMON_ATTRIBUTES}


# --- User (RFC 7643 §4.1, §8.7.1) -------------------------------------------

USER = Schema(
    id=USER_URN,
    name="User",
    description="User Account",
    attributes=(
        _string(
            "userName",
            "Unique identifier for the User, typically used by the user to directly "
            "authenticate to the service provider. Each User MUST include a non-empty "
            "userName value. This identifier MUST be unique across the service provider's "
            "entire set of Users. REQUIRED.",
            required=True,
            uniqueness="server",
        ),
        Attribute(
            name="name",
            type="complex",
            description="The components of the user's real name. Providers MAY return just the "
            "full name as a single string in the formatted sub-attribute, or they MAY return "
            "just the individual component attributes using the other sub-attributes, or they "
            "MAY return both.",
            sub_attributes=(
                _string(
                    "formatted",
                    "The full name, including all middle names, titles, and suffixes as "
                    "appropriate, formatted for display (e.g., 'Ms. Barbara J Jensen, III').",
                ),
                _string(
                    "familyName",
                    "The family name of the User, or last name in most Western languages "
                    "(e.g., 'Jensen' given the full name 'Ms. Barbara J Jensen, III').",
                ),
                _string(
                    "givenName",
                    "The given name of the User, or first name in most Western languages "
                    "(e.g., 'Barbara' given the full name 'Ms. Barbara J Jensen, III').",
                ),
                _string(
                    "middleName",
                    "The middle name(s) of the User (e.g., 'Jane' given the full name "
                    "'Ms. Barbara J Jensen, III').",
                ),
                _string(
                    "honorificPrefix",
                    "The honorific prefix(es) of the User, or title in most Western languages "
                    "(e.g., 'Ms.' given the full name 'Ms. Barbara J Jensen, III').",
                ),
                _string(
                    "honorificSuffix",
                    "The honorific suffix(es) of the User, or suffix in most Western languages "
                    "(e.g., 'III' given the full name 'Ms. Barbara J Jensen, III').",
                ),
            ),
        ),
        _string(
            "displayName",
            "The name of the User, suitable for display to end-users. The name SHOULD be "
            "the full name of the User being described, if known.",
        ),
        _string(
            "nickName",
            "The casual way to address the user in real life, e.g., 'Bob' or 'Bobby' "
            "instead of 'Robert'. This attribute SHOULD NOT be used to represent a User's "
            "username (e.g., 'bjensen' or 'mpepperidge').",
        ),
        Attribute(
            name="profileUrl",
            type="reference",
            reference_types=("external",),
            description="A fully qualified URL pointing to a page representing the User's "
            "online profile.",
        ),
        _string("title", "The user's title, such as \"Vice President\"."),
        _string(
            "userType",
            "Used to identify the relationship between the organization and the user. "
            "Typical values used might be 'Contractor', 'Employee', 'Intern', 'Temp', "
            "'External', and 'Unknown', but any value may be used.",
        ),
        _string(
            "preferredLanguage",
            "Indicates the User's preferred written or spoken language. Generally used for "
            "selecting a localized user interface; e.g., 'en_US' specifies the language "
            "English and country US.",
        ),
        _string(
            "locale",
            "Used to indicate the User's default location for purposes of localizing items "
            "such as currency, date time format, or numerical representations.",
        ),
        _string(
            "timezone",
            "The User's time zone in the 'Olson' time zone database format, e.g., "
            "'America/Los_Angeles'.",
        ),
        Attribute(
            name="active",
            type="boolean",
            description="A Boolean value indicating the User's administrative status.",
        ),
        _string(
            "password",
            "The User's cleartext password. This attribute is intended to be used as a means "
            "to specify an initial password when creating a new User or to reset an existing "
            "User's password.",
            mutability="writeOnly",
            returned="never",
        ),
        _multi_valued(
            "emails",
            "Email addresses for the user. The value SHOULD be canonicalized by the service "
            "provider, e.g., 'bjensen@example.com' instead of 'bjensen@EXAMPLE.COM'. "
            "Canonical type values of 'work', 'home', and 'other'.",
            _string(
                "value",
                "Email addresses for the user. The value SHOULD be canonicalized by the "
                "service provider, e.g., 'bjensen@example.com' instead of "
                "'bjensen@EXAMPLE.COM'. Canonical type values of 'work', 'home', and 'other'.",
            ),
            "A label indicating the attribute's function, e.g., 'work' or 'home'.",
            ("work", "home", "other"),
        ),
        _multi_valued(
            "phoneNumbers",
            "Phone numbers for the User. The value SHOULD be canonicalized by the service "
            "provider according to the format specified in RFC 3966, e.g., "
            "'tel:+1-201-555-0123'. Canonical type values of 'work', 'home', 'mobile', "
            "'fax', 'pager', and 'other'.",
            _string("value", "Phone number of the User."),
            "A label indicating the attribute's function, e.g., 'work', 'home', 'mobile'.",
            ("work", "home", "mobile", "fax", "pager", "other"),
        ),
        _multi_valued(
            "ims",
            "Instant messaging addresses for the User.",
            _string("value", "Instant messaging address for the User."),
            "A label indicating the attribute's function, e.g., 'aim', 'gtalk', 'xmpp'.",
            ("aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo"),
        ),
        _multi_valued(
            "photos",
            "URLs of photos of the User.",
            Attribute(
                name="value",
                type="reference",
                reference_types=("external",),
                description="URL of a photo of the User.",
            ),
            "A label indicating the attribute's function, i.e., 'photo' or 'thumbnail'.",
            ("photo", "thumbnail"),
        ),
        Attribute(
            name="addresses",
            type="complex",
            multi_valued=True,
            description="A physical mailing address for this User. Canonical type values of "
            "'work', 'home', and 'other'. This attribute is a complex type with the "
            "following sub-attributes.",
            sub_attributes=(
                _string(
                    "formatted",
                    "The full mailing address, formatted for display or use with a mailing "
                    "label. This attribute MAY contain newlines.",
                ),
                _string(
                    "streetAddress",
                    "The full street address component, which may include house number, "
                    "street name, P.O. box, and multi-line extended street address "
                    "information. This attribute MAY contain newlines.",
                ),
                _string("locality", "The city or locality component."),
                _string("region", "The state or region component."),
                _string("postalCode", "The zip code or postal code component."),
                _string("country", "The country name component."),
                _string(
                    "type",
                    "A label indicating the attribute's function, e.g., 'work' or 'home'.",
                    canonical_values=("work", "home", "other"),
                ),
                Attribute(
                    name="primary",
                    type="boolean",
                    description="A Boolean value indicating the 'primary' or preferred "
                    "address. The primary attribute value 'true' MUST appear no more than once.",
                ),
            ),
        ),
        Attribute(
            name="groups",
            type="complex",
            multi_valued=True,
            description="A list of groups to which the user belongs, either through direct "
            "membership, through nested groups, or dynamically calculated.",
            mutability="readOnly",
            sub_attributes=(
                _string(
                    "value",
                    "The identifier of the User's group.",
                    mutability="readOnly",
                ),
                Attribute(
                    name="$ref",
                    type="reference",
                    reference_types=("User", "Group"),
                    description="The URI of the corresponding 'Group' resource to which the "
                    "user belongs.",
                    mutability="readOnly",
                ),
                _string(
                    "display",
                    "A human-readable name, primarily used for display purposes. READ-ONLY. "
                    "Not returned by this service: it would cost a lookup per member.",
                    mutability="readOnly",
                    returned="never",
                ),
                _string(
                    "type",
                    "A label indicating the attribute's function, e.g., 'direct' or 'indirect'.",
                    canonical_values=("direct", "indirect"),
                    mutability="readOnly",
                ),
            ),
        ),
        _multi_valued(
            "entitlements",
            "A list of entitlements for the User that represent a thing the User has.",
            _string("value", "The value of an entitlement."),
            "A label indicating the attribute's function.",
        ),
        _multi_valued(
            "roles",
            "A list of roles for the User that collectively represent who the User is, "
            "e.g., 'Student', 'Faculty'.",
            _string("value", "The value of a role."),
            "A label indicating the attribute's function.",
        ),
        _multi_valued(
            "x509Certificates",
            "A list of certificates issued to the User.",
            Attribute(
                name="value",
                type="binary",
                description="The value of an X.509 certificate.",
            ),
            "A label indicating the attribute's function.",
        ),
    ),
)


# --- Enterprise User extension (RFC 7643 §4.3, §8.7.1) ----------------------

ENTERPRISE_USER = Schema(
    id=ENTERPRISE_USER_URN,
    name="EnterpriseUser",
    description="Enterprise User",
    attributes=(
        _string(
            "employeeNumber",
            "Numeric or alphanumeric identifier assigned to a person, typically based on "
            "order of hire or association with an organization.",
        ),
        _string("costCenter", "Identifies the name of a cost center."),
        _string("organization", "Identifies the name of an organization."),
        _string("division", "Identifies the name of a division."),
        _string("department", "Identifies the name of a department."),
        Attribute(
            name="manager",
            type="complex",
            description="The User's manager. A complex type that optionally allows service "
            "providers to represent organizational hierarchy by referencing the 'id' "
            "attribute of another User.",
            sub_attributes=(
                _string("value", "The id of the SCIM resource representing the User's manager."),
                Attribute(
                    name="$ref",
                    type="reference",
                    reference_types=("User",),
                    description="The URI of the SCIM resource representing the User's manager.",
                ),
                _string(
                    "displayName",
                    "The displayName of the User's manager. OPTIONAL and READ-ONLY.",
                    mutability="readOnly",
                ),
            ),
        ),
    ),
)


# --- Group (RFC 7643 §4.2, §8.7.1) ------------------------------------------

GROUP = Schema(
    id=GROUP_URN,
    name="Group",
    description="Group",
    attributes=(
        # RFC 7643 §8.7.1 lists "required": false and uniqueness "none" although
        # §4.2 says REQUIRED; Microsoft Entra requires unique group displayNames
        # (a duplicate create must answer 409 uniqueness), so both are tightened.
        _string(
            "displayName",
            "A human-readable name for the Group. REQUIRED.",
            required=True,
            uniqueness="server",
        ),
        Attribute(
            name="members",
            type="complex",
            multi_valued=True,
            description="A list of members of the Group.",
            sub_attributes=(
                _string(
                    "value",
                    "Identifier of the member of this Group.",
                    mutability="immutable",
                ),
                Attribute(
                    name="$ref",
                    type="reference",
                    reference_types=("User", "Group"),
                    description="The URI corresponding to a SCIM resource that is a member "
                    "of this Group.",
                    mutability="immutable",
                ),
                _string(
                    "display",
                    "A human-readable name, primarily used for display purposes. READ-ONLY. "
                    "Not returned by this service: it would cost a lookup per member.",
                    mutability="readOnly",
                    returned="never",
                ),
                _string(
                    "type",
                    "A label indicating the type of resource, e.g., 'User' or 'Group'.",
                    canonical_values=("User", "Group"),
                    mutability="immutable",
                ),
            ),
        ),
    ),
)

#: Every schema served at ``/Schemas`` (RFC 7644 §4).
SCHEMAS: tuple[Schema, ...] = (USER, ENTERPRISE_USER, GROUP)


# --- resource types (RFC 7643 §6) -------------------------------------------


@dataclass(frozen=True, slots=True)
class ResourceType:
    """A resource type (RFC 7643 §6): endpoint, core schema and extensions.

    ``extensions`` pairs each extension schema with its ``required`` flag
    (RFC 7643 §6, ``schemaExtensions``).
    """

    name: str
    endpoint: str
    description: str
    schema: Schema
    extensions: tuple[tuple[Schema, bool], ...] = ()
    _by_lower_urn: dict[str, Schema] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        self._by_lower_urn[self.schema.id.lower()] = self.schema
        for extension, _required in self.extensions:
            self._by_lower_urn[extension.id.lower()] = extension

    @property
    def all_schema_urns(self) -> tuple[str, ...]:
        """The core schema URN followed by the extension URNs (RFC 7643 §3)."""
        return (self.schema.id, *(extension.id for extension, _ in self.extensions))

    def schema_for_urn(self, urn: str) -> Schema | None:
        """The core or extension schema with id ``urn`` (case-insensitive), or None.

        URNs are compared case-insensitively: RFC 7643 §2.1 makes attribute
        names, and hence URN-qualified attribute paths, case-insensitive.
        """
        return self._by_lower_urn.get(urn.lower())

    def attribute(self, urn: str | None, name: str, sub: str | None = None) -> Attribute | None:
        """Resolve an attribute (or its sub-attribute) of this resource type.

        ``urn`` None or the core schema URN: the core schema's attributes, then
        the common attributes of RFC 7643 §3.1 (``id``, ``externalId``,
        ``meta``), which "are considered to be part of every base resource
        schema".  An extension URN: that extension's attributes (RFC 7644
        §3.10, URN-qualified names).  With ``sub``, the named sub-attribute
        (RFC 7643 §2.4).  Case-insensitive throughout (RFC 7643 §2.1); None
        when any step is unknown.
        """
        if urn is None or urn.lower() == self.schema.id.lower():
            attr = self.schema.attr(name) or _COMMON_BY_LOWER.get(name.lower())
        else:
            schema = self.schema_for_urn(urn)
            attr = schema.attr(name) if schema is not None else None
        if attr is None or sub is None:
            return attr
        return attr.sub(sub)

    def extension_defining(self, name: str) -> str | None:
        """The URN of the one extension that defines ``name`` when the core
        schema does not: clients (Entra's older requests among them) write
        ``manager`` for ``urn:...:enterprise:2.0:User:manager``."""
        if self.attribute(None, name) is not None:
            return None
        found = [ext.id for ext, _ in self.extensions if ext.attr(name) is not None]
        return found[0] if len(found) == 1 else None


USER_TYPE = ResourceType(
    name="User",
    endpoint="/Users",
    description="User Account",
    schema=USER,
    extensions=((ENTERPRISE_USER, False),),
)

GROUP_TYPE = ResourceType(
    name="Group",
    endpoint="/Groups",
    description="Group",
    schema=GROUP,
)

#: Every resource type served at ``/ResourceTypes`` (RFC 7644 §4).
RESOURCE_TYPES: tuple[ResourceType, ...] = (USER_TYPE, GROUP_TYPE)
