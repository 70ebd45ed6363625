"""Tests for shared.scim.discovery: RFC 7643 §5–§7 documents and Entra's flattening."""

from __future__ import annotations

import json
import re

import pytest

from shared.scim.discovery import (
    attribute_json,
    flattened_attribute_names,
    list_response,
    resource_type_json,
    schema_json,
    service_provider_config_json,
)
from shared.scim.schemas import (
    ENTERPRISE_USER,
    ENTERPRISE_USER_URN,
    GROUP,
    GROUP_TYPE,
    GROUP_URN,
    LIST_RESPONSE_URN,
    RESOURCE_TYPE_URN,
    RESOURCE_TYPES,
    SCHEMA_URN,
    SCHEMAS,
    SERVICE_PROVIDER_CONFIG_URN,
    USER,
    USER_TYPE,
    USER_URN,
)
from tests.entra_mappings import ENTRA_GROUP_TARGETS, ENTRA_USER_TARGETS

BASE = "https://scim.example.com/scim/v2"

ALWAYS_KEYS = {"name", "type", "multiValued", "description", "required", "mutability", "returned"}
ALLOWED_KEYS = ALWAYS_KEYS | {
    "caseExact", "uniqueness", "canonicalValues", "referenceTypes", "subAttributes",
}
CAMEL = re.compile(r"^(\$ref|[a-z][a-zA-Z0-9]*|Resources)$")


