"""``POST /Bulk`` (RFC 7644 §3.7) through HTTP: ``bulkId`` references, forward
ones too (§3.7.2), in ``data`` and in ``path``; ``version`` as If-Match;
``failOnErrors``; unresolvable and circular references (§3.7.1); the limits
(§3.7.4) and their advertisement (RFC 7643 §5); malformed BulkRequests; and
each operation audited and evented exactly like the same request sent alone,
with Entra's requests in both ``aadOptscim062020`` modes.
"""

from __future__ import annotations

import dataclasses
import json

import pytest

from shared.scim.http import Request
from shared.web.service import ScimService
from tests.integration.conftest import events_client
from tests.integration.test_change_events import drain
from tests.integration.test_entra_corpus import u1_body
from tests.integration.test_entra_flag_variants import ADD_NICKNAME, DISABLE, ENABLE, REPLACE_MANY, VARIANTS, remove_member_body
from tests.messages import ENT, ERROR, GROUP, PATCH, USER, body_of, get_group, get_user, list_of, member_ids, patch_op

pytestmark = pytest.mark.memory_store  # about the protocol, not storage: tests/integration/conftest.py

BULK_REQUEST = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
BULK_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:BulkResponse"
MAX_OPERATIONS, MAX_PAYLOAD = 100, 1024 * 1024  # the defaults: SCIM_BULK_MAX_OPERATIONS, SCIM_MAX_BODY_BYTES


def bulk(*operations: dict, **extra) -> dict:
    return {"schemas": [BULK_REQUEST], **extra, "Operations": list(operations)}


def post(path: str, bulk_id: str, data: dict) -> dict:
    return {"method": "POST", "path": path, "bulkId": bulk_id, "data": data}


def user(name: str, **extra) -> dict:
    return {"schemas": [USER], "userName": name, **extra}


def group(name: str, *member_values: str) -> dict:
    return {"schemas": [GROUP], "displayName": name, "members": [{"value": v} for v in member_values]}


def sent(scim, body: dict) -> list[dict]:
    """POST /Bulk; the BulkResponse's operations (asserting the envelope)."""
    answer = body_of(scim.post("/Bulk", body), 200)
    assert answer["schemas"] == [BULK_RESPONSE]
    return answer["Operations"]


def statuses(results: list[dict]) -> list[str]:
    return [r["status"] for r in results]


def error_of(result: dict, status: str, scim_type: str | None = None) -> dict:
    """An operation's failure: its status and its RFC 7644 §3.12 error as ``response``."""
    error = result["response"]
    assert result["status"] == status and error["schemas"] == [ERROR] and error["status"] == status, result
    assert error.get("scimType") == scim_type and error["detail"], result
    return error


def id_of(result: dict) -> str:
    return result["location"].rsplit("/", 1)[1]


# --- bulkId references (§3.7.2) ----------------------------------------------


def test_rfc_example_a_group_and_users_it_names_before_they_are_created(scim):
    """§3.7.2 with the group first: its members, a manager and a URL refer
    forward to POSTs later in the request, which run first; the response
    keeps request order."""
    results = sent(scim, bulk(
        post("/Groups", "ytrewq", group("Tour Guides", "bulkId:qwerty", "bulkId:bob")),
        post("/Users", "qwerty", user("Alice")),
        post("/Users", "bob", {"schemas": [USER, ENT], "userName": "Bob", "profileUrl": "https://example.com/p/bulkId:qwerty",
                               ENT: {"manager": {"value": "bulkId:qwerty"}}}),
    ))
    assert [(r["method"], r["bulkId"], r["status"]) for r in results] == [
        ("POST", "ytrewq", "201"), ("POST", "qwerty", "201"), ("POST", "bob", "201")]
    gid, alice, bob = (id_of(r) for r in results)
    assert results[0]["location"] == f"{scim.base}/Groups/{gid}" and results[1]["location"] == f"{scim.base}/Users/{alice}"
    assert all("response" not in r for r in results)
    created = scim.get(f"/Groups/{gid}")
    assert member_ids(created.json()) == {alice, bob} and results[0]["version"] == created.headers["ETag"]
    assert get_user(scim, bob)[ENT]["manager"]["value"] == alice
    assert get_user(scim, bob)["profileUrl"] == f"https://example.com/p/{alice}"  # a part of a string, too
    assert {g["value"] for g in get_user(scim, alice)["groups"]} == {gid}


