"""An OpenAPI 3.0 description of this SCIM API, derived from :mod:`shared.scim.schemas`.

Served at ``GET /scim/v2/openapi.json`` (with the same bearer authentication
as the discovery endpoints of RFC 7644 §4) and used by the HTTP fuzz
(``tests/integration/test_http_fuzz.py``) to know every route, method and
parameter.  The resource schemas are built from the same attribute
definitions that ``/Schemas`` renders (RFC 7643 §7), so the description
cannot drift from what the service enforces; the messages follow RFC 7644:
ListResponse and SearchRequest (§3.4.2, §3.4.3), PatchOp (§3.5.2),
BulkRequest and BulkResponse (§3.7) and Error (§3.12).  OAuth's token endpoint is RFC 6749 §4.4.
"""

from __future__ import annotations

from .attribute import Attribute
from .endpoints import CATCH_ALL, ENDPOINTS
from .schemas import (
    BULK_REQUEST_URN,
    BULK_RESPONSE_URN,
    COMMON_ATTRIBUTES,
    ERROR_URN,
    LIST_RESPONSE_URN,
    PATCH_OP_URN,
    RESOURCE_TYPES,
    SEARCH_REQUEST_URN,
    ResourceType,
)

OPENAPI_VERSION = "3.0.3"

_JSON_TYPES = {
    "string": {"type": "string"},
    "boolean": {"type": "boolean"},
    "decimal": {"type": "number"},
    "integer": {"type": "integer"},
    "dateTime": {"type": "string", "format": "date-time"},
    "binary": {"type": "string", "format": "byte"},
    "reference": {"type": "string"},
}

#: Query parameters of a list request (RFC 7644 §3.4.2; ``cursor``: RFC 9865 §2).
LIST_PARAMETERS = ("filter", "sortBy", "sortOrder", "startIndex", "count", "cursor", "attributes", "excludedAttributes")
#: Query parameters of every request returning resources (RFC 7644 §3.4.2.5).
PROJECTION_PARAMETERS = ("attributes", "excludedAttributes")


def attribute_schema(attr: Attribute) -> dict:
    """JSON Schema of one SCIM attribute (RFC 7643 §2.3 types, §2.4 multi-valued)."""
    if attr.type == "complex":
        single = {"type": "object",
                  "properties": {sub.name: attribute_schema(sub) for sub in attr.sub_attributes}}
    else:
        single = dict(_JSON_TYPES[attr.type])
        if attr.canonical_values:
            single["x-canonicalValues"] = list(attr.canonical_values)
    schema = {"type": "array", "items": single} if attr.multi_valued else single
    if attr.mutability == "readOnly":
        schema["readOnly"] = True
    if attr.mutability == "writeOnly":
        schema["writeOnly"] = True
    if attr.description:
        schema["description"] = attr.description
    return schema


def resource_schema(rt: ResourceType) -> dict:
    """JSON Schema of a resource: common attributes (RFC 7643 §3.1), the core
    schema and each extension as an object under its URN (§3.3)."""
    attributes = (*COMMON_ATTRIBUTES, *rt.schema.attributes)
    properties = {"schemas": {"type": "array", "items": {"type": "string", "enum": list(rt.all_schema_urns)}}}
    properties.update({attr.name: attribute_schema(attr) for attr in attributes})
    for extension, _required in rt.extensions:
        properties[extension.id] = {"type": "object",
                                    "properties": {a.name: attribute_schema(a) for a in extension.attributes}}
    required = ["schemas", *(a.name for a in rt.schema.attributes if a.required)]
    return {"type": "object", "description": rt.description, "required": required, "properties": properties}


