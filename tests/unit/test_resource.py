"""Request bodies to stored attributes (RFC 7643 §2, §4, §7; Entra's shapes)."""

from __future__ import annotations

import pytest

from shared.scim.errors import ScimError
from shared.scim.resource import parse_resource
from shared.scim.schemas import ENTERPRISE_USER_URN, GROUP_TYPE, GROUP_URN, USER_TYPE, USER_URN

# RFC 7643 §8.2 "Full User Representation" (abridged to the writable attributes)
RFC7643_8_2_FULL_USER = {
    "schemas": [USER_URN, ENTERPRISE_USER_URN],
    "id": "2819c223-7f76-453a-919d-413861904646",
    "externalId": "701984",
    "userName": "bjensen@example.com",
    "name": {"formatted": "Ms. Barbara J Jensen, III", "familyName": "Jensen", "givenName": "Barbara",
             "middleName": "Jane", "honorificPrefix": "Ms.", "honorificSuffix": "III"},
    "displayName": "Babs Jensen", "nickName": "Babs", "profileUrl": "https://login.example.com/bjensen",
    "emails": [{"value": "bjensen@example.com", "type": "work", "primary": True},
               {"value": "babs@jensen.org", "type": "home"}],
    "addresses": [{"type": "work", "streetAddress": "100 Universal City Plaza", "locality": "Hollywood",
                   "region": "CA", "postalCode": "91608", "country": "USA", "primary": True}],
    "phoneNumbers": [{"value": "555-555-5555", "type": "work"}],
    "ims": [{"value": "someaimhandle", "type": "aim"}],
    "photos": [{"value": "https://photos.example.com/profilephoto/72930000000Ccne/F", "type": "photo"}],
    "userType": "Employee", "title": "Tour Guide", "preferredLanguage": "en-US", "locale": "en-US",
    "timezone": "America/Los_Angeles", "active": True, "password": "t1meMa$heen",
    "groups": [{"value": "e9e30dba-f08f-4109-8486-d5c6a331660a", "display": "Tour Guides"}],
    "x509Certificates": [{"value": "MIIDQzCCAqygAwIBAgICEAAwDQYJKoZIhvcNAQEFBQA="}],
    ENTERPRISE_USER_URN: {"employeeNumber": "701984", "costCenter": "4130", "organization": "Universal Studios",
                          "division": "Theme Park", "department": "Tour Operations",
                          "manager": {"value": "26118915-6090-4610-87e4-49d8ca9f808d", "displayName": "John Smith"}},
    "meta": {"resourceType": "User", "created": "2010-01-23T04:56:22Z"},
}


def test_rfc7643_8_2_full_user_is_accepted_and_read_only_parts_dropped():
    data = parse_resource(USER_TYPE, RFC7643_8_2_FULL_USER)
    assert "id" not in data and "meta" not in data and "groups" not in data
    assert data["name"]["middleName"] == "Jane"
    assert data[ENTERPRISE_USER_URN]["manager"] == {"value": "26118915-6090-4610-87e4-49d8ca9f808d"}
    assert data["phoneNumbers"] == [{"value": "555-555-5555", "type": "work"}]  # stored as sent


def test_attribute_names_are_case_insensitive_and_canonicalised():
    data = parse_resource(USER_TYPE, {"schemas": [USER_URN], "USERNAME": "x", "Emails": [{"Primary": "true", "Value": "a@b", "TYPE": "work"}]})
    assert data == {"userName": "x", "emails": [{"primary": True, "value": "a@b", "type": "work"}]}


def test_entra_group_with_foreign_schema_uri():
    data = parse_resource(GROUP_TYPE, {"schemas": [GROUP_URN, "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
                                       "externalId": "8aa1", "displayName": "displayName", "meta": {"resourceType": "Group"}})
    assert data == {"externalId": "8aa1", "displayName": "displayName"}


def test_entra_example_2_typo_schema_and_nulls():
    data = parse_resource(USER_TYPE, {"schemas": [USER_URN, "urn:ietf:params:scim:schemas:extension:enterprise:2.0User"],
                                      "userName": "jyoung@testuser.com", "addresses": None, "department": None, "manager": None})
    assert data == {"userName": "jyoung@testuser.com"}


@pytest.mark.parametrize("body, needle", [
    ({"schemas": [USER_URN]}, "userName"),
    ({"schemas": [USER_URN], "userName": 5}, "userName"),
    ({"schemas": [USER_URN], "userName": "x", "active": "maybe"}, "active"),
    ({"schemas": [USER_URN], "userName": "x", "emails": {"value": "a"}}, "emails"),
    ({"schemas": [USER_URN], "userName": "x", "adreses": []}, "adreses"),
    ({"schemas": ["urn:example:unknown"], "userName": "x"}, "urn:example:unknown"),
    ({"userName": "x"}, "schemas"),
    ({"schemas": [USER_URN], "userName": "x", "emails": [{"value": "a", "primary": True}, {"value": "b", "primary": True}]}, "primary"),
])
def test_bad_bodies_are_invalid_value(body, needle):
    with pytest.raises(ScimError) as err:
        parse_resource(USER_TYPE, body)
    assert err.value.status == 400 and needle in err.value.detail


def test_immutable_attributes_are_enforced_rfc7643_7():
    """No core attribute of ours is immutable, so a schema with one is built here."""
    from shared.scim.attribute import Attribute, Schema
    from shared.scim.patch import apply_operations, parse_patch_request
    from shared.scim.resource import check_immutable
    from shared.scim.schemas import PATCH_OP_URN, ResourceType

    schema = Schema("urn:example:Thing", "Thing", "", (Attribute("name", required=True), Attribute("serial", mutability="immutable")))
    rt = ResourceType("Thing", "/Things", "", schema)
    check_immutable(rt, {"name": "a"}, {"name": "a", "serial": "1"})  # first assignment is fine
    with pytest.raises(ScimError) as err:
        check_immutable(rt, {"name": "a", "serial": "1"}, {"name": "a", "serial": "2"})
    assert err.value.scim_type == "mutability"
    patch = parse_patch_request({"schemas": [PATCH_OP_URN], "Operations": [{"op": "replace", "path": "serial", "value": "2"}]})
    assert apply_operations(rt, {"name": "a"}, patch)["serial"] == "2"
    with pytest.raises(ScimError) as err:
        apply_operations(rt, {"name": "a", "serial": "1"}, patch)
    assert err.value.scim_type == "mutability"