def test_a_chain_of_forward_references_as_long_as_max_operations_runs_from_its_end(scim):
    """Each user's manager is the user POSTed after it: the last runs first."""
    operations = [post("/Users", f"u{i}", {"schemas": [USER, ENT], "userName": f"chain{i}@example.com",
                                           ENT: {"manager": {"value": f"bulkId:u{i + 1}"}}})
                  for i in range(MAX_OPERATIONS - 1)]
    operations.append(post("/Users", f"u{MAX_OPERATIONS - 1}", user("top@example.com")))
    results = sent(scim, bulk(*operations))
    assert statuses(results) == ["201"] * MAX_OPERATIONS and [r["bulkId"] for r in results] == [f"u{i}" for i in range(MAX_OPERATIONS)]
    ids = [id_of(r) for r in results]
    listed = list_of(scim.get("/Users", params={"count": MAX_OPERATIONS}))["Resources"]
    managers = {u["id"]: u.get(ENT, {}).get("manager", {}).get("value") for u in listed}
    assert managers == {ids[i]: ids[i + 1] if i + 1 < MAX_OPERATIONS else None for i in range(MAX_OPERATIONS)}


def test_bulk_ids_in_paths_for_put_patch_and_delete_of_users_and_groups(scim):
    """Every method on both resource types, each addressed by the bulkId of the POST that made it."""
    results = sent(scim, bulk(
        post("/Users", "u", user("path.user@example.com")),
        post("/Groups", "g", group("Path group")),
        {"method": "PATCH", "path": "/Users/bulkId:u", "data": patch_op({"op": "replace", "path": "nickName", "value": "Pat"})},
        {"method": "PUT", "path": "/Users/bulkId:u", "data": user("path.user@example.com", displayName="Put")},
        {"method": "PATCH", "path": "/Groups/bulkId:g", "data": patch_op(
            {"op": "add", "path": "members", "value": [{"value": "bulkId:u"}]})},
        {"method": "PUT", "path": "/Groups/bulkId:g", "data": group("Path group renamed", "bulkId:u")},
        post("/Users", "gone", user("gone@example.com")),
        {"method": "DELETE", "path": "/Users/bulkId:gone"},
        post("/Groups", "gone-group", group("Gone group")),
        {"method": "DELETE", "path": "/Groups/bulkId:gone-group"},
    ))
    assert statuses(results) == ["201", "201", "200", "200", "204", "200", "201", "204", "201", "204"]
    uid, gid = id_of(results[0]), id_of(results[1])
    assert results[2]["location"] == f"{scim.base}/Users/{uid}" and results[5]["location"] == f"{scim.base}/Groups/{gid}"
    assert "version" not in results[4]  # a group PATCH answers 204 without an ETag, as alone
    assert results[3]["version"] == scim.get(f"/Users/{uid}").headers["ETag"]
    assert get_user(scim, uid)["displayName"] == "Put" and "nickName" not in get_user(scim, uid)
    assert get_group(scim, gid)["displayName"] == "Path group renamed" and member_ids(get_group(scim, gid)) == {uid}
    assert scim.get(f"/Users/{id_of(results[6])}").status_code == 404
    assert scim.get(f"/Groups/{id_of(results[8])}").status_code == 404


def test_unresolvable_references_fail_their_operation_and_the_rest_runs(scim):
    taken = body_of(scim.post("/Users", user("taken@example.com")), 201)["id"]
    results = sent(scim, bulk(
        post("/Groups", "g", group("Orphans", "bulkId:nobody")),
        post("/Users", "dup", user("taken@example.com")),
        {"method": "PATCH", "path": "/Users/bulkId:dup", "data": patch_op({"op": "replace", "path": "nickName", "value": "x"})},
        post("/Groups", "ok", group("Fine", taken)),
    ))
    assert statuses(results) == ["400", "409", "409", "201"]
    assert "nobody" in error_of(results[0], "400", "invalidValue")["detail"]
    assert error_of(results[1], "409", "uniqueness") and "location" not in results[1]
    assert "bulkId:dup" in error_of(results[2], "409")["detail"]
    assert list_of(scim.get("/Groups"))["totalResults"] == 1


