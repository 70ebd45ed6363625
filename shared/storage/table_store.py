"""The Azure Table Storage implementation of the resource store.

Key layout and id scheme: see :mod:`shared.storage.keys`.  Every method is scoped to
one tenant's partition (:class:`TenantStore` holds the PartitionKey); no
method takes a partition from its caller.  Every ``$filter`` is built from
constant text and bound parameters (``@pk``, ``@lo``...), never from input.

Write patterns (all entity-group transactions of at most 100 operations,
one of which is always the tenant's write guard, :mod:`shared.storage.transactions`):

* create: the resource row, its unique-index rows (``create``: an existing
  row means the value is taken, which is how uniqueness is race-free) and its
  non-unique index rows, in one transaction;
* replace: the resource row conditioned on its ETag, plus the index rows that
  changed;
* membership: per member a forward edge, a reverse edge and, when adding, a
  MERGE with ``If-Match: *`` on the member's own row, which fails the whole
  transaction when the member does not exist -- existence is checked without
  reading.  The group's row is touched in the same transaction (new version).
* delete: edges first, the index rows and the resource row (conditioned on
  its ETag) last and together, so a crash half-way leaves a resource that a
  retried DELETE finishes, never rows that point at nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import replace

from azure.data.tables import UpdateMode
from azure.core import MatchConditions

from . import keys
from .chunks import joined_chunks, json_chunks
from .counters import SHARDS
from .keys import ROW_COUNTER, ROW_EDGE, ROW_INDEX, ROW_RESOURCE, ROW_REVERSE
from .outcomes import Changed, Missing, TooLarge
from .queries import RANGE, each_row
from .tables import storage_call
from .member_edges import GroupMembership
from .transactions import MAX_TRANSACTION_OPS
from ..scim.events import CREATE, DELETE, PUT, Change, resource_change
from ..scim.records import Member, StoredResource, new_version, now_iso

_RANGE = RANGE
_RANGE_OF_KIND = _RANGE + " and k eq @k"
_RANGE_OF_COUNTS_AND_RESOURCES = _RANGE + f" and (k eq '{ROW_COUNTER}' or k eq '{ROW_RESOURCE}')"


class TenantStore(GroupMembership):
    """All storage operations of one tenant (one partition); the member edges'
    writes are :class:`~shared.storage.member_edges.GroupMembership`'s."""

    # ----------------------------------------------------------------- rows
    def _resource_row(self, res: StoredResource) -> dict:
        chunks = json_chunks(res.data, "the resource")
        return self._row(
            keys.resource_key(res.kind, res.id),
            k=ROW_RESOURCE,
            c=res.created,
            m=res.last_modified,
            v=res.version,
            ix=json.dumps(list(res.index_keys)),
            **chunks,
        )

    @staticmethod
    def _from_row(entity) -> StoredResource:
        kind, rid = entity["RowKey"].split(":", 1)
        text = joined_chunks(entity)
        return StoredResource(
            kind=kind,
            id=rid,
            data=json.loads(text) if text else {},
            created=entity["c"],
            last_modified=entity["m"],
            version=entity["v"],
            index_keys=tuple(json.loads(entity.get("ix") or "[]")),
            etag=entity.metadata.get("etag"),
        )

    def _range(self, lo: str, hi: str, kind_filter: str | None = None, select=None, page_size: int = 1000, query: str = _RANGE) -> Iterator:
        params = {"pk": self.tenant_id, "lo": lo, "hi": hi}
        if kind_filter:
            params["k"] = kind_filter
            query = _RANGE_OF_KIND
        pages = storage_call(
            self._table.query_entities, query, parameters=params, select=select, results_per_page=max(1, min(1000, page_size))
        )
        yield from each_row(pages)

    # ---------------------------------------------------------------- reads
    def get(self, kind: str, resource_id: str, *, edges: bool = False) -> StoredResource | None:
        """Read a resource; with ``edges`` also its membership rows, in one range query."""
        key = keys.resource_key(kind, resource_id)
        if not edges:
            entity = storage_call(self._table.entity_or_none, self.tenant_id, key)
            return None if entity is None else self._from_row(entity)
        found = None
        group_ids: list[str] = []
        members: list[Member] = []
        for entity in self._range(key, keys.prefix_end(key + ":")):
            row_key = entity["RowKey"]
            if row_key == key:
                found = self._from_row(entity)
            elif entity.get("k") == ROW_REVERSE:
                group_ids.append(row_key.rsplit(":", 1)[1])
            elif entity.get("k") == ROW_EDGE:
                members.append(Member(row_key.rsplit(":", 1)[1]))
        if found is None:
            return None
        found.group_ids = group_ids
        if kind == keys.GROUP:
            found.members = members
        return found

    def member_ids(self, group_id: str) -> list[str]:
        """The ids of a group's members (one range query, paged by 1,000)."""
        prefix = keys.member_prefix(group_id)
        return [e["RowKey"][len(prefix):] for e in self._range(prefix, keys.prefix_end(prefix), select=["RowKey"])]

    def has_member(self, group_id: str, member_id: str) -> bool:
        """Whether one edge exists (one point read)."""
        edge = storage_call(self._table.entity_or_none, self.tenant_id, keys.member_edge_key(group_id, member_id),
                            select=["RowKey"])
        return edge is not None

    def find_unique(self, row_key: str) -> str | None:
        """The id a unique-index row points at, or None (one point read)."""
        entity = storage_call(self._table.entity_or_none, self.tenant_id, row_key)
        return None if entity is None else entity["id"]

    def user_named(self, user_name: str) -> str | None:
        """The id of the user whose ``userName`` is ``user_name`` (case-insensitively), or None."""
        return self.find_unique(keys.unique_key("un", keys.index_value(user_name, False)))

    def group_named(self, display_name: str) -> str | None:
        """The id of the group whose ``displayName`` is ``display_name`` (case-insensitively), or None."""
        return self.find_unique(keys.unique_key("gn", keys.index_value(display_name, False)))

    def users_with_external_id(self, external_id: str) -> list[str]:
        """The ids of the users whose ``externalId`` is ``external_id`` (case-exact)."""
        return self.find_indexed(keys.index_prefix("ue", keys.index_value(external_id, True)))

    def find_indexed(self, prefix: str) -> list[str]:
        """The ids under a non-unique index value (one range query)."""
        return [e["id"] for e in self._range(prefix, keys.prefix_end(prefix))]

    def scan(self, kind: str, page_size: int = 1000, start_key: str | None = None) -> Iterator[StoredResource]:
        """Every resource of a kind in id order (from ``start_key`` when given),
        without edges, read in pages of ``page_size`` rows as consumed."""
        lo = kind + ":"
        for entity in self._range(start_key or lo, keys.prefix_end(lo), kind_filter=ROW_RESOURCE, page_size=page_size):
            yield self._from_row(entity)

    def scan_with_edges(self, kind: str, start_key: str | None = None) -> Iterator[StoredResource]:
        """Every resource of a kind with its edges (bounded: O(resources + edges)),
        from ``start_key`` when given."""
        lo = kind + ":"
        current: StoredResource | None = None
        for entity in self._range(start_key or lo, keys.prefix_end(lo)):
            row_kind = entity.get("k")
            if row_kind == ROW_RESOURCE:
                if current is not None:
                    yield current
                current = self._from_row(entity)
                current.group_ids = []
                if kind == keys.GROUP:
                    current.members = []
            elif current is not None and row_kind == ROW_REVERSE:
                current.group_ids.append(entity["RowKey"].rsplit(":", 1)[1])
            elif current is not None and row_kind == ROW_EDGE:
                current.members.append(Member(entity["RowKey"].rsplit(":", 1)[1]))
        if current is not None:
            yield current

    def count(self, kind: str) -> int:
        """How many resources of ``kind`` the tenant has (one range read)."""
        return self.count_and_version(kind)[0]

    def count_and_version(self, kind: str) -> tuple[int, tuple]:
        """The count of ``kind`` and the version of that count -- its shards'
        (row key, ETag) pairs -- in one range read.  Every create and delete
        of the kind, on any instance, rewrites one shard in its own
        transaction, so an equal version means the same list."""
        prefix = keys.counter_prefix(kind)
        total, version = 0, []
        for entity in self._range(prefix, keys.prefix_end(prefix), select=["RowKey", "n"]):
            total += entity["n"]
            version.append((entity["RowKey"], entity.metadata.get("etag")))
        return total, tuple(version)

    def count_and_first(self, kind: str, count: int) -> tuple[int, tuple, list[StoredResource]]:
        """The count of ``kind``, its version (:meth:`count_and_version`) and
        its first ``count`` resources, in one range query: the counter shards
        sort just before the resources."""
        total, version, page = 0, [], []
        lo, hi = keys.counter_prefix(kind), keys.prefix_end(kind + ":")
        rows = self._range(lo, hi, page_size=SHARDS + count, query=_RANGE_OF_COUNTS_AND_RESOURCES)
        for entity in rows:
            if entity["k"] == ROW_COUNTER:
                total += entity["n"]
                version.append((entity["RowKey"], entity.metadata.get("etag")))
                continue
            page.append(self._from_row(entity))
            if len(page) == count:  # stop before the pager asks for more
                break
        return total, tuple(version), page

    # --------------------------------------------------------------- writes
    def _index_ops(self, res: StoredResource, verb: str) -> list:
        ops = []
        for row_key in res.index_keys:
            if verb == "create":
                op = "create" if row_key.startswith("X:") else "upsert"
                ops.append((op, self._row(row_key, k=ROW_INDEX, id=res.id)))
            else:
                ops.append(("delete", self._row(row_key)))
        return ops

    def _resource_change(self, verb: str, old: StoredResource | None, new: StoredResource) -> Change | None:
        """The event of a write of a resource's own row (None when this store records no events)."""
        if self.events is None:
            return None
        rt = self.events.schemas.type_named("User" if new.kind == keys.USER else "Group")
        return resource_change(verb, old, new, full=self.events.full, base_url=self.events.issuer, rt=rt)

    def create(self, res: StoredResource, members: Iterable[Member] = ()) -> StoredResource:
        """Insert a resource with its index rows (and initial members)
        atomically, with its ``prov:create`` event; members beyond one
        transaction follow as member adds (their own events), and
        ``res.version`` is then the version the last of them wrote."""
        members = list(members)
        head = [("create", self._resource_row(res)), *self._index_ops(res, "create")]
        member_ops = [op for m in members for op in self._add_member_ops(res.id, m)]
        change = self._resource_change(CREATE, None, res)
        if len(head) + len(member_ops) + 2 <= MAX_TRANSACTION_OPS:  # + the counter adjustment and the event
            if change is not None and members:
                change = replace(change, added=tuple(m.id for m in members))
            self._submit_counted(head + member_ops, res.kind, +1, change)
        else:
            self._submit_counted(head, res.kind, +1, change)
            try:
                written = self.add_members(res.id, members)
                res.version = written.version if written else res.version
            except Missing:
                self.delete(self.get(res.kind, res.id, edges=True))
                raise
        res.group_ids = []
        res.members = members if res.kind == keys.GROUP else None
        return res

    def create_batch(self, resources: list[StoredResource]) -> None:
        """Bulk-insert resources of one kind without members (imports, the
        benchmark's seeding): each transaction carries whole resources -- row
        and index rows -- and one counter adjustment for all of them, so a
        failure leaves every resource either fully there or absent."""
        kind = resources[0].kind if resources else None
        batch: list = []
        count = 0
        for res in resources:
            if res.kind != kind:
                raise ValueError("create_batch takes resources of one kind")
            ops = [("create", self._resource_row(res)), *self._index_ops(res, "create")]
            if len(batch) + len(ops) + 1 > MAX_TRANSACTION_OPS:  # +1: the counter adjustment
                self._submit_counted(batch, kind, +count)
                batch, count = [], 0
            batch += ops
            count += 1
        if batch:
            self._submit_counted(batch, kind, +count)

    def replace(self, old: StoredResource, new: StoredResource, verb: str = PUT) -> StoredResource:
        """Write ``new`` over ``old`` if nobody changed ``old`` meanwhile
        (ETag), with the change's ``prov:put`` or ``prov:patch`` event (``verb``).

        Only the index rows that differ are touched; a taken unique value
        raises :class:`AlreadyExists`, a concurrent change :class:`Changed`.
        """
        row = self._resource_row(new)
        ops = [("update", row, {"mode": UpdateMode.REPLACE, "etag": old.etag, "match_condition": MatchConditions.IfNotModified})]
        gone = [k for k in old.index_keys if k not in new.index_keys]
        added = [k for k in new.index_keys if k not in old.index_keys]
        ops += [("delete", self._row(k)) for k in gone]
        ops += [("create" if k.startswith("X:") else "upsert", self._row(k, k=ROW_INDEX, id=new.id)) for k in added]
        change = self._resource_change(verb, old, new)
        if len(ops) + (change is not None and self.events is not None) > MAX_TRANSACTION_OPS:
            raise TooLarge("the change touches more index entries than one transaction holds")
        try:
            results = self._submit(ops, change)
        except Missing as exc:
            raise Changed(exc.row_key) from exc
        new.etag = results[0].get("etag")
        return new

    def delete(self, res: StoredResource | None) -> None:
        """Delete a resource loaded with its edges: edge pairs first (in
        transactions of 96 operations, whole pairs, when there are many),
        then one last transaction with the index rows, the row (conditioned
        on its ETag), the counter and the ``prov:delete`` event.  Each
        edges-first transaction also writes the resource's new version
        (conditioned on the ETag, which it renews) and a ``prov:patch``
        event naming the edges it removed.  A crash half-way leaves the
        resource whole but for some of its memberships -- still found by its
        index, so a client never re-creates it beside itself -- and a
        retried DELETE finishes it."""
        if res is None:
            raise Missing("")
        edges: list[tuple[str, list]] = []  # (the other end, its two operations)
        for gid in res.group_ids or ():
            edges.append((gid, self._remove_member_ops(gid, res.id)))
        for member in res.members or ():
            edges.append((member.id, self._remove_member_ops(res.id, member.id)))
        etag, version = res.etag, res.version
        last = len(res.index_keys) + 1 + 1 + 1  # index rows, the row, the counter, the event
        pairs = (MAX_TRANSACTION_OPS - 2) // 2  # with the row's new version and the event
        while 2 * len(edges) + last > MAX_TRANSACTION_OPS:
            chunk, edges = edges[:pairs], edges[pairs:]
            version = new_version(version)
            touch = self._touch_op(res.kind, res.id, version, now_iso(), etag)
            change = self._edges_change(res.kind, res.id, version, removed=[other for other, _ in chunk])
            results = self._submit([touch, *(op for _, ops in chunk for op in ops)], change)
            etag = results[0].get("etag")
        row = ("delete", self._row(keys.resource_key(res.kind, res.id)), {"etag": etag, "match_condition": MatchConditions.IfNotModified})
        ops = [op for _, pair in edges for op in pair] + self._index_ops(res, "delete") + [row]
        external_id = res.data.get("externalId")
        change = Change(DELETE, res.kind, res.id, new_version(version),
                        external_id=external_id if isinstance(external_id, str) else None)
        self._submit_counted(ops, res.kind, -1, change)
