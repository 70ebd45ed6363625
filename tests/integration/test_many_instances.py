"""Correct on many instances (docs/reliability.md, "Many instances").

Azure runs many instances of the app against one storage account.  Three
dev-host processes here share one Azurite, one table prefix, one signing key
and the same settings, and a round-robin client (a load balancer without
session affinity) sends each request to the next one.  Whatever an instance
keeps in memory -- the credential cache, counter-shard ETags, remembered
page positions, the rate limiter's buckets -- must not change what a client
sees, or only within the bound the documentation states.
"""

from __future__ import annotations

import dataclasses
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import jwt
import pytest
import requests

from shared.config import Settings
from shared.logs import quiet_sdk_loggers
from shared.storage.tables import RESOURCES, Tables
from shared.auth.tenants import CLIENT, TOKEN, TenantRegistry

from tests.integration.conftest import new_registered_tenant, rsa_private_pem
from tests.integration.entra_cycle import EntraCycle, directory, http_send
from tests.integration.fleet import fleet_env, start_fleet
from tests.integration.store_state import findings, snapshot
from tests.integration.test_uniqueness_races import _add, _together
from tests.log_scan import LOG_CAPTURE
from tests.messages import GROUP, USER

INSTANCES = 3
AUTH_CACHE_SECONDS = 2
USERS = 250
PAGE = 20


@pytest.fixture(scope="module")
def prefix() -> str:
    """A table prefix of this module's own: the instances create the tables at once, cold."""
    return f"many{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def env(storage_connection_string, prefix):
    return fleet_env(storage_connection_string, prefix, rsa_private_pem(),
                     SCIM_AUTH_CACHE_SECONDS=str(AUTH_CACHE_SECONDS))


@pytest.fixture(scope="module")
def fleet(env):
    started = start_fleet(env, INSTANCES)
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture(scope="module")
def tables(storage_connection_string, prefix) -> Tables:
    """This process's clients of the fleet's tables (for the registry and the
    checker), with the SDK's request logging quieted as every entry point does."""
    quiet_sdk_loggers()
    settings = dataclasses.replace(Settings.from_env(), connection_string=storage_connection_string,
                                   table_endpoint=None, table_prefix=prefix)
    return Tables(settings)


@pytest.fixture(scope="module")
def registry(tables) -> TenantRegistry:
    """The registry as ``scimctl`` builds it: no cache of its own."""
    return TenantRegistry(tables, cache_seconds=0)


def new_tenant(registry) -> tuple[str, str, str]:
    """(tenant id, token id, token), registered with the log scan."""
    return new_registered_tenant(registry, "many")


@pytest.fixture
def scim(fleet, registry):
    """A round-robin client for a brand-new tenant."""
    tenant_id, _, token = new_tenant(registry)
    client = fleet.client(token)
    client.tenant_id = tenant_id
    return client


def clean_state(tables, tenant_id: str) -> dict:
    table = tables.table(RESOURCES)
    assert findings(table, tenant_id) == []
    return snapshot(table, tenant_id)


# --------------------------------------------------------------------------
# Races through different instances
# --------------------------------------------------------------------------


def test_concurrent_creates_of_one_user_name_across_instances_give_one_201(scim, tables):
    variants = ["race.winner@example.com", "Race.Winner@Example.com", "RACE.WINNER@EXAMPLE.COM", "race.WINNER@example.Com"]

    def create(i):
        body = {"schemas": [USER], "userName": variants[i % 4], "externalId": f"ext-{i}",
                "emails": [{"type": "work", "value": f"w{i}@example.com"}]}
        return lambda: scim.post("/Users", body)

    responses = _together(*(create(i) for i in range(32)))
    assert {r.instance for r in responses} == set(range(INSTANCES))
    assert sorted(r.status_code for r in responses) == [201] + [409] * 31, [r.text[:200] for r in responses if r.status_code >= 500]
    state = clean_state(tables, scim.tenant_id)
    assert state["counts"] == {"U": 1}
    assert len(state["index"]) == 3
    for _ in range(INSTANCES):  # every instance reports the one user
        assert scim.get("/Users", params={"count": 0}).json()["totalResults"] == 1


