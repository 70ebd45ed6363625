"""Crash consistency: every mutating operation, cut after its Nth storage call
for every N, then replayed as Entra replays it, ends in the state of one
clean run, with no orphan or dangling row (docs/reliability.md, "Crash
consistency and the order of writes").

The cut is :func:`shared.storage.calls.failing_after`: the first N storage
requests of the process go out, every later one fails before it is sent --
what storage sees of a process that died after its Nth call; or, with
``lose_answer``, call N+1 still acts and only its answer is lost.  The client
must get a clean SCIM error (503 with Retry-After, never a stack trace);
then the request is sent again, as Entra's next cycle does: the same PUT,
PATCH or DELETE; for a POST, the same POST and, on 409, a lookup by filter
and a PATCH of the members (Entra matches the existing object and updates
it).  N grows until the request completes without meeting the fault.

After the cut and again after the replay, the change events committed
since the request began, applied to the state before it, must give the
state found (:func:`tests.integration.store_state.folded`): every
transaction that changed a resource carried its event, and no event was
committed without its change.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import pytest

from shared.storage import keys
from shared.storage.calls import failing_after
from shared.scim.records import Member, StoredResource, now_iso
from shared.storage.table_store import TenantStore

from tests.integration.conftest import new_tenant_client
from tests.integration.store_state import event_keys, findings, folded, resource_model, resources_table, snapshot
from tests.messages import ERROR, GROUP, PATCH, USER

MAX_CUTS = 40


def _user(name: str, **extra) -> dict:
    return {"schemas": [USER], "userName": name, **extra}


def _members(ids) -> list[dict]:
    return [{"value": i} for i in ids]


def _seed(scim, scim_app, count: int) -> list[str]:
    """``count`` users written straight through the store (fast set-up)."""
    now = now_iso()
    users = [StoredResource(keys.USER, keys.new_id(keys.USER), {"userName": f"seed{i:03d}"}, now, now, "v1",
                            (keys.unique_key("un", f"seed{i:03d}"),)) for i in range(count)]
    TenantStore(resources_table(scim_app), scim.tenant_id).create_batch(users)
    return [u.id for u in users]


def _group(scim, name: str, member_ids) -> str:
    body = {"schemas": [GROUP], "displayName": name}
    response = scim.post("/Groups", body)
    group = response.json()["id"]
    for start in range(0, len(member_ids), 30):
        add = {"op": "add", "path": "members", "value": _members(member_ids[start:start + 30])}
        assert scim.patch(f"/Groups/{group}", {"schemas": [PATCH], "Operations": [add]}).status_code == 204
    return group


@dataclass
class Scenario:
    """A set-up (returns what the request needs) and the request under test."""

    setup: Callable
    request: Callable  # (ctx) -> (method, path, body)


def _post_user(scim, app):
    return {}


def _one_user(scim, app):
    uid = scim.post("/Users", _user("old@example.com", externalId="e-old",
                                    emails=[{"type": "work", "value": "old@example.com"}])).json()["id"]
    return {"user": uid}


def _user_in_groups(scim, app):
    ctx = _one_user(scim, app)
    ctx["groups"] = [_group(scim, f"team{i}", [ctx["user"]]) for i in range(2)]
    return ctx


def _user_in_49_groups(scim, app):
    """49 edge pairs and 3 index rows: more than one transaction deletes them."""
    ctx = _one_user(scim, app)
    now = now_iso()
    groups = [StoredResource(keys.GROUP, keys.new_id(keys.GROUP), {"displayName": f"club{i:02d}"}, now, now, "v1",
                             (keys.unique_key("gn", f"club{i:02d}"),)) for i in range(49)]
    store = TenantStore(resources_table(app), scim.tenant_id)
    store.create_batch(groups)
    for group in groups:
        store.add_members(group.id, [Member(ctx["user"])])
    return ctx


def _users(count):
    def setup(scim, app):
        return {"users": _seed(scim, app, count)}
    return setup


def _group_of(size: int, spare: int):
    def setup(scim, app):
        users = _seed(scim, app, size + spare)
        return {"users": users, "group": _group(scim, "crew", users[:size])}
    return setup


_NEW_USER = _user("new@example.com", externalId="e-new", emails=[{"type": "work", "value": "new@example.com"}])

SCENARIOS = {
    "post-user": Scenario(_post_user, lambda c: ("POST", "/Users", _NEW_USER)),
    "put-user": Scenario(_one_user, lambda c: ("PUT", f"/Users/{c['user']}", _NEW_USER)),
    "patch-user": Scenario(_one_user, lambda c: ("PATCH", f"/Users/{c['user']}", {"schemas": [PATCH], "Operations": [
        {"op": "Replace", "path": "userName", "value": "renamed@example.com"},
        {"op": "Replace", "path": 'emails[type eq "work"].value', "value": "renamed@example.com"},
        {"op": "Replace", "path": "active", "value": "False"}]})),
    "delete-user-in-groups": Scenario(_user_in_groups, lambda c: ("DELETE", f"/Users/{c['user']}", None)),
    "delete-user-in-49-groups": Scenario(_user_in_49_groups, lambda c: ("DELETE", f"/Users/{c['user']}", None)),
    "post-group": Scenario(_users(3), lambda c: ("POST", "/Groups", {
        "schemas": [GROUP], "displayName": "made", "members": _members(c["users"])})),
    "post-group-40": Scenario(_users(40), lambda c: ("POST", "/Groups", {
        "schemas": [GROUP], "displayName": "made", "members": _members(c["users"])})),
    "patch-group": Scenario(_group_of(2, 2), lambda c: ("PATCH", f"/Groups/{c['group']}", {"schemas": [PATCH], "Operations": [
        {"op": "Add", "path": "members", "value": _members(c["users"][2:])},
        {"op": "Replace", "path": "displayName", "value": "renamed crew"},
        {"op": "Remove", "path": "members", "value": _members(c["users"][:1])}]})),
    "patch-group-add-40": Scenario(_group_of(0, 40), lambda c: ("PATCH", f"/Groups/{c['group']}", {
        "schemas": [PATCH], "Operations": [{"op": "Add", "path": "members", "value": _members(c["users"])}]})),
    "put-group": Scenario(_group_of(3, 2), lambda c: ("PUT", f"/Groups/{c['group']}", {
        "schemas": [GROUP], "displayName": "recrewed", "members": _members(c["users"][2:])})),
    "delete-group-60": Scenario(_group_of(60, 0), lambda c: ("DELETE", f"/Groups/{c['group']}", None)),
}


def _replay(scim, method, path, body):
    """The same request again, as Entra's next cycle sends it."""
    response = scim.request(method, path, body)
    if method == "POST" and response.status_code == 409:
        name = "userName" if path == "/Users" else "displayName"
        response = scim.get(path, params={"filter": f'{name} eq "{body[name]}"'})
        found = response.json()["Resources"]
        assert len(found) == 1
        if body.get("members"):
            add = {"op": "Add", "path": "members", "value": body["members"]}
            response = scim.patch(f"{path}/{found[0]['id']}", {"schemas": [PATCH], "Operations": [add]})
    assert response.status_code in (200, 201, 204, 404), response.text
    return response


