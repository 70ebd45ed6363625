"""The ``aadOptscim062020`` flag: each request pair of Microsoft Learn, "Known
issues and resolutions with SCIM 2.0 protocol compliance of the Microsoft Entra
user provisioning service"
(https://learn.microsoft.com/en-us/entra/identity/app-provisioning/application-provisioning-config-problem-scim-compatibility),
with and without the flag, must leave the same state."""

from __future__ import annotations

import pytest

from tests.messages import ENT, GROUP, USER, patch_op

pytestmark = pytest.mark.memory_store  # about the protocol, not storage: tests/integration/conftest.py


def new_user(scim, name="flag.user@example.com"):
    body = {"schemas": [USER, ENT], "userName": name, "active": True, "displayName": "Before",
            "name": {"givenName": "Old", "familyName": "Older"}, "externalId": "before",
            "emails": [{"type": "work", "value": "old@example.com", "primary": True}]}
    response = scim.post("/Users", body)
    assert response.status_code == 201, response.text
    return response.json()["id"]


DISABLE = {
    "without flag": patch_op({"op": "Replace", "path": "active", "value": "False"}),
    "with flag": patch_op({"op": "replace", "path": "active", "value": False}),
}


@pytest.mark.parametrize("variant", DISABLE)
def test_disable_user(scim, variant):
    uid = new_user(scim)
    assert scim.patch(f"/Users/{uid}", DISABLE[variant]).status_code == 200
    assert scim.get(f"/Users/{uid}").json()["active"] is False
    found = scim.get("/Users", params={"filter": 'userName eq "flag.user@example.com"'}).json()
    assert found["totalResults"] == 1 and found["Resources"][0]["active"] is False


@pytest.mark.parametrize("op", ["Add", "add"])
def test_add_single_value_string_attribute(scim, op):
    uid = new_user(scim)
    assert scim.patch(f"/Users/{uid}", patch_op({"op": op, "path": "nickName", "value": "Babs"})).status_code == 200
    assert scim.get(f"/Users/{uid}").json()["nickName"] == "Babs"


REPLACE_MANY = {
    "without flag": patch_op(
        {"op": "Replace", "path": "displayName", "value": "Pvlo"},
        {"op": "Replace", "path": 'emails[type eq "work"].value', "value": "TestBcwqnm@test.microsoft.com"},
        {"op": "Replace", "path": "name.givenName", "value": "Gtfd"},
        {"op": "Replace", "path": "name.familyName", "value": "Pkqf"},
        {"op": "Replace", "path": "externalId", "value": "Eqpj"},
        {"op": "Replace", "path": f"{ENT}:employeeNumber", "value": "Eqpj"},
    ),
    "with flag": patch_op(
        {"op": "replace", "path": 'emails[type eq "work"].value', "value": "TestBcwqnm@test.microsoft.com"},
        {"op": "replace", "value": {"displayName": "Pvlo", "name.givenName": "Gtfd", "name.familyName": "Pkqf",
                                    "externalId": "Eqpj", f"{ENT}:employeeNumber": "Eqpj"}},
    ),
}


def _state(scim, uid):
    body = scim.get(f"/Users/{uid}").json()
    return {k: body.get(k) for k in ("displayName", "name", "emails", "externalId", ENT)}


def test_replace_multiple_attributes_same_result_with_and_without_flag(scim):
    states = {}
    for i, (variant, body) in enumerate(REPLACE_MANY.items()):
        uid = new_user(scim, f"user{i}@example.com")
        assert scim.patch(f"/Users/{uid}", body).status_code == 200, variant
        states[variant] = _state(scim, uid)
    assert states["without flag"] == states["with flag"]
    assert states["with flag"]["name"] == {"givenName": "Gtfd", "familyName": "Pkqf"}
    assert states["with flag"][ENT] == {"employeeNumber": "Eqpj"}
    assert scim.get("/Users", params={"filter": 'externalId eq "Eqpj"'}).json()["totalResults"] == 2


@pytest.mark.parametrize("variant", ["without flag", "with flag"])
def test_remove_one_group_member(scim, variant):
    users = [scim.post("/Users", {"schemas": [USER], "userName": f"m{i}"}).json()["id"] for i in range(3)]
    gid = scim.post("/Groups", {"schemas": [GROUP], "displayName": "g"}).json()["id"]
    add = patch_op({"op": "Add", "path": "members", "value": [{"value": u} for u in users]})
    assert scim.patch(f"/Groups/{gid}", add).status_code == 204
    if variant == "without flag":
        remove = patch_op({"op": "Remove", "path": "members", "value": [{"value": users[1]}]})
    else:
        remove = patch_op({"op": "remove", "path": f'members[value eq "{users[1]}"]'})
    assert scim.patch(f"/Groups/{gid}", remove).status_code == 204
    assert {m["value"] for m in scim.get(f"/Groups/{gid}").json()["members"]} == {users[0], users[2]}


def test_flag_in_the_tenant_url_is_harmless(scim):
    new_user(scim)
    response = scim.get('/Users?aadOptscim062020&filter=userName+eq+"flag.user@example.com"')
    assert response.status_code == 200 and response.json()["totalResults"] == 1
