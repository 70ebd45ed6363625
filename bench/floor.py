"""The storage floor: the storage operations the app issues for each SCIM
request of the Entra plan, straight through azure-data-tables
(:class:`FloorStore`); :mod:`bench.scenarios.storage_floor` drives it."""

from __future__ import annotations

import random
import threading

from azure.core import MatchConditions
from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import TableClient, UpdateMode

from shared.scim.events import Change
from shared.scim.records import Member, StoredResource, new_version, now_iso
from shared.storage import keys
from shared.storage.event_rows import EventContext, event_row
from shared.storage.counters import SHARDS
from shared.storage.keys import ROW_COUNTER, ROW_INDEX
from shared.storage.table_store import _RANGE, TenantStore
from shared.storage.transactions import MAX_TRANSACTION_OPS

from .scenarios.common import chunks

_FLOOR_EVENTS = EventContext("floor", "token:floor", "http://127.0.0.1/scim/v2")


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

    Every RowKey comes from :mod:`shared.storage.keys` and every row is built
    by :class:`TenantStore`'s own row builders (``_row``, ``_resource_row``,
    ``_index_ops``, ``_touch_op``, ``_add_member_ops``, ``_remove_member_ops``,
    ``_from_row``) or with its row-kind constants, so the rows written here
    are the app's rows; the storage calls are issued here, with the SDK.
    """

    def __init__(self, table: TableClient, partition: str) -> None:
        self.table = table
        self.pk = partition
        self._rows = TenantStore(table, partition)  # its row builders only: every call below is the SDK's
        self._row = self._rows._row
        self._shard = threading.local()

    def create_partition(self) -> None:
        """Set the partition up as tenant creation does: its write guard row."""
        self.table.create_entity(self._row(keys.TENANT_KEY))

    def _submit(self, ops):
        """One transaction of ``ops`` plus the tenant guard MERGE (at most 100 operations)."""
        ops = list(ops) + [("update", self._row(keys.TENANT_KEY), {"mode": UpdateMode.MERGE})]
        assert len(ops) <= MAX_TRANSACTION_OPS + 1, len(ops)
        self.table.submit_transaction(ops)

    def _counter_op(self, kind):
        shard = getattr(self._shard, "n", None)
        if shard is None:
            shard = self._shard.n = random.randrange(SHARDS)
        return ("upsert", self._row(keys.counter_key(kind, shard), k=ROW_COUNTER, n=1), {"mode": UpdateMode.MERGE})

    def _event(self, kind, rid, verb="patch"):
        """The change's event row, as every changing transaction of the app carries (it is also its audit entry)."""
        change = Change(verb, kind, rid, new_version(), ("members",) if kind == keys.GROUP else ("userName",))
        return ("upsert", event_row(self.pk, change, _FLOOR_EVENTS))

    def _read_group(self, gid):
        """The point read of the group's row a membership change starts with."""
        self.table.get_entity(self.pk, keys.resource_key(keys.GROUP, gid), select=["RowKey", "v"])

    def point_miss(self, row_key):
        try:
            self.table.get_entity(self.pk, row_key)
        except ResourceNotFoundError:
            pass

    def create(self, kind, data, index_keys):
        rid = keys.new_id(kind)
        now = now_iso()
        res = StoredResource(kind, rid, data, now, now, keys.new_id(keys.USER)[:16],
                             tuple(k.replace("{id}", rid) for k in index_keys))
        self._submit([("create", self._rows._resource_row(res)), *self._rows._index_ops(res, "create"),
                      self._counter_op(kind), self._event(kind, rid, "create")])
        return rid

    def add_members(self, gid, member_ids):
        """As ``TenantStore.add_members``: the group's row read, then one
        transaction when it fits 100 operations, otherwise the member MERGEs
        (existence checks) first, then the edges, in transactions of up to
        100, each with the group's MERGE and an event row."""
        self._read_group(gid)
        touch = self._rows._touch_op(keys.GROUP, gid, "x", now_iso(), None)
        checks, writes = [], []
        for mid in member_ids:
            check, *edges = self._rows._add_member_ops(gid, Member(mid))  # member MERGE, edge, reverse edge
            checks.append(check)
            writes += edges
        room = MAX_TRANSACTION_OPS - 2  # the tenant guard (in _submit), the group's MERGE and the event
        if len(checks) + len(writes) <= room:
            self._submit([touch, *checks, *writes, self._event(keys.GROUP, gid)])
        else:
            for batch in chunks(checks, MAX_TRANSACTION_OPS):
                self._submit(batch)
            for batch in chunks(writes, room):
                self._submit([touch, *batch, self._event(keys.GROUP, gid)])

    def remove_members(self, gid, member_ids):
        self._read_group(gid)
        ops = [self._rows._touch_op(keys.GROUP, gid, "y", now_iso(), None)]
        for mid in member_ids:
            ops += self._rows._remove_member_ops(gid, mid)
        self._submit([*ops, self._event(keys.GROUP, gid)])

    def read_user(self, uid):
        key = keys.resource_key(keys.USER, uid)
        rows = list(self.table.query_entities(_RANGE, parameters={"pk": self.pk, "lo": key,
                                                                  "hi": keys.after_resource(keys.USER, uid)}))
        return next(r for r in rows if r["RowKey"] == key)

    def patch_user(self, uid, change, index_delta=((), ())):
        row = self.read_user(uid)
        res = self._rows._from_row(row)
        change(res.data)
        res.last_modified, res.version = now_iso(), "z"
        ops = [("update", self._rows._resource_row(res), {"mode": UpdateMode.REPLACE, "etag": res.etag,
                                                          "match_condition": MatchConditions.IfNotModified})]
        gone, added = index_delta
        ops += [("delete", self._row(k)) for k in gone]
        ops += [("upsert", self._row(k, k=ROW_INDEX, id=uid)) for k in added]
        self._submit([*ops, self._event(keys.USER, uid)])