def _walk(value, path="$"):
    """Yield (path, key, value) for every dict entry in a JSON-like value."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield path, key, item
            yield from _walk(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _walk(item, f"{path}[{index}]")


def _all_attribute_dicts(attributes):
    for attr in attributes:
        yield attr
        yield from attr.get("subAttributes", [])


def _assert_clean(document) -> None:
    """No null or empty values anywhere, camelCase keys, JSON-serialisable."""
    for path, key, value in _walk(document):
        assert value is not None, f"{path}.{key} is null"
        if isinstance(value, (list, dict, str)) and key != "description":
            assert value or key == "Resources", f"{path}.{key} is empty"
        assert CAMEL.match(key), f"{path}.{key} is not camelCase"
    assert json.loads(json.dumps(document)) == document


# --- /Schemas (RFC 7643 §7) -------------------------------------------------


@pytest.mark.parametrize("schema", SCHEMAS, ids=lambda s: s.name)
def test_schema_json_envelope(schema) -> None:
    doc = schema_json(schema, BASE)
    assert doc["schemas"] == [SCHEMA_URN]
    assert doc["id"] == schema.id
    assert doc["name"] == schema.name
    assert doc["description"] == schema.description
    assert doc["meta"] == {
        "resourceType": "Schema",
        "location": f"{BASE}/Schemas/{schema.id}",
    }
    _assert_clean(doc)


@pytest.mark.parametrize("schema", SCHEMAS, ids=lambda s: s.name)
def test_schema_json_attribute_keys(schema) -> None:
    for attr in _all_attribute_dicts(schema_json(schema, BASE)["attributes"]):
        keys = set(attr)
        assert ALWAYS_KEYS <= keys, attr["name"]
        assert keys <= ALLOWED_KEYS, attr["name"]
        assert attr["description"], attr["name"]
        assert attr["mutability"] in {"readOnly", "readWrite", "immutable", "writeOnly"}
        assert attr["returned"] in {"always", "never", "default", "request"}
        assert isinstance(attr["multiValued"], bool) and isinstance(attr["required"], bool)
        if attr["type"] in {"string", "reference", "binary"}:
            assert isinstance(attr["caseExact"], bool), attr["name"]
        else:
            assert "caseExact" not in attr, attr["name"]
        if attr["type"] == "complex":
            assert "uniqueness" not in attr and attr["subAttributes"], attr["name"]
        else:
            assert attr["uniqueness"] in {"none", "server", "global"}, attr["name"]
            assert "subAttributes" not in attr, attr["name"]
        if attr["type"] == "reference":
            assert attr["referenceTypes"], attr["name"]


@pytest.mark.parametrize("schema", SCHEMAS, ids=lambda s: s.name)
def test_schema_json_round_trip(schema) -> None:
    """Every attribute of the data model is rendered, in order, with its characteristics."""
    rendered = {a["name"]: a for a in schema_json(schema, BASE)["attributes"]}
    assert list(rendered)[: len(schema.attributes)] == [a.name for a in schema.attributes]
    for attr in schema.attributes:
        doc = rendered[attr.name]
        assert doc == attribute_json(attr)
        assert doc["type"] == attr.type
        assert doc["multiValued"] == attr.multi_valued
        assert doc["required"] == attr.required
        assert doc["mutability"] == attr.mutability
        assert doc["returned"] == attr.returned
        assert [s["name"] for s in doc.get("subAttributes", [])] == [
            s.name for s in attr.sub_attributes
        ]
        assert doc.get("canonicalValues", []) == list(attr.canonical_values)


def test_user_name_json_matches_rfc_8_7_1() -> None:
    doc = attribute_json(USER.attr("userName"))
    assert {k: v for k, v in doc.items() if k != "description"} == {
        "name": "userName",
        "type": "string",
        "multiValued": False,
        "required": True,
        "caseExact": False,
        "mutability": "readWrite",
        "returned": "default",
        "uniqueness": "server",
    }


def test_emails_json() -> None:
    doc = attribute_json(USER.attr("emails"))
    assert doc["type"] == "complex" and doc["multiValued"] is True
    assert "caseExact" not in doc and "uniqueness" not in doc
    type_sub = next(s for s in doc["subAttributes"] if s["name"] == "type")
    assert type_sub["canonicalValues"] == ["work", "home", "other"]
    value_sub = next(s for s in doc["subAttributes"] if s["name"] == "value")
    assert "canonicalValues" not in value_sub and "referenceTypes" not in value_sub


def test_reference_json() -> None:
    doc = attribute_json(ENTERPRISE_USER.attr("manager").sub("$ref"))
    assert doc["type"] == "reference"
    assert doc["referenceTypes"] == ["User"]
    assert doc["caseExact"] is False


def test_password_json() -> None:
    doc = attribute_json(USER.attr("password"))
    assert (doc["mutability"], doc["returned"]) == ("writeOnly", "never")


def test_core_schemas_list_external_id_only() -> None:
    """externalId is listed for Entra's discoverability test (RFC 7643 §3.1 allows it)."""
    for schema in (USER, GROUP):
        names = [a["name"] for a in schema_json(schema, BASE)["attributes"]]
        assert names.count("externalId") == 1
        assert "id" not in names and "meta" not in names
        ext = schema_json(schema, BASE)["attributes"][-1]
        assert ext["name"] == "externalId" and ext["caseExact"] is True
    names = [a["name"] for a in schema_json(ENTERPRISE_USER, BASE)["attributes"]]
    assert "externalId" not in names


def test_schemas_list_response() -> None:
    doc = list_response([schema_json(s, BASE) for s in SCHEMAS])
    assert doc["schemas"] == [LIST_RESPONSE_URN]
    assert doc["totalResults"] == 3 and doc["itemsPerPage"] == 3 and doc["startIndex"] == 1
    assert [r["id"] for r in doc["Resources"]] == [USER_URN, ENTERPRISE_USER_URN, GROUP_URN]
    _assert_clean(doc)


def test_empty_list_response() -> None:
    assert list_response([]) == {
        "schemas": [LIST_RESPONSE_URN],
        "totalResults": 0,
        "itemsPerPage": 0,
        "startIndex": 1,
        "Resources": [],
    }


# --- /ResourceTypes (RFC 7643 §6) -------------------------------------------


def test_user_resource_type_json() -> None:
    doc = resource_type_json(USER_TYPE, BASE)
    assert doc == {
        "schemas": [RESOURCE_TYPE_URN],
        "id": "User",
        "name": "User",
        "endpoint": "/Users",
        "description": "User Account",
        "schema": USER_URN,
        "schemaExtensions": [{"schema": ENTERPRISE_USER_URN, "required": False}],
        "meta": {"resourceType": "ResourceType", "location": f"{BASE}/ResourceTypes/User"},
    }
    _assert_clean(doc)