def test_circular_references_are_409_and_create_nothing(scim):
    """§3.7.1's example (two new groups, each a member of the other) and a self-reference."""
    results = sent(scim, bulk(
        post("/Groups", "qwerty", group("Group A", "bulkId:ytrewq")),
        post("/Groups", "ytrewq", group("Group B", "bulkId:qwerty")),
        post("/Groups", "self", group("Group C", "bulkId:self")),
        post("/Groups", "after", group("Group D", "bulkId:qwerty")),
        post("/Users", "fine", user("fine@example.com")),
    ))
    assert statuses(results) == ["409", "409", "409", "409", "201"]
    assert all("§3.7.1" in error_of(r, "409")["detail"] for r in results[:3])
    assert "bulkId:qwerty" in error_of(results[3], "409")["detail"]  # it refers to a failed POST
    assert list_of(scim.get("/Groups"))["totalResults"] == 0


# --- version, failOnErrors (§3.7, §3.7.3) -------------------------------------


def test_a_stale_version_is_412_for_that_operation_only(scim):
    created = scim.post("/Users", user("versioned@example.com"))
    uid, current = created.json()["id"], created.headers["ETag"]
    stale = 'W/"stale"'
    rename = patch_op({"op": "replace", "path": "nickName", "value": "Renamed"})
    results = sent(scim, bulk(
        {"method": "PATCH", "path": f"/Users/{uid}", "version": stale, "data": rename},
        {"method": "DELETE", "path": f"/Users/{uid}", "version": stale},
        {"method": "PATCH", "path": f"/Users/{uid}", "version": current, "data": rename},
    ))
    assert statuses(results) == ["412", "412", "200"]
    error_of(results[0], "412")
    assert results[0]["location"] == f"{scim.base}/Users/{uid}"  # §3.7.3: a failed PUT/PATCH/DELETE keeps its location
    assert get_user(scim, uid)["nickName"] == "Renamed" and results[2]["version"] != current


def test_fail_on_errors_stops_the_run_and_leaves_out_what_did_not_run(scim):
    """§3.7.3's example: with failOnErrors 1, the first error ends the run."""
    body_of(scim.post("/Users", user("Alice")), 201)
    results = sent(scim, bulk(
        post("/Users", "qwerty", user("Alice")),
        post("/Users", "never", user("never@example.com")),
        failOnErrors=1,
    ))
    assert [(r["bulkId"], r["status"]) for r in results] == [("qwerty", "409")]
    assert list_of(scim.get("/Users"))["totalResults"] == 1
    results = sent(scim, bulk(
        {"method": "DELETE", "path": "/Users/U-missing-1"},
        post("/Users", "one", user("one@example.com")),
        {"method": "DELETE", "path": "/Users/U-missing-2"},
        post("/Users", "two", user("two@example.com")),
        failOnErrors=2,
    ))
    assert statuses(results) == ["404", "201", "404"]


def test_without_fail_on_errors_every_operation_runs(scim):
    """§3.7.3: the provider continues whatever fails (the RFC's all-failed example)."""
    results = sent(scim, bulk(
        post("/Users", "qwerty", {"schemas": [USER]}),
        {"method": "PUT", "path": "/Users/U-missing", "data": user("Bob")},
        {"method": "DELETE", "path": "/Groups/G-missing"},
        post("/Users", "last", user("last@example.com")),
    ))
    assert statuses(results) == ["400", "404", "404", "201"]
    assert "location" not in results[0] and results[2]["location"] == f"{scim.base}/Groups/G-missing"


# --- what an operation may address, and malformed requests --------------------


