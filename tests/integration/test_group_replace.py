"""PUT /Groups/{id} and membership (RFC 7644 §3.5.1: omitted attributes may be kept)."""

from __future__ import annotations

from tests.messages import GROUP, USER


def test_put_group_members_empty_list_empties_and_omitted_keeps(scim):
    uid = scim.post("/Users", {"schemas": [USER], "userName": "member"}).json()["id"]
    gid = scim.post("/Groups", {"schemas": [GROUP], "displayName": "g", "members": [{"value": uid}]}).json()["id"]
    kept = scim.put(f"/Groups/{gid}", {"schemas": [GROUP], "displayName": "g2"})
    assert kept.status_code == 200
    assert [m["value"] for m in scim.get(f"/Groups/{gid}").json()["members"]] == [uid]
    emptied = scim.put(f"/Groups/{gid}", {"schemas": [GROUP], "displayName": "g2", "members": []})
    assert emptied.status_code == 200
    assert scim.get(f"/Groups/{gid}").json().get("members", []) == []


def _users(scim, count):
    return [scim.post("/Users", {"schemas": [USER], "userName": f"bulk{i}"}).json()["id"] for i in range(count)]


def test_create_group_with_many_members_spanning_transactions(scim):
    users = _users(scim, 40)  # more than one transaction's worth of member writes
    created = scim.post("/Groups", {"schemas": [GROUP], "displayName": "many", "members": [{"value": u} for u in users]})
    assert created.status_code == 201
    assert {m["value"] for m in scim.get(f"/Groups/{created.json()['id']}").json()["members"]} == set(users)
    assert scim.get(f"/Users/{users[-1]}").json()["groups"][0]["value"] == created.json()["id"]


def test_create_group_with_an_unknown_member_among_many_leaves_nothing(scim):
    users = _users(scim, 40)
    ghost = "0123456789ab4def8123456789abcdef"
    response = scim.post("/Groups", {"schemas": [GROUP], "displayName": "many", "members": [{"value": u} for u in users + [ghost]]})
    assert response.status_code == 400 and ghost in response.json()["detail"]
    assert scim.get("/Groups").json()["totalResults"] == 0
    assert "groups" not in scim.get(f"/Users/{users[0]}").json()
    assert scim.post("/Groups", {"schemas": [GROUP], "displayName": "many"}).status_code == 201  # the name is free again


def test_patch_adding_many_members_with_one_unknown_changes_nothing(scim):
    users = _users(scim, 60)
    gid = scim.post("/Groups", {"schemas": [GROUP], "displayName": "g"}).json()["id"]
    ghost = "0123456789ab4def8123456789abcdef"
    body = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "add", "path": "members", "value": [{"value": u} for u in users] + [{"value": ghost}]}]}
    assert scim.patch(f"/Groups/{gid}", body).status_code == 400
    assert scim.get(f"/Groups/{gid}").json().get("members", []) == []


def test_deleting_a_large_group_and_a_user_in_many_groups_removes_every_edge(scim):
    users = _users(scim, 120)
    big = scim.post("/Groups", {"schemas": [GROUP], "displayName": "big", "members": [{"value": u} for u in users]}).json()["id"]
    groups = [scim.post("/Groups", {"schemas": [GROUP], "displayName": f"g{i}", "members": [{"value": users[0]}]}).json()["id"] for i in range(60)]
    assert len(scim.get(f"/Users/{users[0]}").json()["groups"]) == 61
    assert scim.delete(f"/Users/{users[0]}").status_code == 204
    assert all(scim.get(f"/Groups/{g}").json().get("members", []) == [] for g in groups[:5])
    assert len(scim.get(f"/Groups/{big}").json()["members"]) == 119
    assert scim.delete(f"/Groups/{big}").status_code == 204
    assert "groups" not in scim.get(f"/Users/{users[1]}").json()
    assert "groups" not in scim.get(f"/Users/{users[119]}").json()
