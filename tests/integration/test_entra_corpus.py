"""Every request of Microsoft's SCIM tutorial corpus through HTTP.

The example requests of Microsoft Learn, "Tutorial: Develop and plan
provisioning for a SCIM endpoint in Microsoft Entra ID"
(https://learn.microsoft.com/en-us/entra/identity/app-provisioning/use-scim-to-provision-users-and-groups):
its user operations, numbered U1–U8 here in the page's order (Create User to
Delete User), its group operations G1–G7 (Create Group to Delete Group), the
schema discovery example and Examples 1–6 of "Handling provisioning and
deprovisioning of users"; and the role request shapes of "Provisioning a role
to a SCIM app" in Microsoft Learn, "Tutorial - Customize user provisioning
attribute-mappings for SaaS applications in Microsoft Entra ID"
(https://learn.microsoft.com/en-us/entra/identity/app-provisioning/customize-application-attributes).
Request bodies are Microsoft's verbatim bodies; only ids are replaced
by ids the test created.  Each test checks the status code, the SCIM media
type and, through a follow-up GET, the state the request left behind.
"""

from __future__ import annotations

import copy

import pytest

from tests.messages import (
    ENT,
    GROUP,
    PATCH,
    SCHEMA_URN,
    USER,
    body_of,
    get_group,
    get_user,
    list_of,
    member_ids,
    no_content,
)

pytestmark = pytest.mark.memory_store  # about the protocol, not storage: tests/integration/conftest.py

# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------


def u1_body(user_name="Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee",
            external_id="0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
            email="Test_User_11bb11bb-cc22-dd33-ee44-55ff55ff55ff@testuser.com") -> dict:
    """The verbatim U1 request body."""
    return {
        "schemas": [
            "urn:ietf:params:scim:schemas:core:2.0:User",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
        "externalId": external_id,
        "userName": user_name,
        "active": True,
        "emails": [{
            "primary": True,
            "type": "work",
            "value": email,
        }],
        "meta": {
            "resourceType": "User"
        },
        "name": {
            "formatted": "givenName familyName",
            "familyName": "familyName",
            "givenName": "givenName"
        },
        "roles": []
    }


def create_user(scim, user_name="Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee", **kw) -> dict:
    return body_of(scim.post("/Users", u1_body(user_name, **kw)), 201)


def create_group(scim, display_name="displayName", external_id="8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159") -> dict:
    body = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group",
                    "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
        "externalId": external_id,
        "displayName": display_name,
        "meta": {
            "resourceType": "Group"
        }
    }
    return body_of(scim.post("/Groups", body), 201)


# ---------------------------------------------------------------------------
# User operations (U1–U8)
# ---------------------------------------------------------------------------


def test_u3_query_encodings_seen_on_the_wire(scim):
    """U3 as encoded on the wire (MicrosoftDocs/azure-docs#11784, Microsoft Q&A 2238842): `+` and `%20` as spaces, `%22` and raw quotes, `%40` in the value."""
    uid = create_user(scim, "dale.mohr@romaguera.uk", external_id="johnwong")["id"]
    for raw_query in (
        "filter=externalId+eq+%22johnwong%22",
        'filter=userName+eq+"dale.mohr%40romaguera.uk"',
        "filter=userName%20eq%20%22dale.mohr%40romaguera.uk%22",
        "filter=userName%20eq%20%22dale.mohr@romaguera.uk%22",
    ):
        body = list_of(scim.get(f"/Users?{raw_query}"))
        assert [r["id"] for r in body["Resources"]] == [uid], raw_query
        assert body["totalResults"] == 1


def test_test_connection_probe_random_guid(scim):
    """The tutorial's Test Connection: a random-GUID userName filter on an empty tenant → empty ListResponse."""
    body = list_of(scim.get("/Users", params={"filter": 'userName eq "3a1b4a5e-8f0c-4bd2-9df1-0c1c2f3e4d5a"'}))
    assert body["totalResults"] == 0 and body["Resources"] == []
    body = list_of(scim.get("/Groups", params={"excludedAttributes": "members",
                                               "filter": 'displayName eq "3a1b4a5e-8f0c-4bd2-9df1-0c1c2f3e4d5a"'}))
    assert body["totalResults"] == 0 and body["Resources"] == []


# ---------------------------------------------------------------------------
# Group operations (G1–G7)
# ---------------------------------------------------------------------------


