"""Microsoft's validators: the cases that need no Entra tenant.

The SCIM Validator web tool (https://scimvalidator.microsoft.com/; Microsoft
Learn, "Tutorial: Validate a SCIM endpoint",
https://learn.microsoft.com/en-us/entra/identity/app-provisioning/scim-validator-tutorial)
and the Logic App harness (SCIM-Validation-Test-Overview.md in
https://github.com/AzureAD/SCIMReferenceCode)."""

from __future__ import annotations

import pytest

from tests.entra_mappings import ENTRA_GROUP_TARGETS, ENTRA_USER_TARGETS
from tests.messages import ENT, GROUP, USER, patch_op

pytestmark = pytest.mark.memory_store  # about the protocol, not storage: tests/integration/conftest.py


def user(scim, name="ford_purdy@abernathypadberg.uk", **extra):
    body = {"schemas": [USER], "userName": name, "active": True, "displayName": "Ford",
            "emails": [{"type": "work", "value": name}], "externalId": "5e3b0b8e-0000-4000-8000-000000000001",
            "name": {"formatted": "Ford Purdy", "familyName": "Purdy", "givenName": "Ford"}, **extra}
    response = scim.post("/Users", body)
    assert response.status_code == 201, response.text
    return response.json()


def group(scim, name="UHYYWKURUTZS"):
    response = scim.post("/Groups", {"schemas": [GROUP], "displayName": name, "externalId": "c420a4bf-0000"})
    assert response.status_code == 201, response.text
    return response.json()


def _flatten(schema_doc) -> set[str]:
    names = set()
    prefix = "" if schema_doc["id"] in (USER, GROUP) else schema_doc["id"] + ":"
    for attr in schema_doc["attributes"]:
        names.add((prefix + attr["name"]).lower())
        for sub in attr.get("subAttributes", []):
            names.add((prefix + attr["name"] + "." + sub["name"]).lower())
    return names


@pytest.mark.parametrize("target", ENTRA_USER_TARGETS + ENTRA_GROUP_TARGETS)
def test_8_2_15_schema_discoverability(scim, target):
    names = set()
    for doc in scim.get("/Schemas").json()["Resources"]:
        names |= _flatten(doc)
    plain = target.split("[")[0] + ("." + target.split("].")[1] if "]." in target else "")
    assert plain.lower() in names


def test_7_3_filter_existing_user_in_another_case(scim):
    created = user(scim)
    found = scim.get('/Users?filter=userName+eq+"FORD_PURDY@ABERNATHYPADBERG.UK"').json()
    assert [r["id"] for r in found["Resources"]] == [created["id"]]


def test_7_3_filter_existing_group_in_another_case_excluding_members(scim):
    created = group(scim)
    found = scim.get('/Groups?excludedAttributes=members&filter=displayName+eq+"uhyywkurutzs"').json()
    assert [r["id"] for r in found["Resources"]] == [created["id"]]
    assert "members" not in found["Resources"][0]
    by_id = scim.get(f"/Groups/{created['id']}?excludedAttributes=members").json()
    assert "members" not in by_id


def test_7_3_duplicate_group_is_409_uniqueness(scim):
    group(scim, "HNNCQLVVWAJM")
    response = scim.post("/Groups", {"displayName": "hnncqlvvwajm", "externalId": "c420a4bf-1", "schemas": [GROUP]})
    assert response.status_code == 409
    body = response.json()
    assert body["scimType"] == "uniqueness" and body["status"] == "409" and "hnncqlvvwajm" in body["detail"]


def test_duplicate_user_is_409_uniqueness(scim):
    user(scim)
    response = scim.post("/Users", {"schemas": [USER], "userName": "FORD_PURDY@abernathypadberg.uk"})
    assert response.status_code == 409 and response.json()["scimType"] == "uniqueness"


@pytest.mark.parametrize("value", [{"externalId": "c3b97a69-0000"}, {"displayName": "MSADPJJZWBUS"}])
def test_7_3_patch_group_replace_attributes_without_path(scim, value):
    created = group(scim)
    assert scim.patch(f"/Groups/{created['id']}", patch_op({"op": "replace", "value": value})).status_code == 204
    got = scim.get(f"/Groups/{created['id']}").json()
    assert all(got[k] == v for k, v in value.items())


def test_7_3_update_user_name_without_path(scim):
    created = user(scim)
    response = scim.patch(f"/Users/{created['id']}", patch_op({"op": "replace", "value": {"userName": "emilio@hermann.uk"}}))
    assert response.status_code == 200 and response.json()["userName"] == "emilio@hermann.uk"


def test_7_3_replace_attributes_with_value_paths(scim):
    created = user(scim, addresses=[{"type": "work", "locality": "Old"}], phoneNumbers=[{"type": "work", "value": "1"}])
    response = scim.patch(f"/Users/{created['id']}", patch_op(
        {"op": "replace", "path": 'emails[type eq "work"].value', "value": "new@example.com"},
        {"op": "replace", "path": 'phoneNumbers[type eq "work"].value', "value": "555-555-5555"},
        {"op": "replace", "path": 'addresses[type eq "work"].streetAddress', "value": "1 Main St"},
        {"op": "replace", "path": 'addresses[type eq "work"].locality', "value": "Redmond"}))
    body = response.json()
    assert body["emails"] == [{"type": "work", "value": "new@example.com"}]
    assert body["phoneNumbers"] == [{"type": "work", "value": "555-555-5555"}]
    assert body["addresses"] == [{"type": "work", "locality": "Redmond", "streetAddress": "1 Main St"}]


