"""Turning request JSON into a resource's stored attributes (RFC 7643 §2, §7).

The schema definitions (:mod:`shared.scim.schemas`) decide everything here:
attribute names are matched case-insensitively and stored under their
canonical names; values are checked against the attribute type, with the
coercions Microsoft Entra needs (``"True"``/``"False"`` strings become JSON
booleans, RFC 7643 §2.3.2 being strict only on output); ``readOnly``
attributes in requests are ignored (RFC 7644 §3.3); required attributes must
be present; at most one ``primary: true`` per multi-valued attribute (RFC
7643 §2.4).  Values are otherwise kept exactly as sent -- no reformatting.

A value of ``null``, ``""``, ``[]`` or ``{}`` means "unassigned" (RFC 7643
§2.5), so it is dropped rather than stored.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from datetime import datetime

from .attribute import Attribute
from .errors import ScimError, invalid_syntax, invalid_value, mutability
from .schemas import ENTERPRISE_USER_URN, ResourceType

ABSENT = object()

# Schema URIs Entra puts in ``schemas`` that name no schema of ours.  They
# are tolerated: the ADSCIM Group URI of the "Create Group" request and the
# ``enterprise:2.0User`` typo of Example 2 in "Handling provisioning and
# deprovisioning of users" (Microsoft Learn, "Tutorial: Develop and plan
# provisioning for a SCIM endpoint in Microsoft Entra ID",
# https://learn.microsoft.com/en-us/entra/identity/app-provisioning/use-scim-to-provision-users-and-groups);
# anything else unknown is an error.
_TOLERATED_SCHEMAS = {"http://schemas.microsoft.com/2006/11/resourcemanagement/adscim/2.0/group"}
_SCHEMA_ALIASES = {"urn:ietf:params:scim:schemas:extension:enterprise:2.0user": ENTERPRISE_USER_URN}


def canonical_schema_urn(rt: ResourceType, urn: str) -> str | None:
    """The canonical URN of one of ``rt``'s schemas named by ``urn``, else None."""
    schema = rt.schema_for_urn(_SCHEMA_ALIASES.get(urn.lower(), urn))
    return schema.id if schema else None


def check_schemas(rt: ResourceType, body: dict) -> None:
    """RFC 7643 §3: ``schemas`` is required and must name the core schema."""
    schemas = next((v for k, v in body.items() if k.lower() == "schemas"), None)
    if not isinstance(schemas, list) or not all(isinstance(s, str) for s in schemas):
        raise invalid_value(f'"schemas" must be an array of schema URIs including "{rt.schema.id}"')
    known = set()
    for urn in schemas:
        canonical = canonical_schema_urn(rt, urn)
        if canonical:
            known.add(canonical)
        elif urn.lower() not in _TOLERATED_SCHEMAS:
            supported = ", ".join(rt.all_schema_urns)
            raise invalid_value(f'unknown schema "{urn}" in "schemas"; {rt.name} supports {supported}')
    if rt.schema.id not in known:
        raise invalid_value(f'"schemas" must include "{rt.schema.id}"')


def parse_resource(rt: ResourceType, body) -> dict:
    """Validate a POST/PUT body and return the attributes to store."""
    if not isinstance(body, dict):
        raise invalid_syntax(f"the request body must be a JSON object (a {rt.name} resource)")
    check_schemas(rt, body)
    core = {}
    data: dict = {}
    for key, value in body.items():
        if key.lower() == "schemas":
            continue
        ext_urn = canonical_schema_urn(rt, key)
        if ext_urn is not None and ext_urn != rt.schema.id:
            if value is not None and not isinstance(value, dict):
                raise invalid_value(f'"{ext_urn}" must be a JSON object')
            extension = _coerce_attributes(rt, ext_urn, value or {})
            if extension:
                data[ext_urn] = extension
        # Any other "urn:" key is an extension we do not have, and is dropped: Entra sends
        # custom extension objects without their URN in "schemas" (Microsoft Learn, "Tutorial -
        # Customize user provisioning attribute-mappings for SaaS applications in Microsoft Entra ID",
        # https://learn.microsoft.com/en-us/entra/identity/app-provisioning/customize-application-attributes).
        elif not key.lower().startswith("urn:"):
            core[key] = value
    data = {**_coerce_attributes(rt, None, core), **data}
    check_required(rt, data)
    return data


def _coerce_attributes(rt: ResourceType, urn: str | None, values: dict) -> dict:
    """Coerce the attributes of the core schema (``urn`` None) or of one extension."""
    out: dict = {}
    for key, value in values.items():
        attr = rt.attribute(urn, key)
        if attr is None:
            if value is None:
                continue
            where = f'"{urn}"' if urn else rt.name
            raise invalid_value(f'unknown attribute "{key}" in {where}; see /Schemas for the supported attributes')
        if attr.mutability == "readOnly":
            continue
        coerced = coerce(attr, value, f"{urn}:{attr.name}" if urn else attr.name)
        if coerced is not ABSENT:
            out[attr.name] = coerced
    return out