def _run(scim_server, registry, scim_app, scenario: Scenario, cut: int | None, lose_answer: bool = False):
    """A fresh tenant, the set-up, the request cut after ``cut`` storage calls
    (None: no cut; ``lose_answer``: the call after them still acts), the
    replay, then a create and a delete that must work in the same process
    (its cached counter shards may be stale); returns (final snapshot, fault met?)."""
    scim = new_tenant_client(scim_server, registry)
    table = resources_table(scim_app)
    request = scenario.request(scenario.setup(scim, scim_app))
    scim.get("/ServiceProviderConfig")  # the token is cached: the cut falls in the request's own work
    before, events_before = resource_model(table, scim.tenant_id), event_keys(table, scim.tenant_id)
    if cut is None:
        assert scim.request(*request).status_code < 300
        tripped = False
    else:
        with failing_after(cut, lose_answer) as plan:
            response = scim.request(*request)
        tripped = plan.tripped
        if response.status_code >= 300:
            assert tripped and response.status_code == 503, response.text
            body = response.json()
            assert body["schemas"] == [ERROR] and body["status"] == "503" and "Traceback" not in response.text
            assert response.headers["Retry-After"].isdigit()
        if tripped:
            assert findings(table, scim.tenant_id) == []  # consistent already, before the replay
            assert folded(before, table, scim.tenant_id, events_before) == resource_model(table, scim.tenant_id)
            _replay(scim, *request)
    extra = scim.post("/Users", _user("after-the-crash"))
    assert extra.status_code == 201 and scim.delete(f"/Users/{extra.json()['id']}").status_code == 204
    assert findings(table, scim.tenant_id) == []
    assert folded(before, table, scim.tenant_id, events_before) == resource_model(table, scim.tenant_id)
    return snapshot(table, scim.tenant_id), tripped


# Every scenario also with the answer of the call after the cut lost (storage
# acted, the process never heard): what the process does next -- a counter
# shard it believes stale, a replay meeting its own earlier success (409,
# 404), an event row already committed -- must still end as one clean run.
LOST_ANSWER = list(SCENARIOS)


@pytest.mark.slow
@pytest.mark.parametrize("name,lose_answer", [(n, False) for n in SCENARIOS] + [(n, True) for n in LOST_ANSWER],
                         ids=[*SCENARIOS, *(f"{n}-answer-lost" for n in LOST_ANSWER)])
def test_a_crash_after_any_storage_call_then_a_replay_ends_as_one_clean_run(name, lose_answer, scim_server, registry,
                                                                           scim_app):
    scenario = SCENARIOS[name]
    clean, _ = _run(scim_server, registry, scim_app, scenario, None)
    for cut in range(MAX_CUTS):
        state, tripped = _run(scim_server, registry, scim_app, scenario, cut, lose_answer)
        assert state == clean, f"cut after {cut} storage calls"
        if not tripped:
            break
    else:
        pytest.fail(f"{name} still met the fault after {MAX_CUTS} storage calls")
    assert cut >= 1