def _message_schemas() -> dict:
    """ListResponse, SearchRequest, PatchOp, BulkRequest, BulkResponse and
    Error (RFC 7644 §3.4.2, §3.4.3, §3.5.2, §3.7, §3.12)."""
    urns = lambda urn: {"type": "array", "items": {"type": "string", "enum": [urn]}}  # noqa: E731
    return {
        "ListResponse": {"type": "object", "required": ["schemas"], "properties": {
            "schemas": urns(LIST_RESPONSE_URN),
            "totalResults": {"type": "integer", "description": "always with index paging; with a cursor when known (RFC 9865 §2)"},
            "startIndex": {"type": "integer"}, "itemsPerPage": {"type": "integer"},
            "nextCursor": {"type": "string"}, "previousCursor": {"type": "string"},
            "Resources": {"type": "array", "items": {"type": "object"}}}},
        "SearchRequest": {"type": "object", "required": ["schemas"], "properties": {
            "schemas": urns(SEARCH_REQUEST_URN), "filter": {"type": "string"}, "sortBy": {"type": "string"},
            "sortOrder": {"type": "string", "enum": ["ascending", "descending"]},
            "startIndex": {"type": "integer"}, "count": {"type": "integer"}, "cursor": {"type": "string"},
            "attributes": {"type": "array", "items": {"type": "string"}},
            "excludedAttributes": {"type": "array", "items": {"type": "string"}}}},
        "PatchOp": {"type": "object", "required": ["schemas", "Operations"], "properties": {
            "schemas": urns(PATCH_OP_URN),
            "Operations": {"type": "array", "minItems": 1, "items": {
                "type": "object", "required": ["op"], "properties": {
                    "op": {"type": "string", "enum": ["add", "replace", "remove"]},
                    "path": {"type": "string"}, "value": {}}}}}},
        "BulkRequest": {"type": "object", "required": ["schemas", "Operations"], "properties": {
            "schemas": urns(BULK_REQUEST_URN), "failOnErrors": {"type": "integer", "minimum": 1},
            "Operations": {"type": "array", "minItems": 1, "items": {
                "type": "object", "required": ["method", "path"], "properties": {
                    "method": {"type": "string", "enum": ["POST", "PUT", "PATCH", "DELETE"]},
                    "path": {"type": "string", "description": "/Users, /Groups, /Users/{id} or /Groups/{id}; "
                                                              "an id may be bulkId:<bulkId>"},
                    "bulkId": {"type": "string", "description": "required for POST"},
                    "version": {"type": "string", "description": "an ETag, sent as If-Match"},
                    "data": {"type": "object"}}}}}},
        "BulkResponse": {"type": "object", "required": ["schemas", "Operations"], "properties": {
            "schemas": urns(BULK_RESPONSE_URN),
            "Operations": {"type": "array", "items": {
                "type": "object", "required": ["method", "status"], "properties": {
                    "method": {"type": "string"}, "bulkId": {"type": "string"}, "location": {"type": "string"},
                    "version": {"type": "string"}, "status": {"type": "string"},
                    "response": _ref("Error")}}}}},
        "Error": {"type": "object", "required": ["schemas", "status"], "properties": {
            "schemas": urns(ERROR_URN), "status": {"type": "string"},
            "scimType": {"type": "string"}, "detail": {"type": "string"}}},
    }


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict) -> dict:
    return {"application/scim+json": {"schema": schema}, "application/json": {"schema": schema}}


def _params(*names: str) -> list[dict]:
    return [{"$ref": f"#/components/parameters/{name}"} for name in names]


def _operation(summary: str, ok: str, ok_schema: dict | None = None, *, body: str | None = None,
               parameters: tuple[str, ...] = ()) -> dict:
    responses = {ok: {"description": summary}}
    if ok_schema is not None:
        responses[ok]["content"] = _json(ok_schema)
    responses["default"] = {"description": "SCIM error (RFC 7644 §3.12)", "content": _json(_ref("Error"))}
    operation = {"summary": summary, "responses": responses}
    if body is not None:
        operation["requestBody"] = {"required": True, "content": _json(_ref(body))}
    if parameters:
        operation["parameters"] = _params(*parameters)
    return operation


