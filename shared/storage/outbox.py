"""The event outbox: a tenant's change events waiting for delivery, and
those delivered, kept for replay.

Event rows are committed with their changes (:mod:`shared.storage.event_rows`)
as ``E:{jti}``.  Delivery state lives on the row, one mark per channel
(:mod:`shared.delivery.dispatch`):

* ``pa``: a poll recipient answered it (RFC 8936 §2.2 ``ack``, or
  ``setErrs``, whose code is kept in ``perr``);
* ``pu``: the push endpoint accepted it (``ok``: a 202, RFC 8935 §2.2) or
  delivery gave up (``parked``); with ``pn`` attempts so far, ``pt`` the
  time of the next one, ``pf`` that of the first failure and ``pe`` the
  last error;
* ``qu``: it is on the deployment's Storage Queue.

Once every channel the tenant uses has it, the row moves to ``D:{jti}``
(:meth:`Outbox.settle`: the delete, conditioned on the ETag read, and the
copy in one transaction), out of the range polls and deliveries read, and
stays there -- it is the change's audit entry (:mod:`shared.storage.audit`)
and what ``scimctl events replay`` sends again -- until the audit retention
ends (:meth:`Outbox.prune`).  Rows sort by ``jti``, which begins with the
microsecond of the change's version (:mod:`shared.scim.records`), so a time
is a key: :func:`time_key`.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from azure.core import MatchConditions
from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import TableTransactionError, UpdateMode

from . import keys
from .event_rows import StoredEvent, is_jti, stored_event
from .outcomes import Changed, Missing
from .queries import RANGE, each_row
from .tables import storage_call
from .transactions import MAX_TRANSACTION_OPS, TenantTransactions

_EVENTS_LO, _EVENTS_HI = keys.EVENT_PREFIX, keys.prefix_end(keys.EVENT_PREFIX)
_PENDING_FOR_POLL = RANGE + " and pa eq false"
MAX_ERROR_CHARS = 200
_DELIVERY_MARKS = ("pa", "pu", "qu", "lo", "pn", "pt", "pe", "pf", "perr")
_RECENT_WINDOWS_HOURS = (1, 24, 24 * 7, 24 * 31, 0)  # 0: everything
_MOVES = (MAX_TRANSACTION_OPS - 1) // 2  # a move is a delete and an insert


def time_key(prefix: str, micros: int) -> str:
    """The smallest row key under ``prefix`` of an event made at or after ``micros``."""
    return f"{prefix}{micros:013x}"


class Outbox(TenantTransactions):
    """One tenant's event rows: what is pending delivery, its marks, and the delivered ones."""

    def _range(self, lo: str, hi: str, query: str = RANGE, page: int = 1000, select=None):
        params = {"pk": self.tenant_id, "lo": lo, "hi": hi}
        return each_row(storage_call(self._table.query_entities, query, parameters=params,
                                     results_per_page=max(1, min(1000, page)), select=select))

    def pending_for_poll(self, limit: int) -> tuple[list[StoredEvent], bool]:
        """Up to ``limit`` events no poll recipient answered, oldest first,
        and whether more are waiting (one range query)."""
        found: list[StoredEvent] = []
        for entity in self._range(_EVENTS_LO, _EVENTS_HI, _PENDING_FOR_POLL, limit + 1):
            if len(found) == limit:
                return found, True
            found.append(stored_event(entity))
        return found, False

    def pending(self) -> Iterator[StoredEvent]:
        """Every event not delivered everywhere yet, oldest first (pages of 1,000)."""
        for entity in self._range(_EVENTS_LO, _EVENTS_HI):
            yield stored_event(entity)

    def _since(self, micros: int) -> list:
        """Every event made at or after ``micros``, pending or delivered (two range queries)."""
        return [*self._range(time_key(keys.DELIVERED_PREFIX, micros), keys.prefix_end(keys.DELIVERED_PREFIX)),
                *self._range(time_key(keys.EVENT_PREFIX, micros), _EVENTS_HI)]

    def recent(self, limit: int) -> list[StoredEvent]:
        """The newest ``limit`` events, pending or delivered, newest first: the
        rows sort oldest first, so the last hour is read, then the last
        day, week, month, and everything, until ``limit`` are found."""
        now = time.time_ns() // 1000
        for hours in _RECENT_WINDOWS_HOURS:
            rows = self._since(now - hours * 3_600_000_000 if hours else 0)
            if len(rows) >= limit or not hours:
                newest = sorted(rows, key=lambda r: r["RowKey"].split(":", 1)[1], reverse=True)[:limit]
                return [stored_event(row) for row in newest]
        return []

    def history(self) -> list[StoredEvent]:
        """Every event the tenant has, pending or delivered, oldest first."""
        return sorted((stored_event(row) for row in self._since(0)), key=lambda e: e.jti)

    def acknowledge(self, acks: dict[str, str]) -> None:
        """Mark events answered by a poll recipient: ``acks`` maps a jti to
        '' (acknowledged) or the error code it reported (RFC 8936 §2.2
        ``setErrs``).  Unknown and already delivered jtis are skipped."""
        self.mark({jti: {"pa": True, **({"perr": err[:MAX_ERROR_CHARS]} if err else {})}
                   for jti, err in acks.items() if is_jti(jti)})

    def mark(self, updates: dict[str, dict]) -> None:
        """MERGE delivery marks into pending events (jti -> properties),
        99 a transaction; events that are gone (delivered meanwhile) are
        skipped: one failed transaction, one range read of which exist, then
        the rest."""
        pending = {keys.event_key(jti): props for jti, props in updates.items()}
        checked = False
        while pending:
            chunk = list(pending.items())[:MAX_TRANSACTION_OPS]
            ops = [("update", self._row(key, **props), {"mode": UpdateMode.MERGE}) for key, props in chunk]
            try:
                self._submit(ops)
            except Missing as exc:
                if exc.row_key not in pending:
                    raise
                if checked:
                    pending.pop(exc.row_key, None)
                else:
                    existing = self._existing(pending)
                    pending = {key: props for key, props in pending.items() if key in existing}
                    checked = True
                continue
            for key, _ in chunk:
                del pending[key]

    def settle(self, events: list[tuple[StoredEvent, dict]]) -> set[str]:
        """Move delivered events (each with its last marks) to ``D:``, each
        conditioned on the ETag it was read with; an event changed or moved
        meanwhile is left for the next round.  Returns the jtis moved."""
        moved: set[str] = set()
        queue = list(events)
        while queue:
            chunk, queue = queue[:_MOVES], queue[_MOVES:]
            while chunk:
                ops = []
                for event, marks in chunk:
                    row = {**event.row, **marks, "RowKey": keys.delivered_key(event.jti)}
                    ops.append(("delete", self._row(keys.event_key(event.jti)),
                                {"etag": event.row.metadata["etag"], "match_condition": MatchConditions.IfNotModified}))
                    ops.append(("upsert", row))
                try:
                    self._submit(ops)
                except (Missing, Changed) as exc:
                    rest = [(e, m) for e, m in chunk if keys.event_key(e.jti) != exc.row_key]
                    if len(rest) == len(chunk):  # the failure names none of them: do not loop on it
                        raise
                    chunk = rest
                    continue
                moved.update(e.jti for e, _ in chunk)
                break
        return moved

    def replay(self, since_micros: int) -> int:
        """Deliver again every event made at or after ``since_micros`` (µs
        since 1970): the delivered ones move back to ``E:`` and the pending
        ones (parked pushes among them) start afresh, with no delivery
        marks, on every channel.  Returns how many."""
        delivered = list(self._range(time_key(keys.DELIVERED_PREFIX, since_micros), keys.prefix_end(keys.DELIVERED_PREFIX)))
        pending = list(self._range(time_key(keys.EVENT_PREFIX, since_micros), _EVENTS_HI))
        ops = []
        for entity in delivered + pending:
            jti = entity["RowKey"].split(":", 1)[1]
            fresh = {name: value for name, value in entity.items() if name not in _DELIVERY_MARKS}
            ops.append([("upsert", {**fresh, "RowKey": keys.event_key(jti), "pa": False, "pu": "", "qu": False},
                         {"mode": UpdateMode.REPLACE})])  # REPLACE: a pending row's old marks go too
            if entity["RowKey"].startswith(keys.DELIVERED_PREFIX):
                ops[-1].append(("delete", self._row(entity["RowKey"])))
        for start in range(0, len(ops), _MOVES):
            self._submit([op for pair in ops[start : start + _MOVES] for op in pair])
        return len(ops)

    def prune(self, before_micros: int) -> int:
        """Delete the events, delivered or not, made before ``before_micros``
        (the audit retention); returns how many.  Not behind the write guard:
        it is no change of the tenant's data, and a disabled tenant's
        events expire too.  A row gone meanwhile is skipped."""
        deleted = 0
        for prefix in (keys.DELIVERED_PREFIX, keys.EVENT_PREFIX):
            row_keys = [e["RowKey"] for e in self._range(prefix, time_key(prefix, before_micros), select=["RowKey"])]
            for start in range(0, len(row_keys), 100):
                deleted += self._delete_rows(row_keys[start : start + 100])
        return deleted

    def _delete_rows(self, row_keys: list[str]) -> int:
        """Delete up to 100 rows in one transaction; when one is gone
        already, one by one (skipping it).  Returns how many were deleted."""
        try:
            storage_call(self._table.submit_transaction, [("delete", self._row(key)) for key in row_keys])
            return len(row_keys)
        except TableTransactionError:
            deleted = 0
            for key in row_keys:
                try:
                    storage_call(self._table.delete_entity, self.tenant_id, key)
                    deleted += 1
                except ResourceNotFoundError:
                    pass
            return deleted