def _schema_parts(rt: ResourceType, data: dict):
    """(schema, URN prefix of its attribute names, its attributes in ``data``)
    for the core schema and each extension of ``rt`` (RFC 7643 §3.3)."""
    yield rt.schema, "", data
    for extension, _required in rt.extensions:
        yield extension, f"{extension.id}:", data.get(extension.id) or {}


def check_required(rt: ResourceType, data: dict) -> None:
    """RFC 7643 §7 "required": every required attribute has a value -- of the
    core schema, and of each extension the resource carries -- and every
    value of a complex attribute its required sub-attributes; RFC 7643 §6: a
    resource carries every extension its type marks ``required``."""
    for extension, required in rt.extensions:
        if required and not data.get(extension.id):
            raise invalid_value(f'the extension "{extension.id}" is required for {rt.name}: send its attributes')
    for schema, prefix, values in _schema_parts(rt, data):
        if schema is not rt.schema and not values:
            continue
        for attr in schema.attributes:
            if attr.required and attr.mutability != "readOnly" and values.get(attr.name) in (None, "", [], {}):
                raise invalid_value(f'"{prefix}{attr.name}" is required for {rt.name}')
            _check_required_sub_attributes(attr, values.get(attr.name), f"{prefix}{attr.name}")


def _check_required_sub_attributes(attr: Attribute, value, where: str) -> None:
    """Each value of a complex attribute has its required sub-attributes (RFC 7643 §7)."""
    required = [sub for sub in attr.sub_attributes if sub.required and sub.mutability != "readOnly"]
    if not required or value in (None, "", [], {}):
        return
    for item in value if isinstance(value, list) else [value]:
        missing = next((sub for sub in required if isinstance(item, dict) and item.get(sub.name) in (None, "", [], {})), None)
        if missing is not None:
            raise invalid_value(f'"{where}.{missing.name}" is required in every value of "{where}"')


def coerce(attr: Attribute, value, where: str):
    """Check ``value`` against ``attr``; return the value to store or ABSENT."""
    if value is None:
        return ABSENT
    if attr.multi_valued:
        if not isinstance(value, list):
            raise invalid_value(f'"{where}" is multi-valued: send a JSON array')
        items = [coerce_single(attr, item, where) for item in value]
        items = [item for item in items if item is not ABSENT]
        if not items:
            return ABSENT
        check_single_primary(attr, items, where)
        return items
    return coerce_single(attr, value, where)


def coerce_single(attr: Attribute, value, where: str):
    """One value of ``attr`` (an element, for multi-valued attributes)."""
    if value is None:
        return ABSENT
    if attr.type == "complex":
        return _coerce_complex(attr, value, where)
    return coerce_scalar(attr, value, where)


def _coerce_complex(attr: Attribute, value, where: str):
    if not isinstance(value, dict):
        raise invalid_value(f'"{where}" must be a JSON object with sub-attributes of "{attr.name}"')
    out: dict = {}
    for key, sub_value in value.items():
        sub = attr.sub(key) or _sub_alias(attr, key)
        if sub is None:
            if sub_value is None:
                continue
            raise invalid_value(f'unknown sub-attribute "{key}" in "{where}"')
        if sub.mutability == "readOnly":
            continue
        coerced = coerce_scalar(sub, sub_value, f"{where}.{sub.name}") if sub_value is not None else ABSENT
        if coerced is not ABSENT:
            out[sub.name] = coerced
    return out or ABSENT


def _sub_alias(attr: Attribute, key: str) -> Attribute | None:
    """Entra writes ``displayName`` for the ``display`` sub-attribute of
    multi-valued attributes (the AppRoleAssignmentsComplex ``roles`` of
    "Provisioning a role to a SCIM app" in Microsoft Learn, "Tutorial -
    Customize user provisioning attribute-mappings for SaaS applications in
    Microsoft Entra ID",
    https://learn.microsoft.com/en-us/entra/identity/app-provisioning/customize-application-attributes);
    it is stored as ``display``."""
    if attr.multi_valued and key.lower() == "displayname":
        return attr.sub("display")
    return None