@pytest.mark.parametrize("operation,status,scim_type", [
    ({"method": "POST", "path": "/Bulk", "bulkId": "b", "data": bulk()}, "400", "invalidValue"),
    ({"method": "GET", "path": "/Schemas"}, "400", "invalidValue"),
    ({"method": "POST", "path": "/Schemas", "bulkId": "s", "data": {}}, "400", "invalidValue"),
    ({"method": "DELETE", "path": "/Users/a/b"}, "400", "invalidValue"),
    ({"method": "POST", "path": "/Me", "bulkId": "m", "data": user("me")}, "400", "invalidValue"),
    ({"method": "POST", "path": "/Users", "data": user("no.bulk.id")}, "400", "invalidValue"),
    ({"method": "PATCH", "path": "/Users/U-x"}, "400", "invalidValue"),
    ({"method": "POST", "path": "/Users/U-x", "bulkId": "p", "data": user("x")}, "405", None),
    ({"method": "DELETE", "path": "/Users/"}, "400", "invalidValue"),
    ({"method": "POST", "path": "Users", "bulkId": "r", "data": user("relative")}, "400", "invalidValue"),
])
def test_an_operation_outside_users_and_groups_fails_alone(scim, operation, status, scim_type):
    results = sent(scim, bulk(operation, post("/Users", "fine", user("fine@example.com"))))
    error_of(results[0], status, scim_type)
    assert results[1]["status"] == "201"


@pytest.mark.parametrize("raw", [
    b"", b"{", b"[]", b"null", b'"Operations"', b"\xff\xfe",
    json.dumps({"Operations": [{"method": "DELETE", "path": "/Users/x"}]}).encode(),
    json.dumps({"schemas": [PATCH], "Operations": [{"method": "DELETE", "path": "/Users/x"}]}).encode(),
    json.dumps(bulk()).encode(),
    json.dumps({"schemas": [BULK_REQUEST], "Operations": {"method": "DELETE"}}).encode(),
    json.dumps(bulk({"path": "/Users"})).encode(),
    json.dumps(bulk({"method": "DELETE"})).encode(),
    json.dumps(bulk({"method": 1, "path": "/Users/x"})).encode(),
    json.dumps(bulk({"method": "POST", "path": "/Users", "bulkId": 7, "data": {}})).encode(),
    json.dumps(bulk("DELETE")).encode(),
    json.dumps(bulk({"method": "DELETE", "path": "/Users/x"}, failOnErrors="1")).encode(),
    json.dumps(bulk({"method": "DELETE", "path": "/Users/x"}, failOnErrors=0)).encode(),
    json.dumps(bulk(post("/Users", "same", user("a")), post("/Users", "same", user("b")))).encode(),
])
def test_a_malformed_bulk_request_is_400_and_runs_nothing(scim, raw):
    response = scim.post("/Bulk", raw=raw, headers={"Content-Type": "application/scim+json"})
    error = body_of(response, 400)
    assert error["schemas"] == [ERROR] and error["scimType"] in ("invalidSyntax", "invalidValue") and error["detail"]
    assert list_of(scim.get("/Users"))["totalResults"] == 0


def test_only_post_is_allowed_and_a_json_body_is_required(scim):
    assert scim.get("/Bulk").status_code == 405 and scim.get("/Bulk").headers["Allow"] == "POST"
    response = scim.post("/Bulk", raw=json.dumps(bulk()).encode(), headers={"Content-Type": "text/plain"})
    assert response.status_code == 415


# --- limits (§3.7.4, RFC 7643 §5) ---------------------------------------------


def test_service_provider_config_advertises_bulk_with_its_limits(scim):
    config = body_of(scim.get("/ServiceProviderConfig"), 200)
    assert config["bulk"] == {"supported": True, "maxOperations": MAX_OPERATIONS, "maxPayloadSize": MAX_PAYLOAD}