def test_group_resource_type_json() -> None:
    doc = resource_type_json(GROUP_TYPE, BASE)
    assert doc["id"] == doc["name"] == "Group"
    assert doc["endpoint"] == "/Groups"
    assert doc["schema"] == GROUP_URN
    assert "schemaExtensions" not in doc
    assert doc["meta"] == {
        "resourceType": "ResourceType",
        "location": f"{BASE}/ResourceTypes/Group",
    }
    _assert_clean(doc)


def test_resource_types_list_response() -> None:
    doc = list_response([resource_type_json(rt, BASE) for rt in RESOURCE_TYPES])
    assert doc["totalResults"] == 2
    assert [r["endpoint"] for r in doc["Resources"]] == ["/Users", "/Groups"]
    _assert_clean(doc)


# --- /ServiceProviderConfig (RFC 7643 §5) -----------------------------------


def test_service_provider_config_json() -> None:
    doc = service_provider_config_json(BASE, max_results=200, max_payload_size=1_048_576, max_operations=100)
    assert doc["schemas"] == [SERVICE_PROVIDER_CONFIG_URN]
    assert "documentationUri" not in doc
    assert doc["patch"] == {"supported": True}
    assert doc["bulk"] == {"supported": True, "maxOperations": 100, "maxPayloadSize": 1_048_576}
    assert doc["filter"] == {"supported": True, "maxResults": 200}
    assert doc["changePassword"] == {"supported": False}
    assert doc["sort"] == {"supported": True}
    assert doc["etag"] == {"supported": True}
    assert doc["authenticationSchemes"] == [
        {
            "type": "oauthbearertoken",
            "name": "OAuth Bearer Token",
            "description": "Authentication with a bearer token in the Authorization header "
            "(RFC 6750).",
            "specUri": "https://www.rfc-editor.org/info/rfc6750",
            "primary": True,
        }
    ]
    assert doc["meta"] == {
        "resourceType": "ServiceProviderConfig",
        "location": f"{BASE}/ServiceProviderConfig",
    }
    _assert_clean(doc)


def test_service_provider_config_options() -> None:
    doc = service_provider_config_json(
        BASE,
        max_results=50,
        max_payload_size=2048,
        max_operations=7,
        etag=False,
        documentation_uri="https://docs.example.com/scim",
    )
    assert doc["documentationUri"] == "https://docs.example.com/scim"
    assert doc["etag"] == {"supported": False}
    assert doc["filter"]["maxResults"] == 50
    assert doc["bulk"] == {"supported": True, "maxOperations": 7, "maxPayloadSize": 2048}
    _assert_clean(doc)


# --- Microsoft validator flattening ------------------------------------------
# Schema_Discoverability_Test of SCIM-Validation-Test-Overview.md in
# https://github.com/AzureAD/SCIMReferenceCode: every mapped target attribute, flattened to names like
# `emails[type eq "work"].value`, must be found in /Schemas, case-insensitively.




@pytest.mark.parametrize("target", ENTRA_USER_TARGETS)
def test_reference_6_1_user_target_discoverable(target: str) -> None:
    assert target.lower() in flattened_attribute_names(USER_TYPE)


@pytest.mark.parametrize("target", ENTRA_GROUP_TARGETS)
def test_reference_6_2_group_target_discoverable(target: str) -> None:
    assert target.lower() in flattened_attribute_names(GROUP_TYPE)


def test_flattened_names_shape() -> None:
    names = flattened_attribute_names(USER_TYPE)
    assert all(name == name.lower() for name in names)
    assert "username" in names and "name.givenname" in names
    assert "urn:ietf:params:scim:schemas:extension:enterprise:2.0:user:employeenumber" in names
    assert 'roles[primary eq "true"].value' in names  # no canonical types
    assert 'ims[type eq "skype"].value' in names
    # the validator skips reference attributes and type/primary sub-attributes
    assert "profileurl" not in names
    assert 'emails[type eq "work"].type' not in names
    assert 'emails[type eq "work"].primary' not in names
    # "id" is excluded by the validator and not listed
    assert "id" not in names
    assert flattened_attribute_names(GROUP_TYPE) == {"displayname", "members", "externalid"}
