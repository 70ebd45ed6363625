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
it).  A Bulk request (RFC 7644 §3.7) answers 200 whatever its operations
met: the cut fails the operation it falls in and those after it, each with
its own 503 (or 409 for one whose bulkId reference names a POST that
failed), and the client sends the operations that did not succeed again,
as a Bulk request, with the ids created so far in place of their bulkIds
(:func:`_replay_bulk`).  N grows until the request completes without
meeting the fault.

After the cut and again after the replay, the change events committed
since the request began, applied to the state before it, must give the
state found (:func:`tests.integration.store_state.folded`): every
transaction that changed a resource carried its event, and no event was
committed without its change.
"""

from __future__ import annotations

import json
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
BULK_REQUEST = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"


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


def _bulk_request(c) -> tuple[str, str, dict]:
    """POSTs with a forward bulkId reference (the group names the user made
    after it), a bulkId in a PATCH's path, a group PATCH, a DELETE and a
    user PATCH on existing resources."""
    users, crew = c["users"], c["group"]
    return ("POST", "/Bulk", {"schemas": [BULK_REQUEST], "Operations": [
        {"method": "POST", "path": "/Groups", "bulkId": "made", "data": {
            "schemas": [GROUP], "displayName": "made", "members": _members(["bulkId:new", users[0]])}},
        {"method": "POST", "path": "/Users", "bulkId": "new", "data": _NEW_USER},
        {"method": "PATCH", "path": "/Users/bulkId:new", "data": {"schemas": [PATCH], "Operations": [
            {"op": "Replace", "path": "displayName", "value": "New"}]}},
        {"method": "PATCH", "path": f"/Groups/{crew}", "data": {"schemas": [PATCH], "Operations": [
            {"op": "Add", "path": "members", "value": _members(["bulkId:new"])},
            {"op": "Replace", "path": "displayName", "value": "renamed crew"}]}},
        {"method": "DELETE", "path": f"/Users/{users[1]}"},
        {"method": "PATCH", "path": f"/Users/{users[2]}", "data": {"schemas": [PATCH], "Operations": [
            {"op": "Replace", "path": "active", "value": "False"}]}},
    ]})

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
    "bulk": Scenario(_group_of(1, 2), _bulk_request),
}


def _replay(scim, method, path, body, first):
    """The same request again, as Entra's next cycle sends it (``first``:
    the answer to the request that met the fault)."""
    if path == "/Bulk":
        return _replay_bulk(scim, body, first)
    response = scim.request(method, path, body)
    if method == "POST" and response.status_code == 409:
        response = _matched(scim, path, body)[1]
    assert response.status_code in (200, 201, 204, 404), response.text
    return response


def _matched(scim, path, body):
    """What Entra does after a 409 to its POST: the existing object, found by
    filter, gets the POST's members; (its id, the last response)."""
    name = "userName" if path == "/Users" else "displayName"
    response = scim.get(path, params={"filter": f'{name} eq "{body[name]}"'})
    found = response.json()["Resources"]
    assert len(found) == 1
    if body.get("members"):
        add = {"op": "Add", "path": "members", "value": body["members"]}
        response = scim.patch(f"{path}/{found[0]['id']}", {"schemas": [PATCH], "Operations": [add]})
    return found[0]["id"], response


def _replay_bulk(scim, body, first):
    """Send the operations of a Bulk request that did not succeed again, as a
    Bulk request, with the ids created so far in place of their bulkIds,
    until none is left.  A POST answered 409 ``uniqueness`` committed the
    first time (its answer was lost): it is looked up by filter and its
    members patched in, as :func:`_replay` does for a POST; a DELETE answered
    404 did too.  A 409 for a reference to a POST that failed is sent again
    in the next round, when the POST's id is known."""
    operations, ids = body["Operations"], {}
    pending, results = list(range(len(operations))), _bulk_results(first)
    for _ in range(len(operations)):
        answered = list(zip(pending, results))
        ids.update({operations[i]["bulkId"]: r["location"].rsplit("/", 1)[1] for i, r in answered
                    if operations[i]["method"] == "POST" and int(r["status"]) < 300})
        done = set()
        for index, result in answered:
            op, status = _with_ids(operations[index], ids), int(result["status"])
            if op["method"] == "POST" and status == 409 and result["response"].get("scimType") == "uniqueness":
                ids[op["bulkId"]] = _matched(scim, op["path"], op["data"])[0]
            elif not (status < 300 or (op["method"] == "DELETE" and status == 404)):
                assert status in (409, 503), result
                continue
            done.add(index)
        pending = [i for i in pending if i not in done]
        if not pending:
            return first
        again = scim.post("/Bulk", {"schemas": [BULK_REQUEST], "Operations": [_with_ids(operations[i], ids) for i in pending]})
        results = _bulk_results(again)
    pytest.fail(f"operations {pending} of the Bulk request never succeeded")


def _bulk_results(response) -> list[dict]:
    """A BulkResponse's operations; every failure is a clean SCIM error, never a 500."""
    assert response.status_code == 200, response.text
    results = response.json()["Operations"]
    for result in results:
        if int(result["status"]) >= 300:
            error = result["response"]
            assert error["schemas"] == [ERROR] and error["status"] == result["status"] and int(result["status"]) < 500 \
                or result["status"] == "503", result
    return results


def _with_ids(operation: dict, ids: dict[str, str]) -> dict:
    """``operation`` with the ids known in place of their ``bulkId:`` references."""
    text = json.dumps(operation)
    for bulk_id, rid in ids.items():
        text = text.replace(f'bulkId:{bulk_id}"', f'{rid}"')
    return json.loads(text)


def _succeeded(response) -> bool:
    """A request done in full: a 2xx, and for a Bulk request every operation's."""
    if response.status_code >= 300:
        return False
    return "Operations" not in (response.json() if response.content else {}) or all(
        int(r["status"]) < 300 for r in response.json()["Operations"])


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
        assert _succeeded(scim.request(*request))
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
            _replay(scim, *request, response)
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
