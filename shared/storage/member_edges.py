"""Group membership in Table Storage: the member edges and their writes.

A member of a group is two rows in the tenant's partition, a forward edge
(group -> member, with the member's ``display``) and a reverse edge
(member -> group), keys from :mod:`shared.storage.keys`.  Adding one also
MERGEs (``If-Match: *``) the member's own row in the same transaction, so
the transaction fails when the member does not exist -- existence checked
without a read; every change of edges also touches the group's row (its new
version) and carries the change's event (:mod:`shared.storage.event_rows`).
Both adds and removes cost O(k) operations for k members, whatever the
group's size (RFC 7644 §3.5.2 PATCH of ``members``).
"""

from __future__ import annotations

from azure.core import MatchConditions
from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import UpdateMode

from . import keys
from .keys import ROW_EDGE, ROW_REVERSE
from .outcomes import AlreadyExists, Changed, Missing
from .tables import storage_call
from .transactions import MAX_TRANSACTION_OPS, TenantTransactions
from ..scim.events import PATCH, Change, edge_attribute, patch_data
from ..scim.records import Member, new_version, now_iso



class GroupMembership(TenantTransactions):
    """One tenant's member edges: the operations that write them, and member adds and removes."""

    def _touch_op(self, kind: str, resource_id: str, version: str | None, last_modified: str | None, etag: str | None):
        """MERGE a new version into a resource row (with no version: a
        harmless MERGE that only checks it); fails if the row is gone (or changed)."""
        props = {"v": version, "m": last_modified} if version else {"mt": now_iso()}
        row = self._row(keys.resource_key(kind, resource_id), **props)
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
            ("create", edge),
            ("upsert", self._row(keys.reverse_edge_key(member.id, group_id), k=ROW_REVERSE)),
        ]

    def _remove_member_ops(self, group_id: str, member_id: str) -> list:
        return [
            ("delete", self._row(keys.member_edge_key(group_id, member_id))),
            ("delete", self._row(keys.reverse_edge_key(member_id, group_id))),
        ]

    def _edges_change(self, kind: str, resource_id: str, version: str, added=(), removed=()) -> Change:
        """The event of one transaction that adds or removes a resource's
        edges: a group's members, or (deleting a user) its groups
        (RFC 9967 §2.4.2, :mod:`shared.scim.events`)."""
        attribute = edge_attribute(kind)
        full = self.events is not None and self.events.full
        data = patch_data({}, {}, added, removed, attribute) if full else None
        return Change(PATCH, kind, resource_id, version, (attribute,), tuple(added), tuple(removed), data=data)

    def _present_members(self, group_id: str, member_ids: list[str]) -> set[str]:
        """Which of ``member_ids`` are members of the group (one range read
        over their edges' span)."""
        prefix = keys.member_prefix(group_id)
        return {key[len(prefix):] for key in self._existing(prefix + mid for mid in member_ids)}

    def _check_group(self, group_id: str, etag: str | None) -> None:
        """That the group exists (:class:`Missing`) and, given ``etag``, is unchanged
        (:class:`Changed`): one point read, for a change that turned out to write nothing."""
        try:
            entity = storage_call(self._table.get_entity, self.tenant_id, keys.resource_key(keys.GROUP, group_id),
                                  select=["RowKey"])
        except ResourceNotFoundError as exc:
            raise Missing(keys.resource_key(keys.GROUP, group_id)) from exc
        if etag and entity.metadata.get("etag") != etag:
            raise Changed(keys.resource_key(keys.GROUP, group_id))

    def add_members(self, group_id: str, members: list[Member], etag: str | None = None) -> str | None:
        """Add members with O(k) operations, whatever the group's size;
        returns the group's new version, or None when every one of them
        was a member already (nothing written, no event).

        Every transaction that writes edges also MERGEs (``If-Match: *``)
        the group's row -- its new version -- and each member's row it
        links, so an edge is never written for a resource that is gone, and
        a concurrent DELETE of either end, which is conditioned on its row's
        ETag, fails and re-reads the edges (no dangling edges, whatever the
        interleaving).  Each such transaction carries its change event.

        When everything fits one transaction (up to 32 members: the usual
        Entra PATCH), that is the whole add.  Larger adds first check every
        member's existence in transactions of MERGEs (harmless writes), so
        an unknown member id changes nothing (RFC 7644 §3.5.2: a PATCH is
        applied whole or not at all), then write 32 members per
        transaction.  A member deleted between the two phases is skipped, as
        if the delete had come after the add.  A forward edge is created,
        never overwritten: a transaction that meets an existing one reads
        which of its members are there already and is sent again without
        them, so a replay after a crash completes the add and emits events
        only for what it adds.
        """
        if 1 + 3 * len(members) + 1 <= MAX_TRANSACTION_OPS:
            return self._write_members(group_id, list(members), etag, None, skip_missing=False)
        checks = [self._touch_op(keys.GROUP, group_id, None, None, etag)] + [self._add_member_ops(group_id, m)[0] for m in members]
        for start in range(0, len(checks), MAX_TRANSACTION_OPS):
            self._submit(checks[start : start + MAX_TRANSACTION_OPS])
        room = (MAX_TRANSACTION_OPS - 2) // 3  # the group's MERGE and the event
        version = None
        for start in range(0, len(members), room):
            version = self._write_members(group_id, members[start : start + room], None, version, skip_missing=True) or version
        return version

    def _write_members(self, group_id: str, members: list[Member], etag: str | None, after: str | None,
                       skip_missing: bool) -> str | None:
        """One transaction adding ``members`` (those not members already)
        with the group's new version and its event; returns that version,
        or None when nothing was left to add.  ``skip_missing``: a member
        that is gone is left out instead of failing the add."""
        group_key = keys.resource_key(keys.GROUP, group_id)
        while members:
            version = new_version(after)
            ops = [self._touch_op(keys.GROUP, group_id, version, now_iso(), etag)]
            ops += [op for m in members for op in self._add_member_ops(group_id, m)]
            try:
                self._submit(ops, self._edges_change(keys.GROUP, group_id, version, added=[m.id for m in members]))
                return version
            except AlreadyExists:
                present = self._present_members(group_id, [m.id for m in members])
                members = [m for m in members if m.id not in present]
            except Missing as exc:
                if not skip_missing or exc.row_key == group_key:
                    raise
                members = [m for m in members if keys.resource_key(keys.kind_of(m.id), m.id) != exc.row_key]
        return None

    def remove_members(self, group_id: str, member_ids: list[str], etag: str | None = None) -> str | None:
        """Remove members with O(k) operations; ids that are not members are
        skipped.  Returns the group's new version, or None when none of them
        was a member (nothing written, no event).

        Each transaction removes up to 48 members, MERGEs the group's new
        version and carries its event.  A transaction fails as a whole when
        one of its deletes finds no row; the failing operation is named in
        the error, so that member is dropped and the rest resubmitted (one
        extra round trip per absent member).
        """
        pending = list(dict.fromkeys(member_ids))
        group_key = keys.resource_key(keys.GROUP, group_id)
        room = (MAX_TRANSACTION_OPS - 2) // 2  # the group's MERGE and the event
        version = None
        while pending:
            chunk = pending[:room]
            next_version = new_version(version)
            ops = [self._touch_op(keys.GROUP, group_id, next_version, now_iso(), etag if version is None else None)]
            ops += [op for mid in chunk for op in self._remove_member_ops(group_id, mid)]
            try:
                self._submit(ops, self._edges_change(keys.GROUP, group_id, next_version, removed=chunk))
            except Missing as exc:
                if exc.row_key == group_key:
                    raise
                absent = exc.row_key.rsplit(":", 1)[1]
                if absent == group_id:  # the reverse edge names the group last
                    absent = exc.row_key.split(":")[1]
                pending.remove(absent)
                continue
            version = next_version
            pending = pending[room:]
        if version is None:
            self._check_group(group_id, etag)
        return version
