"""Uniqueness is enforced by the storage transaction itself, so it holds under
concurrency (DESIGN.md: index entities in the same entity-group transaction)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from tests.messages import GROUP, PATCH, USER


def test_concurrent_creates_of_one_user_name_in_any_case_give_one_201(scim):
    names = [("Race.Winner@Example.com" if i % 2 else "race.winner@example.COM") for i in range(16)]
    with ThreadPoolExecutor(16) as pool:
        statuses = list(pool.map(lambda n: scim.post("/Users", {"schemas": [USER], "userName": n}).status_code, names))
    assert sorted(statuses) == [201] + [409] * 15
    listed = scim.get("/Users").json()
    assert listed["totalResults"] == 1


def test_concurrent_member_adds_to_one_group_all_take_effect(scim):
    group = scim.post("/Groups", {"schemas": [GROUP], "displayName": "racers"}).json()["id"]
    users = [scim.post("/Users", {"schemas": [USER], "userName": f"racer{i}"}).json()["id"] for i in range(12)]

    def add(uid):
        body = {"schemas": [PATCH], "Operations": [{"op": "Add", "path": "members", "value": [{"value": uid}]}]}
        return scim.patch(f"/Groups/{group}", body).status_code

    with ThreadPoolExecutor(12) as pool:
        assert set(pool.map(add, users)) == {204}
    members = {m["value"] for m in scim.get(f"/Groups/{group}").json()["members"]}
    assert members == set(users)



def test_totals_stay_exact_under_concurrent_creates_and_deletes(scim):
    with ThreadPoolExecutor(12) as pool:
        ids = list(pool.map(lambda i: scim.post("/Users", {"schemas": [USER], "userName": f"c{i}"}).json()["id"], range(24)))
        assert scim.get("/Users", params={"count": 0}).json()["totalResults"] == 24
        assert set(pool.map(lambda uid: scim.delete(f"/Users/{uid}").status_code, ids[:10])) == {204}
    body = scim.get("/Users", params={"count": 0}).json()
    assert body["totalResults"] == 14 == len(scim.get("/Users", params={"count": 100}).json()["Resources"])
