"""Extension schemas a tenant registers (RFC 7643 §3.3, §6, §7), and the
resource types they make.

A tenant's customers add attributes in Microsoft Entra ID (a cost centre, a
team, a licence tier) and map them to
``urn:ietf:params:scim:schemas:extension:<Name>:2.0:User:<attribute>``
(Microsoft Learn, "Tutorial - Customize user provisioning attribute-mappings
for SaaS applications in Microsoft Entra ID",
https://learn.microsoft.com/en-us/entra/identity/app-provisioning/customize-application-attributes).
An operator registers the schema of such an extension in its RFC 7643 §7
form (``scimctl schema add``); :func:`parse_schema` checks it and builds the
:class:`~shared.scim.attribute.Schema` that then works exactly like the
enterprise User extension: :class:`TenantSchemas` gives the tenant its own
User and Group :class:`~shared.scim.schemas.ResourceType` (built-in schemas
plus its extensions, RFC 7643 §6 ``schemaExtensions``), and those types
drive discovery, validation, PATCH, filters, sorting and projection.

Limits (they keep a tenant's schemas in one property of its tenant row,
which authentication reads and caches, so no request pays a storage call
for them): :data:`MAX_SCHEMAS` schemas per tenant, :data:`MAX_ATTRIBUTES`
attributes per schema, :data:`MAX_SUB_ATTRIBUTES` sub-attributes per complex
attribute, sub-attributes never complex themselves (RFC 7643 §2.3.8), and
:data:`MAX_STORED_CHARS` characters of JSON for all of a tenant's schemas.
Uniqueness other than ``none`` is refused: it would need an index row per
value, which extensions do not have.  ``canonicalValues`` are advisory, as
for the built-in schemas (RFC 7643 §2.3.1).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache

from .attribute import Attribute, Schema
from .discovery import attribute_json
from .schemas import (
    BULK_REQUEST_URN,
    BULK_RESPONSE_URN,
    CORE_SCHEMAS,
    ENTERPRISE_USER_URN,
    ERROR_URN,
    GROUP_TYPE,
    GROUP_URN,
    LIST_RESPONSE_URN,
    PATCH_OP_URN,
    RESOURCE_TYPE_URN,
    SCHEMA_URN,
    SCHEMAS,
    SEARCH_REQUEST_URN,
    SERVICE_PROVIDER_CONFIG_URN,
    USER_TYPE,
    USER_URN,
    ResourceType,
)
from .storable_text import refused_character

MAX_SCHEMAS = 10
MAX_ATTRIBUTES = 50
MAX_SUB_ATTRIBUTES = 20
MAX_CANONICAL_VALUES = 50
MAX_NAME_CHARS = 64
MAX_URN_CHARS = 200
MAX_TEXT_CHARS = 1000  # a description, a canonical value, a reference type
#: All of a tenant's schemas as stored (ASCII JSON, defaults left out): a
#: Table string property holds 64 KiB of UTF-16, 32,768 characters; the rest
#: is headroom: room for some 450 simple attributes in all (nine schemas of 50).
MAX_STORED_CHARS = 30000

RESOURCE_TYPE_NAMES = ("User", "Group")
_TYPES = ("string", "boolean", "decimal", "integer", "dateTime", "binary", "reference", "complex")
_MUTABILITY = ("readOnly", "readWrite", "immutable", "writeOnly")
_RETURNED = ("always", "never", "default", "request")
# RFC 7643 §2.1: ATTRNAME = ALPHA *(nameChar), nameChar = "-" / "_" / DIGIT / ALPHA.
_ATTRNAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")
# RFC 8141 NID and an NSS of URN-safe characters whose last segment is an
# ATTRNAME, so that "<urn>:<attr>" paths (RFC 7644 §3.10) split unambiguously.
_URN = re.compile(r"urn:[A-Za-z0-9][A-Za-z0-9-]{0,31}(?::[A-Za-z0-9._~()+,=@;$!*'-]+)*:[A-Za-z][A-Za-z0-9_-]*")
#: Namespaces RFC 7643 §10.2 and RFC 7644 §8.2 register for SCIM itself.
_RESERVED_PREFIXES = (CORE_SCHEMAS, "urn:ietf:params:scim:api:")
_BUILT_IN_URNS = (USER_URN, ENTERPRISE_USER_URN, GROUP_URN, SCHEMA_URN, RESOURCE_TYPE_URN,
                  SERVICE_PROVIDER_CONFIG_URN, LIST_RESPONSE_URN, SEARCH_REQUEST_URN, PATCH_OP_URN,
                  BULK_REQUEST_URN, BULK_RESPONSE_URN, ERROR_URN)
_KNOWN_KEYS = frozenset({"schemas", "id", "name", "description", "attributes", "meta"})
_ATTRIBUTE_KEYS = frozenset({"name", "type", "multivalued", "description", "required", "caseexact", "mutability",
                             "returned", "uniqueness", "canonicalvalues", "referencetypes", "subattributes"})


class SchemaError(ValueError):
    """A schema document that cannot be registered; the message says why."""


@dataclass(frozen=True, slots=True)
class Extension:
    """A registered extension: its schema, the resource type it extends and
    whether resources of that type must carry it (RFC 7643 §6 ``required``)."""

    schema: Schema
    resource_type: str
    required: bool = False


class TenantSchemas:
    """One tenant's schemas: the built-in ones plus its extensions, and the
    User and Group resource types they make (RFC 7643 §6)."""

    def __init__(self, extensions: tuple[Extension, ...] = ()) -> None:
        self.extensions = extensions
        self.user = _extended(USER_TYPE, extensions)
        self.group = _extended(GROUP_TYPE, extensions)

    @property
    def schemas(self) -> tuple[Schema, ...]:
        """Every schema served at ``/Schemas`` (RFC 7644 §4), built-in first."""
        return SCHEMAS + tuple(e.schema for e in self.extensions)

    @property
    def resource_types(self) -> tuple[ResourceType, ...]:
        """Every resource type served at ``/ResourceTypes`` (RFC 7644 §4)."""
        return (self.user, self.group)

    def type_named(self, name: str) -> ResourceType:
        """The resource type called ``name`` (``User`` or ``Group``)."""
        return self.user if name == "User" else self.group

    def extension(self, urn: str) -> Extension | None:
        """The registered extension with id ``urn`` (case-insensitive), or None."""
        return next((e for e in self.extensions if e.schema.id.lower() == urn.lower()), None)


def _extended(base: ResourceType, extensions: tuple[Extension, ...]) -> ResourceType:
    """``base`` with the extensions registered for it after its own (RFC 7643 §6)."""
    own = tuple((e.schema, e.required) for e in extensions if e.resource_type == base.name)
    if not own:
        return base
    return ResourceType(base.name, base.endpoint, base.description, base.schema, base.extensions + own)


BUILT_IN = TenantSchemas()


# ------------------------------------------------------------ stored form
#: RFC 7643 §2.2's defaults, left out of the stored form (:func:`parse_schema` restores them).
_DEFAULTS = {"description": "", "required": False, "caseExact": False, "mutability": "readWrite",
             "returned": "default", "uniqueness": "none"}


def _compact(attribute: dict) -> dict:
    """An RFC 7643 §7 attribute definition without its default characteristics."""
    out = {k: v for k, v in attribute.items() if k not in _DEFAULTS or _DEFAULTS[k] != v}
    if "subAttributes" in out:
        out["subAttributes"] = [_compact(sub) for sub in out["subAttributes"]]
    return out


def dump_extensions(extensions: tuple[Extension, ...]) -> str:
    """The stored form of a tenant's extensions: a JSON array of
    ``{"resourceType", "required", "schema"}``, each schema an RFC 7643 §7
    definition less its default characteristics, in ASCII JSON (one UTF-16
    code unit per character, what a Table property counts); longer than
    :data:`MAX_STORED_CHARS` is a SchemaError."""
    text = json.dumps([{"resourceType": e.resource_type, "required": e.required,
                        "schema": {**schema_document(e.schema),
                                   "attributes": [_compact(a) for a in schema_document(e.schema)["attributes"]]}}
                       for e in extensions], separators=(",", ":"))
    if len(text) > MAX_STORED_CHARS:
        raise SchemaError(f"a tenant's schemas may hold at most {MAX_STORED_CHARS} characters of JSON together; "
                          f"these would hold {len(text)} (shorten descriptions or split attributes off)")
    return text


@lru_cache(maxsize=1024)
def load_extensions(text: str) -> TenantSchemas:
    """The :class:`TenantSchemas` of a stored form (:func:`dump_extensions`);
    cached by text, so a tenant's types are built once per process and
    change of schemas."""
    if not text:
        return BUILT_IN
    return TenantSchemas(tuple(Extension(parse_schema(item["schema"]), item["resourceType"], bool(item["required"]))
                               for item in json.loads(text)))


def schema_document(schema: Schema) -> dict:
    """``schema`` as an RFC 7643 §7 schema definition (no ``meta``)."""
    return {"id": schema.id, "name": schema.name, "description": schema.description,
            "attributes": [attribute_json(a) for a in schema.attributes]}


# -------------------------------------------------------------- checking
def resource_type_of(urn: str, given: str | None) -> str:
    """The resource type an extension extends: ``given`` (``User``/``Group``,
    any case), else the URN's last segment when it is one of them."""
    name = given or urn.rsplit(":", 1)[-1]
    found = next((t for t in RESOURCE_TYPE_NAMES if t.lower() == name.lower()), None)
    if found is None:
        raise SchemaError(f"cannot tell which resource type {urn} extends (its URN ends in neither :User nor :Group); "
                          "say it with --resource-type User or --resource-type Group" if given is None else
                          f"unknown resource type {given!r}; extensions extend User or Group")
    return found


