"""One tenant's entity-group transactions, behind its write guard.

Every transaction of a tenant is at most 100 operations in its partition
(key layout: :mod:`shared.storage.keys`), and one of them is always the
guard:

* every transaction MERGEs (``If-Match: *``) the tenant's guard row
  ``!tenant`` (:data:`shared.storage.keys.TENANT_KEY`).  The registry creates it
  with the tenant and deletes it when the tenant is disabled or deleted;
  from that moment no transaction of the tenant can commit, whichever
  instance sends it and whatever its credential cache still believes
  (:class:`WritesClosed`), so a tenant delete that removes the guard and
  then the partition leaves nothing behind;
* a failed transaction is one of the outcomes of
  :mod:`shared.storage.outcomes`, named after the operation that failed;
* a create or delete adjusts one of the kind's counter shards in the same
  transaction (:mod:`shared.storage.counters`);
* a transaction that changes a resource carries that change's event row
  (:mod:`shared.storage.outbox`), when the store records events: the
  operations a caller may use are :data:`MAX_TRANSACTION_OPS` less that one.

What goes into the transactions, the write patterns of each change, is in
:mod:`shared.storage.table_store`, whose :class:`TenantStore` is a
:class:`TenantTransactions`.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.data.tables import (
    TableClient,
    TableTransactionError,
    UpdateMode,
)
from azure.core import MatchConditions

from . import keys
from .counters import COUNTERS, Shard
from .keys import ROW_COUNTER
from .outcomes import AlreadyExists, Changed, Missing, StorageUnavailable, TooLarge, WritesClosed
from .event_rows import EventContext, event_row
from .queries import each_row
from .tables import storage_call

if TYPE_CHECKING:
    from ..scim.events import Change

log = logging.getLogger("scim.storage")

# Table Storage's limit is 100 operations per entity-group transaction; one
# of them is always the tenant's write guard, the rest are the caller's.
MAX_TRANSACTION_OPS = 100 - 1
_KEYS_IN_SPAN = "PartitionKey eq @pk and RowKey ge @lo and RowKey le @hi"
_COUNTER_RETRIES = 5


class TenantTransactions:
    """One tenant's partition: its rows, its write guard and the transactions behind it."""

    def __init__(self, table: TableClient, tenant_id: str, events: EventContext | None = None) -> None:
        """``events``: what the change events of this store's writes record
        (the request's id, its caller...); None writes no events (seeding)."""
        self._table = table
        self.tenant_id = tenant_id
        self.events = events

    # ----------------------------------------------------------------- rows
    def _row(self, row_key: str, **props) -> dict:
        return {"PartitionKey": self.tenant_id, "RowKey": row_key, **props}

    @property
    def scope(self) -> tuple[str, str]:
        """(table, tenant): what process-wide caches key this store's data by."""
        return (self._table.table_name, self.tenant_id)

    def _existing(self, row_keys) -> set[str]:
        """Which of ``row_keys`` exist, in one range read over their span
        (keys only): how a transaction that met rows it did not expect
        learns which, without a read per row."""
        wanted = sorted(row_keys)
        params = {"pk": self.tenant_id, "lo": wanted[0], "hi": wanted[-1]}
        rows = storage_call(self._table.query_entities, _KEYS_IN_SPAN, parameters=params, select=["RowKey"])
        return {entity["RowKey"] for entity in each_row(rows)} & set(wanted)

    # --------------------------------------------------------------- writes
    def open_writes(self) -> None:
        """Create the tenant's write guard row (idempotent)."""
        try:
            storage_call(self._table.create_entity, self._row(keys.TENANT_KEY))
        except ResourceExistsError:
            pass

    def close_writes(self) -> None:
        """Delete the write guard: every later transaction of the tenant fails
        with :class:`WritesClosed` (idempotent)."""
        try:
            storage_call(self._table.delete_entity, self.tenant_id, keys.TENANT_KEY)
        except ResourceNotFoundError:
            pass

    def _event_ops(self, change: "Change | None") -> list:
        """The event row of ``change`` as a transaction operation ([] when
        there is no change or this store records no events)."""
        if change is None or self.events is None:
            return []
        return [("upsert", event_row(self.tenant_id, change, self.events))]

    def _submit(self, ops: list, change: "Change | None" = None) -> list:
        """Submit one transaction behind the tenant's write guard, with the
        event row of ``change``, mapping failures to storage outcomes;
        returns the per-operation results of ``ops`` (their new ETags)."""
        ops = ops + self._event_ops(change)
        if len(ops) > MAX_TRANSACTION_OPS:
            raise TooLarge(f"the change needs {len(ops)} storage operations in one transaction; the limit is {MAX_TRANSACTION_OPS}")
        ops = [("update", self._row(keys.TENANT_KEY), {"mode": UpdateMode.MERGE}), *ops]
        try:
            return storage_call(self._table.submit_transaction, ops)[1:]
        except TableTransactionError as exc:
            row_key = ops[exc.index][1]["RowKey"] if 0 <= exc.index < len(ops) else ""
            if exc.index == 0 and exc.status_code == 404:
                raise WritesClosed(self.tenant_id) from exc
            if exc.status_code == 409:
                raise AlreadyExists(row_key) from exc
            if exc.status_code == 404:
                raise Missing(row_key) from exc
            if exc.status_code == 412:
                raise Changed(row_key) from exc
            if exc.status_code == 413 or exc.status_code == 400:
                raise TooLarge(str(exc.message)[:200]) from exc
            log.warning("transaction_failed status=%s code=%s", exc.status_code, getattr(exc, "error_code", None))
            raise StorageUnavailable(str(exc.status_code)) from exc
        except (ResourceExistsError, ResourceNotFoundError) as exc:  # pragma: no cover - SDK variants
            raise Missing("") from exc

    def _counter_op(self, kind: str, index: int, shard: Shard, delta: int):
        key = keys.counter_key(kind, index)
        if not shard.known:
            try:
                entity = storage_call(self._table.get_entity, self.tenant_id, key)
                shard.value, shard.etag = entity["n"], entity.metadata["etag"]
            except ResourceNotFoundError:
                shard.value, shard.etag = 0, None
            shard.known = True
        row = self._row(key, k=ROW_COUNTER, n=shard.value + delta)
        if shard.etag is None:
            return ("create", row)
        return ("update", row, {"mode": UpdateMode.MERGE, "etag": shard.etag, "match_condition": MatchConditions.IfNotModified})

    def _submit_counted(self, ops: list, kind: str, delta: int, change: "Change | None" = None) -> None:
        """Submit ``ops`` with a counter adjustment in the same transaction
        (see :mod:`shared.storage.counters`), retrying when another instance moved
        the shard first."""
        with COUNTERS.claim((*self.scope, kind)) as (index, shard):
            for _ in range(_COUNTER_RETRIES):
                op = self._counter_op(kind, index, shard, delta)
                try:
                    results = self._submit(ops + [op], change)
                except (AlreadyExists, Changed) as exc:
                    if exc.row_key != op[1]["RowKey"]:
                        raise
                    shard.known = False
                    continue
                shard.value += delta
                shard.etag = results[len(ops)].get("etag")
                shard.known = shard.etag is not None
                return
        raise StorageUnavailable("a resource counter kept changing")
