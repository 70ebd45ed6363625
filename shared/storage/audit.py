"""The audit trail: one entry per accepted change, newest first per tenant.

Two sources, read together by :meth:`AuditLog.recent`:

* **changes of users and groups** are their change events
  (:mod:`shared.storage.event_rows`), committed in the change's own
  transaction: so the trail costs a SCIM request no storage call of its
  own, and holds exactly the changes that happened (a replayed request that
  changed nothing has no entry).  They are kept as long as the audit
  trail (``SCIM_AUDIT_RETENTION_DAYS``, :meth:`shared.delivery.dispatch.Dispatcher.enforce_retention`).
  When a tenant is deleted, its change entries are copied into the audit
  table first (:meth:`AuditLog.preserve_changes`), so the trail outlives
  the tenant's data as before;
* **everything else** -- issued access tokens, ``scimctl``'s administrative
  changes -- has its own table (``{prefix}audit``), one partition per
  tenant, keyed by the *inverted* time (the log-tail pattern of the Azure
  Table design guide): ``RowKey = f"{MAX_MS - epoch_ms:013d}{random}"``, so a
  plain query returns the newest entries first and reading the last N costs
  one call.  Old entries are the tail of the partition, which is what
  :meth:`AuditLog.prune` deletes (``SCIM_AUDIT_RETENTION_DAYS``, 90 by
  default; the app's daily timer and ``scimctl audit prune`` run it).

An entry holds: time, tenant, actor (``token:<id>``, ``oauth:<client id>``,
``entra:<app>@<Entra tenant>`` or ``cli:<user>``), operation, resource type
and id, the names of the attributes changed (never values: a password or a
token never reaches the trail), outcome (``ok`` for a change; what the
operation says otherwise), the request id and the names of the attributes
the request carried that the service ignored (extension objects of no
registered schema, :func:`shared.scim.resource.ignored_extension_names`).
"""

from __future__ import annotations

import secrets
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta, timezone

from ..scim.events import Change
from ..scim.ids import GROUP
from ..scim.records import version_time
from .event_rows import StoredEvent
from .outbox import Outbox
from .queries import each_row
from .tables import AUDIT, RESOURCES, Tables, storage_call

MAX_MS = 10**13 - 1
MAX_ATTRIBUTES_CHARS = 2000
_OPERATIONS = {"create": "create", "put": "replace", "patch": "patch", "delete": "delete"}


@dataclass(frozen=True, slots=True)
class AuditEntry:
    time: str
    tenant: str
    actor: str
    operation: str
    resource_type: str
    resource_id: str
    attributes: str
    outcome: str
    request_id: str
    ignored: str = ""


def _row_key(epoch_ms: int) -> str:
    return f"{MAX_MS - epoch_ms:013d}{secrets.token_hex(4)}"


def _iso(epoch_ms: int) -> str:
    seconds, ms = divmod(epoch_ms, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{ms:03d}Z"


def change_entry(tenant_id: str, event: StoredEvent) -> AuditEntry:
    """The audit entry of a change event: its time is the change's version's."""
    change: Change = event.change
    micros = version_time(change.version) or event.iat * 1_000_000
    return AuditEntry(_iso(micros // 1000), tenant_id, event.actor, _OPERATIONS[change.verb],
                      "Group" if change.kind == GROUP else "User", change.resource_id,
                      ",".join(change.attributes)[:MAX_ATTRIBUTES_CHARS], "ok", event.txn,
                      ",".join(event.ignored)[:MAX_ATTRIBUTES_CHARS])


class AuditLog:
    """Append, read newest-first and prune a tenant's audit entries."""

    def __init__(self, tables: Tables) -> None:
        self._tables = tables

    @property
    def _table(self):
        return self._tables.table(AUDIT)

    def _row(self, entry: AuditEntry, epoch_ms: int) -> dict:
        row = asdict(entry)
        row["attributes"] = row["attributes"][:MAX_ATTRIBUTES_CHARS]
        row["ignored"] = row["ignored"][:MAX_ATTRIBUTES_CHARS]
        row.update(PartitionKey=entry.tenant, RowKey=_row_key(epoch_ms))
        return row

    def append(self, entry: AuditEntry) -> None:
        storage_call(self._table.create_entity, self._row(entry, int(time.time() * 1000)))

    def recent(self, tenant_id: str, limit: int = 50) -> list[AuditEntry]:
        """The newest ``limit`` entries, newest first: the audit table's (one
        query) and the tenant's change events' (:meth:`Outbox.recent`)."""
        rows = storage_call(self._table.query_entities, "PartitionKey eq @p", parameters={"p": tenant_id},
                            results_per_page=min(limit, 1000))
        entries = []
        for row in each_row(rows):
            entries.append(AuditEntry(**{name: row.get(name, "") for name in AuditEntry.__slots__}))
            if len(entries) >= limit:
                break
        changes = Outbox(self._tables.table(RESOURCES), tenant_id).recent(limit)
        entries += [change_entry(tenant_id, event) for event in changes]
        return sorted(entries, key=lambda e: e.time, reverse=True)[:limit]

    def preserve_changes(self, tenant_id: str) -> int:
        """Copy a tenant's change entries into the audit table (before the
        tenant's partition is deleted); returns how many."""
        events = Outbox(self._tables.table(RESOURCES), tenant_id).history()
        rows = [self._row(change_entry(tenant_id, e), (version_time(e.change.version) or e.iat * 1_000_000) // 1000)
                for e in events]
        for start in range(0, len(rows), 100):
            storage_call(self._table.submit_transaction, [("upsert", row) for row in rows[start : start + 100]])
        return len(rows)

    def prune(self, tenant_id: str, older_than: datetime) -> int:
        """Delete the entries written before ``older_than``; returns how many."""
        cutoff = _row_key(int(older_than.astimezone(timezone.utc).timestamp() * 1000))[:13]
        rows = storage_call(self._table.query_entities, "PartitionKey eq @p and RowKey gt @k",
                            parameters={"p": tenant_id, "k": cutoff + "g"}, select=["PartitionKey", "RowKey"])
        deleted, batch = 0, []
        for row in each_row(rows):
            batch.append(("delete", {"PartitionKey": tenant_id, "RowKey": row["RowKey"]}))
            if len(batch) == 100:
                storage_call(self._table.submit_transaction, batch)
                deleted, batch = deleted + len(batch), []
        if batch:
            storage_call(self._table.submit_transaction, batch)
            deleted += len(batch)
        return deleted



def enforce_retention(log: AuditLog, registry, days: int) -> int:
    """Prune every tenant's entries older than ``days``; forget deleted
    tenants with nothing left.  Returns the number of entries deleted."""
    cutoff = datetime.now(timezone.utc) - timedelta(days=days)
    deleted = 0
    for tenant_id, gone in registry.audited_tenants():
        deleted += log.prune(tenant_id, cutoff)
        if gone and not log.recent(tenant_id, 1):
            registry.forget_deleted(tenant_id)
    return deleted