def check_new_extension(current: tuple[Extension, ...], extension: Extension) -> None:
    """Refuse an extension whose id collides with a built-in schema, a SCIM
    namespace or one of the tenant's schemas, and one past :data:`MAX_SCHEMAS`."""
    urn = extension.schema.id.lower()
    taken = [u.lower() for u in _BUILT_IN_URNS] + [e.schema.id.lower() for e in current]
    if urn in taken:
        raise SchemaError(f"{extension.schema.id} is already a schema of this tenant"
                          if urn not in (u.lower() for u in _BUILT_IN_URNS) else
                          f"{extension.schema.id} is a built-in schema; an extension needs a URN of its own")
    if urn.startswith(_RESERVED_PREFIXES):
        raise SchemaError(f"{extension.schema.id} is in a namespace SCIM reserves for itself "
                          f"({', '.join(_RESERVED_PREFIXES)}); use urn:ietf:params:scim:schemas:extension:<Name>:2.0:User")
    clash = next((t for t in taken if urn.startswith(t + ":") or t.startswith(urn + ":")), None)
    if clash is not None:
        raise SchemaError(f"{extension.schema.id} and {clash} would make attribute paths ambiguous (one is the other "
                          "followed by ':'); choose another URN")
    if len(current) >= MAX_SCHEMAS:
        raise SchemaError(f"a tenant may register at most {MAX_SCHEMAS} extension schemas")


