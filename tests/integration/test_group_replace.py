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
