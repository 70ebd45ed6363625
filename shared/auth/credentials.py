"""Credentials: the bearer-token format, secret hashes, the credential record
and the cache of verified credentials.

A bearer token is ``<token id>.<secret>``: the first :data:`TOKEN_ID_LENGTH`
characters are its id, used for the lookup and shown by ``scimctl token
list``; only the SHA-256 of the whole token is stored.  Tokens and client
secrets carry 256 random bits, so a plain SHA-256 leaves nothing to
brute-force (a slow password hash would only slow down every request); the
comparison is constant-time.  The secret is printed once, at issue, and is
never stored or logged.

A verified credential is remembered in memory (:class:`CredentialCache`)
for ``SCIM_AUTH_CACHE_SECONDS`` (30 s), never past its own expiry, so
authentication costs no storage call on most requests; what that means for
a revocation, a rotation or a disabled tenant is in :mod:`shared.auth.tenants`.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone

from ..scim.endpoints import EVENTS_SCOPE, SCIM_SCOPE

TOKEN_ID_LENGTH = 12
MIN_TOKEN_LENGTH = 32
# What a credential may do: ``scim``, the SCIM resource routes (what Entra
# provisions with); ``events``, the change-event feed (RFC 8936 poll), for the
# application that consumes the changes.  One credential has one scope.
SCOPES = (SCIM_SCOPE, EVENTS_SCOPE)


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def token_id_of(token: str) -> str:
    return token[:TOKEN_ID_LENGTH]


def new_token() -> str:
    """A fresh bearer token: a 12-character id, a dot, 256 random bits (URL-safe)."""
    return f"{secrets.token_hex(TOKEN_ID_LENGTH // 2)}.{secrets.token_urlsafe(32)}"


def parse_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def format_time(moment: datetime) -> str:
    """``moment`` as RFC 3339 UTC with milliseconds (``2026-12-02T10:18:23.123Z``), the
    form :func:`~shared.scim.records.now_iso` writes, so that every stored time looks
    alike; a naive ``moment`` is taken as UTC."""
    utc = moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


@dataclass(frozen=True, slots=True)
class Credential:
    """A token or an OAuth client as listed by the CLI (never its secret)."""

    kind: str  # "token" or "client"
    id: str
    tenant: str
    created: str
    expires: str | None
    revoked: str | None
    scope: str = SCIM_SCOPE

    @classmethod
    def from_row(cls, row) -> "Credential":
        return cls(row["PartitionKey"], row["RowKey"], row["tenant"], row.get("created", ""),
                   row.get("expires") or None, row.get("revoked") or None, row.get("scope") or SCIM_SCOPE)

    def active(self, at: datetime | None = None) -> bool:
        if self.revoked:
            return False
        expires = parse_time(self.expires)
        return expires is None or expires > (at or datetime.now(timezone.utc))


class CredentialCache:
    """A small time-bounded cache of verified credentials: an entry lives
    ``seconds`` at most, and never past the credential's own expiry."""

    def __init__(self, seconds: float) -> None:
        self._seconds = seconds
        self._items: dict[tuple, tuple[object, float]] = {}
        self._lock = threading.Lock()

    def get(self, key: tuple):
        with self._lock:
            hit = self._items.get(key)
        return hit[0] if hit and hit[1] > time.monotonic() else None

    def put(self, key: tuple, value, expires: datetime | None = None) -> None:
        lifetime = self._seconds
        if expires is not None:
            lifetime = min(lifetime, (expires - datetime.now(timezone.utc)).total_seconds())
        if lifetime > 0:
            with self._lock:
                if len(self._items) > 10_000:
                    self._items.clear()
                self._items[key] = (value, time.monotonic() + lifetime)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

