"""HTTP-level fuzz of every route the OpenAPI description lists (RFC 7644 §3).

The description is read from the running app (``GET /scim/v2/openapi.json``);
each documented (path, method) gets requests built by hypothesis strategies
from it and from :mod:`tests.property.strategies`: valid and mutated
resources, PATCH, search and Bulk messages, random filters and query parameters,
plus hostile input -- bad JSON, non-UTF-8, wrong media types, odd and
oversized ids, undocumented methods, missing or wrong credentials.  Batches
are sent concurrently from several keep-alive sessions to the dev host.

Asserted: no response is a 5xx (nor any operation inside a BulkResponse), no
request fails at the connection level, every documented (path, method) was
reached, and the dev host's thread is alive and answering at the end.  The
seed and size come from ``FUZZ_SEED`` (fixed by default, so ``make test`` is
deterministic) and ``FUZZ_REQUESTS``,
sent as :data:`FUZZ_SHARDS` tests of an equal share each (seed
``FUZZ_SEED + shard``); ``make fuzz`` runs a longer one with a random seed
(docs/reliability.md, "Fuzzing").
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections import Counter, deque
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote, urlencode

import pytest
import requests
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

from shared.scim.schemas import BULK_REQUEST_URN, GROUP_TYPE, SEARCH_REQUEST_URN, USER_TYPE
from tests.property.strategies import (
    ANY_JSON,
    ODD_TEXT,
    ODD_WORD,
    PLAIN_TEXT,
    filter_texts,
    hostile_operations,
    patch_body,
    patch_operations,
    resources,
)

# Hypothesis warns once per large strategy when it describes it (they are large
# on purpose), and when the sending threads, which draw nothing, touch `random`
# while it draws the next batch.
pytestmark = [pytest.mark.filterwarnings("ignore:Generating overly large repr"),
              pytest.mark.filterwarnings("ignore:Do not use the `random` module inside strategies")]

FUZZ_SEED = int(os.environ.get("FUZZ_SEED") or 6061)
FUZZ_REQUESTS = int(os.environ.get("FUZZ_REQUESTS") or 10_000)
#: The fuzz runs as this many tests, each FUZZ_REQUESTS / FUZZ_SHARDS requests
#: with seed FUZZ_SEED + shard on a tenant of its own, so that pytest-xdist's
#: workers share it out: shard 0 on Azurite, the others on the in-memory
#: store (tests/memory_tables.py), as they are about the HTTP and SCIM layers.
FUZZ_SHARDS = 4
BATCH = 25
THREADS = 8
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")

# Hypothesis repeats short names often, so creates meet 409s as well as 201s.
USER_NAMES = PLAIN_TEXT.map(lambda t: f"{t}@fuzz.test") | ODD_WORD
GROUP_NAMES = PLAIN_TEXT.map(lambda t: f"Fuzz group {t}") | ODD_WORD
ODD_IDS = st.sampled_from(["", " ", "..", "%2F", "%00", "a" * 2000, "0" * 32, "U:x", "%E2%80%AE", "null", "-1"]) | ODD_TEXT.map(
    lambda t: quote(t, safe=""))
HOSTILE_BODIES = st.sampled_from([
    b"", b"{", b"[]", b"null", b"\xff\xfe\x00", b'{"schemas": ', b"[" * 5000 + b"]" * 5000, b'{"a":' * 3000 + b"1" + b"}" * 3000,
    b"\xef\xbb\xbf{}", b'{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add"}]}',
]) | ANY_JSON.map(lambda v: json.dumps(v).encode()) | st.binary(max_size=64)
BAD_CREDENTIALS = st.sampled_from(["", "Bearer", "Bearer x", "Basic Og==", "bearer " + "a" * 5000])
MEDIA_TYPES = st.sampled_from(["application/scim+json", "application/json", "application/scim+json; charset=utf-8",
                               "text/plain", "application/x-www-form-urlencoded", "", "application/xml"])


def _search_bodies() -> st.SearchStrategy:
    return st.fixed_dictionaries({"schemas": st.just([SEARCH_REQUEST_URN])}, optional={
        "filter": filter_texts() | ODD_TEXT, "sortBy": st.sampled_from(["userName", "displayName", "meta.created", "x.y.z"]),
        "sortOrder": st.sampled_from(["ascending", "descending", "up"]), "startIndex": st.integers(-5, 10**12),
        "count": st.integers(-5, 5000), "attributes": st.lists(st.sampled_from(["userName", "emails", "members", "x"]), max_size=3),
        "excludedAttributes": st.sampled_from(["members", "groups", "emails.value", "[", ""]),
    })


def _group_bodies(ids: list[str]) -> st.SearchStrategy:
    members = st.lists(st.fixed_dictionaries({"value": st.sampled_from(ids) | ODD_TEXT}), max_size=4)
    return st.builds(lambda body, m: {**body, "members": m} if m else body,
                     resources(GROUP_TYPE, GROUP_NAMES), members)


def _member_patches(ids: list[str]) -> st.SearchStrategy:
    value = st.lists(st.fixed_dictionaries({"value": st.sampled_from(ids) | ODD_TEXT}), min_size=1, max_size=3)
    op = st.builds(lambda o, v: {"op": o, "path": "members", "value": v}, st.sampled_from(["add", "Add", "remove"]), value)
    by_filter = st.sampled_from(ids).map(lambda i: {"op": "remove", "path": f'members[value eq "{i}"]'})
    return st.lists(op | by_filter, min_size=1, max_size=3).map(patch_body)


def _bulk_bodies(ids: list[str], resource: st.SearchStrategy, patches: st.SearchStrategy) -> st.SearchStrategy:
    """BulkRequests (RFC 7644 §3.7): creates with bulkIds, changes of seeded
    ids and of bulkId references (unknown, forward and circular ones among
    them), and operations that are wrong in every field."""
    bulk_ids = st.sampled_from(["a", "b", "c"]) | ODD_TEXT
    refs = st.sampled_from(ids) | bulk_ids.map(lambda b: f"bulkId:{b}") | ODD_IDS
    endpoints = st.sampled_from(["/Users", "/Groups"])
    create = st.fixed_dictionaries({"method": st.just("POST"), "path": endpoints, "bulkId": bulk_ids, "data": resource})
    change = st.fixed_dictionaries(
        {"method": st.sampled_from(["PUT", "PATCH", "DELETE", "patch", "GET"]),
         "path": st.tuples(endpoints, refs).map("/".join)},
        optional={"version": st.sampled_from(['W/"x"', "*"]) | ODD_TEXT, "data": resource | patches})
    odd = st.fixed_dictionaries({}, optional={
        "method": ODD_TEXT | st.integers(), "bulkId": ANY_JSON, "data": ANY_JSON, "version": ANY_JSON,
        "path": st.sampled_from(["/Bulk", "/Schemas", "Users", "/Users/a/b", "", "/Me"]) | ODD_TEXT})
    return st.fixed_dictionaries(
        {"schemas": st.just([BULK_REQUEST_URN]), "Operations": st.lists(create | change | _rarely(create, odd, 4),
                                                                          max_size=6)},
        optional={"failOnErrors": st.integers(-1, 4) | ODD_TEXT})


def _json_bodies(ids: list[str]) -> dict[str, st.SearchStrategy]:
    """Request bodies by the name of the schema the description gives them."""
    patches = st.one_of([st.lists(patch_operations(rt) | hostile_operations(), min_size=1, max_size=4).map(patch_body)
                         for rt in (USER_TYPE, GROUP_TYPE)])
    users, groups = resources(USER_TYPE, USER_NAMES), _group_bodies(ids)
    return {
        "User": users,
        "Group": groups,
        "PatchOp": patches | _member_patches(ids),
        "SearchRequest": _search_bodies(),
        "PollRequest": _poll_bodies(),
        "BulkRequest": _bulk_bodies(ids, users | _group_bodies([*ids, "bulkId:a", "bulkId:b"]),
                                    patches | _member_patches([*ids, "bulkId:a"])),
    }


def _poll_bodies() -> st.SearchStrategy:
    """RFC 8936 poll requests; mostly ``returnImmediately`` (a long poll holds a thread)."""
    jtis = st.text("0123456789abcdef", min_size=32, max_size=32) | ODD_TEXT
    return st.fixed_dictionaries({"returnImmediately": _rarely(st.just(True), st.booleans() | ODD_TEXT, 8)}, optional={
        "maxEvents": st.integers(-5, 2000) | st.just("3"), "ack": st.lists(jtis, max_size=5) | ODD_TEXT,
        "setErrs": st.dictionaries(jtis, st.fixed_dictionaries({"err": ODD_TEXT}, optional={"description": ODD_TEXT}),
                                   max_size=3)})


def _query_values(name: str) -> st.SearchStrategy:
    specific = {
        "filter": filter_texts() | st.sampled_from([f'userName eq "fuzz{i}@example.test"' for i in range(5)]),
        "startIndex": st.integers(-(2**40), 2**40).map(str), "count": st.integers(-(2**40), 2**40).map(str),
        "sortOrder": st.sampled_from(["ascending", "descending", "DESC"]),
    }.get(name, st.sampled_from(["userName", "emails.value", "members", "groups", "urn:x:y", "a[b]", ","]))
    return _rarely(specific, ODD_TEXT | st.just("x" * 5000), 4)


def _rarely(common: st.SearchStrategy, rare: st.SearchStrategy, one_in: int) -> st.SearchStrategy:
    """``rare`` one time in ``one_in``, else ``common`` (one_of would split evenly)."""
    return st.tuples(st.integers(0, one_in - 1), common, rare).map(lambda t: t[2] if t[0] == one_in // 2 else t[1])


def _header_safe(text: str) -> str:
    """What an HTTP client can put in a header value: Latin-1 without controls or edge spaces."""
    return "".join(c for c in text if 32 <= ord(c) < 127 or 160 <= ord(c) < 256).strip()


def _odd_headers(choice: tuple[int, str, str]) -> dict[str, str]:
    """One request in twenty gets an If-Match, one a bad credential (hypothesis
    favours the ends of integer ranges, so the picks are in the middle)."""
    pick, if_match, credential = choice
    return {7: {"If-Match": if_match}, 11: {"Authorization": credential}}.get(pick, {})


class Plan:
    """Requests drawn from the OpenAPI description for one tenant."""

    def __init__(self, document: dict, ids: list[str]) -> None:
        self.ids = ids
        self.bodies = _json_bodies(ids)
        self.operations = []
        for template, item in document["paths"].items():
            for method, operation in item.items():
                if method == "parameters":
                    continue
                names = [p["$ref"].rsplit("/", 1)[1] for p in operation.get("parameters", [])]
                body = operation.get("requestBody", {}).get("content", {})
                self.operations.append((template, method.upper(), names, body))

    def requests(self) -> st.SearchStrategy:
        # sampled_from picks evenly; one_of would favour its first branches
        return st.sampled_from([self._request(operation) for operation in self.operations]).flatmap(lambda s: s)

    def _request(self, operation) -> st.SearchStrategy:
        template, method, names, content = operation
        path = st.just(template)
        if "{id}" in template:
            path = (st.sampled_from(self.ids) | ODD_IDS).map(lambda i: template.replace("{id}", i))
        query = st.just({})
        if names:
            query = _rarely(st.just({}), st.fixed_dictionaries({}, optional={n: _query_values(n) for n in names}), 2)
        methods = _rarely(st.just(method), st.sampled_from(METHODS), 5)
        if "application/x-www-form-urlencoded" in content:
            form = st.fixed_dictionaries({}, optional={"grant_type": st.sampled_from(["client_credentials", "password", ""]),
                                                       "client_id": ODD_TEXT, "client_secret": ODD_TEXT, "scope": ODD_TEXT})
            body = form.map(lambda f: urlencode(f).encode())
            media = st.just("application/x-www-form-urlencoded") | MEDIA_TYPES
        elif content:
            ref = content["application/scim+json"]["schema"]["$ref"].rsplit("/", 1)[1]
            valid = self.bodies[ref].map(lambda b: json.dumps(b).encode())
            body = _rarely(valid, HOSTILE_BODIES, 4)
            media = _rarely(st.sampled_from(["application/scim+json", "application/json"]), MEDIA_TYPES, 8)
        else:
            body, media = st.just(b"") | HOSTILE_BODIES, st.just("")
        if_match = st.sampled_from(['W/"x"', "*", '"', ""]) | ODD_TEXT.map(_header_safe)
        headers = st.tuples(st.integers(0, 19), if_match, BAD_CREDENTIALS).map(_odd_headers)
        return st.tuples(st.just((template, method)), methods, path, query, body, media, headers)


class Runner:
    """Sends batches concurrently from one keep-alive session per thread; counts statuses."""

    def __init__(self, base: str, token: str, events_token: str) -> None:
        self.base, self.token, self.events_token = base, token, events_token
        self.local = threading.local()
        self.pool = ThreadPoolExecutor(THREADS, thread_name_prefix="fuzz-client")
        self.statuses: Counter = Counter()
        self.reached: set = set()
        self.pending: deque = deque()
        self.failures: list[str] = []
        self.lock = threading.Lock()

    def session(self) -> requests.Session:
        session = getattr(self.local, "session", None)
        if session is None:
            session = self.local.session = requests.Session()
            session.trust_env = False
        return session

    def send(self, request) -> None:
        documented, method, path, query, body, media, headers = request
        token = self.events_token if path == "/Events" else self.token
        sent = {"Authorization": f"Bearer {token}", **headers}
        if media:
            sent["Content-Type"] = media
        url = self.base + path + ("?" + urlencode(query) if query else "")
        try:
            response = self.session().request(method, url, data=body, headers=sent, timeout=60)
            status = response.status_code
        except requests.RequestException as exc:
            status, response = 0, exc
        inside = _server_errors_inside(response) if path == "/Bulk" and status == 200 else []
        with self.lock:
            self.statuses[status] += 1
            self.reached.add(documented)
            if status == 0 or status >= 500 or inside:
                detail = "; ".join(inside) or getattr(response, "text", repr(response))[:300]
                self.failures.append(f"{status} {method} {url[:300]} body={body[:200]!r} -> {detail}")

    def submit(self, batch: list) -> None:
        """Queue a batch; waits only while two earlier batches are still in flight,
        so drawing the next batch overlaps with sending this one."""
        self.pending.extend(self.pool.submit(self.send, request) for request in batch)
        while len(self.pending) > 2 * len(batch):
            self.pending.popleft().result()

    def drain(self) -> None:
        while self.pending:
            self.pending.popleft().result()

    @property
    def total(self) -> int:
        return sum(self.statuses.values())


def _server_errors_inside(response) -> list[str]:
    """The operations of a BulkResponse that answered 5xx: the Bulk request
    itself answers 200 whatever its operations met (RFC 7644 §3.7.3)."""
    return [json.dumps(r)[:300] for r in response.json()["Operations"] if int(r["status"]) >= 500]


def _seed_resources(scim) -> list[str]:
    ids = []
    for i in range(12):
        response = scim.post("/Users", {"schemas": [USER_TYPE.schema.id], "userName": f"seed{i}@example.test",
                                        "emails": [{"type": "work", "value": f"seed{i}@example.test"}]})
        assert response.status_code == 201, response.text
        ids.append(response.json()["id"])
    for i in range(3):
        response = scim.post("/Groups", {"schemas": [GROUP_TYPE.schema.id], "displayName": f"Seed group {i}",
                                         "members": [{"value": v} for v in ids[i::3]]})
        assert response.status_code == 201, response.text
        ids.append(response.json()["id"])
    return ids


def test_the_openapi_description_is_served(scim):
    response = scim.get("/openapi.json")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    document = response.json()
    assert document["servers"] == [{"url": scim.base}]
    assert {"/Users", "/Users/{id}", "/Groups/{id}", "/.search", "/oauth/token"} <= set(document["paths"])


@pytest.mark.slow
@pytest.mark.parametrize("shard", [pytest.param(0, id="0-azurite")] + [
    pytest.param(shard, id=f"{shard}-memory", marks=pytest.mark.memory_store) for shard in range(1, FUZZ_SHARDS)])
def test_http_fuzz_every_route_no_5xx(scim, backend, shard):
    document = scim.get("/openapi.json").json()
    plan = Plan(document, _seed_resources(scim))
    runner = Runner(scim.base, scim.token, backend[1].issue_token(scim.tenant_id, "events")[1])
    requests_here = -(-FUZZ_REQUESTS // FUZZ_SHARDS)
    examples = -(-requests_here // BATCH)
    print(f"\nHTTP fuzz shard {shard + 1} of {FUZZ_SHARDS}: FUZZ_SEED={FUZZ_SEED} (+{shard}) "
          f"FUZZ_REQUESTS={FUZZ_REQUESTS} ({examples} batches of {BATCH} here)")

    @seed(FUZZ_SEED + shard)
    @settings(max_examples=examples, deadline=None, database=None, phases=(Phase.generate,),
              suppress_health_check=list(HealthCheck))
    @given(st.lists(plan.requests(), min_size=BATCH, max_size=BATCH))
    def fuzz(batch):
        runner.submit(batch)

    started = time.monotonic()
    try:
        fuzz()
        runner.drain()
    finally:
        runner.pool.shutdown()
    print(f"HTTP fuzz: {runner.total} requests in {time.monotonic() - started:.0f} s, "
          f"statuses {dict(sorted(runner.statuses.items()))}")
    assert not runner.failures, "\n".join(runner.failures[:20])
    assert runner.total >= requests_here
    assert any(t.name == "devhost" and t.is_alive() for t in threading.enumerate())
    assert scim.get("/ServiceProviderConfig").status_code == 200
    assert runner.reached == {(template, method) for template, method, _, _ in plan.operations}


def test_a_change_with_a_deeply_nested_body_is_audited_without_crashing(scim):
    """Found by the fuzz: DELETE ignores its body, but the audit entry parsed it
    and a JSON nesting deeper than Python's recursion limit escaped as a 500."""
    created = scim.post("/Groups", {"schemas": [GROUP_TYPE.schema.id], "displayName": "deep"})
    deep = b'{"a":' * 3000 + b"1" + b"}" * 3000
    response = scim.request("DELETE", f"/Groups/{created.json()['id']}", raw=deep,
                            headers={"Content-Type": "application/scim+json"})
    assert response.status_code == 204