def _resource_paths(rt: ResourceType) -> dict:
    """``/{endpoint}``, ``/{endpoint}/{id}``, ``/{endpoint}/.search`` (RFC 7644 §3.2-§3.6, §3.4.3)."""
    name, plural = rt.name, rt.endpoint
    by_id = {"parameters": _params("id"),
             "get": _operation(f"Read a {name} (RFC 7644 §3.4.1)", "200", _ref(name), parameters=PROJECTION_PARAMETERS),
             "put": _operation(f"Replace a {name} (RFC 7644 §3.5.1)", "200", _ref(name), body=name,
                               parameters=PROJECTION_PARAMETERS),
             "patch": _operation(f"Modify a {name} (RFC 7644 §3.5.2)", "200", _ref(name), body="PatchOp",
                                 parameters=PROJECTION_PARAMETERS),
             "delete": _operation(f"Delete a {name} (RFC 7644 §3.6)", "204")}
    if name == "Group":
        by_id["patch"]["responses"]["204"] = {"description": "Modified; no body unless attributes are asked for"}
    return {
        plural: {"get": _operation(f"List or filter {name}s (RFC 7644 §3.4.2)", "200", _ref("ListResponse"),
                                   parameters=LIST_PARAMETERS),
                 "post": _operation(f"Create a {name} (RFC 7644 §3.3)", "201", _ref(name), body=name,
                                    parameters=PROJECTION_PARAMETERS)},
        f"{plural}/{{id}}": by_id,
        f"{plural}/.search": {"post": _operation(f"Search {name}s (RFC 7644 §3.4.3)", "200", _ref("ListResponse"),
                                                 body="SearchRequest")},
    }


def _discovery_paths() -> dict:
    """Discovery endpoints (RFC 7644 §4) and this description itself."""
    any_object = {"type": "object"}
    return {
        "/ServiceProviderConfig": {"get": _operation("Service provider configuration (RFC 7643 §5)", "200", any_object)},
        "/Schemas": {"get": _operation("Schemas (RFC 7643 §7)", "200", _ref("ListResponse"))},
        "/Schemas/{id}": {"parameters": _params("id"), "get": _operation("One schema by URN", "200", any_object)},
        "/ResourceTypes": {"get": _operation("Resource types (RFC 7643 §6)", "200", _ref("ListResponse"))},
        "/ResourceTypes/{id}": {"parameters": _params("id"),
                                "get": _operation("One resource type by name", "200", any_object)},
        "/openapi.json": {"get": _operation("This OpenAPI description", "200", any_object)},
    }


def _token_path() -> dict:
    """``POST /oauth/token``: OAuth 2.0 client credentials grant (RFC 6749 §4.4)."""
    form = {"type": "object", "required": ["grant_type"], "properties": {
        "grant_type": {"type": "string", "enum": ["client_credentials"]},
        "client_id": {"type": "string"}, "client_secret": {"type": "string"}, "scope": {"type": "string"}}}
    return {"/oauth/token": {"post": {
        "summary": "Issue an access token (RFC 6749 §4.4)", "security": [{"basic": []}, {}],
        "requestBody": {"required": True, "content": {"application/x-www-form-urlencoded": {"schema": form}}},
        "responses": {"200": {"description": "Access token (RFC 6749 §5.1)"},
                      "default": {"description": "OAuth error (RFC 6749 §5.2)"}}}}}


def _event_schemas() -> dict:
    """The RFC 8936 §2.2 poll request."""
    return {"PollRequest": {"type": "object", "properties": {
        "maxEvents": {"type": "integer", "minimum": 0}, "returnImmediately": {"type": "boolean"},
        "ack": {"type": "array", "items": {"type": "string"}},
        "setErrs": {"type": "object", "additionalProperties": {"type": "object", "required": ["err"], "properties": {
            "err": {"type": "string"}, "description": {"type": "string"}}}}}}}


def _event_paths() -> dict:
    """The change-event feed (RFC 8936 poll) and the keys that verify its SETs (RFC 7517)."""
    answer = {"type": "object", "required": ["sets"], "properties": {
        "sets": {"type": "object", "additionalProperties": {"type": "string", "description": "a SET (RFC 8417), compact JWS"}},
        "moreAvailable": {"type": "boolean"}}}
    return {
        "/Events": {"post": {
            "summary": "Poll change events (RFC 8936 §2); needs a credential with the events scope",
            "requestBody": {"required": True, "content": _json(_ref("PollRequest"))},
            "responses": {"200": {"description": "SETs (RFC 8936 §2.3)", "content": {"application/json": {"schema": answer}}},
                          "400": {"description": "invalid poll request (RFC 8936 §2.5.1)"},
                          "403": {"description": "the credential has no events scope"}}}},
        "/.well-known/jwks.json": {"get": {
            "summary": "The public keys that verify the SETs (RFC 7517 §5)", "security": [{}],
            "responses": {"200": {"description": "JWK Set", "content": {"application/json": {"schema": {"type": "object"}}}}}}},
    }


