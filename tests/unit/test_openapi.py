"""The OpenAPI description (shared/scim/openapi.py) covers every route the service serves."""

from __future__ import annotations

import json

from shared.scim.openapi import openapi_document
from shared.scim.schemas import COMMON_ATTRIBUTES, ENTERPRISE_USER_URN, GROUP_TYPE, USER_TYPE
from shared.scim.endpoints import CATCH_ALL, ENDPOINTS, TOKEN_ROUTE

HTTP_METHODS = {"get", "put", "post", "patch", "delete"}


def _refs(node):
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):  # a property may be *named* "$ref" (RFC 7643 §2.3.7)
            yield node["$ref"]
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def test_every_service_route_and_method_is_described():
    paths = openapi_document()["paths"]
    for endpoint in ENDPOINTS:
        if endpoint.route in (CATCH_ALL, TOKEN_ROUTE) or not endpoint.base:
            continue
        described = {m for m in paths[f"/{endpoint.route}"] if m in HTTP_METHODS}
        assert described == {m.lower() for m in endpoint.handlers}, endpoint.route
    assert set(paths["/oauth/token"]) == {"post"}
    # the table's SCIM routes, in order (sign-in is described by its OpenID Provider metadata)
    assert list(paths) == [f"/{e.route}" for e in ENDPOINTS if e.base and e.route != CATCH_ALL]


def test_every_reference_resolves():
    document = openapi_document()
    for ref in set(_refs(document)):
        node = document
        for part in ref.removeprefix("#/").split("/"):
            node = node[part]
        assert isinstance(node, dict), ref


def test_resource_schemas_are_the_attributes_served_at_schemas():
    """RFC 7643 §7: the description is built from the same definitions as /Schemas."""
    schemas = openapi_document()["components"]["schemas"]
    for rt in (USER_TYPE, GROUP_TYPE):
        properties = schemas[rt.name]["properties"]
        expected = {"schemas", *(a.name for a in (*COMMON_ATTRIBUTES, *rt.schema.attributes))}
        expected |= {ext.id for ext, _ in rt.extensions}
        assert set(properties) == expected
    user = schemas["User"]
    assert user["required"] == ["schemas", "userName"]
    assert user["properties"]["emails"]["type"] == "array"
    assert user["properties"]["id"]["readOnly"] is True
    assert "manager" in user["properties"][ENTERPRISE_USER_URN]["properties"]
    assert schemas["Group"]["properties"]["members"]["items"]["properties"]["value"]["type"] == "string"


def test_the_document_is_json_with_the_given_server():
    document = json.loads(json.dumps(openapi_document("https://scim.example.test/scim/v2")))
    assert document["openapi"].startswith("3.0")
    assert document["servers"] == [{"url": "https://scim.example.test/scim/v2"}]