def test_a_refused_patch_leaves_the_stored_resource_as_it_was(scim):
    """RFC 7644 §3.5.2: a PATCH that fails is not applied at all -- checked
    through storage: the resource and its ETag read back unchanged."""
    created = scim.post("/Users", {"schemas": [USER_TYPE.schema.id], "userName": "patched@example.test",
                                   "emails": [{"type": "work", "value": "patched@example.test", "primary": True}]})
    path = f"/Users/{created.json()['id']}"
    outcomes: Counter = Counter()

    @seed(FUZZ_SEED)
    @settings(max_examples=60, deadline=None, database=None, phases=(Phase.generate,),
              suppress_health_check=list(HealthCheck))
    @given(st.lists(patch_operations(USER_TYPE), max_size=3), st.lists(hostile_operations(), min_size=1, max_size=2),
           st.randoms(use_true_random=False))
    def refused_patch(valid, hostile, rnd):
        before = scim.get(path)
        operations = valid + hostile
        rnd.shuffle(operations)
        response = scim.patch(path, patch_body(operations))
        outcomes[response.status_code // 100] += 1
        assert response.status_code < 500, response.text
        if response.status_code >= 400:
            after = scim.get(path)
            assert after.json() == before.json()
            assert after.headers["ETag"] == before.headers["ETag"]

    refused_patch()
    assert outcomes[4] > 0