def test_7_3_add_attributes_creates_missing_values(scim):
    created = scim.post("/Users", {"schemas": [USER], "userName": "bare"}).json()
    response = scim.patch(f"/Users/{created['id']}", patch_op(
        {"op": "add", "path": 'emails[type eq "work"].value', "value": "w@example.com"},
        {"op": "add", "path": 'addresses[type eq "work"].formatted', "value": "1 Main St"},
        {"op": "add", "path": 'addresses[type eq "work"].locality', "value": "Redmond"},
        {"op": "add", "path": "title", "value": "Engineer"}))
    body = response.json()
    assert body["emails"] == [{"type": "work", "value": "w@example.com"}]
    assert body["addresses"] == [{"type": "work", "formatted": "1 Main St", "locality": "Redmond"}]


def test_7_3_and_8_2_25_manager_add_replace_remove(scim):
    boss, other = user(scim, "boss@x.uk"), user(scim, "other@x.uk")
    target = user(scim)
    path = f"{ENT}:manager"
    for op, value, expected in (("add", {"value": boss["id"]}, boss["id"]), ("replace", {"value": other["id"]}, other["id"])):
        response = scim.patch(f"/Users/{target['id']}", patch_op({"op": op, "path": path, "value": value}))
        assert response.status_code == 200
        assert scim.get(f"/Users/{target['id']}").json()[ENT]["manager"]["value"] == expected
    for removal in ({"op": "remove", "path": path}, {"op": "replace", "path": path, "value": ""}):
        scim.patch(f"/Users/{target['id']}", patch_op({"op": "add", "path": path, "value": boss["id"]}))
        assert scim.patch(f"/Users/{target['id']}", patch_op(removal)).status_code == 200
        assert "manager" not in scim.get(f"/Users/{target['id']}").json().get(ENT, {})


def test_7_3_boolean_strings_come_back_as_booleans(scim):
    created = user(scim, roles=[{"primary": "True", "type": "WindowsAzureActiveDirectoryRole", "value": "Admin"}], active="True")
    assert created["roles"][0]["primary"] is True and created["active"] is True
    found = scim.get('/Users?filter=roles[primary eq "True"].value eq "Admin"').json()
    assert found["totalResults"] == 1


def test_8_2_16_null_update_clears(scim):
    created = user(scim, title="Engineer", nickName="Fordy", preferredLanguage="en")
    assert scim.patch(f"/Users/{created['id']}", patch_op({"op": "replace", "path": "title", "value": ""}),).status_code == 200
    assert scim.patch(f"/Users/{created['id']}", patch_op({"op": "replace", "path": "nickName", "value": None})).status_code == 200
    assert scim.patch(f"/Users/{created['id']}", patch_op({"op": "replace", "value": {"preferredLanguage": ""}})).status_code == 200
    got = scim.get(f"/Users/{created['id']}").json()
    assert not ({"title", "nickName", "preferredLanguage"} & set(got))


def test_8_2_18_direct_user_update_of_single_valued_attributes(scim):
    created = user(scim)
    values = {"displayName": "D", "title": "T", "userType": "Employee", "locale": "en-US", "timezone": "Europe/Paris",
              "active": False, f"{ENT}:employeeNumber": "42", f"{ENT}:department": "R&D"}
    for path, value in values.items():
        assert scim.patch(f"/Users/{created['id']}", patch_op({"op": "replace", "path": path, "value": value})).status_code == 200
    got = scim.get(f"/Users/{created['id']}").json()
    assert got["displayName"] == "D" and got["active"] is False and got[ENT] == {"employeeNumber": "42", "department": "R&D"}


def test_8_2_23_user_pagination(scim):
    for i in range(11):
        scim.post("/Users", {"schemas": [USER], "userName": f"page{i:02d}"})
    seen = []
    for page in range(3):
        body = scim.get(f"/Users?startIndex={page * 5 + 1}&count=5").json()
        assert body["startIndex"] == page * 5 + 1 and body["totalResults"] == 11
        assert body["itemsPerPage"] == len(body["Resources"]) <= 5
        seen += [r["id"] for r in body["Resources"]]
    assert len(seen) == len(set(seen)) == 11


def test_7_3_delete_non_existent_and_twice(scim):
    created = user(scim)
    g = group(scim)
    for path in (f"/Users/{created['id']}", f"/Groups/{g['id']}"):
        assert scim.delete(path).status_code == 204
        second = scim.delete(path)
        assert second.status_code == 404 and second.json()["status"] == "404"
    assert scim.delete("/Users/0123456789ab4def8123456789abcdef").status_code == 404
    assert scim.delete("/Groups/0123456789ab8def8123456789abcdef").status_code == 404


def test_7_3_group_add_and_remove_member_and_patch_multiple_ops_same_attribute(scim):
    g, u = group(scim), user(scim)
    body = patch_op({"op": "add", "path": "members", "value": [{"value": u["id"]}]},
               {"op": "replace", "path": "displayName", "value": "First"},
               {"op": "replace", "path": "displayName", "value": "Second"})
    assert scim.patch(f"/Groups/{g['id']}", body).status_code == 204
    got = scim.get(f"/Groups/{g['id']}").json()
    assert got["displayName"] == "Second" and [m["value"] for m in got["members"]] == [u["id"]]
    assert scim.get(f"/Users/{u['id']}").json()["groups"][0]["value"] == g["id"]
