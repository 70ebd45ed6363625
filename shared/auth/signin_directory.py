"""Per-tenant sign-in settings kept beside the tenant registry: the email
domains a tenant has claimed and its group-to-role map.

Rows of the tenants table (:mod:`shared.auth.tenants`):

================  =========================  =====================================
PartitionKey      RowKey                     properties
================  =========================  =====================================
``domain``        the domain, lower-cased    tenant
``role``          ``{tenant id}|{group id}``  roles (JSON list of role names)
================  =========================  =====================================

A domain names at most one tenant: an application that sends
``login_hint=alice@contoso.com`` instead of ``tenant=`` reaches the tenant
that claimed ``contoso.com`` (``scimctl tenant domains add``).

A role map gives the application role names for a group's members
(``scimctl roles map``).  Maps are read once per :data:`CACHE_SECONDS` per
tenant and process; every change is recorded in the tenant's audit trail.
"""

from __future__ import annotations

import json
import re
import threading
import time

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError

from ..scim.records import now_iso
from ..storage.audit import AuditEntry, AuditLog
from ..storage.queries import each_row
from ..storage.tables import TENANTS, Tables, storage_call

DOMAIN, ROLE = "domain", "role"
CACHE_SECONDS = 30
MAX_ROLE_CHARS = 120
# RFC 1035 §2.3.1 labels (letters, digits, hyphens), at least two of them.
_DOMAIN = re.compile(r"(?=.{3,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}")
_ROLE = re.compile(r"[^\x00-\x1f\x7f,]{1,%d}" % MAX_ROLE_CHARS)


class DirectoryError(Exception):
    """A sign-in setting that cannot be made (a bad domain, one already claimed...)."""


def normal_domain(domain: str) -> str:
    """``domain`` lower-cased and checked, or :class:`DirectoryError`."""
    value = (domain or "").strip().lower().rstrip(".")
    if not _DOMAIN.fullmatch(value):
        raise DirectoryError(f"{domain!r} is not a domain name (like contoso.com)")
    return value


def email_domain(email: str) -> str | None:
    """The domain of an email address (the part after the last ``@``), or None."""
    _, at, domain = (email or "").rpartition("@")
    if not at:
        return None
    try:
        return normal_domain(domain)
    except DirectoryError:
        return None


class SignInDirectory:
    """Domains and role maps of every tenant."""

    def __init__(self, tables: Tables, cache_seconds: int = CACHE_SECONDS) -> None:
        self._tables = tables
        self._cache_seconds = cache_seconds
        self._roles: dict[str, tuple[float, dict[str, tuple[str, ...]]]] = {}
        self._lock = threading.Lock()

    @property
    def _table(self):
        return self._tables.table(TENANTS)

    def _audit(self, tenant_id: str, actor: str, operation: str, group_id: str, role: str) -> None:
        AuditLog(self._tables).append(AuditEntry(now_iso(), tenant_id, actor, operation, "Group", group_id,
                                                 f"role={role}", "ok", ""))

    # ---------------------------------------------------------------- domains
    def add_domain(self, tenant_id: str, domain: str) -> str:
        value = normal_domain(domain)
        try:
            storage_call(self._table.create_entity, {"PartitionKey": DOMAIN, "RowKey": value, "tenant": tenant_id})
        except ResourceExistsError:
            owner = self.tenant_for_domain(value)
            if owner != tenant_id:
                raise DirectoryError(f"the domain {value} is already claimed by another tenant") from None
        return value

    def remove_domain(self, tenant_id: str, domain: str) -> None:
        value = normal_domain(domain)
        if self.tenant_for_domain(value) != tenant_id:
            raise DirectoryError(f"the tenant has not claimed {value}")
        storage_call(self._table.delete_entity, DOMAIN, value)

    def domains(self, tenant_id: str) -> list[str]:
        rows = storage_call(self._table.query_entities, "PartitionKey eq @p and tenant eq @t",
                            parameters={"p": DOMAIN, "t": tenant_id})
        return sorted(row["RowKey"] for row in each_row(rows))

    def tenant_for_domain(self, domain: str) -> str | None:
        try:
            return storage_call(self._table.get_entity, DOMAIN, domain)["tenant"]
        except ResourceNotFoundError:
            return None

    # -------------------------------------------------------------- role maps
    def map_role(self, tenant_id: str, group_id: str, role: str, actor: str) -> tuple[str, ...]:
        """Give ``group_id``'s members the role ``role``; returns the group's roles."""
        if not _ROLE.fullmatch(role or "") or role != role.strip():
            raise DirectoryError(f"a role name is 1-{MAX_ROLE_CHARS} printable characters, no comma, no surrounding spaces")
        roles = self._group_roles(tenant_id, group_id)
        if role not in roles:
            roles = (*roles, role)
            storage_call(self._table.upsert_entity, {"PartitionKey": ROLE, "RowKey": f"{tenant_id}|{group_id}",
                                                     "roles": json.dumps(roles)})
            self._audit(tenant_id, actor, "role.map", group_id, role)
        self._forget(tenant_id)
        return roles

    def unmap_role(self, tenant_id: str, group_id: str, role: str | None, actor: str) -> tuple[str, ...]:
        """Take ``role`` (every role when None) from ``group_id``'s members; returns what is left."""
        roles = self._group_roles(tenant_id, group_id)
        if role is not None and role not in roles:
            raise DirectoryError(f"the group has no role {role!r}")
        left = tuple(r for r in roles if role is not None and r != role)
        key = f"{tenant_id}|{group_id}"
        if left:
            storage_call(self._table.upsert_entity, {"PartitionKey": ROLE, "RowKey": key, "roles": json.dumps(left)})
        else:
            try:
                storage_call(self._table.delete_entity, ROLE, key)
            except ResourceNotFoundError:
                pass
        for gone in (r for r in roles if r not in left):
            self._audit(tenant_id, actor, "role.unmap", group_id, gone)
        self._forget(tenant_id)
        return left

    def _group_roles(self, tenant_id: str, group_id: str) -> tuple[str, ...]:
        try:
            row = storage_call(self._table.get_entity, ROLE, f"{tenant_id}|{group_id}")
        except ResourceNotFoundError:
            return ()
        return tuple(json.loads(row.get("roles") or "[]"))

    def role_map(self, tenant_id: str) -> dict[str, tuple[str, ...]]:
        """Group id -> role names, for one tenant (one range read, cached)."""
        with self._lock:
            cached = self._roles.get(tenant_id)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        prefix = f"{tenant_id}|"
        rows = storage_call(self._table.query_entities, "PartitionKey eq @pk and RowKey ge @lo and RowKey lt @hi",
                            parameters={"pk": ROLE, "lo": prefix, "hi": f"{tenant_id}}}"})
        found = {row["RowKey"][len(prefix):]: tuple(json.loads(row.get("roles") or "[]")) for row in each_row(rows)}
        with self._lock:
            self._roles[tenant_id] = (time.monotonic() + self._cache_seconds, found)
        return found

    def _forget(self, tenant_id: str) -> None:
        with self._lock:
            self._roles.pop(tenant_id, None)

    def forget_tenant(self, tenant_id: str) -> None:
        """Delete a tenant's domains and role maps (the tenant is being deleted)."""
        for domain in self.domains(tenant_id):
            storage_call(self._table.delete_entity, DOMAIN, domain)
        for group_id in self.role_map(tenant_id):
            storage_call(self._table.delete_entity, ROLE, f"{tenant_id}|{group_id}")
        self._forget(tenant_id)
