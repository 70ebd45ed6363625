"""Every request of Microsoft's SCIM tutorial corpus, verbatim bodies with ids
replaced by ones created in the test.

The example requests of Microsoft Learn, "Tutorial: Develop and plan
provisioning for a SCIM endpoint in Microsoft Entra ID"
(https://learn.microsoft.com/en-us/entra/identity/app-provisioning/use-scim-to-provision-users-and-groups),
and the role shapes of "Provisioning a role to a SCIM app" in Microsoft Learn,
"Tutorial - Customize user provisioning attribute-mappings for SaaS
applications in Microsoft Entra ID"
(https://learn.microsoft.com/en-us/entra/identity/app-provisioning/customize-application-attributes)."""

from __future__ import annotations

import pytest

from tests.messages import ENT, ERROR, GROUP, LIST, PATCH, USER, patch_op

pytestmark = pytest.mark.memory_store  # about the protocol, not storage: tests/integration/conftest.py


U1_BODY = {
    "schemas": [USER, ENT],
    "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
    "userName": "Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee",
    "active": True,
    "emails": [{"primary": True, "type": "work", "value": "Test_User_11bb11bb-cc22-dd33-ee44-55ff55ff55ff@testuser.com"}],
    "meta": {"resourceType": "User"},
    "name": {"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"},
    "roles": [],
}
G1_BODY = {
    "schemas": [GROUP, "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
    "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
    "displayName": "displayName",
    "meta": {"resourceType": "Group"},
}


def scim_json(response) -> dict:
    assert response.headers["Content-Type"].startswith("application/scim+json")
    return response.json()


def create_user(scim, **overrides):
    response = scim.post("/Users", {**U1_BODY, **overrides})
    assert response.status_code == 201, response.text
    return scim_json(response)


def create_group(scim, **overrides):
    response = scim.post("/Groups", {**G1_BODY, **overrides})
    assert response.status_code == 201, response.text
    return scim_json(response)


# User operations ------------------------------------------------------------
def test_u1_create_user(scim):
    created = create_user(scim)
    assert created["id"] and created["userName"] == U1_BODY["userName"]
    assert created["active"] is True
    assert created["emails"] == U1_BODY["emails"]
    assert created["meta"]["resourceType"] == "User" and created["meta"]["location"].endswith("/Users/" + created["id"])
    assert "roles" not in created  # an empty list is "unassigned" (RFC 7643 §2.5)


def test_u2_get_user_and_not_found(scim):
    created = create_user(scim)
    got = scim.get(f"/Users/{created['id']}")
    assert got.status_code == 200 and scim_json(got)["id"] == created["id"]
    missing = scim.get("/Users/5171a35d82074e068ce2")
    assert missing.status_code == 404
    body = scim_json(missing)
    assert body["schemas"] == [ERROR] and body["status"] == "404"


def test_u3_get_user_by_query(scim):
    created = create_user(scim)
    found = scim_json(scim.get("/Users", params={"filter": f'userName eq "{U1_BODY["userName"]}"'}))
    assert found["schemas"] == [LIST] and found["totalResults"] == 1
    assert found["Resources"][0]["id"] == created["id"] and found["startIndex"] == 1


@pytest.mark.parametrize("query", [
    'filter=userName eq "non-existent user"',
    'filter=externalId+eq+%22johnwong%22',
    'filter=userName+eq+"dale.mohr%40romaguera.uk"',
])
def test_u4_get_user_by_query_zero_results(scim, query):
    response = scim.get("/Users?" + query)
    assert response.status_code == 200
    assert scim_json(response) == {"schemas": [LIST], "totalResults": 0, "startIndex": 1, "itemsPerPage": 0, "Resources": []}


def test_u5_update_user_multi_valued_properties(scim):
    created = create_user(scim, emails=[*U1_BODY["emails"], {"type": "home", "value": "home@example.com"}])
    response = scim.patch(f"/Users/{created['id']}", patch_op(
        {"op": "Replace", "path": 'emails[type eq "work"].value', "value": "updatedEmail@microsoft.com"},
        {"op": "Replace", "path": "name.familyName", "value": "updatedFamilyName"}))
    assert response.status_code == 200
    body = scim_json(response)
    assert {e["type"]: e["value"] for e in body["emails"]} == {"work": "updatedEmail@microsoft.com", "home": "home@example.com"}
    assert body["name"]["familyName"] == "updatedFamilyName"


def test_u6_update_user_single_valued_properties(scim):
    created = create_user(scim)
    response = scim.patch(f"/Users/{created['id']}", patch_op(
        {"op": "Replace", "path": "userName", "value": "5b50642d-79fc-4410-9e90-4c077cdd1a59@testuser.com"}))
    assert response.status_code == 200
    assert scim_json(response)["userName"] == "5b50642d-79fc-4410-9e90-4c077cdd1a59@testuser.com"
    old = scim_json(scim.get("/Users", params={"filter": f'userName eq "{U1_BODY["userName"]}"'}))
    assert old["totalResults"] == 0


def test_u7_disable_user_keeps_it_visible(scim):
    created = create_user(scim)
    body = {"Operations": [{"op": "Replace", "path": "active", "value": False}], "schemas": [PATCH]}
    assert scim.patch(f"/Users/{created['id']}", body).status_code == 200
    assert scim_json(scim.get(f"/Users/{created['id']}"))["active"] is False
    listed = scim_json(scim.get("/Users", params={"filter": f'userName eq "{U1_BODY["userName"]}"'}))
    assert listed["Resources"][0]["active"] is False


def test_u8_delete_user(scim):
    created = create_user(scim)
    assert scim.delete(f"/Users/{created['id']}").status_code == 204
    assert scim.get(f"/Users/{created['id']}").status_code == 404
    assert scim.delete(f"/Users/{created['id']}").status_code == 404


# Group operations -----------------------------------------------------------
def test_g1_create_group(scim):
    created = create_group(scim)
    assert created["displayName"] == "displayName" and created["externalId"] == G1_BODY["externalId"]
    assert created["schemas"] == [GROUP] and created.get("members", []) == []


def test_g2_get_group_excluding_members(scim):
    created = create_group(scim)
    body = scim_json(scim.get(f"/Groups/{created['id']}?excludedAttributes=members"))
    assert body["id"] == created["id"] and "members" not in body


def test_g3_get_group_by_display_name(scim):
    created = create_group(scim)
    body = scim_json(scim.get('/Groups?excludedAttributes=members&filter=displayName eq "displayName"'))
    assert body["totalResults"] == 1 and body["Resources"][0]["id"] == created["id"]
    assert "members" not in body["Resources"][0]


def test_g4_update_group_non_member_attributes(scim):
    created = create_group(scim)
    new_name = "1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName"
    response = scim.patch(f"/Groups/{created['id']}", patch_op({"op": "Replace", "path": "displayName", "value": new_name}))
    assert response.status_code == 204 and response.content == b""
    assert scim_json(scim.get(f"/Groups/{created['id']}"))["displayName"] == new_name


def test_g5_g6_add_and_remove_members(scim):
    group = create_group(scim)
    user = create_user(scim)
    other = create_user(scim, userName="other", externalId="other")
    add = patch_op({"op": "Add", "path": "members", "value": [{"$ref": None, "value": user["id"]}, {"$ref": None, "value": other["id"]}]})
    assert scim.patch(f"/Groups/{group['id']}", add).status_code == 204
    members = {m["value"] for m in scim_json(scim.get(f"/Groups/{group['id']}"))["members"]}
    assert members == {user["id"], other["id"]}
    remove = patch_op({"op": "Remove", "path": "members", "value": [{"$ref": None, "value": user["id"]}]})
    assert scim.patch(f"/Groups/{group['id']}", remove).status_code == 204
    members = [m["value"] for m in scim_json(scim.get(f"/Groups/{group['id']}"))["members"]]
    assert members == [other["id"]]


def test_g7_delete_group(scim):
    group = create_group(scim)
    assert scim.delete(f"/Groups/{group['id']}").status_code == 204
    assert scim.get(f"/Groups/{group['id']}").status_code == 404


# Schema discovery ----------------------------------------------------------
def test_schemas_list_response(scim):
    body = scim_json(scim.get("/Schemas"))
    assert body["schemas"] == [LIST]
    assert {s["id"] for s in body["Resources"]} == {USER, ENT, GROUP}


# "Handling provisioning and deprovisioning of users", Examples 1-6 ----------
def test_example_1_unquoted_external_id(scim):
    created = create_user(scim, externalId="jyoung")
    body = scim_json(scim.get("/Users?filter=externalId eq jyoung"))
    assert [r["id"] for r in body["Resources"]] == [created["id"]]


def test_example_2_typo_schema_and_nulls(scim):
    body = {"schemas": [USER, "urn:ietf:params:scim:schemas:extension:enterprise:2.0User"], "externalId": "jyoung",
            "userName": "jyoung@testuser.com", "active": True, "addresses": None, "displayName": "Joy Young",
            "emails": [{"type": "work", "value": "jyoung@Contoso.com", "primary": True}], "meta": {"resourceType": "User"},
            "name": {"familyName": "Young", "givenName": "Joy"}, "phoneNumbers": None, "preferredLanguage": None,
            "title": None, "department": None, "manager": None}
    response = scim.post("/Users", body)
    assert response.status_code == 201, response.text
    created = scim_json(response)
    assert created["emails"][0]["value"] == "jyoung@Contoso.com"  # stored as sent
    assert "addresses" not in created and "title" not in created


def test_example_4_reference_attribute_query(scim):
    manager = create_user(scim, userName="boss", externalId="boss")
    user = create_user(scim, **{ENT: {"manager": {"value": manager["id"]}}})
    hit = scim_json(scim.get(f"/Users?filter=id eq {user['id']} and manager eq {manager['id']}&attributes=id"))
    assert hit["Resources"] == [{"schemas": [USER, ENT], "id": user["id"]}]
    miss = scim_json(scim.get(f"/Users?filter=id eq {user['id']} and manager eq {user['id']}&attributes=id"))
    assert miss["totalResults"] == 0


@pytest.mark.parametrize("op", [
    {"op": "Add", "path": "manager", "value": [{"$ref": "http://x/scim/Users/MID", "value": "MID"}]},
    {"op": "Add", "path": f"{ENT}:manager", "value": "MID"},
    {"op": "add", "path": f"{ENT}:manager", "value": "MID"},
])
def test_example_5_update_manager(scim, op):
    manager = create_user(scim, userName="boss", externalId="boss")
    user = create_user(scim)
    body = patch_op(_with_id(op, manager["id"]))
    response = scim.patch(f"/Users/{user['id']}", body)
    assert response.status_code == 200, response.text
    got = scim_json(scim.get(f"/Users/{user['id']}"))[ENT]["manager"]
    assert got["value"] == manager["id"] and got["$ref"].endswith("/Users/" + manager["id"])


def _with_id(op: dict, mid: str) -> dict:
    import json

    return json.loads(json.dumps(op).replace("MID", mid))


def test_example_6_deprovision(scim):
    user = create_user(scim)
    assert scim.delete(f"/Users/{user['id']}").status_code == 204


# Role provisioning shapes ---------------------------------------------------
def test_roles_single_app_role_assignment(scim):
    body = {"schemas": [USER], "externalId": "alias", "userName": "alias@contoso.OnMicrosoft.com", "active": True,
            "displayName": "First Name Last Name", "meta": {"resourceType": "User"},
            "roles": [{"primary": True, "type": "WindowsAzureActiveDirectoryRole", "value": "Admin"}]}
    created = scim_json(scim.post("/Users", body))
    assert created["roles"] == body["roles"]
    stringified = '{"id":"06b07648-ecfe-589f-9d2f-6325724a46ee","value":"25","displayName":"Role1234"}'
    response = scim.patch(f"/Users/{created['id']}", patch_op({"op": "Add", "path": "roles", "value": [{"value": stringified}]}))
    assert response.status_code == 200
    assert stringified in [r["value"] for r in scim_json(response)["roles"]]


# default-mapped attributes (tests/entra_mappings.py) round-trip as sent -------
DEFAULT_MAPPED_USER = {
    "schemas": [USER, ENT],
    "userName": "Ada.Lovelace@Contoso.onmicrosoft.com",
    "active": True,
    "displayName": "Ada  Lovelace ",
    "title": "Analyst, Engines",
    "emails": [{"type": "work", "value": "Ada.Lovelace@Contoso.com", "primary": True},
               {"type": "other", "value": "smtp:ada@contoso.com"}],
    "preferredLanguage": "en-GB",
    "name": {"givenName": "Ada", "familyName": "Lovelace", "formatted": "Ada Lovelace"},
    "addresses": [{"type": "work", "formatted": "Bldg 1/Room 2", "streetAddress": "12 St. James's Sq.",
                   "locality": "London", "region": "LDN", "postalCode": "SW1Y 4JH", "country": "GB"},
                  {"type": "other", "formatted": "Office 7"}],
    "phoneNumbers": [{"type": "work", "value": "55555555555"}, {"type": "mobile", "value": "+44 (0)20 7946 0000"},
                     {"type": "fax", "value": "020-7946-0001"}],
    "externalId": "ada.lovelace",
    ENT: {"employeeNumber": "00042", "department": "Analytical Engines"},
}


def test_default_mappings_round_trip_exactly(scim):
    manager = create_user(scim, userName="boss", externalId="boss")
    body = {**DEFAULT_MAPPED_USER, ENT: {**DEFAULT_MAPPED_USER[ENT], "manager": {"value": manager["id"]}}}
    created = scim_json(scim.post("/Users", body))
    got = scim_json(scim.get(f"/Users/{created['id']}"))
    for key, value in DEFAULT_MAPPED_USER.items():
        if key not in ("schemas", ENT):
            assert got[key] == value, key
    assert {k: v for k, v in got[ENT].items() if k != "manager"} == DEFAULT_MAPPED_USER[ENT]
    assert got[ENT]["manager"]["value"] == manager["id"]
    group = create_group(scim, displayName="Engines & Co.", externalId="8aa1a0c0-C4C3")
    got_group = scim_json(scim.get(f"/Groups/{group['id']}"))
    assert got_group["displayName"] == "Engines & Co." and got_group["externalId"] == "8aa1a0c0-C4C3"
