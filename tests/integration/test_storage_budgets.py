"""Storage round trips per request, from the storage-call counter (not timing).

Budgets (issue: "Storage"): GET by id and GET /Groups/{id}?excludedAttributes=members
= 1; a filter on an indexed attribute <= 2; POST /Users <= 2; user PATCH <= 3;
group PATCH removing k members <= 2 + ceil(k/48) (:data:`ONE_TRANSACTION_REMOVALS`
a transaction: the change's event row takes one of its operations), adding k members
:func:`add_budget`, whatever the group's size -- checked on groups that already have 1,000 and 5,000 members
(the regression guard of the performance issue).  An accepted change pays
no audit write of its own: its event row, in its own transaction, is its
audit entry (shared/storage/audit.py).  Each
request is measured after a first request of the same tenant, so the
process-wide one-time costs (table creation, token lookup) are not counted.
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor

import pytest

from shared.storage import keys
from shared.scim.records import Member, StoredResource, now_iso
from shared.storage.table_store import TenantStore
from shared.storage.outcomes import AlreadyExists, StorageUnavailable
from shared.storage.transactions import MAX_TRANSACTION_OPS
from shared.storage.tables import AUDIT as AUDIT_TABLE, RESOURCES

from tests.messages import GROUP, PATCH, USER

# Members one transaction adds: the group's touch, the event row and 3
# operations each (32; Table Storage's 100 less the tenant's write guard,
# shared/storage/transactions.py); members one removes: 2 operations each (48).
ONE_TRANSACTION = (MAX_TRANSACTION_OPS - 2) // 3
ONE_TRANSACTION_REMOVALS = (MAX_TRANSACTION_OPS - 2) // 2


def calls(scim, response):
    assert response.status_code < 400, response.text
    return scim.calls(response)


def warm(scim) -> None:
    """Look the credential up again if its cache entry expired (a slow
    machine can spend the 30 s of SCIM_AUTH_CACHE_SECONDS between two
    measured requests): the next request then costs only its own calls."""
    scim.get("/ServiceProviderConfig")


@pytest.fixture
def user_id(scim):
    scim.get("/ServiceProviderConfig")  # warm: token cached, tables created
    body = {"schemas": [USER], "userName": "Budget.User@example.com", "externalId": "ext-1",
            "emails": [{"type": "work", "value": "budget@example.com", "primary": True}]}
    return scim.post("/Users", body).json()["id"]


def test_post_user(scim, scim_app):
    scim.get("/ServiceProviderConfig")
    scim_app._get_service().tables.table(AUDIT_TABLE)  # created once per process, not per request
    assert calls(scim, scim.post("/Users", {"schemas": [USER], "userName": "new"})) <= 2


def test_get_user_by_id(scim, user_id):
    assert calls(scim, scim.get(f"/Users/{user_id}")) == 1


@pytest.mark.parametrize("flt", [
    'userName eq "budget.user@EXAMPLE.com"',
    'externalId eq "ext-1"',
    'emails[type eq "work"].value eq "budget@example.com"',
    'emails[type eq "work" and value eq "budget@example.com"]',
])
def test_indexed_filters(scim, user_id, flt):
    response = scim.get("/Users", params={"filter": flt})
    assert response.json()["totalResults"] == 1
    assert calls(scim, response) <= 2


def test_user_patch(scim, user_id):
    body = {"schemas": [PATCH], "Operations": [
        {"op": "Replace", "path": "name.familyName", "value": "Jensen"},
        {"op": "Replace", "path": 'emails[type eq "work"].value', "value": "moved@example.com"},
        {"op": "Replace", "path": "active", "value": "False"}]}
    assert calls(scim, scim.patch(f"/Users/{user_id}", body)) <= 3


def _store(scim) -> TenantStore:
    from function_app import _get_service

    return TenantStore(_get_service().tables.table(RESOURCES), scim.tenant_id)


def _committed(write, part) -> None:
    """``write(part)``, one transaction, again if Azurite reset the connection (it closes
    keep-alive sockets idle for 5 s, and azure-core does not resend a POST): a retry that
    meets the rows already there means the first attempt committed, as transactions are atomic."""
    for attempt in range(3):
        try:
            write(part)
            return
        except StorageUnavailable:
            if attempt == 2:
                raise
        except AlreadyExists:
            if attempt == 0:
                raise
            return


def _seed_users(scim, count: int) -> list[str]:
    """Create users straight through the storage layer (fast; not what is measured)."""
    now = now_iso()
    users = [StoredResource(keys.USER, keys.new_id(keys.USER), {"userName": f"seed{i}"}, now, now, "v1",
                            (keys.unique_key("un", f"seed{i}"),)) for i in range(count)]
    parts = [users[i:i + 49] for i in range(0, count, 49)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda part: _committed(_store(scim).create_batch, part), parts))
    return [u.id for u in users]


@pytest.fixture(params=[1000, 5000], ids=["1000-members", "5000-members"])
def big_group(scim, request):
    """A group with 1,000 or 5,000 members plus 200 users ready to be added
    (members written through the storage layer, one transaction each part)."""
    size = request.param
    scim.get("/ServiceProviderConfig")
    ids = _seed_users(scim, size + 200)
    group = scim.post("/Groups", {"schemas": [GROUP], "displayName": "big"}).json()["id"]
    store = _store(scim)
    parts = [ids[i:min(i + ONE_TRANSACTION, size)] for i in range(0, size, ONE_TRANSACTION)]
    for part in parts:  # one after another: concurrent adds to one group would only retry on its ETag
        _committed(lambda p: store.add_members(group, [Member(m) for m in p]), part)
    scim.get("/ServiceProviderConfig")  # the seeding can outlast the credential cache (30 s) on a busy machine
    return group, ids[size:], size


def add_budget(k: int) -> int:
    """Calls of a PATCH adding ``k`` members: the group's row read, then up
    to :data:`ONE_TRANSACTION` in one transaction (with the existence
    checks); more in two phases, the member checks in batches and ceil(k/32)
    edge transactions that also touch the group and the members
    (docs/reliability.md); 1 more for a counter or credential read."""
    if k <= ONE_TRANSACTION:
        return 2  # the group's row read, one transaction
    return 2 + math.ceil(k / MAX_TRANSACTION_OPS) + math.ceil(k / ONE_TRANSACTION)


@pytest.mark.slow
def test_group_reads_and_member_patches_cost_the_same_whatever_the_size(scim, big_group):
    group, spare, size = big_group
    assert calls(scim, scim.get(f"/Groups/{group}", params={"excludedAttributes": "members"})) == 1
    listed = scim.get("/Groups", params={"filter": 'displayName eq "BIG"', "excludedAttributes": "members"})
    assert "members" not in listed.json()["Resources"][0]
    assert calls(scim, listed) <= 2
    offset = 0
    for k in (1, 33, 50, 100):
        added = spare[offset : offset + k]
        offset += k
        add = {"schemas": [PATCH], "Operations": [{"op": "Add", "path": "members", "value": [{"value": i} for i in added]}]}
        warm(scim)
        assert calls(scim, scim.patch(f"/Groups/{group}", add)) <= add_budget(k), f"add {k}"
        remove = {"schemas": [PATCH], "Operations": [{"op": "Remove", "path": "members", "value": [{"value": i} for i in added]}]}
        warm(scim)
        assert calls(scim, scim.patch(f"/Groups/{group}", remove)) <= 2 + math.ceil(k / ONE_TRANSACTION_REMOVALS), f"remove {k}"
    one = spare[0]
    flagged = {"schemas": [PATCH], "Operations": [{"op": "remove", "path": f'members[value eq "{one}"]'}]}
    warm(scim)
    assert calls(scim, scim.patch(f"/Groups/{group}", flagged)) <= 3
    assert len(scim.get(f"/Groups/{group}").json()["members"]) == size


def test_totals_and_first_page_without_a_scan(scim, user_id):
    for i in range(30):
        scim.post("/Users", {"schemas": [USER], "userName": f"more{i}"})
    first = scim.get("/Users", params={"count": 1})
    assert first.json()["totalResults"] == 31 and len(first.json()["Resources"]) == 1
    assert calls(scim, first) == 1  # the counter shards and the first row, in one range query
    assert calls(scim, scim.get("/Users", params={"count": 0})) == 1


def test_sequential_pages_read_only_their_own_rows(scim):
    """Deep paging: page N starts where page N-1 ended (shared.storage.paging)."""
    scim.get("/ServiceProviderConfig")
    ids = sorted(_seed_users(scim, 450))
    seen, costs = [], []
    for start in range(1, 451, 100):
        page = scim.get("/Users", params={"startIndex": start, "count": 100})
        body = page.json()
        assert body["totalResults"] == 450 and body["startIndex"] == start
        seen += [r["id"] for r in body["Resources"]]
        costs.append(calls(scim, page))
    assert seen == ids
    # The first page with the counters in one read; then, however deep, the
    # counters (their version says no instance changed the list) and one page of rows.
    assert costs == [1, 2, 2, 2, 2]
    stale = scim.post("/Users", {"schemas": [USER], "userName": "late"}).json()["id"]
    again = scim.get("/Users", params={"startIndex": 401, "count": 100}).json()
    assert again["totalResults"] == 451 and len(again["Resources"]) == 51  # total changed: positions not reused
    assert stale in {r["id"] for r in scim.get("/Users", params={"count": 1000}).json()["Resources"]}


def test_bulk_import_packs_whole_users_into_few_transactions(scim, scim_app):
    """``create_batch`` (bulk imports, the benchmark's seeding): 100 users with
    one index row each cost ceil(100 / 49) transactions, and the count,
    the index and the listing see every one of them."""
    from shared.storage.calls import counting

    store = TenantStore(scim_app._get_service().tables.table(RESOURCES), scim.tenant_id)
    now = now_iso()
    users = [StoredResource(keys.USER, keys.new_id(keys.USER), {"userName": f"bulk{i}"}, now, now, "v1",
                            (keys.unique_key("un", keys.index_value(f"bulk{i}", False)),)) for i in range(100)]
    with counting() as calls:
        store.create_batch(users)
    assert calls[0] <= 2 * math.ceil(100 / 49)  # each transaction may first read the counter shard it claims
    assert scim.get("/Users", params={"count": 0}).json()["totalResults"] == 100
    assert scim.get("/Users", params={"filter": 'userName eq "bulk42"'}).json()["Resources"][0]["id"] == users[42].id