def test_more_operations_than_max_operations_is_413_naming_the_limit(scim):
    operations = [post("/Users", f"u{i}", user(f"u{i}@example.com")) for i in range(MAX_OPERATIONS + 1)]
    response = scim.post("/Bulk", bulk(*operations))
    error = body_of(response, 413)
    assert error["schemas"] == [ERROR] and error["status"] == "413"
    assert f"maxOperations ({MAX_OPERATIONS})" in error["detail"]
    assert list_of(scim.get("/Users"))["totalResults"] == 0
    assert statuses(sent(scim, bulk(*operations[:MAX_OPERATIONS]))) == ["201"] * MAX_OPERATIONS


def test_a_payload_over_max_payload_size_is_413_naming_the_limit(scim):
    padding = "x" * MAX_PAYLOAD
    response = scim.post("/Bulk", bulk(post("/Users", "big", user("big@example.com", displayName=padding))))
    error = body_of(response, 413)
    assert error["status"] == "413" and f"maxPayloadSize ({MAX_PAYLOAD})" in error["detail"]
    assert list_of(scim.get("/Users"))["totalResults"] == 0


# --- as a request sent alone: tenant state, events, audit ---------------------


def test_a_tenant_whose_writes_are_closed_gets_401_per_operation(scim, backend, request):
    """Another instance, whose cached credential outlives the tenant's disabling
    (tests/integration/test_tenant_lifecycle.py): each write is refused by
    the write guard with 401, as the same request alone is."""
    shared = request.getfixturevalue("memory_service")
    other = ScimService(shared.settings, shared.tables)
    headers = {"Authorization": f"Bearer {scim.token}", "Content-Type": "application/scim+json"}

    def send(body: dict):
        return other.handle(Request.build("POST", f"{scim.base}/Bulk", headers, json.dumps(body).encode()), "Bulk")

    assert send(bulk(post("/Users", "before", user("before@example.com")))).status == 200  # the credential is cached
    backend[1].set_disabled(scim.tenant_id, True)
    try:
        refused = send(bulk(post("/Users", "a", user("a@example.com")), post("/Users", "b", user("b@example.com"))))
    finally:
        backend[1].set_disabled(scim.tenant_id, False)
    assert refused.status == 200 and statuses(refused.body["Operations"]) == ["401", "401"]
    assert list_of(scim.get("/Users"))["totalResults"] == 1
    assert statuses(send(bulk(post("/Users", "a", user("a@example.com")))).body["Operations"]) == ["201"]


def test_the_rate_limit_counts_each_operation_as_a_request(scim, request):
    """An instance limited to 2 requests/s (a burst of 2): the Bulk request
    takes one, its first operation the other, the next ones are 429."""
    shared = request.getfixturevalue("memory_service")
    limited = ScimService(dataclasses.replace(shared.settings, rate_limit_per_second=2), shared.tables)
    body = bulk(*[post("/Users", f"r{i}", user(f"r{i}@example.com")) for i in range(4)])
    headers = {"Authorization": f"Bearer {scim.token}", "Content-Type": "application/scim+json"}
    answer = limited.handle(Request.build("POST", f"{scim.base}/Bulk", headers, json.dumps(body).encode()), "Bulk")
    assert answer.status == 200 and statuses(answer.body["Operations"]) == ["201", "429", "429", "429"]
    assert "retry later" in answer.body["Operations"][1]["response"]["detail"]


def _creates(name: str) -> list[tuple[str, str, str, dict]]:
    """(bulkId, method, path, body) of the creates; the group names its
    members by bulkId (forward: they come after it)."""
    return [
        ("group", "POST", "/Groups", {"schemas": [GROUP], "displayName": f"group-{name}", "externalId": f"g-{name}",
                                      "members": [{"value": "bulkId:user"}]}),
        ("user", "POST", "/Users", u1_body(f"user-{name}@example.com", f"ext-user-{name}", f"user-{name}@example.com")),
        ("other", "POST", "/Users", u1_body(f"other-{name}@example.com", f"ext-other-{name}", f"other-{name}@example.com")),
    ]