def coerce_scalar(attr: Attribute, value, where: str):
    """A simple value (RFC 7643 §2.3): type-checked, booleans coerced, else unchanged."""
    kind = attr.type
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        raise invalid_value(f'"{where}" must be a boolean (true or false), not {value!r}')
    if kind == "integer":
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise invalid_value(f'"{where}" must be an integer, not {value!r}')
    if kind == "decimal":
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return value
        raise invalid_value(f'"{where}" must be a number, not {value!r}')
    if not isinstance(value, str):
        raise invalid_value(f'"{where}" must be a string, not {type(value).__name__} {value!r}'[:300])
    if value == "":
        return ABSENT
    if kind == "dateTime" and not is_datetime(value):
        raise invalid_value(f'"{where}" must be an xsd:dateTime such as 2025-01-31T12:00:00Z, not {value!r}')
    if kind == "binary" and not _is_base64(value):
        raise invalid_value(f'"{where}" must be base64-encoded binary')
    return value


def is_datetime(text: str) -> bool:
    """Whether ``text`` is an xsd:dateTime (RFC 7643 §2.3.5)."""
    candidate = text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text
    if "." in candidate:  # .NET writes 7 fractional digits; Python reads up to 6
        head, _, rest = candidate.partition(".")
        digits = len(rest) - len(rest.lstrip("0123456789"))
        candidate = head + "." + rest[: min(digits, 6)].ljust(1, "0") + rest[digits:]
    try:
        datetime.fromisoformat(candidate)
    except ValueError:
        return False
    return "T" in candidate


def _is_base64(text: str) -> bool:
    try:
        base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


def check_single_primary(attr: Attribute, items: list, where: str) -> None:
    """RFC 7643 §2.4: "primary" true at most once in a multi-valued attribute."""
    if attr.sub("primary") is None:
        return
    if sum(1 for item in items if isinstance(item, dict) and item.get("primary") is True) > 1:
        raise invalid_value(f'only one value of "{where}" may have "primary": true')


def check_immutable(rt: ResourceType, old: dict, new: dict) -> None:
    """RFC 7643 §7 "immutable": a set value may not change (PUT, PATCH), in
    the core schema or an extension."""
    for (schema, prefix, before), (_, _, after) in zip(_schema_parts(rt, old), _schema_parts(rt, new)):
        for attr in schema.attributes:
            if attr.mutability == "immutable" and attr.name in before and after.get(attr.name) != before[attr.name]:
                raise mutability(f'"{prefix}{attr.name}" is immutable and already set')


def check_primaries(rt: ResourceType, data: dict) -> None:
    """RFC 7643 §2.4: ``primary`` true at most once in each multi-valued
    attribute, of the core schema and of the extensions."""
    for schema, prefix, values in _schema_parts(rt, data):
        for attr in schema.attributes:
            if attr.multi_valued and isinstance(values.get(attr.name), list):
                check_single_primary(attr, values[attr.name], prefix + attr.name)


MAX_IGNORED_NAMES = 50
MAX_IGNORED_NAME_CHARS = 300


def ignored_extension_names(rt: ResourceType, body) -> tuple[str, ...]:
    """The attribute names of the extension objects :func:`parse_resource`
    drops -- ``urn:`` keys naming no schema of ``rt`` -- for the audit
    trail: ``<URN>:<attribute>`` for each non-null attribute of an object,
    the key itself otherwise; names only, never a value, at most
    :data:`MAX_IGNORED_NAMES` of :data:`MAX_IGNORED_NAME_CHARS` characters."""
    if not isinstance(body, dict):
        return ()
    names: list[str] = []
    for key, value in body.items():
        if not key.lower().startswith("urn:") or canonical_schema_urn(rt, key) is not None or value is None:
            continue
        if isinstance(value, dict):
            names += [f"{key}:{name}" for name, item in value.items() if item is not None]
        else:
            names.append(key)
    return tuple(name[:MAX_IGNORED_NAME_CHARS] for name in dict.fromkeys(names))[:MAX_IGNORED_NAMES]


def hash_password(password: str) -> str:
    """``password`` is writeOnly (RFC 7643 §4.1.1): only a salted scrypt hash is stored."""
    salt = os.urandom(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=2**14, r=8, p=1)
    return "scrypt$" + salt.hex() + "$" + digest.hex()


def protect_password(data: dict, previous: dict | None, *, keep_missing: bool) -> dict:
    """Hash a newly sent password; keep the stored hash when none is sent and
    ``keep_missing`` (PUT: a client cannot echo a writeOnly value back)."""
    before = (previous or {}).get("password")
    value = data.get("password")
    if value is not None and value != before:
        data["password"] = hash_password(value)
    elif value is None and keep_missing and before is not None:
        data["password"] = before
    return data


__all__ = [
    "ABSENT",
    "ScimError",
    "parse_resource",
    "coerce",
    "coerce_single",
    "coerce_scalar",
    "check_required",
    "check_immutable",
    "check_primaries",
    "ignored_extension_names",
    "check_schemas",
    "canonical_schema_urn",
    "protect_password",
    "is_datetime",
]
