"""The discovery documents (RFC 7644 §4; RFC 7643 §5, §6, §7) as JSON-ready dicts.

Pure functions: they render the data of :mod:`shared.scim.schemas` and take the
absolute base URL of the service (e.g. ``https://host/scim/v2``, no trailing
slash) for ``meta.location`` (RFC 7643 §3.1).

Microsoft Entra ID asks that discovery documents carry no ``null`` values and
use camel-cased property values ("If a value isn't present, don't send null
values"; "Property values should be camel cased"), so optional
characteristics are omitted rather than sent empty.
"""

from __future__ import annotations

from shared.scim.attribute import Attribute, Schema
from shared.scim.schemas import (
    COMMON_ATTRIBUTES,
    LIST_RESPONSE_URN,
    RESOURCE_TYPE_URN,
    RESOURCE_TYPES,
    SCHEMA_URN,
    SERVICE_PROVIDER_CONFIG_URN,
    ResourceType,
)

# RFC 7643 §3.1: "some existing schema definitions MAY list common attributes
# as part of the schema".  ``externalId`` is listed in the core schema of each
# resource type because Microsoft's validation harness (Schema_Discoverability_Test)
# flattens /Schemas and requires every target attribute of the provisioning job
# except ``id`` to appear there, and ``externalId`` is a default Entra mapping
# target for both users and groups.  ``id`` (excluded by the harness, and not to
# be mapped) and ``meta`` (read-only) are not listed.
_LISTED_COMMON_ATTRIBUTES: tuple[Attribute, ...] = tuple(
    a for a in COMMON_ATTRIBUTES if a.name == "externalId"
)
_RESOURCE_CORE_SCHEMA_IDS = frozenset(rt.schema.id for rt in RESOURCE_TYPES)

_CASE_EXACT_TYPES = frozenset({"string", "reference", "binary"})


def attribute_json(attr: Attribute) -> dict:
    """One attribute definition in the RFC 7643 §7 representation.

    Always emits ``name``, ``type``, ``multiValued``, ``description``,
    ``required``, ``mutability`` and ``returned``; ``caseExact`` for string,
    reference and binary attributes; ``uniqueness`` for non-complex ones;
    ``canonicalValues``, ``referenceTypes`` and ``subAttributes`` only when
    non-empty.
    """
    out: dict = {
        "name": attr.name,
        "type": attr.type,
        "multiValued": attr.multi_valued,
        "description": attr.description,
        "required": attr.required,
    }
    if attr.canonical_values:
        out["canonicalValues"] = list(attr.canonical_values)
    if attr.type in _CASE_EXACT_TYPES:
        out["caseExact"] = attr.case_exact
    out["mutability"] = attr.mutability
    out["returned"] = attr.returned
    if attr.type != "complex":
        out["uniqueness"] = attr.uniqueness
    if attr.reference_types:
        out["referenceTypes"] = list(attr.reference_types)
    if attr.sub_attributes:
        out["subAttributes"] = [attribute_json(sub) for sub in attr.sub_attributes]
    return out


def schema_json(schema: Schema, base_url: str) -> dict:
    """A ``/Schemas/{id}`` resource (RFC 7643 §7, RFC 7644 §4).

    The core schema of a resource type also lists ``externalId`` (see
    ``_LISTED_COMMON_ATTRIBUTES``; allowed by RFC 7643 §3.1).
    """
    attributes = [attribute_json(a) for a in schema.attributes]
    if schema.id in _RESOURCE_CORE_SCHEMA_IDS:
        attributes += [
            attribute_json(a) for a in _LISTED_COMMON_ATTRIBUTES if schema.attr(a.name) is None
        ]
    return {
        "schemas": [SCHEMA_URN],
        "id": schema.id,
        "name": schema.name,
        "description": schema.description,
        "attributes": attributes,
        "meta": {
            "resourceType": "Schema",
            "location": f"{base_url}/Schemas/{schema.id}",
        },
    }


def resource_type_json(rt: ResourceType, base_url: str) -> dict:
    """A ``/ResourceTypes/{name}`` resource (RFC 7643 §6, RFC 7644 §4)."""
    out: dict = {
        "schemas": [RESOURCE_TYPE_URN],
        "id": rt.name,
        "name": rt.name,
        "endpoint": rt.endpoint,
        "description": rt.description,
        "schema": rt.schema.id,
    }
    if rt.extensions:
        out["schemaExtensions"] = [
            {"schema": extension.id, "required": required} for extension, required in rt.extensions
        ]
    out["meta"] = {
        "resourceType": "ResourceType",
        "location": f"{base_url}/ResourceTypes/{rt.name}",
    }
    return out


