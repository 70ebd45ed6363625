"""Group membership in Table Storage: the member edges and their writes.

A member of a group is two rows in the tenant's partition, a forward edge
(group -> member, with the member's ``display``) and a reverse edge
(member -> group), keys from :mod:`shared.storage.keys`.  Adding one also
MERGEs (``If-Match: *``) the member's own row in the same transaction, so
the transaction fails when the member does not exist -- existence checked
without a read; every change of edges also touches the group's row (its new
version).  Both adds and removes cost O(k) operations for k members,
whatever the group's size (RFC 7644 §3.5.2 PATCH of ``members``).
"""

from __future__ import annotations

from azure.core import MatchConditions
from azure.data.tables import UpdateMode

from . import keys
from .keys import ROW_EDGE, ROW_REVERSE
from .outcomes import Missing
from .transactions import MAX_TRANSACTION_OPS, TenantTransactions
from ..scim.records import Member, now_iso


class GroupMembership(TenantTransactions):
    """One tenant's member edges: the operations that write them, and member adds and removes."""

    def _touch_op(self, kind: str, resource_id: str, version: str, last_modified: str, etag: str | None):
        """MERGE a new version into a resource row; fails if the row is gone (or changed)."""
        row = self._row(keys.resource_key(kind, resource_id), v=version, m=last_modified)
        if etag:
            return ("update", row, {"mode": UpdateMode.MERGE, "etag": etag, "match_condition": MatchConditions.IfNotModified})
        return ("update", row, {"mode": UpdateMode.MERGE})

    def _add_member_ops(self, group_id: str, member: Member) -> list:
        kind = keys.kind_of(member.id)
        edge = self._row(keys.member_edge_key(group_id, member.id), k=ROW_EDGE)
        if member.display:
            edge["disp"] = member.display
        return [
            ("update", self._row(keys.resource_key(kind, member.id), mt=now_iso()), {"mode": UpdateMode.MERGE}),
            ("upsert", edge),
            ("upsert", self._row(keys.reverse_edge_key(member.id, group_id), k=ROW_REVERSE)),
        ]

    def _remove_member_ops(self, group_id: str, member_id: str) -> list:
        return [
            ("delete", self._row(keys.member_edge_key(group_id, member_id))),
            ("delete", self._row(keys.reverse_edge_key(member_id, group_id))),
        ]

    def add_members(self, group_id: str, members: list[Member], version: str, last_modified: str, etag: str | None = None) -> None:
        """Add members with O(k) operations, whatever the group's size.

        Every transaction that writes edges also MERGEs (``If-Match: *``)
        the group's row and each member's row it links, so an edge is never
        written for a resource that is gone, and a concurrent DELETE of
        either end, which is conditioned on its row's ETag, fails and
        re-reads the edges (no dangling edges, whatever the interleaving).

        When everything fits one transaction (up to 32 members: the usual
        Entra PATCH), that is the whole add.  Larger adds first check every
        member's existence in transactions of 100 MERGEs (harmless writes),
        so an unknown member id changes nothing (RFC 7644 §3.5.2: a PATCH is
        applied whole or not at all), then write 32 members per
        transaction.  A member deleted between the two phases is skipped, as
        if the delete had come after the add.  Every write is an upsert, so
        a replay after a crash at any point completes the add.
        """
        touch = self._touch_op(keys.GROUP, group_id, version, last_modified, etag)
        per_member = [self._add_member_ops(group_id, m) for m in members]
        if 1 + 3 * len(per_member) <= MAX_TRANSACTION_OPS:
            self._submit([touch] + [op for ops in per_member for op in ops])
            return
        checks = [touch] + [ops[0] for ops in per_member]
        for start in range(0, len(checks), MAX_TRANSACTION_OPS):
            self._submit(checks[start : start + MAX_TRANSACTION_OPS])
        guard = self._touch_op(keys.GROUP, group_id, version, last_modified, None)
        room = (MAX_TRANSACTION_OPS - 1) // 3
        for start in range(0, len(per_member), room):
            chunk = per_member[start : start + room]
            while chunk:
                try:
                    self._submit([guard] + [op for ops in chunk for op in ops])
                    break
                except Missing as exc:
                    rest = [ops for ops in chunk if ops[0][1]["RowKey"] != exc.row_key]
                    if len(rest) == len(chunk):  # the group itself is gone
                        raise
                    chunk = rest

    def remove_members(self, group_id: str, member_ids: list[str], version: str, last_modified: str, etag: str | None = None) -> None:
        """Remove members with O(k) operations; ids that are not members are skipped.

        A transaction fails as a whole when one of its deletes finds no row;
        the failing operation is named in the error, so that member is dropped
        and the rest resubmitted (one extra round trip per absent member).
        """
        pending = list(dict.fromkeys(member_ids))
        touch = self._touch_op(keys.GROUP, group_id, version, last_modified, etag)
        first = True
        while pending:
            room = (MAX_TRANSACTION_OPS - 1) // 2 if first else MAX_TRANSACTION_OPS // 2
            chunk = pending[:room]
            ops = ([touch] if first else []) + [op for mid in chunk for op in self._remove_member_ops(group_id, mid)]
            try:
                self._submit(ops)
            except Missing as exc:
                if first and exc.row_key == touch[1]["RowKey"]:
                    raise
                absent = exc.row_key.rsplit(":", 1)[1]
                if absent == group_id:  # the reverse edge names the group last
                    absent = exc.row_key.split(":")[1]
                pending.remove(absent)
                continue
            first = False
            pending = pending[room:]
        if first:
            self._submit([touch])
