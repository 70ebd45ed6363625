"""What the benchmark measures.  Each scenario returns a plain dict of figures.

* :func:`entra_plan` + :func:`run_entra_cycle` -- a provisioning cycle shaped
  as Microsoft Entra sends it, driven over HTTP by a pool of keep-alive
  clients: throughput per phase, latency percentiles, errors and storage
  round trips (``X-Storage-Calls``) per operation type.
* :func:`run_storage_floor` -- the same plan as storage operations issued
  straight through azure-data-tables (no SCIM layer, same thread count): the
  throughput the storage itself allows, the denominator of "how close to
  the limit are we".
* :func:`seed_users`, :func:`seed_group` -- fast seeding through the
  project's storage layer (:class:`shared.storage.table_store.TenantStore`); seeding
  is not measured.
* :func:`run_large_groups` -- group operations on a 10-member group against a
  large one: flat means the ratio of medians stays near 1.
* :func:`run_paging` -- deep paging: last page against first, the whole walk
  against a raw SDK scan of the same rows, totals against a GET by id.
* :func:`run_cold_start` -- import time of ``function_app`` against the
  import time of its heavy dependencies alone.
"""

from __future__ import annotations

import json
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from azure.core import MatchConditions
from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import TableClient, UpdateMode

from shared.storage import keys
from shared.storage.calls import counting
from shared.storage.outcomes import AlreadyExists, StorageUnavailable
from shared.scim.records import Member, StoredResource, now_iso
from shared.storage.table_store import TenantStore

from . import budgets
from .harness import ClientPool, Recorder, RssSampler, median, percentile, ratio, time_fresh_process

USER_URN = "urn:ietf:params:scim:schemas:core:2.0:User"
ENT_URN = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
GROUP_URN = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH_URN = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
MANAGER_PATH = ENT_URN + ":manager"
MEMBERS_PER_PATCH = 50
TRANSACTION_LIMIT = 100  # operations per entity-group transaction (Table Storage)


# =========================================================== the Entra plan
@dataclass
class EntraPlan:
    """The operations of one initial and one incremental cycle, by index.

    Users and groups are referred to by their position; each driver (SCIM or
    storage floor) maps positions to the ids it got, so both run exactly the
    same sequence.
    """

    users: list[str]                      # userName per user
    groups: list[str]                     # displayName per group
    group_members: list[list[int]]        # user positions per group
    managers: list[tuple[int, int]]       # (user, manager)
    updates: list[int] = field(default_factory=list)
    disables: list[int] = field(default_factory=list)
    removals: list[tuple[int, int]] = field(default_factory=list)  # (group, user)
    reads: list[int] = field(default_factory=list)