def test_g1_create_group_2019_form_with_empty_members(scim):
    """G1 Create Group as the 2019 version of the page had it: `"members": []` in the create body."""
    body = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group",
                    "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
        "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
        "displayName": "displayName",
        "members": [],
        "meta": {"resourceType": "Group"},
    }
    created = body_of(scim.post("/Groups", body), 201)
    assert not get_group(scim, created["id"]).get("members")


def test_g5_add_many_members_in_one_patch(scim):
    """G5, and the tutorial's gallery checklist ("updating multiple group memberships with a single PATCH"):
    one PATCH may carry many members and several operations."""
    gid = create_group(scim)["id"]
    uids = [create_user(scim, f"user{i}@testuser.com")["id"] for i in range(4)]
    body = {"schemas": [PATCH], "Operations": [
        {"op": "Add", "path": "members", "value": [{"$ref": None, "value": u} for u in uids[:3]]},
        {"op": "Add", "path": "members", "value": [{"$ref": None, "value": uids[3]}]},
    ]}
    no_content(scim.patch(f"/Groups/{gid}", body))
    assert member_ids(get_group(scim, gid)) == set(uids)


# ---------------------------------------------------------------------------
# Schema discovery
# ---------------------------------------------------------------------------


def test_schemas_discovery_lists_user_group_enterprise(scim):
    """The tutorial's schema discovery example: GET /Schemas → ListResponse with the User, Group and EnterpriseUser schemas."""
    body = list_of(scim.get("/Schemas"))
    by_id = {r["id"]: r for r in body["Resources"]}
    assert {USER, GROUP, ENT} <= set(by_id)
    assert body["totalResults"] == len(body["Resources"])
    for urn, name, attr in ((USER, "User", "userName"), (GROUP, "Group", "displayName"),
                            (ENT, "EnterpriseUser", "employeeNumber")):
        schema = by_id[urn]
        assert SCHEMA_URN in schema["schemas"]
        assert schema["name"] == name
        names = {a["name"] for a in schema["attributes"]}
        assert attr in names
        assert schema["meta"]["resourceType"] == "Schema"
    user_name = next(a for a in by_id[USER]["attributes"] if a["name"] == "userName")
    assert user_name["required"] is True
    assert user_name["caseExact"] is False
    assert user_name["uniqueness"] == "server"
    assert user_name["mutability"] == "readWrite"  # camelCase values (the tutorial's /Schemas guidance)

    def walk(node):
        if isinstance(node, dict):
            for v in node.values():
                assert v is not None, "schema discovery must not send null values (§1.6)"
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(body)


# ---------------------------------------------------------------------------
# Role provisioning shapes
# ---------------------------------------------------------------------------

ROLE_POST = {
    "schemas": [
        "urn:ietf:params:scim:schemas:core:2.0:User"
    ],
    "externalId": "alias",
    "userName": "alias@contoso.OnMicrosoft.com",
    "active": True,
    "displayName": "First Name Last Name",
    "meta": {
        "resourceType": "User"
    },
    "roles": [
        {
            "primary": True,
            "type": "WindowsAzureActiveDirectoryRole",
            "value": "Admin"
        }
    ]
}


def test_roles_app_role_assignments_complex_post_primary_false(scim):
    """AppRoleAssignmentsComplex POST: several roles, all `primary: false`."""
    body = copy.deepcopy(ROLE_POST)
    body["roles"] = [
        {"primary": False, "type": "WindowsAzureActiveDirectoryRole", "displayName": "Admin", "value": "Admin"},
        {"primary": False, "type": "WindowsAzureActiveDirectoryRole", "displayName": "User", "value": "User"},
    ]
    uid = body_of(scim.post("/Users", body), 201)["id"]
    roles = get_user(scim, uid)["roles"]
    assert sorted(r["value"] for r in roles) == ["Admin", "User"]
    assert all(r["primary"] is False for r in roles)


def test_roles_assertive_replace_removes_unassigned(scim):
    """AssertiveAppRoleAssignmentsComplex: replace `roles` with an object array replaces the set."""
    uid = body_of(scim.post("/Users", copy.deepcopy(ROLE_POST)), 201)["id"]
    body = {"schemas": [PATCH], "Operations": [{
        "op": "replace", "path": "roles",
        "value": [{"primary": False, "type": "WindowsAzureActiveDirectoryRole", "display": "Reader",
                   "value": "Reader"}]}]}
    body_of(scim.patch(f"/Users/{uid}", body), 200)
    roles = get_user(scim, uid)["roles"]
    assert [r["value"] for r in roles] == ["Reader"]
    assert roles[0]["primary"] is False
