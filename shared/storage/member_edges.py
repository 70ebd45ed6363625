"""Group membership in Table Storage: the member edges and their writes.

A member of a group is two rows in the tenant's partition, a forward edge
(group -> member) and a reverse edge (member -> group), keys from :mod:`shared.storage.keys`.  Adding one also
MERGEs (``If-Match: *``) the member's own row in the same transaction, so
the transaction fails when the member does not exist -- existence checked
without a read; every change of edges also touches the group's row (its new
version) and carries the change's event (:mod:`shared.storage.event_rows`).
Both adds and removes cost O(k) operations for k members, whatever the
group's size (RFC 7644 §3.5.2 PATCH of ``members``).
"""

from __future__ import annotations

from dataclasses import dataclass

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



@dataclass(frozen=True, slots=True)
class GroupState:
    """A group row as read: its ETag and its version."""

    etag: str
    version: str


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

    def group_state(self, group_id: str) -> GroupState:
        """The group row's ETag and version (one point read); :class:`Missing` when it is gone."""
        try:
            entity = storage_call(self._table.get_entity, self.tenant_id, keys.resource_key(keys.GROUP, group_id),
                                  select=["RowKey", "v"])
        except ResourceNotFoundError as exc:
            raise Missing(keys.resource_key(keys.GROUP, group_id)) from exc
        return GroupState(entity.metadata["etag"], entity["v"])

    def add_members(self, group_id: str, members: list[Member], state: GroupState | None = None,
                    strict: bool = False) -> GroupState | None:
        """Add members with O(k) operations, whatever the group's size;
        returns the group's new state, or None when every one of them was a
        member already (nothing written, no event).

        The group's row is read first (``state``: as the caller read it), and
        every transaction that writes edges MERGEs its next version into it,
        conditioned on the ETag of the version before: so the group's
        versions, and its change events, increase in the order they commit,
        whatever the instances' clocks.  A transaction that finds the group
        changed meanwhile reads it again and is sent again -- unless
        ``strict`` (the client's ``If-Match``), when the first one answers
        :class:`Changed`.  Each transaction also MERGEs (``If-Match: *``) each
        member's row it links, so an edge is never written for a resource
        that is gone, and a concurrent DELETE of either end, which is
        conditioned on its row's ETag, fails and re-reads the edges (no
        dangling edges, whatever the interleaving), and carries its change
        event.

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
        state = state or self.group_state(group_id)
        if 1 + 3 * len(members) + 1 <= MAX_TRANSACTION_OPS:
            return self._write_members(group_id, list(members), state, strict, skip_missing=False)
        checks = [self._add_member_ops(group_id, m)[0] for m in members]
        for start in range(0, len(checks), MAX_TRANSACTION_OPS):
            self._submit(checks[start : start + MAX_TRANSACTION_OPS])
        room = (MAX_TRANSACTION_OPS - 2) // 3  # the group's MERGE and the event
        written = None
        for start in range(0, len(members), room):
            written = self._write_members(group_id, members[start : start + room], written or state,
                                          strict and written is None, skip_missing=True) or written
        return written

    def _write_after(self, group_id: str, state: GroupState, strict: bool, ops_for, change_for) -> GroupState:
        """Submit one transaction of the group's next version (conditioned on
        ``state``'s ETag) and ``ops_for(version)``, with ``change_for(version)``;
        a group changed meanwhile is read again and the transaction sent
        again (not when ``strict``).  Returns the group's new state."""
        while True:
            version = new_version(state.version)
            touch = self._touch_op(keys.GROUP, group_id, version, now_iso(), state.etag)
            try:
                results = self._submit([touch, *ops_for(version)], change_for(version))
            except Changed as exc:
                if strict or exc.row_key != keys.resource_key(keys.GROUP, group_id):
                    raise
                state = self.group_state(group_id)
                continue
            return GroupState(results[0]["etag"], version)

    def _write_members(self, group_id: str, members: list[Member], state: GroupState, strict: bool,
                       skip_missing: bool) -> GroupState | None:
        """One transaction adding ``members`` (those not members already)
        with the group's next version and its event; returns the group's
        new state, or None when nothing was left to add.  ``skip_missing``:
        a member that is gone is left out instead of failing the add."""
        group_key = keys.resource_key(keys.GROUP, group_id)
        while members:
            adding = list(members)
            try:
                return self._write_after(
                    group_id, state, strict, lambda _: [op for m in adding for op in self._add_member_ops(group_id, m)],
                    lambda version: self._edges_change(keys.GROUP, group_id, version, added=[m.id for m in adding]))
            except AlreadyExists:
                present = self._present_members(group_id, [m.id for m in members])
                members = [m for m in members if m.id not in present]
            except Missing as exc:
                if not skip_missing or exc.row_key == group_key:
                    raise
                members = [m for m in members if keys.resource_key(keys.kind_of(m.id), m.id) != exc.row_key]
        return None

    def remove_members(self, group_id: str, member_ids: list[str], state: GroupState | None = None,
                       strict: bool = False) -> GroupState | None:
        """Remove members with O(k) operations; ids that are not members are
        skipped.  Returns the group's new state, or None when none of them
        was a member (nothing written, no event).

        As :meth:`add_members`, the group is read first and each transaction
        MERGEs its next version conditioned on the ETag before; each removes
        up to 48 members and carries its event.  A transaction fails as a
        whole when one of its deletes finds no row; the failing operation is
        named in the error, so that member is dropped and the rest
        resubmitted (one extra round trip per absent member).
        """
        # An id of no resource's form (kind_of None) names no member: skipped here,
        # so every row key below splits back into the ids it was made of.
        pending = [mid for mid in dict.fromkeys(member_ids) if keys.kind_of(mid) is not None]
        state = state or self.group_state(group_id)
        group_key = keys.resource_key(keys.GROUP, group_id)
        room = (MAX_TRANSACTION_OPS - 2) // 2  # the group's MERGE and the event
        written = None
        while pending:
            chunk = pending[:room]
            try:
                written = self._write_after(
                    group_id, written or state, strict and written is None,
                    lambda _: [op for mid in chunk for op in self._remove_member_ops(group_id, mid)],
                    lambda version: self._edges_change(keys.GROUP, group_id, version, removed=chunk))
            except Missing as exc:
                if exc.row_key == group_key:
                    raise
                absent = exc.row_key.rsplit(":", 1)[1]
                if absent == group_id:  # the reverse edge names the group last
                    absent = exc.row_key.split(":")[1]
                pending.remove(absent)
                continue
            pending = pending[room:]
        if written is None and strict and state.etag is not None:
            if self.group_state(group_id).etag != state.etag:
                raise Changed(group_key)
        return written