def with_extension(current: tuple[Extension, ...], document, resource_type: str | None = None,
                   required: bool = False) -> tuple[Extension, ...]:
    """``current`` and the extension ``document`` defines (an RFC 7643 §7
    schema), for ``resource_type`` (default: from its URN), or SchemaError."""
    schema = parse_schema(document)
    extension = Extension(schema, resource_type_of(schema.id, resource_type), required)
    check_new_extension(current, extension)
    return current + (extension,)


def without_extension(current: tuple[Extension, ...], urn: str) -> tuple[Extension, ...]:
    """``current`` less the extension ``urn`` (case-insensitive), or SchemaError."""
    remaining = tuple(e for e in current if e.schema.id.lower() != urn.lower())
    if len(remaining) == len(current):
        raise SchemaError(f"this tenant has no extension schema {urn} (scimctl schema list)")
    return remaining


def parse_schema(document) -> Schema:
    """The :class:`Schema` of an RFC 7643 §7 schema definition, or SchemaError.

    ``id`` (a URN), ``name`` and ``attributes`` are required; each attribute
    needs ``name``, ``type`` and ``multiValued``, the other characteristics
    default as RFC 7643 §2.2 says (``required`` false, ``caseExact`` false,
    ``mutability`` readWrite, ``returned`` default, ``uniqueness`` none).
    """
    if not isinstance(document, dict):
        raise SchemaError("a schema definition is a JSON object (RFC 7643 §7)")
    unknown = sorted(set(document) - _KNOWN_KEYS)
    if unknown:
        raise SchemaError(f"unknown schema field(s) {', '.join(unknown)}; RFC 7643 §7 has id, name, description, attributes")
    urn = document.get("id")
    if not isinstance(urn, str) or len(urn) > MAX_URN_CHARS or not _URN.fullmatch(urn):
        raise SchemaError(f'"id" must be a URN such as urn:ietf:params:scim:schemas:extension:Contoso:2.0:User '
                          f"(at most {MAX_URN_CHARS} characters, ending in a name), not {str(urn)[:80]!r}")
    name = _text(document, "name", urn, required=True)
    attributes = document.get("attributes")
    if not isinstance(attributes, list) or not attributes:
        raise SchemaError(f'{urn}: "attributes" must be a non-empty array of attribute definitions')
    if len(attributes) > MAX_ATTRIBUTES:
        raise SchemaError(f"{urn}: at most {MAX_ATTRIBUTES} attributes per schema, not {len(attributes)}")
    parsed = tuple(_attribute(item, urn, top=True) for item in attributes)
    _unique_names(parsed, urn)
    return Schema(urn, name, _text(document, "description", urn), parsed)