def _changes(variant: str, name: str, ids: dict[str, str]) -> list[tuple[str, str, dict | None]]:
    """(method, path, body) of Entra's flag-variant requests and a PUT and deletes, on the created ids."""
    uid, other, gid = ids["user"], ids["other"], ids["group"]
    add = patch_op({"op": "Add", "path": "members", "value": [{"value": other}]})
    replaced = {"schemas": [USER], "userName": f"other-{name}@example.com", "externalId": f"ext-other-{name}",
                "active": True, "displayName": "Replaced"}
    return [
        *[("PATCH", f"/Users/{uid}", body[variant]) for body in (DISABLE, ENABLE, ADD_NICKNAME, REPLACE_MANY)],
        ("PATCH", f"/Groups/{gid}", add),
        ("PATCH", f"/Groups/{gid}", remove_member_body(variant, uid)),
        ("PUT", f"/Users/{other}", replaced),
        ("DELETE", f"/Groups/{gid}", None),
        ("DELETE", f"/Users/{uid}", None),
    ]


def _alone(scim, variant: str) -> tuple[dict[str, str], list[str]]:
    """Every request sent on its own: (names → ids, request ids)."""
    ids, request_ids = {}, []
    members = {}
    for name, method, path, body in reversed(_creates(variant)):  # the users first: the group names them
        if name == "group":
            body = {**body, "members": [{"value": members["user"]}]}
        response = scim.request(method, path, body)
        assert response.status_code == 201, response.text
        ids[name] = members[name] = response.json()["id"]
        request_ids.append(response.headers["X-Request-Id"])
    for method, path, body in _changes(variant, variant, ids):
        response = scim.request(method, path, body)
        assert response.status_code < 300, response.text
        request_ids.append(response.headers["X-Request-Id"])
    return ids, request_ids


def _in_bulk(scim, variant: str) -> tuple[dict[str, str], list[str]]:
    """The same requests in two Bulk requests: (names → ids, each operation's request id)."""
    response = scim.post("/Bulk", bulk(*[{"bulkId": b, "method": m, "path": p, "data": d} for b, m, p, d in _creates(variant)]))
    results = body_of(response, 200)["Operations"]
    ids = {r["bulkId"]: id_of(r) for r in results}
    # processed users first (the group refers to them), so their events come first, as alone
    request_ids = [f"{response.headers['X-Request-Id']}-{n}" for n in (3, 2, 1)]
    changes = _changes(variant, variant, ids)
    response = scim.post("/Bulk", bulk(*[{"method": m, "path": p, **({"data": d} if d else {})} for m, p, d in changes]))
    assert all(int(r["status"]) < 300 for r in body_of(response, 200)["Operations"]), response.text
    request_ids += [f"{response.headers['X-Request-Id']}-{n}" for n in range(1, len(changes) + 1)]
    return ids, request_ids


def _normalised(claims: list[dict], ids: dict[str, str]) -> dict[str, list]:
    """Each resource's events, in order, with its ids named and versions left out."""
    text = json.dumps([{"sub_id": c["sub_id"], "events": c["events"]} for c in claims])
    for name, rid in ids.items():
        text = text.replace(rid, name)
    by_resource: dict[str, list] = {}
    for claim in json.loads(text):
        for payload in claim["events"].values():
            payload.pop("version", None)
        by_resource.setdefault(claim["sub_id"]["uri"], []).append(claim)
    return by_resource


def _audit(service, tenant_id: str, ids: dict[str, str]) -> list[tuple]:
    names = {rid: name for name, rid in ids.items()}
    return sorted((e.operation, e.resource_type, names[e.resource_id], e.attributes, e.outcome, e.actor.split(":")[0])
                  for e in service.audit.recent(tenant_id, 100))