def entra_plan(users: int, groups: int, members_per_group: int, seed: int = 7) -> EntraPlan:
    """A reproducible plan: group sizes vary around ``members_per_group``;
    85% of users get a manager; the incremental cycle updates 10% of users,
    disables 5%, removes one member from every group that has one (plus more
    up to 2% of memberships) and reads 10% of users by id."""
    rnd = random.Random(seed)
    names = [f"bench.user{i:06d}@example.com" for i in range(users)]
    gnames = [f"Bench Group {i:05d}" for i in range(groups)]
    members = []
    for _ in range(groups):
        size = min(users, max(1, int(rnd.uniform(0.25, 1.75) * members_per_group)))
        members.append(sorted(rnd.sample(range(users), size)))
    managers = [(u, rnd.randrange(users)) for u in range(users) if rnd.random() < 0.85]
    managers = [(u, m) for u, m in managers if u != m]
    plan = EntraPlan(names, gnames, members, managers)
    plan.updates = rnd.sample(range(users), max(1, users // 10))
    plan.disables = rnd.sample(range(users), max(1, users // 20))
    total_memberships = sum(len(m) for m in members)
    removals = [(g, rnd.choice(m)) for g, m in enumerate(members) if m]
    extra = max(0, total_memberships // 50 - len(removals))
    for _ in range(extra):
        g = rnd.randrange(groups)
        if members[g]:
            removals.append((g, rnd.choice(members[g])))
    plan.removals = list(dict.fromkeys(removals))
    plan.reads = rnd.sample(range(users), max(1, users // 10))
    return plan


def user_body(plan: EntraPlan, i: int) -> dict:
    """Entra's U1 create body (Microsoft's SCIM tutorial corpus) for user ``i``."""
    name = plan.users[i]
    return {
        "schemas": [USER_URN, ENT_URN],
        "externalId": f"ext-{i:06d}",
        "userName": name,
        "active": True,
        "emails": [{"primary": True, "type": "work", "value": name}],
        "meta": {"resourceType": "User"},
        "name": {"formatted": f"Given{i} Family{i}", "familyName": f"Family{i}", "givenName": f"Given{i}"},
        "roles": [],
    }


def group_body(plan: EntraPlan, g: int) -> dict:
    return {"schemas": [GROUP_URN, "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
            "externalId": f"gext-{g:05d}", "displayName": plan.groups[g], "meta": {"resourceType": "Group"}}


def patch(*operations) -> dict:
    return {"schemas": [PATCH_URN], "Operations": list(operations)}


def _chunks(items, size):
    return [items[i:i + size] for i in range(0, len(items), size)]


# ====================================================== Entra cycle (SCIM)
def run_entra_cycle(pool: ClientPool, plan: EntraPlan, deadline: float) -> dict:
    """Drive the plan over HTTP with ``pool.threads`` concurrent clients.

    Phases (each waits for the previous one, as Entra's cycle does):
    ``initial.users`` (filter by userName, then POST), ``initial.groups``
    (filter by displayName excluding members, POST, member-add PATCHes of up
    to 50), ``initial.managers`` (manager PATCHes), ``incremental`` (user
    updates, disables, member removals and GETs by id, shuffled).
    Returns figures per phase and per operation type.
    """
    recorder = Recorder()
    user_ids: list[str | None] = [None] * len(plan.users)
    group_ids: list[str | None] = [None] * len(plan.groups)
    phases = {}

    def create_user(i):
        def task(client):
            name = plan.users[i]
            found = client.call(recorder, "GET /Users?filter=userName", "GET", "/Users",
                                params={"filter": f'userName eq "{name}"'}, budget=budgets.FILTER_MISS)
            if found is not None and found.status_code == 200 and found.json().get("totalResults"):
                user_ids[i] = found.json()["Resources"][0]["id"]
                return
            created = client.call(recorder, "POST /Users", "POST", "/Users", user_body(plan, i), budget=budgets.CREATE)
            if created is not None and created.status_code == 201:
                user_ids[i] = created.json()["id"]
        return task

    def create_group(g):
        def task(client):
            name = plan.groups[g]
            client.call(recorder, "GET /Groups?filter=displayName", "GET", "/Groups",
                        params={"excludedAttributes": "members", "filter": f'displayName eq "{name}"'},
                        budget=budgets.FILTER_MISS)
            created = client.call(recorder, "POST /Groups", "POST", "/Groups", group_body(plan, g), budget=budgets.CREATE)
            if created is None or created.status_code != 201:
                return
            gid = group_ids[g] = created.json()["id"]
            ids = [user_ids[u] for u in plan.group_members[g] if user_ids[u]]
            for chunk in _chunks(ids, MEMBERS_PER_PATCH):
                client.call(recorder, "PATCH /Groups add members", "PATCH", f"/Groups/{gid}",
                            patch({"op": "Add", "path": "members", "value": [{"value": x} for x in chunk]}),
                            budget=budgets.add_members(len(chunk)))
        return task

    def set_manager(u, m):
        def task(client):
            if user_ids[u] and user_ids[m]:
                client.call(recorder, "PATCH /Users manager", "PATCH", f"/Users/{user_ids[u]}",
                            patch({"op": "Add", "path": MANAGER_PATH, "value": user_ids[m]}), budget=budgets.USER_PATCH)
        return task

    def update_user(u):
        def task(client):
            if user_ids[u]:
                client.call(recorder, "PATCH /Users update", "PATCH", f"/Users/{user_ids[u]}", patch(
                    {"op": "Replace", "path": "displayName", "value": f"Updated {u}"},
                    {"op": "Replace", "path": 'emails[type eq "work"].value', "value": f"moved.{u}@example.com"},
                    {"op": "Replace", "path": "name.givenName", "value": f"NewGiven{u}"}), budget=budgets.USER_PATCH)
        return task

    def disable_user(u):
        def task(client):
            if user_ids[u]:
                client.call(recorder, "PATCH /Users disable", "PATCH", f"/Users/{user_ids[u]}",
                            patch({"op": "Replace", "path": "active", "value": "False"}), budget=budgets.USER_PATCH)
        return task

    def remove_member(g, u):
        def task(client):
            if group_ids[g] and user_ids[u]:
                client.call(recorder, "PATCH /Groups remove member", "PATCH", f"/Groups/{group_ids[g]}",
                            patch({"op": "Remove", "path": "members", "value": [{"value": user_ids[u]}]}),
                            budget=budgets.remove_members(1))
        return task

    def read_user(u):
        def task(client):
            if user_ids[u]:
                client.call(recorder, "GET /Users/{id}", "GET", f"/Users/{user_ids[u]}", budget=budgets.GET_USER)
        return task

    incremental = ([update_user(u) for u in plan.updates] + [disable_user(u) for u in plan.disables]
                   + [remove_member(g, u) for g, u in plan.removals] + [read_user(u) for u in plan.reads])
    random.Random(11).shuffle(incremental)
    steps = [
        ("initial.users", [create_user(i) for i in range(len(plan.users))]),
        ("initial.groups", [create_group(g) for g in range(len(plan.groups))]),
        ("initial.managers", [set_manager(u, m) for u, m in plan.managers]),
        ("incremental", incremental),
    ]
    total_wall = 0.0
    for name, tasks in steps:
        before, errors_before = recorder.total(), recorder.errors()
        wall, skipped = pool.run(tasks, deadline)
        total_wall += wall
        done = recorder.total() - before
        phases[name] = {"requests": done, "seconds": round(wall, 2), "requests_per_s": round(done / wall, 1) if wall else None,
                        "errors": recorder.errors() - errors_before, "tasks_skipped_by_time_limit": skipped}
    latencies = [x * 1000 for x in recorder.all_latencies()]
    return {
        "threads": pool.threads,
        "phases": phases,
        "operations": {op: s.summary() for op, s in sorted(recorder.ops.items())},
        "total": {"requests": recorder.total(), "seconds": round(total_wall, 2),
                  "requests_per_s": round(recorder.total() / total_wall, 1) if total_wall else None,
                  "errors": recorder.errors(),
                  "p50_ms": _r(percentile(latencies, 50)), "p95_ms": _r(percentile(latencies, 95)),
                  "p99_ms": _r(percentile(latencies, 99))},
        "complete": all(p["tasks_skipped_by_time_limit"] == 0 for p in phases.values()),
    }


def _r(x, d=1):
    return None if x is None else round(x, d)


# ================================================ storage floor (no SCIM)
class FloorStore:
    """The storage operations the app issues for each SCIM request of the
    plan, written directly with azure-data-tables in a partition of their own.

    Per SCIM operation (mirroring :class:`shared.storage.table_store.TenantStore` and
    :mod:`shared.storage.keys`; the app's measured ``X-Storage-Calls`` are reported
    next to these):

    ===============================  ==============================================
    SCIM request                     storage calls issued here
    ===============================  ==============================================
    filter userName / displayName    1 point read of the unique-index row (404)
    POST /Users, /Groups             1 transaction: resource row, index rows,
                                     a counter shard MERGE
    PATCH add k members              1 transaction: group MERGE + per member
                                     (member MERGE, edge, reverse edge); above
                                     32 members the MERGEs, then the edges, in
                                     transactions of 99 (3 for 50 members)
    PATCH remove k members           1 transaction: group MERGE + 2 deletes each
    user PATCH (manager, update,     1 range read of the user and its edges,
    disable)                         1 transaction: ETag-conditioned REPLACE
                                     (+ index rows that changed)
    GET /Users/{id}                  1 range read of the user and its edges
    every accepted change            + 1 insert: its audit entry (shared/storage/audit.py;
                                     the app's own table, a partition here)
    ===============================  ==============================================

    Every transaction also carries one more operation, as the app's do: a
    MERGE (``If-Match: *``) of the tenant's write guard row
    (:data:`shared.storage.keys.TENANT_KEY`), which :meth:`create_partition` writes
    before the run, as tenant creation does.  No extra round trip, one more
    operation per transaction (so the multi-transaction adds hold 99 other
    operations each).
    """

    def __init__(self, table: TableClient, partition: str) -> None:
        self.table = table
        self.pk = partition
        self._shard = threading.local()

    def _row(self, rk, **props):
        return {"PartitionKey": self.pk, "RowKey": rk, **props}

    def create_partition(self) -> None:
        """Set the partition up as tenant creation does: its write guard row."""
        self.table.create_entity(self._row(keys.TENANT_KEY))

    def _submit(self, ops):
        """One transaction of ``ops`` plus the tenant guard MERGE (at most 100 operations)."""
        ops = list(ops) + [("update", self._row(keys.TENANT_KEY), {"mode": UpdateMode.MERGE})]
        assert len(ops) <= TRANSACTION_LIMIT, len(ops)
        self.table.submit_transaction(ops)

    def _resource(self, kind, rid, data, index_keys):
        now = now_iso()
        return self._row(keys.resource_key(kind, rid), k="R", c=now, m=now, v=keys.new_id(keys.USER)[:16],
                         ix=json.dumps(list(index_keys)), d0=json.dumps(data, separators=(",", ":")))

    def _counter_op(self, kind):
        shard = getattr(self._shard, "n", None)
        if shard is None:
            shard = self._shard.n = random.randrange(32)
        return ("upsert", self._row(keys.counter_key(kind, shard), k="C", n=1), {"mode": UpdateMode.MERGE})

    def _audit(self):
        ms = int(time.time() * 1000)
        self.table.create_entity({"PartitionKey": self.pk + "-audit", "RowKey": f"{10**13 - 1 - ms:013d}{random.getrandbits(32):08x}",
                                  "time": now_iso(), "actor": "token:floor", "operation": "change"})

    def point_miss(self, row_key):
        try:
            self.table.get_entity(self.pk, row_key)
        except ResourceNotFoundError:
            pass

    def create(self, kind, data, index_keys):
        rid = keys.new_id(kind)
        index_keys = [k.replace("{id}", rid) for k in index_keys]
        ops = [("create", self._resource(kind, rid, data, index_keys))]
        ops += [("create" if k.startswith("X:") else "upsert", self._row(k, k="I", id=rid)) for k in index_keys]
        ops.append(self._counter_op(kind))
        self._submit(ops)
        self._audit()
        return rid

    def add_members(self, gid, member_ids):
        """As ``TenantStore.add_members``: one transaction when it fits 100
        operations, otherwise the member MERGEs (existence checks) first, then
        the edges, in transactions of up to 100."""
        now = now_iso()
        touch = ("update", self._row(keys.resource_key(keys.GROUP, gid), v="x", m=now), {"mode": UpdateMode.MERGE})
        checks, writes = [touch], []
        for mid in member_ids:
            checks.append(("update", self._row(keys.resource_key(keys.USER, mid), mt=now), {"mode": UpdateMode.MERGE}))
            writes += [("upsert", self._row(keys.member_edge_key(gid, mid), k="M")),
                       ("upsert", self._row(keys.reverse_edge_key(mid, gid), k="B"))]
        room = TRANSACTION_LIMIT - 1  # the tenant guard takes one operation of each transaction
        if len(checks) + len(writes) <= room:
            self._submit(checks + writes)
        else:
            for batch in _chunks(checks, room) + _chunks(writes, room):
                self._submit(batch)
        self._audit()

    def remove_members(self, gid, member_ids):
        ops = [("update", self._row(keys.resource_key(keys.GROUP, gid), v="y", m=now_iso()), {"mode": UpdateMode.MERGE})]
        for mid in member_ids:
            ops += [("delete", self._row(keys.member_edge_key(gid, mid))), ("delete", self._row(keys.reverse_edge_key(mid, gid)))]
        self._submit(ops)
        self._audit()

    def read_user(self, uid):
        key = keys.resource_key(keys.USER, uid)
        rows = list(self.table.query_entities("PartitionKey eq @pk and RowKey ge @lo and RowKey lt @hi",
                                              parameters={"pk": self.pk, "lo": key, "hi": keys.prefix_end(key + ":")}))
        return next(r for r in rows if r["RowKey"] == key)

    def patch_user(self, uid, change, index_delta=((), ())):
        row = self.read_user(uid)
        data = json.loads(row["d0"])
        change(data)
        new = self._row(row["RowKey"], k="R", c=row["c"], m=now_iso(), v="z", ix=row["ix"],
                        d0=json.dumps(data, separators=(",", ":")))
        ops = [("update", new, {"mode": UpdateMode.REPLACE, "etag": row.metadata["etag"],
                                "match_condition": MatchConditions.IfNotModified})]
        gone, added = index_delta
        ops += [("delete", self._row(k)) for k in gone]
        ops += [("upsert", self._row(k, k="I", id=uid)) for k in added]
        self._submit(ops)
        self._audit()


def run_storage_floor(table: TableClient, partition: str, plan: EntraPlan, threads: int, deadline: float) -> dict:
    """Run the plan's storage operations with ``threads`` threads, phase by phase.

    ``table`` should be built like the app's client (:class:`shared.storage.tables.Tables`)
    so that its storage-call hook counts the calls each operation issues.

    One logical operation per SCIM request of :func:`run_entra_cycle`, so
    operations/s here compares directly with the SCIM requests/s.
    """
    store = FloorStore(table, partition)
    store.create_partition()
    recorder = Recorder()
    user_ids: list[str | None] = [None] * len(plan.users)
    group_ids: list[str | None] = [None] * len(plan.groups)

    def timed(op, fn, *args):
        started = time.perf_counter()
        error = None
        with counting() as box:  # the same counter the app's X-Storage-Calls comes from
            try:
                fn(*args)
            except Exception as exc:  # recorded, not fatal: the floor must not stop the run
                error = f"{type(exc).__name__}: {str(exc)[:160]}"
        recorder.add(op, time.perf_counter() - started, error, box[0])

    def create_user(i):
        name = plan.users[i]
        un = keys.unique_key("un", keys.index_value(name, False))
        timed("filter userName", store.point_miss, un)
        ix = [un, keys.index_key("ue", keys.index_value(f"ext-{i:06d}", True), "{id}"),
              keys.index_key("uw", keys.index_value(name, False), "{id}")]

        def make():
            user_ids[i] = store.create(keys.USER, user_body(plan, i), ix)
        timed("POST /Users", make)

    def create_group(g):
        name = plan.groups[g]
        gn = keys.unique_key("gn", keys.index_value(name, False))
        timed("filter displayName", store.point_miss, gn)

        def make():
            group_ids[g] = store.create(keys.GROUP, group_body(plan, g),
                                        [gn, keys.index_key("ge", keys.index_value(f"gext-{g:05d}", True), "{id}")])
        timed("POST /Groups", make)
        if group_ids[g]:
            ids = [user_ids[u] for u in plan.group_members[g] if user_ids[u]]
            for chunk in _chunks(ids, MEMBERS_PER_PATCH):
                timed("PATCH add members", store.add_members, group_ids[g], chunk)

    def set_manager(u, m):
        if user_ids[u] and user_ids[m]:
            timed("PATCH manager", store.patch_user, user_ids[u],
                  lambda d: d.setdefault(ENT_URN, {}).update(manager={"value": user_ids[m]}))

    def update_user(u):
        if user_ids[u]:
            old = keys.index_key("uw", keys.index_value(plan.users[u], False), user_ids[u])
            new = keys.index_key("uw", keys.index_value(f"moved.{u}@example.com", False), user_ids[u])

            def change(d):
                d["displayName"] = f"Updated {u}"
                d["emails"][0]["value"] = f"moved.{u}@example.com"
                d["name"]["givenName"] = f"NewGiven{u}"
            timed("PATCH update", store.patch_user, user_ids[u], change, ([old], [new]))

    def disable_user(u):
        if user_ids[u]:
            timed("PATCH disable", store.patch_user, user_ids[u], lambda d: d.update(active=False))

    def remove_member(g, u):
        if group_ids[g] and user_ids[u]:
            timed("PATCH remove member", store.remove_members, group_ids[g], [user_ids[u]])

    def read_user(u):
        if user_ids[u]:
            timed("GET by id", store.read_user, user_ids[u])

    incremental = ([lambda u=u: update_user(u) for u in plan.updates] + [lambda u=u: disable_user(u) for u in plan.disables]
                   + [lambda g=g, u=u: remove_member(g, u) for g, u in plan.removals]
                   + [lambda u=u: read_user(u) for u in plan.reads])
    random.Random(11).shuffle(incremental)
    steps = [
        ("initial.users", [lambda i=i: create_user(i) for i in range(len(plan.users))]),
        ("initial.groups", [lambda g=g: create_group(g) for g in range(len(plan.groups))]),
        ("initial.managers", [lambda u=u, m=m: set_manager(u, m) for u, m in plan.managers]),
        ("incremental", incremental),
    ]
    phases = {}
    total_wall = 0.0
    skipped_total = 0
    with ThreadPoolExecutor(threads, thread_name_prefix="bench-floor") as pool:
        for name, tasks in steps:
            before = recorder.total()
            skipped = [0]

            def wrap(task):
                if time.monotonic() > deadline:
                    skipped[0] += 1
                    return
                task()
            started = time.perf_counter()
            for future in [pool.submit(wrap, t) for t in tasks]:
                future.result()
            wall = time.perf_counter() - started
            total_wall += wall
            skipped_total += skipped[0]
            done = recorder.total() - before
            phases[name] = {"operations": done, "seconds": round(wall, 2),
                            "operations_per_s": round(done / wall, 1) if wall else None}
    return {
        "threads": threads,
        "phases": phases,
        "operations": {op: s.summary() for op, s in sorted(recorder.ops.items())},
        "total": {"operations": recorder.total(), "seconds": round(total_wall, 2),
                  "operations_per_s": round(recorder.total() / total_wall, 1) if total_wall else None,
                  "errors": recorder.errors()},
        "complete": skipped_total == 0,
    }


# ============================================================== seeding
def seed_users(store: TenantStore, count: int, threads: int = 8, prefix: str = "seed") -> list[str]:
    """Create ``count`` users (with their userName index row and the counter)
    through :meth:`TenantStore.create_batch`, ``threads`` batches at a time.
    Not timed as a figure: it only prepares the large-group and paging
    scenarios."""
    def make(i) -> StoredResource:
        now = now_iso()
        name = f"{prefix}{i:07d}@example.com"
        data = {"userName": name, "active": True, "emails": [{"type": "work", "value": name, "primary": True}]}
        return StoredResource(keys.USER, keys.new_id(keys.USER), data, now, now, "v1",
                              (keys.unique_key("un", keys.index_value(name, False)),))

    resources = [make(i) for i in range(count)]
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(lambda part: _create_once(store, part), _chunks(resources, SEED_BATCH)))
    return [r.id for r in resources]


SEED_BATCH = 49  # two rows per user and the counter: one transaction of at most 99 operations


def _create_once(store: TenantStore, resources: list[StoredResource], attempts: int = 5) -> None:
    """``store.create_batch`` retried on a dropped connection (Azurite closes
    idle keep-alive connections; a transaction is a POST, which the SDK does
    not retry).  The ids are fresh, so finding the first row already there
    means an earlier attempt committed."""
    first = keys.resource_key(resources[0].kind, resources[0].id)
    for attempt in range(attempts):
        try:
            store.create_batch(resources)
            return
        except AlreadyExists as exc:
            if exc.row_key == first:
                return
            raise
        except StorageUnavailable:
            if attempt == attempts - 1:
                raise
            time.sleep(0.2 * (attempt + 1))


def seed_group(store: TenantStore, name: str, member_ids: list[str], threads: int = 4) -> str:
    """A group created through :meth:`TenantStore.create`, its members added
    through :meth:`TenantStore.add_members` in single-transaction chunks."""
    gid = keys.new_id(keys.GROUP)
    now = now_iso()
    store.create(StoredResource(keys.GROUP, gid, {"displayName": name}, now, now, "v1",
                                (keys.unique_key("gn", keys.index_value(name, False)),)))
    chunk = (100 - 1) // 3

    def add(part):
        store.add_members(gid, [Member(m) for m in part], "v2", now_iso())

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(add, _chunks(member_ids, chunk)))
    return gid


# ========================================================== large groups
def run_large_groups(client, groups: dict[str, tuple[str, str]], spares: list[str], repetitions: int,
                     pid: int, deadline: float) -> dict:
    """Latency of four group probes on each seeded group, interleaved by size.

    ``groups`` maps a label ("10", "20000") to (group id, displayName).  Per
    repetition and group: PATCH add one member (a user not in any group),
    PATCH remove that member again, GET by id excluding members, and a
    displayName filter excluding members -- one client, sequential, so the
    latency is that of the request alone.  The figure is the ratio of the
    medians largest / smallest group per probe (flat = 1).
    """
    recorders = {label: Recorder() for label in groups}
    done = 0
    started = time.perf_counter()
    with RssSampler(pid) as rss:
        for rep in range(repetitions):
            if time.monotonic() > deadline:
                break
            for label, (gid, name) in groups.items():
                member = spares[rep % len(spares)]
                rec = recorders[label]
                client.call(rec, "PATCH add 1 member", "PATCH", f"/Groups/{gid}",
                            patch({"op": "Add", "path": "members", "value": [{"value": member}]}),
                            budget=budgets.add_members(1))
                client.call(rec, "PATCH remove 1 member", "PATCH", f"/Groups/{gid}",
                            patch({"op": "Remove", "path": "members", "value": [{"value": member}]}),
                            budget=budgets.remove_members(1))
                client.call(rec, "GET /Groups/{id}?excludedAttributes=members", "GET", f"/Groups/{gid}",
                            params={"excludedAttributes": "members"}, budget=budgets.GET_GROUP_WITHOUT_MEMBERS)
                client.call(rec, "GET /Groups?filter=displayName&excludedAttributes=members", "GET", "/Groups",
                            params={"filter": f'displayName eq "{name}"', "excludedAttributes": "members"},
                            budget=budgets.FILTER_HIT)
            done += 1
    labels = sorted(groups, key=int)
    small, large = labels[0], labels[-1]
    probes = {}
    for op in recorders[small].ops:
        per_size = {label: recorders[label].ops[op].summary() for label in labels if op in recorders[label].ops}
        med_small = median(recorders[small].ops[op].latencies)
        med_large = median(recorders[large].ops[op].latencies) if op in recorders[large].ops else None
        probes[op] = {"by_members": per_size, "ratio_of_medians": _r(ratio(med_large, med_small), 2)}
    return {"repetitions": done, "sizes": labels, "probes": probes,
            "errors": sum(r.errors() for r in recorders.values()), "seconds": round(time.perf_counter() - started, 2),
            "memory": rss.summary()}


# ================================================================ paging
def run_paging(client, table: TableClient, partition: str, total_users: int, pid: int, deadline: float,
               page_size: int = 100, probes: int = 30, walks: int = 1) -> dict:
    """Deep paging and totals on a tenant with ``total_users`` seeded users.

    1. ``GET /Users?startIndex=s&count=100`` for every page in order (one
       client), ``walks`` times: first-page and last-page latency (median of
       the first and of the last 5 pages of every walk), the walk time
       (median of the walks), and whether every user was seen once.
    2. A raw scan of the same rows through the SDK (the user rows of the
       partition, pages of ``page_size``; median of ``walks`` scans): the
       floor for the walk.
    3. ``GET /Users?count=1`` (totalResults plus one row) against
       ``GET /Users/{id}``, interleaved ``probes`` times: medians and ratio;
       and the same two reads straight through the SDK.
    """
    started = time.perf_counter()
    firsts: list[float] = []
    lasts: list[float] = []
    calls: list[int] = []
    walk_times: list[float] = []
    seen = 0
    ids = set()
    errors = 0
    total_reported = None
    complete = True
    rec = Recorder()
    with RssSampler(pid) as rss:
        for _ in range(walks):
            pages: list[float] = []
            seen = 0
            walk_started = time.perf_counter()
            start = 1
            while start <= total_users and time.monotonic() < deadline:
                response = client.call(rec, "page", "GET", "/Users", params={"startIndex": start, "count": page_size},
                                       budget=budgets.FIRST_PAGE if start == 1 else budgets.NEXT_PAGE)
                pages.append(rec.ops["page"].latencies[-1])
                if response is None or response.status_code != 200:
                    errors += 1
                    break
                body = response.json()
                total_reported = body.get("totalResults")
                got = body.get("Resources", [])
                if response.headers.get("X-Storage-Calls", "").isdigit():
                    calls.append(int(response.headers["X-Storage-Calls"]))
                seen += len(got)
                ids.update(r["id"] for r in got)
                if not got:
                    break
                start += len(got)
            walk_times.append(time.perf_counter() - walk_started)
            complete = complete and start > total_users
            firsts += pages[:5]
            lasts += pages[-5:]
    walk = median(walk_times)

    def raw_scan():
        t0 = time.perf_counter()
        n = 0
        rows = table.query_entities("PartitionKey eq @pk and RowKey ge @lo and RowKey lt @hi and k eq @k",
                                    parameters={"pk": partition, "lo": "U:", "hi": "U;", "k": "R"},
                                    results_per_page=page_size)
        for _ in rows:
            n += 1
        return time.perf_counter() - t0, n

    scans = [raw_scan() for _ in range(walks)]
    scan_s = median([s for s, _ in scans])
    scan_rows = scans[0][1]

    some_id = next(iter(ids)) if ids else None
    totals, by_id = Recorder(), Recorder()
    for _ in range(probes if some_id else 0):
        if time.monotonic() > deadline:
            break
        client.call(totals, "count=1", "GET", "/Users", params={"count": 1}, budget=budgets.COUNT)
        client.call(by_id, "by id", "GET", f"/Users/{some_id}", budget=budgets.GET_USER)
    floor = _totals_floor(table, partition, some_id, probes, deadline) if some_id else {}
    first = median(firsts)
    last = median(lasts)
    count_med = median(totals.ops["count=1"].latencies) if totals.ops else None
    id_med = median(by_id.ops["by id"].latencies) if by_id.ops else None
    return {
        "users": total_users, "page_size": page_size, "pages": len(rec.ops["page"].latencies) // walks, "walks": walks,
        "walk_complete": complete,
        "users_seen": seen, "distinct_users_seen": len(ids), "total_results_reported": total_reported,
        "errors": errors + rec.errors() + totals.errors() + by_id.errors(),
        "first_page_ms": _r(first and first * 1000), "last_page_ms": _r(last and last * 1000),
        "max_page_ms": _r(max(rec.ops["page"].latencies) * 1000 if rec.ops else None),
        "last_over_first": _r(ratio(last, first), 2),
        "page_storage_calls_max": max(calls) if calls else None,
        "storage_calls": {op: _calls_only(stats) for op, stats in
                          (("page", rec.ops.get("page")), ("count=1", totals.ops.get("count=1")), ("by id", by_id.ops.get("by id")))
                          if stats is not None},
        "walk_s": round(walk, 2), "raw_scan_s": round(scan_s, 2), "raw_scan_rows": scan_rows,
        "walk_over_scan": _r(ratio(walk, scan_s), 2) if complete else None,
        "count1_ms": _r(count_med and count_med * 1000, 2), "get_by_id_ms": _r(id_med and id_med * 1000, 2),
        "count1_over_get_by_id": _r(ratio(count_med, id_med), 2),
        **floor,
        "seconds": round(time.perf_counter() - started, 2),
        "memory": rss.summary(),
    }


def _calls_only(stats) -> dict:
    """The storage-call figures of an :class:`OpStats` summary (no latencies)."""
    summary = stats.summary()
    return {k: summary[k] for k in ("count", "mean_storage_calls", "storage_calls_histogram", "budget", "least_excess",
                                    "over_budget", "calls_over_budget") if k in summary}


def _totals_floor(table: TableClient, partition: str, some_id: str, probes: int, deadline: float) -> dict:
    """The storage's own ratio for the totals probe: the range query that
    ``count=1`` issues (counter shards and the first row,
    :meth:`TenantStore.count_and_first`) against a point read, both straight
    through the SDK, interleaved ``probes`` times.  It tells the cost of the
    storage apart from the cost of the SCIM layer."""
    from shared.storage.counters import SHARDS
    from shared.storage.table_store import _RANGE_OF_COUNTS_AND_RESOURCES

    def first_page():
        rows = table.query_entities(_RANGE_OF_COUNTS_AND_RESOURCES, results_per_page=SHARDS + 1,
                                    parameters={"pk": partition, "lo": keys.counter_prefix(keys.USER),
                                                "hi": keys.prefix_end(keys.USER + ":")})
        return list(next(iter(rows.by_page())))

    def point_read():
        return table.get_entity(partition, keys.resource_key(keys.USER, some_id))

    ranges, reads = [], []
    for _ in range(probes):
        if time.monotonic() > deadline:
            break
        for fn, into in ((first_page, ranges), (point_read, reads)):
            t0 = time.perf_counter()
            fn()
            into.append(time.perf_counter() - t0)
    if not ranges:
        return {}
    return {"sdk_count1_query_ms": _r(median(ranges) * 1000, 2), "sdk_point_read_ms": _r(median(reads) * 1000, 2),
            "sdk_count1_over_point_read": _r(ratio(median(ranges), median(reads)), 2)}


# ============================================================ cold start
APP_IMPORT = "import function_app"
FLOOR_IMPORT = "import azure.functions, azure.data.tables, azure.identity"


def run_cold_start(runs: int = 7) -> dict:
    """Median wall time of a fresh interpreter importing the app vs importing
    only its heavy dependencies, ``runs`` times each, interleaved so drift
    hits both alike.  (The interpreter's own start-up is in both.)"""
    app, floor = [], []
    time_fresh_process("pass")  # warm the OS file cache once
    for _ in range(runs):
        app.append(time_fresh_process(APP_IMPORT))
        floor.append(time_fresh_process(FLOOR_IMPORT))
    return {"runs": runs, "app_import_ms": _r(median(app) * 1000), "floor_import_ms": _r(median(floor) * 1000),
            "app_over_floor": _r(ratio(median(app), median(floor)), 2),
            "app_samples_ms": [round(x * 1000, 1) for x in app], "floor_samples_ms": [round(x * 1000, 1) for x in floor]}
