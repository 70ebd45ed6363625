"""Races, with real concurrency against Azurite (docs/reliability.md, "Races").

Uniqueness is enforced by the storage transaction itself (the index rows are
inserted in the resource's own entity-group transaction), every update is conditioned
on the ETag it read, and every edge-writing transaction MERGEs both ends
(shared/storage/table_store.py), so whatever the interleaving the store checker
finds nothing afterwards.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from shared.storage import keys
from shared.scim.records import Member, StoredResource, now_iso
from shared.storage.table_store import TenantStore

from tests.integration.store_state import findings, resources_table, snapshot
from tests.messages import GROUP, PATCH, USER

ROUNDS = 8


def _rename(name: str, *extra: dict) -> dict:
    return {"schemas": [PATCH], "Operations": [{"op": "Replace", "path": "userName", "value": name}, *extra]}


def _add(*ids: str) -> dict:
    return {"schemas": [PATCH], "Operations": [{"op": "Add", "path": "members", "value": [{"value": i} for i in ids]}]}


def _together(*calls):
    """Run the calls at the same moment (a barrier), return their results in order."""
    barrier = threading.Barrier(len(calls))

    def run(call):
        barrier.wait()
        return call()

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def _clean(scim, scim_app) -> dict:
    table = resources_table(scim_app)
    assert findings(table, scim.tenant_id) == []
    return snapshot(table, scim.tenant_id)


def test_32_concurrent_creates_of_one_user_name_in_any_case_give_one_201(scim, scim_app):
    variants = ["race.winner@example.com", "Race.Winner@Example.com", "RACE.WINNER@EXAMPLE.COM", "race.WINNER@example.Com"]

    def create(i):
        body = {"schemas": [USER], "userName": variants[i % 4], "externalId": f"ext-{i}",
                "emails": [{"type": "work", "value": f"w{i}@example.com"}]}
        return lambda: scim.post("/Users", body).status_code

    statuses = _together(*(create(i) for i in range(32)))
    assert sorted(statuses) == [201] + [409] * 31
    state = _clean(scim, scim_app)
    assert state["counts"] == {"U": 1}
    assert len(state["index"]) == 3  # userName, externalId, work email of the winner only: no orphan rows
    assert scim.get("/Users", params={"count": 0}).json()["totalResults"] == 1


def test_16_concurrent_member_adds_to_one_group_all_take_effect(scim, scim_app):
    group = scim.post("/Groups", {"schemas": [GROUP], "displayName": "racers"}).json()["id"]
    users = [scim.post("/Users", {"schemas": [USER], "userName": f"racer{i}"}).json()["id"] for i in range(16)]
    statuses = _together(*(lambda uid=uid: scim.patch(f"/Groups/{group}", _add(uid)).status_code for uid in users))
    assert set(statuses) == {204}
    assert {m["value"] for m in scim.get(f"/Groups/{group}").json()["members"]} == set(users)
    assert len(_clean(scim, scim_app)["edges"]) == 16


def test_concurrent_patches_with_one_if_match_give_one_success_and_412s(scim, scim_app):
    created = scim.post("/Users", {"schemas": [USER], "userName": "contended"})
    uid, version = created.json()["id"], created.headers["ETag"]

    def patch(i):
        body = {"schemas": [PATCH], "Operations": [{"op": "Replace", "path": "displayName", "value": f"writer {i}"}]}
        return lambda: scim.patch(f"/Users/{uid}", body, headers={"If-Match": version}).status_code

    statuses = _together(*(patch(i) for i in range(16)))
    assert sorted(statuses) == [200] + [412] * 15
    _clean(scim, scim_app)


def test_two_users_swapping_user_names_concurrently_never_share_or_lose_one(scim, scim_app):
    a = scim.post("/Users", {"schemas": [USER], "userName": "alpha"}).json()["id"]
    b = scim.post("/Users", {"schemas": [USER], "userName": "beta"}).json()["id"]

    def move(uid, via, to):
        """Rename through a temporary name, retrying while the target is still taken."""
        def run():
            assert scim.patch(f"/Users/{uid}", _rename(via)).status_code == 200
            for _ in range(200):
                status = scim.patch(f"/Users/{uid}", _rename(to)).status_code
                if status != 409:
                    return status
                time.sleep(0.005)
            return 409
        return run

    owners = {"alpha": a, "beta": b}
    for round_ in range(ROUNDS):
        # the direct swap: each target is held by the other, so both must be refused
        assert _together(lambda: scim.patch(f"/Users/{a}", _rename(_name_of(owners, b))).status_code,
                         lambda: scim.patch(f"/Users/{b}", _rename(_name_of(owners, a))).status_code) == [409, 409]
        # the swap through temporary names, both moves at once
        name_a, name_b = _name_of(owners, a), _name_of(owners, b)
        assert _together(move(a, f"tmp-a{round_}", name_b), move(b, f"tmp-b{round_}", name_a)) == [200, 200]
        owners = {name_b: a, name_a: b}
        for name, uid in owners.items():
            found = scim.get("/Users", params={"filter": f'userName eq "{name}"'}).json()["Resources"]
            assert [r["id"] for r in found] == [uid]
        state = _clean(scim, scim_app)
        assert sorted(k for k, _ in state["index"]) == ["X:un:alpha", "X:un:beta"]


def _name_of(owners: dict, uid: str) -> str:
    return next(name for name, owner in owners.items() if owner == uid)


def test_a_delete_racing_a_patch_leaves_the_patched_user_or_nothing(scim, scim_app):
    group = scim.post("/Groups", {"schemas": [GROUP], "displayName": "doomed-team"}).json()["id"]
    for round_ in range(ROUNDS):
        uid = scim.post("/Users", {"schemas": [USER], "userName": f"doomed{round_}", "externalId": f"d{round_}"}).json()["id"]
        assert scim.patch(f"/Groups/{group}", _add(uid)).status_code == 204
        patch = _rename(f"patched{round_}", {"op": "Replace", "path": "externalId", "value": f"p{round_}"})
        deleted, patched = _together(lambda: scim.delete(f"/Users/{uid}").status_code,
                                     lambda: scim.patch(f"/Users/{uid}", patch).status_code)
        assert deleted == 204 and patched in (200, 404)
        assert scim.get(f"/Users/{uid}").status_code == 404
        state = _clean(scim, scim_app)
        assert state["edges"] == [] and state["reverse"] == []
        assert [k for k, _ in state["index"]] == ["X:gn:doomed-team"]


def test_a_member_delete_racing_the_patch_that_adds_it_leaves_no_dangling_edge(scim, scim_app):
    store = TenantStore(resources_table(scim_app), scim.tenant_id)
    for round_ in range(ROUNDS):
        users = [StoredResource(keys.USER, keys.new_id(keys.USER), {"userName": f"m{round_}-{i}"}, now_iso(), now_iso(),
                                "v1", (keys.unique_key("un", f"m{round_}-{i}"),)) for i in range(34)]
        store.create_batch(users)  # 34: more than one transaction holds, so the add is two-phase
        uids = [u.id for u in users]
        group = scim.post("/Groups", {"schemas": [GROUP], "displayName": f"racing-team{round_}"}).json()["id"]
        added, deleted = _together(lambda: scim.patch(f"/Groups/{group}", _add(*uids)).status_code,
                                   lambda: scim.delete(f"/Users/{uids[-1]}").status_code)
        assert deleted == 204 and added in (204, 400)  # 400: the member was already gone when the add began
        members = {m["value"] for m in scim.get(f"/Groups/{group}").json().get("members", [])}
        assert members in (set(uids[:-1]), set())
        _clean(scim, scim_app)


def test_a_member_deleted_between_the_phases_of_a_large_add_is_skipped(scim, scim_app):
    """Deterministic: the delete lands right after the existence checks."""
    uids = [scim.post("/Users", {"schemas": [USER], "userName": f"phase{i}"}).json()["id"] for i in range(40)]
    group = scim.post("/Groups", {"schemas": [GROUP], "displayName": "phased"}).json()["id"]
    store = TenantStore(resources_table(scim_app), scim.tenant_id)
    submit, submitted = store._submit, []

    def submit_then_delete(ops, change=None):
        result = submit(ops, change)
        submitted.append(len(ops))
        if len(submitted) == 1:  # the existence checks are in: now the member goes
            assert scim.delete(f"/Users/{uids[5]}").status_code == 204
        return result

    store._submit = submit_then_delete
    store.add_members(group, [Member(u) for u in uids])
    assert submitted[0] == 40  # the checks: 40 members in one transaction (the group was read first)
    assert {m["value"] for m in scim.get(f"/Groups/{group}").json()["members"]} == set(uids) - {uids[5]}
    state = _clean(scim, scim_app)  # no edge to, or reverse edge of, the deleted member
    assert len(state["edges"]) == len(state["reverse"]) == 39