@pytest.mark.parametrize("variant", VARIANTS)
def test_events_and_audit_of_bulk_operations_equal_those_of_the_requests_alone(scim, other_tenant, backend, request,
                                                                              variant):
    """Entra's requests, in both flag modes, alone on one tenant and as Bulk
    operations on another: the same change events (verified SETs) per
    resource and the same audit entries; each operation's ``txn`` is the
    Bulk request's id and its position."""
    service = request.getfixturevalue("memory_service")
    alone_ids, alone_txns = _alone(other_tenant, variant)
    bulk_ids, bulk_txns = _in_bulk(scim, variant)
    alone = drain(other_tenant, events_client(backend[0], backend[1], other_tenant.tenant_id))
    in_bulk = drain(scim, events_client(backend[0], backend[1], scim.tenant_id))
    assert len(in_bulk) == len(alone) == len(bulk_txns)
    assert _normalised(in_bulk, bulk_ids) == _normalised(alone, alone_ids)
    assert sorted(c["txn"] for c in in_bulk) == sorted(bulk_txns) and sorted(c["txn"] for c in alone) == sorted(alone_txns)
    assert _audit(service, scim.tenant_id, bulk_ids) == _audit(service, other_tenant.tenant_id, alone_ids)
    assert {e.request_id for e in service.audit.recent(scim.tenant_id, 100)} == set(bulk_txns)


def test_a_client_written_against_the_standard_works_unchanged(scim):
    """scim2-client's own Bulk example (RFC 7644 §3.7.2), checked both ways by
    scim2-models: the request it builds is accepted, the BulkResponse validates."""
    from httpx2 import Client
    from scim2_client.engines.httpx2 import SyncSCIMClient
    from scim2_models import BulkOperation, BulkRequest, BulkResponse, Group, GroupMember, User

    client = SyncSCIMClient(Client(base_url=f"{scim.base}/", headers={"Authorization": f"Bearer {scim.token}"}))
    client.discover()
    answer = client.bulk(BulkRequest[User | Group](operations=[
        BulkOperation[User](method="POST", path="/Users", bulk_id="qwerty", data=User(user_name="Alice")),
        BulkOperation[Group](method="POST", path="/Groups", bulk_id="ytrewq", data=Group(
            display_name="Tour Guides", members=[GroupMember(type="User", value="bulkId:qwerty")])),
    ]))
    assert isinstance(answer, BulkResponse)
    assert [(op.bulk_id, op.status) for op in answer.operations] == [("qwerty", 201), ("ytrewq", 201)]
    alice = answer.operations[0].location.rsplit("/", 1)[1]
    assert member_ids(get_group(scim, answer.operations[1].location.rsplit("/", 1)[1])) == {alice}


# --- found in review -----------------------------------------------------------


def test_a_bulk_id_in_a_patch_path_filter_is_resolved(scim):
    """``members[value eq "bulkId:u"]`` names the user the POST created, as the value alone would."""
    results = sent(scim, bulk(
        post("/Users", "u", user("filtered.user@example.com")),
        post("/Users", "v", user("kept.user@example.com")),
        post("/Groups", "g", group("Filtered", "bulkId:u", "bulkId:v")),
        {"method": "PATCH", "path": "/Groups/bulkId:g", "data": patch_op(
            {"op": "remove", "path": 'members[value eq "bulkId:u"]'})},
    ))
    assert statuses(results) == ["201", "201", "201", "204"]
    assert member_ids(get_group(scim, id_of(results[2]))) == {id_of(results[1])}


def test_a_bulk_id_that_cannot_be_referred_to_is_refused_on_its_post(scim):
    results = sent(scim, bulk(*(post("/Users", bulk_id, user(f"odd{i}@example.com"))
                                for i, bulk_id in enumerate(("sl/ash", 'quo"te', "sp ace", "br]acket")))))
    assert all("cannot be referred to" in error_of(r, "400", "invalidValue")["detail"] for r in results)
    assert list_of(scim.get("/Users"))["totalResults"] == 0


def test_locations_are_canonical_and_a_delete_s_data_is_not_read(scim):
    uid = body_of(scim.post("/Users", user("canonical@example.com")), 201)["id"]
    results = sent(scim, bulk(
        {"method": "PATCH", "path": f"/users/{uid}", "data": patch_op({"op": "replace", "path": "nickName", "value": "C"})},
        {"method": "DELETE", "path": f"/USERS/{uid}", "data": {"note": "bulkId:nowhere"}},
    ))
    assert statuses(results) == ["200", "204"]
    assert [r["location"] for r in results] == [f"{scim.base}/Users/{uid}"] * 2