def _attribute(item, where: str, top: bool) -> Attribute:
    """One attribute definition (RFC 7643 §7, "attributes")."""
    if not isinstance(item, dict):
        raise SchemaError(f"{where}: an attribute definition is a JSON object")
    fields = {k.lower(): v for k, v in item.items()}
    unknown = sorted(k for k in item if k.lower() not in _ATTRIBUTE_KEYS)
    name = fields.get("name")
    if not isinstance(name, str) or len(name) > MAX_NAME_CHARS or not _ATTRNAME.fullmatch(name):
        raise SchemaError(f"{where}: attribute name {str(name)[:80]!r} is not an ATTRNAME (RFC 7643 §2.1: a letter, "
                          f"then letters, digits, '-' or '_'; at most {MAX_NAME_CHARS} characters)")
    here = f"{where}:{name}" if top else f"{where}.{name}"
    if unknown:
        raise SchemaError(f"{here}: unknown characteristic(s) {', '.join(unknown)} (RFC 7643 §7)")
    kind = _choice(fields, "type", None, _TYPES, here)
    if "multivalued" not in fields:
        raise SchemaError(f'{here}: "multiValued" is required (true or false)')
    subs = fields.get("subattributes") or []
    if kind == "complex":
        if not top:
            raise SchemaError(f"{here}: a sub-attribute cannot be complex (RFC 7643 §2.3.8)")
        if not isinstance(subs, list) or not subs or len(subs) > MAX_SUB_ATTRIBUTES:
            raise SchemaError(f'{here}: a complex attribute needs "subAttributes", 1 to {MAX_SUB_ATTRIBUTES} of them')
    elif subs:
        raise SchemaError(f'{here}: only a complex attribute has "subAttributes"')
    parsed_subs = tuple(_attribute(sub, here, top=False) for sub in subs)
    _unique_names(parsed_subs, here)
    mutability = _choice(fields, "mutability", "readWrite", _MUTABILITY, here)
    returned = _choice(fields, "returned", "default", _RETURNED, here)
    if mutability == "writeOnly" and returned != "never":
        raise SchemaError(f'{here}: a writeOnly attribute is never returned (RFC 7643 §7): set "returned": "never"')
    if _choice(fields, "uniqueness", "none", ("none", "server", "global"), here) != "none":
        raise SchemaError(f'{here}: "uniqueness" must be "none": this service enforces uniqueness only on the '
                          "attributes it indexes (userName, group displayName)")
    return Attribute(
        name=name, type=kind, multi_valued=_flag(fields, "multiValued", here), description=_text(fields, "description", here),
        required=_flag(fields, "required", here), case_exact=_flag(fields, "caseExact", here), mutability=mutability,
        returned=returned, canonical_values=_strings(fields, "canonicalValues", here),
        reference_types=_strings(fields, "referenceTypes", here), sub_attributes=parsed_subs,
    )


def _unique_names(attributes: tuple[Attribute, ...], where: str) -> None:
    """RFC 7643 §2.1: names are case-insensitive, so two may not differ only in case."""
    seen: set[str] = set()
    for attr in attributes:
        if attr.name.lower() in seen:
            raise SchemaError(f"{where}: two attributes are named {attr.name!r} (names are case-insensitive)")
        seen.add(attr.name.lower())


def _choice(fields: dict, key: str, default: str | None, allowed: tuple[str, ...], where: str) -> str:
    value = fields.get(key.lower(), default)
    if value not in allowed:
        raise SchemaError(f'{where}: "{key}" must be one of {", ".join(allowed)}, not {str(value)[:80]!r}')
    return value


def _flag(fields: dict, key: str, where: str) -> bool:
    value = fields.get(key.lower(), False)
    if not isinstance(value, bool):
        raise SchemaError(f"{where}: {key} must be true or false, not {str(value)[:80]!r}")
    return value


def _text(fields: dict, key: str, where: str, required: bool = False) -> str:
    value = fields.get(key, None if required else "")
    if (not isinstance(value, str) or len(value) > MAX_TEXT_CHARS or (required and not value.strip())
            or refused_character(value)):
        raise SchemaError(f'{where}: "{key}" must be a{" non-empty" if required else ""} string of at most '
                          f"{MAX_TEXT_CHARS} storable characters")
    return value


def _strings(fields: dict, key: str, where: str) -> tuple[str, ...]:
    value = fields.get(key.lower()) or []
    if (not isinstance(value, list) or len(value) > MAX_CANONICAL_VALUES
            or not all(isinstance(v, str) and 0 < len(v) <= MAX_TEXT_CHARS and not refused_character(v) for v in value)):
        raise SchemaError(f"{where}: {key} must be an array of at most {MAX_CANONICAL_VALUES} non-empty strings")
    return tuple(value)