def test_concurrent_member_adds_to_one_group_across_instances_all_take_effect(scim, tables):
    group = scim.post("/Groups", {"schemas": [GROUP], "displayName": "racers"}).json()["id"]
    users = [scim.post("/Users", {"schemas": [USER], "userName": f"racer{i}"}).json()["id"] for i in range(16)]
    responses = _together(*(lambda uid=uid: scim.patch(f"/Groups/{group}", _add(uid)) for uid in users))
    assert {r.instance for r in responses} == set(range(INSTANCES))
    assert {r.status_code for r in responses} == {204}, [r.text[:200] for r in responses]
    for _ in range(INSTANCES):
        assert {m["value"] for m in scim.get(f"/Groups/{group}").json()["members"]} == set(users)
    assert len(clean_state(tables, scim.tenant_id)["edges"]) == 16


def test_concurrent_creates_and_deletes_across_instances_keep_the_count_exact(scim, tables):
    """Each instance remembers counter-shard ETags that the others' writes
    make stale: those writes cost a 412 and a re-read, never a wrong count
    or an error."""
    first = [scim.post("/Users", {"schemas": [USER], "userName": f"early{i}"}) for i in range(30)]
    assert {r.status_code for r in first} == {201}
    work = [lambda i=i: scim.post("/Users", {"schemas": [USER], "userName": f"late{i}"}).status_code for i in range(60)]
    work += [lambda r=r: scim.delete(f"/Users/{r.json()['id']}").status_code for r in first]
    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(lambda call: call(), work))
    assert statuses == [201] * 60 + [204] * 30
    assert clean_state(tables, scim.tenant_id)["counts"] == {"U": 60}
    for _ in range(INSTANCES):
        assert scim.get("/Users", params={"count": 0}).json()["totalResults"] == 60


# --------------------------------------------------------------------------
# Entra's cycle and its replays, each request on the next instance
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def one_instance_clean_run(fleet, registry, tables):
    """The state one clean initial cycle leaves when a single instance serves it."""
    tenant_id, _, token = new_tenant(registry)
    alone = fleet.pinned(token)[0]
    assert EntraCycle(http_send(alone)).run(*directory()) == set()
    return clean_state(tables, tenant_id)


def test_the_initial_cycle_run_twice_across_instances_ends_as_one_clean_run(scim, tables, one_instance_clean_run):
    cycle = EntraCycle(http_send(scim))
    assert cycle.run(*directory()) == set()
    first = len(cycle.statuses)
    assert cycle.run(*directory()) == set()
    assert 201 not in cycle.statuses[first:]
    assert clean_state(tables, scim.tenant_id) == one_instance_clean_run


def test_a_cycle_whose_post_answers_were_lost_across_instances_ends_as_one_clean_run(scim, tables, one_instance_clean_run):
    cycle = EntraCycle(http_send(scim), lose_posts=True)  # each create sent twice: to two different instances
    assert cycle.run(*directory()) == set()
    assert cycle.statuses.count(409) == cycle.statuses.count(201) == 15
    assert clean_state(tables, scim.tenant_id) == one_instance_clean_run


# --------------------------------------------------------------------------
# Paging: consecutive pages on different instances
# --------------------------------------------------------------------------


def _walk(send, total: int, count: int = PAGE) -> tuple[list[str], list[tuple[int, int, int]]]:
    """Every page of the unfiltered user list in order: the ids, and (startIndex,
    instance, storage calls) per page.  Asserts the page envelope."""
    ids, pages = [], []
    for start in range(1, total + 1, count):
        response = send(start, count)
        assert response.status_code == 200, response.text[:300]
        body = response.json()
        assert (body["totalResults"], body["startIndex"]) == (total, start), (start, body["totalResults"])
        assert body["itemsPerPage"] == len(body["Resources"]) == min(count, total - start + 1)
        ids += [r["id"] for r in body["Resources"]]
        pages.append((start, getattr(response, "instance", None), int(response.headers["X-Storage-Calls"])))
    return ids, pages


def _lister(client):
    return lambda start, count: client.get("/Users", params={"startIndex": start, "count": count})


@pytest.fixture(scope="module")
def populated(fleet, registry):
    """A tenant with USERS users, created concurrently through every instance."""
    tenant_id, _, token = new_tenant(registry)
    scim = fleet.client(token)
    body = lambda i: {"schemas": [USER], "userName": f"pager{i:03d}@example.com"}  # noqa: E731
    with ThreadPoolExecutor(8) as pool:
        created = list(pool.map(lambda i: _created(scim, body(i)), range(USERS)))
    scim.tenant_id = tenant_id
    return scim, set(created)