def _me_paths() -> dict:
    """``/Me`` (RFC 7644 §3.11) with a sign-in access token (``/auth/token``)."""
    refused = {"summary": "Refused: the user's data is owned by the organisation's Entra ID", "security": [{"signin": []}],
               "responses": {"403": {"description": "read-only", "content": _json(_ref("Error"))}}}
    read = _operation("The signed-in user's own User (RFC 7644 §3.11)", "200", _ref("User"), parameters=PROJECTION_PARAMETERS)
    return {"/Me": {"get": {**read, "security": [{"signin": []}]},
                    **{method: refused for method in ("post", "put", "patch", "delete")}}}


def _parameters() -> dict:
    def query(name: str, schema: dict, description: str) -> dict:
        return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}

    listed = {"type": "string", "description": "comma-separated attribute paths"}
    return {
        "id": {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}},
        "filter": query("filter", {"type": "string", "maxLength": 4096}, "RFC 7644 §3.4.2.2"),
        "sortBy": query("sortBy", {"type": "string"}, "RFC 7644 §3.4.2.3"),
        "sortOrder": query("sortOrder", {"type": "string", "enum": ["ascending", "descending"]}, "RFC 7644 §3.4.2.3"),
        "startIndex": query("startIndex", {"type": "integer", "minimum": 1}, "RFC 7644 §3.4.2.4"),
        "count": query("count", {"type": "integer", "minimum": 0}, "RFC 7644 §3.4.2.4"),
        "cursor": query("cursor", {"type": "string", "pattern": "^[A-Za-z0-9._~-]*$"},
                        "RFC 9865 §2: empty for the first page, then a nextCursor or previousCursor"),
        "attributes": query("attributes", listed, "RFC 7644 §3.4.2.5"),
        "excludedAttributes": query("excludedAttributes", listed, "RFC 7644 §3.4.2.5"),
    }


def openapi_document(base_url: str = "/scim/v2") -> dict:
    """The whole OpenAPI 3.0 document; ``base_url`` becomes its one server."""
    described: dict = {}
    for rt in RESOURCE_TYPES:
        described.update(_resource_paths(rt))
    described["/.search"] = {"post": _operation("Search all resource types (RFC 7644 §3.4.3)", "200",
                                                _ref("ListResponse"), body="SearchRequest")}
    described["/Bulk"] = {"post": _operation("Many operations on Users and Groups in one request (RFC 7644 §3.7)",
                                             "200", _ref("BulkResponse"), body="BulkRequest")}
    described.update(_discovery_paths())
    described.update(_token_path())
    described.update(_event_paths())
    described.update(_me_paths())
    # Every SCIM endpoint of the table, in its order; one without a description here fails loudly.
    # (Sign-in, at the root, is described by its OpenID Provider metadata.)
    paths = {f"/{e.route}": described[f"/{e.route}"] for e in ENDPOINTS if e.base and e.route != CATCH_ALL}
    schemas = {rt.name: resource_schema(rt) for rt in RESOURCE_TYPES}
    schemas.update(_message_schemas())
    schemas.update(_event_schemas())
    return {
        "openapi": OPENAPI_VERSION,
        "info": {"title": "SCIM 2.0 service for Microsoft Entra ID", "version": "2.0",
                 "description": "RFC 7643 schemas and RFC 7644 protocol; see /Schemas for the attribute definitions."},
        "servers": [{"url": base_url}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "parameters": _parameters(),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"},
                                "basic": {"type": "http", "scheme": "basic"},
                                "signin": {"type": "openIdConnect",
                                           "openIdConnectUrl": "/.well-known/openid-configuration"}},
        },
    }


__all__ = ["LIST_PARAMETERS", "OPENAPI_VERSION", "attribute_schema", "openapi_document", "resource_schema"]