def service_provider_config_json(
    base_url: str,
    *,
    max_results: int,
    max_payload_size: int,
    max_operations: int,
    etag: bool = True,
    documentation_uri: str | None = None,
    default_page_size: int | None = None,
    cursor_timeout: int | None = None,
) -> dict:
    """The ``/ServiceProviderConfig`` resource (RFC 7643 §5, RFC 7644 §4).

    PATCH, bulk, filtering and sorting are supported, password change is
    not.  ``bulk`` gives the limits of RFC 7644 §3.7.4: ``max_operations``
    per request and ``max_payload_size`` (bytes), which is the request body
    limit of every route.  ``documentationUri`` is omitted unless given.

    ``pagination`` (RFC 9865 §4): paging by index always, by cursor when
    ``cursor_timeout`` (seconds a cursor stays valid) is given; index is the
    default method, as RFC 7644 clients (Entra among them) expect.
    """
    out: dict = {"schemas": [SERVICE_PROVIDER_CONFIG_URN]}
    if documentation_uri:
        out["documentationUri"] = documentation_uri
    out.update(
        {
            "patch": {"supported": True},
            "bulk": {
                "supported": True,
                "maxOperations": max_operations,
                "maxPayloadSize": max_payload_size,
            },
            "filter": {"supported": True, "maxResults": max_results},
            "pagination": _pagination(max_results, default_page_size, cursor_timeout),
            "changePassword": {"supported": False},
            "sort": {"supported": True},
            "etag": {"supported": etag},
            "authenticationSchemes": [
                {
                    "type": "oauthbearertoken",
                    "name": "OAuth Bearer Token",
                    "description": "Authentication with a bearer token in the "
                    "Authorization header (RFC 6750).",
                    "specUri": "https://www.rfc-editor.org/info/rfc6750",
                    "primary": True,
                }
            ],
            "meta": {
                "resourceType": "ServiceProviderConfig",
                "location": f"{base_url}/ServiceProviderConfig",
            },
        }
    )
    return out


def _pagination(max_page_size: int, default_page_size: int | None, cursor_timeout: int | None) -> dict:
    """The ``pagination`` attribute of ``/ServiceProviderConfig`` (RFC 9865 §4)."""
    out: dict = {"cursor": cursor_timeout is not None, "index": True, "defaultPaginationMethod": "index"}
    if default_page_size is not None:
        out["defaultPageSize"] = default_page_size
    out["maxPageSize"] = max_page_size
    if cursor_timeout is not None:
        out["cursorTimeout"] = cursor_timeout
    return out


def list_response(resources: list[dict]) -> dict:
    """A complete, single-page ListResponse (RFC 7644 §3.4.2) of discovery resources.

    Discovery endpoints ignore paging and filtering (RFC 7644 §4), so every
    resource is returned from ``startIndex`` 1.
    """
    return {
        "schemas": [LIST_RESPONSE_URN],
        "totalResults": len(resources),
        "itemsPerPage": len(resources),
        "startIndex": 1,
        "Resources": resources,
    }


def flattened_attribute_names(rt: ResourceType) -> set[str]:
    """The lower-cased attribute names Microsoft's validator derives from ``/Schemas``.

    Mirrors the flattening of Schema_Discoverability_Test in Microsoft's
    validation harness (AzureAD/SCIMReferenceCode, Logic App template), applied
    to what :func:`schema_json` serves for ``rt``:

    * an attribute named ``manager`` or ``members``: its name;
    * a multi-valued complex attribute whose ``type`` sub-attribute has
      canonical values: ``attr[type eq "<value>"].<sub>`` for every canonical
      value and every sub-attribute other than ``type`` and ``primary``;
      without canonical types: ``attr[primary eq "True"].<sub>`` for every
      sub-attribute other than ``primary`` (no plain ``attr.sub`` form);
    * a single-valued complex attribute: ``attr.<sub>`` for every sub-attribute
      that is neither complex nor a reference;
    * any other attribute that is not a reference: its name;
    * extension attributes: ``<extension URN>:<name>`` (no sub-attributes).

    The harness compares case-insensitively, hence the lower-casing.
    """
    names: list[str] = []
    for attr in schema_json(rt.schema, "")["attributes"]:
        name = attr["name"]
        subs = attr.get("subAttributes", [])
        if name in ("manager", "members"):
            names.append(name)
        elif attr["type"] == "complex" and attr["multiValued"]:
            type_sub = next((s for s in subs if s["name"] == "type"), None)
            canonical = type_sub.get("canonicalValues", []) if type_sub else []
            if canonical:
                for value in canonical:
                    names += [
                        f'{name}[type eq "{value}"].{s["name"]}'
                        for s in subs
                        if s["name"] not in ("type", "primary")
                    ]
            else:
                names += [
                    f'{name}[primary eq "True"].{s["name"]}' for s in subs if s["name"] != "primary"
                ]
        elif attr["type"] == "complex":
            names += [
                f"{name}.{s['name']}" for s in subs if s["type"] not in ("complex", "reference")
            ]
        elif attr["type"] != "reference":
            names.append(name)
    for extension, _required in rt.extensions:
        names += [f"{extension.id}:{a['name']}" for a in schema_json(extension, "")["attributes"]]
    return {n.lower() for n in names}
