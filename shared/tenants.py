"""The tenant registry and bearer-token verification.

Tenants and tokens live in their own table, apart from SCIM data:

* ``PartitionKey="tenant"``, ``RowKey=<tenant id>``: name, created, disabled;
* ``PartitionKey="token"``, ``RowKey=<SHA-256 of the token>``: the tenant id.

Tokens are 256-bit random strings, so a plain SHA-256 is a sound way to
store them (nothing to brute-force); the token itself is never stored or
logged.  A verified token is cached in memory for ``SCIM_AUTH_CACHE_SECONDS``
(30 s) so that authentication costs no storage call on most requests;
disabling a tenant or revoking a token therefore takes effect within that
bound.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
import uuid

from azure.core.exceptions import ResourceNotFoundError

from .table_store import now_iso
from .tables import TENANTS, Tables, storage_call

_TENANT = "tenant"
_TOKEN = "token"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    """A fresh bearer token: 256 bits, URL-safe."""
    return secrets.token_urlsafe(32)


class TenantRegistry:
    """Create tenants, register tokens, resolve a token to its tenant."""

    def __init__(self, tables: Tables, cache_seconds: int = 30) -> None:
        self._tables = tables
        self._cache_seconds = cache_seconds
        self._cache: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()

    @property
    def _table(self):
        return self._tables.table(TENANTS)

    def create_tenant(self, name: str) -> str:
        tenant_id = uuid.uuid4().hex
        self._table.create_entity({"PartitionKey": _TENANT, "RowKey": tenant_id, "name": name, "created": now_iso(), "disabled": False})
        return tenant_id

    def find_tenant(self, name: str) -> str | None:
        rows = self._table.query_entities("PartitionKey eq @p and name eq @n", parameters={"p": _TENANT, "n": name})
        for row in rows:
            return row["RowKey"]
        return None

    def add_token(self, tenant_id: str, token: str) -> None:
        self._table.upsert_entity({"PartitionKey": _TOKEN, "RowKey": token_hash(token), "tenant": tenant_id, "created": now_iso()})

    def tenant_for_token(self, token: str) -> str | None:
        """The id of the enabled tenant this token belongs to, or None."""
        digest = token_hash(token)
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(digest)
        if hit and hit[1] > now:
            return hit[0]
        tenant_id = self._lookup(digest)
        if tenant_id is not None:
            with self._lock:
                self._cache[digest] = (tenant_id, now + self._cache_seconds)
        return tenant_id

    def _lookup(self, digest: str) -> str | None:
        try:
            row = storage_call(self._table.get_entity, _TOKEN, digest)
            tenant = storage_call(self._table.get_entity, _TENANT, row["tenant"])
        except ResourceNotFoundError:
            return None
        return None if tenant.get("disabled") else tenant["RowKey"]
