"""The audit trail: one entry per accepted change, newest first per tenant.

Entries live in their own table (``{prefix}audit``), one partition per
tenant, keyed by the *inverted* time (the log-tail pattern of the Azure
Table design guide): ``RowKey = f"{MAX_MS - epoch_ms:013d}{random}"``, so a
plain query returns the newest entries first and reading the last N costs
one call.  Old entries are the tail of the partition, which is what
:meth:`AuditLog.prune` deletes (``SCIM_AUDIT_RETENTION_DAYS``, 90 by
default; the app's daily timer and ``scimctl audit prune`` run it).

An entry holds: time, tenant, actor (``token:<id>``, ``oauth:<client id>``,
``entra:<app>@<Entra tenant>`` or ``cli:<user>``), operation, resource type
and id, the names of the attributes changed (never values: a password or a
token never reaches this table), outcome (the HTTP status or ``ok``) and the
request id.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta, timezone

from .queries import each_row
from .tables import AUDIT, Tables, storage_call

MAX_MS = 10**13 - 1
MAX_ATTRIBUTES_CHARS = 2000
_SKIPPED_ATTRIBUTES = {"schemas", "id", "meta"}


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


def _row_key(epoch_ms: int) -> str:
    return f"{MAX_MS - epoch_ms:013d}{secrets.token_hex(4)}"


def changed_attributes(method: str, body) -> list[str]:
    """Names of the attributes a request changes: top-level names of a
    resource (extension attributes as ``urn:...:name``), or ``op:path`` of
    each PATCH operation (RFC 7644 §3.5.2) -- names only, never values."""
    if not isinstance(body, dict):
        return []
    if method == "PATCH":
        names = []
        for op in body.get("Operations") or body.get("operations") or []:
            if not isinstance(op, dict):
                continue
            path = op.get("path")
            targets = [path] if isinstance(path, str) else list(op["value"]) if isinstance(op.get("value"), dict) else []
            names.extend(f"{str(op.get('op', '')).lower()}:{target}" for target in targets)
        return names
    names = []
    for name, value in body.items():
        if name in _SKIPPED_ATTRIBUTES:
            continue
        if name.lower().startswith("urn:") and isinstance(value, dict):
            names.extend(f"{name}:{sub}" for sub in value)
        else:
            names.append(name)
    return names


class AuditLog:
    """Append, read newest-first and prune a tenant's audit entries."""

    def __init__(self, tables: Tables) -> None:
        self._tables = tables

    @property
    def _table(self):
        return self._tables.table(AUDIT)

    def append(self, entry: AuditEntry) -> None:
        row = asdict(entry)
        row["attributes"] = row["attributes"][:MAX_ATTRIBUTES_CHARS]
        row.update(PartitionKey=entry.tenant, RowKey=_row_key(int(time.time() * 1000)))
        storage_call(self._table.create_entity, row)

    def recent(self, tenant_id: str, limit: int = 50) -> list[AuditEntry]:
        """The newest ``limit`` entries, newest first (one query)."""
        rows = storage_call(self._table.query_entities, "PartitionKey eq @p", parameters={"p": tenant_id},
                            results_per_page=min(limit, 1000))
        entries = []
        for row in each_row(rows):
            entries.append(AuditEntry(**{name: row.get(name, "") for name in AuditEntry.__slots__}))
            if len(entries) >= limit:
                break
        return entries

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