def _created(scim, body: dict) -> str:
    """POST a user as Entra would: a 503 (Azurite resets a keep-alive
    connection it has kept idle for 5 s, and a transaction is not resent by
    the SDK) is retried, and a 409 after it means the first try committed."""
    for _ in range(3):
        response = scim.post("/Users", body)
        if response.status_code == 201:
            return response.json()["id"]
        if response.status_code == 409:
            found = scim.get("/Users", params={"filter": f'userName eq "{body["userName"]}"'}).json()["Resources"]
            return found[0]["id"]
        assert response.status_code == 503, response.text[:300]
    raise AssertionError(f"{body['userName']} was not created after 3 tries")


def test_a_paging_walk_across_instances_returns_every_user_once_with_the_right_total(fleet, populated, tables, record_property):
    scim, created = populated
    assert clean_state(tables, scim.tenant_id)["counts"] == {"U": USERS}
    ids, pages = _walk(_lister(scim), USERS)
    assert len(ids) == len(set(ids)) == USERS and set(ids) == created
    instances = [instance for _, instance, _ in pages]
    assert all(a != b for a, b in zip(instances, instances[1:]))  # no page on the instance of the one before
    # The cost: the first page is one read (counters and rows together); every
    # later page reads the counters first.  On the instance that served the page
    # before, their version matches the remembered position and the second read
    # is the page's own rows; elsewhere it is the rows up to the page's end.
    alone_ids, alone_pages = _walk(_lister(fleet.pinned(scim.token)[0]), USERS)
    assert alone_ids == ids
    # With a 2 s credential cache a page may also re-verify the token: exactly
    # AUTH_CALLS more (token row, tenant row).  Take them out to compare.
    round_robin, alone = _paging_calls(pages), _paging_calls(alone_pages)
    record_property("storage_calls_round_robin", [calls for _, _, calls in pages])
    record_property("storage_calls_one_instance", [calls for _, _, calls in alone_pages])
    print(f"\nstorage calls per page (credential reads taken out), round robin: {round_robin}; one instance: {alone}")
    assert round_robin[0] == alone[0] == 1
    assert all(calls == 2 for calls in round_robin[1:])  # counters + one range read of start+count-1 rows
    assert all(calls == 2 for calls in alone[1:])  # counters, then from the remembered position its own rows only


