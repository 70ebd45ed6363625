"""The event outbox: a tenant's change events waiting for delivery.

Event rows are committed with their changes (:mod:`shared.storage.event_rows`).
Delivery state lives on the row: ``pa`` is set when a poll recipient
acknowledged it (RFC 8936 §2.2 ``ack``, or ``setErrs``, whose code is kept
in ``perr``).  :meth:`Outbox.pending_for_poll` reads the rows not yet
acknowledged, oldest first.
"""

from __future__ import annotations

from azure.data.tables import UpdateMode

from . import keys
from .event_rows import StoredEvent, is_jti, stored_event
from .outcomes import Missing
from .queries import each_row
from .tables import storage_call
from .transactions import MAX_TRANSACTION_OPS, TenantTransactions

_EVENTS_LO, _EVENTS_HI = keys.EVENT_PREFIX, keys.prefix_end(keys.EVENT_PREFIX)
_PENDING_FOR_POLL = "PartitionKey eq @pk and RowKey ge @lo and RowKey lt @hi and pa eq false"
MAX_ERROR_CHARS = 200


class Outbox(TenantTransactions):
    """One tenant's event rows: what is pending delivery, and its acknowledgements."""

    def pending_for_poll(self, limit: int) -> tuple[list[StoredEvent], bool]:
        """Up to ``limit`` events no poll recipient acknowledged, oldest
        first, and whether more are waiting (one range query)."""
        params = {"pk": self.tenant_id, "lo": _EVENTS_LO, "hi": _EVENTS_HI}
        rows = storage_call(self._table.query_entities, _PENDING_FOR_POLL, parameters=params,
                            results_per_page=max(1, min(1000, limit + 1)))
        found: list[StoredEvent] = []
        for entity in each_row(rows):
            if len(found) == limit:
                return found, True
            found.append(stored_event(entity))
        return found, False

    def acknowledge(self, acks: dict[str, str]) -> None:
        """Mark events delivered to a poll recipient: ``acks`` maps a jti to
        '' (acknowledged) or the error code it reported (RFC 8936 §2.2
        ``setErrs``).  Unknown and already removed jtis are skipped: one
        failed transaction, one range read of which exist, then the rest."""
        pending = {keys.event_key(jti): err[:MAX_ERROR_CHARS] for jti, err in acks.items() if is_jti(jti)}
        checked = False
        while pending:
            chunk = list(pending.items())[:MAX_TRANSACTION_OPS]
            ops = [("update", self._row(key, pa=True, **({"perr": err} if err else {})), {"mode": UpdateMode.MERGE})
                   for key, err in chunk]
            try:
                self._submit(ops)
            except Missing as exc:
                if checked:
                    pending.pop(exc.row_key, None)
                else:
                    existing = self._existing(pending)
                    pending = {key: err for key, err in pending.items() if key in existing}
                    checked = True
                continue
            for key, _ in chunk:
                del pending[key]
