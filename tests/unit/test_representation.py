"""Responses and projection (RFC 7644 §3.4.2.5, §3.9; RFC 7643 §3.1, §7 "returned")."""

from __future__ import annotations

import pytest

from shared.scim.errors import ScimError
from shared.scim.representation import Projection, parse_attribute_list, to_scim
from shared.scim.schemas import ENTERPRISE_USER_URN, GROUP_TYPE, USER_TYPE
from shared.scim.records import Member, StoredResource

BASE = "https://scim.example.com/scim/v2"
UID = "0123456789ab4def8123456789abcdef"
GID = "0123456789ab8def8123456789abcdef"


def user(**data):
    stored = {"userName": "bjensen", "name": {"givenName": "Barbara", "familyName": "Jensen"},
              "emails": [{"value": "b@example.com", "type": "work", "primary": True}],
              "password": "scrypt$00$00", ENTERPRISE_USER_URN: {"department": "Tours", "manager": {"value": "m1"}}, **data}
    return StoredResource("U", UID, stored, "2024-01-01T00:00:00.000Z", "2024-01-02T00:00:00.000Z", "abc", group_ids=[GID])


def project(res, rt=USER_TYPE, attributes=None, excluded=None):
    proj = Projection(rt, parse_attribute_list(attributes, "attributes"), parse_attribute_list(excluded, "excludedAttributes"))
    return proj.apply(to_scim(rt, res, BASE))


def test_full_representation_rfc7643_3_1_meta_and_references():
    doc = project(user())
    assert doc["schemas"] == ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE_USER_URN]
    assert doc["meta"] == {"resourceType": "User", "created": "2024-01-01T00:00:00.000Z",
                           "lastModified": "2024-01-02T00:00:00.000Z", "location": f"{BASE}/Users/{UID}", "version": 'W/"abc"'}
    assert doc[ENTERPRISE_USER_URN]["manager"] == {"value": "m1", "$ref": f"{BASE}/Users/m1"}
    assert doc["groups"] == [{"value": GID, "$ref": f"{BASE}/Groups/{GID}", "type": "direct"}]


def test_schemas_names_every_extension_the_resource_holds():
    """A tenant's registered extension, rendered with the built-in type (a
    change event's full data), is named in ``schemas`` too (RFC 7643 §3)."""
    custom = "urn:ietf:params:scim:schemas:extension:Contoso:2.0:User"
    doc = to_scim(USER_TYPE, user(**{custom: {"costCenter": "CC-1"}}), BASE)
    assert doc["schemas"] == ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE_USER_URN, custom]


def test_password_is_never_returned():
    assert "password" not in project(user())
    assert "password" not in project(user(), attributes="password")


def test_attributes_keeps_always_returned_and_named_ones():
    doc = project(user(), attributes="userName,name.givenName")
    assert doc == {"schemas": doc["schemas"], "id": UID, "userName": "bjensen", "name": {"givenName": "Barbara"}}


def test_attributes_id_only_entra_example_4():
    assert set(project(user(), attributes="id")) == {"schemas", "id"}


def test_excluded_attributes_removes_default_ones_but_not_id():
    doc = project(user(), excluded="emails,id,name.familyName")
    assert "emails" not in doc and doc["id"] == UID and doc["name"] == {"givenName": "Barbara"}


def test_extension_attribute_by_urn_and_whole_extension():
    doc = project(user(), attributes=f"{ENTERPRISE_USER_URN}:department")
    assert doc[ENTERPRISE_USER_URN] == {"department": "Tours"}
    doc = project(user(), attributes=ENTERPRISE_USER_URN)
    assert set(doc[ENTERPRISE_USER_URN]) == {"department", "manager"}
    assert ENTERPRISE_USER_URN not in project(user(), excluded=ENTERPRISE_USER_URN)


def test_group_members_excluded_and_wants():
    group = StoredResource("G", GID, {"displayName": "Tour Guides"}, "t", "t", "v", members=[Member(UID)])
    doc = project(group, GROUP_TYPE)
    assert doc["members"] == [{"value": UID, "$ref": f"{BASE}/Users/{UID}", "type": "User"}]
    assert "members" not in project(group, GROUP_TYPE, excluded="members")
    assert not Projection(GROUP_TYPE, [], parse_attribute_list("members", "x")).wants("members")
    assert not Projection(GROUP_TYPE, parse_attribute_list("displayName", "x"), []).wants("members")


def test_bracketed_attribute_is_read_as_the_attribute():
    doc = project(user(), attributes='emails[type eq "work"]')
    assert doc["emails"][0]["value"] == "b@example.com"


def test_malformed_attribute_list_is_400():
    with pytest.raises(ScimError) as err:
        parse_attribute_list("user name!", "attributes")
    assert err.value.status == 400