def test_a_cursor_walk_across_instances_reads_one_page_of_rows_per_page(populated):
    """RFC 9865 cursors are stateless: whichever instance serves a page, it
    resumes at the row after the cursor's position, in one read of its own rows."""
    scim, created = populated
    ids, instances, calls, cursor = [], [], [], ""
    while cursor is not None and len(calls) < 2 * USERS // PAGE:
        response = scim.get("/Users", params={"cursor": cursor, "count": PAGE})
        assert response.status_code == 200, response.text[:300]
        body = response.json()
        ids += [r["id"] for r in body["Resources"]]
        instances.append(response.instance)
        calls.append(int(response.headers["X-Storage-Calls"]))
        cursor = body.get("nextCursor")
    assert ids == sorted(created) and len(calls) == -(-USERS // PAGE)
    assert all(a != b for a, b in zip(instances, instances[1:]))
    assert _paging_calls([(None, None, c) for c in calls]) == [1] * len(calls), calls


AUTH_CALLS = 2  # a credential not in the instance's cache: the token row and the tenant row


def _paging_calls(pages) -> list[int]:
    """Storage calls per page without the credential check's, when it had one:
    paging costs are 1 or 2 here, a re-verified credential adds exactly 2."""
    costs = []
    for _, _, calls in pages:
        assert calls in (1, 2, 1 + AUTH_CALLS, 2 + AUTH_CALLS), calls
        costs.append(calls if calls <= 2 else calls - AUTH_CALLS)
    return costs


def test_a_walk_after_another_instance_deleted_a_user_sees_each_user_once(fleet, populated):
    """Instance 0 remembers where every page of a walk starts; a user on
    page 1 is deleted through instance 1; a round-robin walk then has pages
    whose previous page was served elsewhere land on instance 0.  Its
    remembered positions carry the counters' version, which the delete
    changed, so it does not use them (shared/storage/paging.py)."""
    scim, created = populated
    pinned = fleet.pinned(scim.token)
    before, _ = _walk(_lister(pinned[0]), USERS)
    victim = before[4]
    assert pinned[1].delete(f"/Users/{victim}").status_code == 204
    ids, totals = [], set()
    for start in range(1, USERS, PAGE):
        body = scim.get("/Users", params={"startIndex": start, "count": PAGE}).json()
        ids += [r["id"] for r in body["Resources"]]
        totals.add(body["totalResults"])
    # Before the version check, a page served by instance 0 said 250 and
    # repeated the user its predecessor (served from storage) ended with.
    problems = []
    if totals != {USERS - 1}:
        problems.append(f"totalResults {sorted(totals)}, expected {USERS - 1}")
    if len(ids) != len(set(ids)):
        problems.append(f"{len(ids) - len(set(ids))} user(s) twice")
    if set(ids) != created - {victim}:
        problems.append(f"{len(created - {victim} - set(ids))} user(s) missing")
    assert not problems, "; ".join(problems)


# --------------------------------------------------------------------------
# Credentials: revocation, disable, OAuth
# --------------------------------------------------------------------------


def _answers(clients) -> list[int]:
    return [client.get("/Users", params={"count": 0}).status_code for client in clients]


def _warm(clients) -> None:
    """Every instance accepts the credential, and the second request on each
    is served from its cache (no registry read): the caches are warm."""
    first = [client.get("/Users", params={"count": 0}) for client in clients]
    second = [client.get("/Users", params={"count": 0}) for client in clients]
    assert [r.status_code for r in first + second] == [200] * 2 * len(clients)
    for cold, warm in zip(first, second):
        assert int(warm.headers["X-Storage-Calls"]) < int(cold.headers["X-Storage-Calls"])


def _refused_by_all_within_bound(clients, change) -> list[float]:
    """Apply ``change``; poll every instance until each refuses (401), and
    keeps refusing; the seconds each took."""
    changed = time.monotonic()
    change()
    refused: dict[int, float] = {}
    deadline = changed + AUTH_CACHE_SECONDS + 1
    while len(refused) < len(clients) and time.monotonic() < deadline:
        for index, status in enumerate(_answers(clients)):
            if index in refused:
                assert status == 401, f"instance {index} accepted the credential again"
            elif status == 401:
                refused[index] = time.monotonic() - changed
            else:
                assert status == 200, status
        time.sleep(0.05)
    assert sorted(refused) == list(range(len(clients))), f"still accepted after {AUTH_CACHE_SECONDS + 1} s: {refused}"
    took = [round(refused[i], 2) for i in range(len(clients))]
    print(f"\nrefused by instance 0, 1, 2 after {took} s (bound {AUTH_CACHE_SECONDS} s)")
    return took


def test_a_revoked_token_is_refused_by_every_instance_within_the_cache_bound(fleet, registry):
    tenant_id, token_id, token = new_tenant(registry)
    clients = fleet.pinned(token)
    _warm(clients)
    took = _refused_by_all_within_bound(clients, lambda: registry.revoke(tenant_id, TOKEN, token_id))
    assert max(took) <= AUTH_CACHE_SECONDS + 1


def test_a_disabled_tenant_is_refused_by_every_instance_within_the_bound_and_enabled_at_once(fleet, registry):
    tenant_id, _, token = new_tenant(registry)
    clients = fleet.pinned(token)
    _warm(clients)
    took = _refused_by_all_within_bound(clients, lambda: registry.set_disabled(tenant_id, True))
    assert max(took) <= AUTH_CACHE_SECONDS + 1
    registry.set_disabled(tenant_id, False)
    assert _answers(clients) == [200] * INSTANCES  # a refusal is never cached


def test_a_disabled_tenant_s_writes_are_refused_at_once_by_every_instance(fleet, registry, tables):
    """The write guard (shared/storage/transactions.py): a disabled tenant's writes
    fail whatever an instance's credential cache still believes."""
    tenant_id, _, token = new_tenant(registry)
    clients = fleet.pinned(token)
    _warm(clients)
    registry.set_disabled(tenant_id, True)
    refused = [client.post("/Users", {"schemas": [USER], "userName": f"late{i}"}).status_code
               for i, client in enumerate(clients)]
    assert refused == [401] * INSTANCES
    assert clean_state(tables, tenant_id)["counts"] == {}


def _access_token(base: str, client_id: str, secret: str) -> str:
    response = requests.post(f"{base}/oauth/token", data={"grant_type": "client_credentials"},
                             auth=(client_id, secret), timeout=30)
    assert response.status_code == 200, response.text[:300]
    token = response.json()["access_token"]
    LOG_CAPTURE.secrets.add(token)
    return token


def test_an_oauth_access_token_from_one_instance_is_accepted_by_all(fleet, registry):
    tenant_id, _, _ = new_tenant(registry)
    client_id, secret = registry.issue_client(tenant_id)
    LOG_CAPTURE.secrets.add(secret)
    for base in fleet.bases:  # issued by each instance in turn; the last round warms every cache
        access = _access_token(base, client_id, secret)
        clients = fleet.pinned(access)
        assert _answers(clients) == [200] * INSTANCES
    took = _refused_by_all_within_bound(clients, lambda: registry.revoke(tenant_id, CLIENT, client_id))
    assert max(took) <= AUTH_CACHE_SECONDS + 1


# --------------------------------------------------------------------------
# Change events: two instances write while a third serves the poll feed
# --------------------------------------------------------------------------


def test_two_instances_write_while_a_third_serves_the_poll_feed(fleet, registry, tables):
    """Nothing missed, nothing sent again once acknowledged: every event row
    the writers' changes committed reaches the poller exactly once after its
    acknowledgement, each resource's events in version order."""
    tenant_id, _, token = new_tenant(registry)
    _, events_token = registry.issue_token(tenant_id, "events")
    LOG_CAPTURE.secrets.add(events_token)
    writers = fleet.pinned(token)[:2]
    feed = fleet.pinned(events_token)[2]
    received: dict[str, dict] = {}
    again_after_ack: list[str] = []
    acknowledged: set[str] = set()
    writing = True

    def poll_until_drained() -> None:
        answered: list[str] = []
        while True:
            body = {"ack": answered, "maxEvents": 50, "returnImmediately": not writing}
            sets = feed.post("/Events", body).json()["sets"]
            acknowledged.update(answered)
            if not sets and not writing:
                return
            again_after_ack.extend(jti for jti in sets if jti in acknowledged)
            for jti, set_token in sets.items():
                received[jti] = jwt.decode(set_token, options={"verify_signature": False})
            answered = list(sets)

    def write(client, n: int) -> list[str]:
        ids = []
        for i in range(n):
            uid = client.post("/Users", {"schemas": [USER], "userName": f"w{id(client)}-{i}"}).json()["id"]
            client.patch(f"/Users/{uid}", {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                                           "Operations": [{"op": "replace", "path": "displayName", "value": "x"}]})
            ids.append(uid)
        return ids

    with ThreadPoolExecutor(3) as pool:
        poller = pool.submit(poll_until_drained)
        written = [pool.submit(write, client, 15) for client in writers]
        created = [uid for future in written for uid in future.result()]
        writing = False
        poller.result(timeout=120)
    rows = [r for r in tables.table(RESOURCES).query_entities("PartitionKey eq @pk", parameters={"pk": tenant_id})
            if r.get("k") == "E"]
    assert again_after_ack == []
    assert set(received) == {r["RowKey"].split(":", 1)[1] for r in rows} and len(received) == 2 * len(created)
    per_user: dict[str, list[str]] = {}
    for claims in received.values():  # in the order received
        per_user.setdefault(claims["sub_id"]["uri"], []).append(next(iter(claims["events"].values()))["version"])
    assert set(per_user) == {f"/Users/{uid}" for uid in created}
    assert all(len(v) == 2 and v == sorted(v) for v in per_user.values())


# --------------------------------------------------------------------------
# The optional rate limiter: a budget per instance
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def limited_fleet(env):
    started = start_fleet({**env, "SCIM_RATE_LIMIT_PER_SECOND": "1"}, INSTANCES)
    try:
        yield started
    finally:
        started.stop()


def test_the_rate_limit_is_per_instance(limited_fleet, registry):
    """At 1 request/s, each instance admits a tenant's first request: three
    instances admit three at once.  A second one on an instance within the
    second is 429 with Retry-After."""
    _, _, token = new_tenant(registry)
    clients = limited_fleet.pinned(token)
    admitted = []
    for client in clients:
        started = time.monotonic()
        first = client.get("/Users", params={"count": 0})
        second = client.get("/Users", params={"count": 0})
        admitted.append(first.status_code)
        if time.monotonic() - started < 0.9:  # the bucket cannot have refilled
            assert second.status_code == 429 and int(second.headers["Retry-After"]) >= 1
    assert admitted == [200] * INSTANCES
