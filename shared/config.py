"""Settings read from the environment (app settings in Azure).

=====================================  =================================================
Variable                               Meaning
=====================================  =================================================
``SCIM_STORAGE_CONNECTION_STRING``     Azurite or a storage connection string (local)
``SCIM_STORAGE_TABLE_ENDPOINT``        ``https://<account>.table.core.windows.net`` --
                                       used with ``DefaultAzureCredential`` (managed
                                       identity) when no connection string is set
``SCIM_TABLE_PREFIX``                  prefix of the table names (default ``scim``)
``SCIM_PUBLIC_BASE_URL``               absolute SCIM base URL for ``meta.location``
                                       (default: taken from each request)
``SCIM_TRUST_FORWARDED_HEADERS``       ``1``: take the host and scheme of that URL from
                                       ``X-Forwarded-Host``/``X-Forwarded-Proto`` (behind
                                       a proxy or tunnel that sets them); default: ignored
``SCIM_MAX_BODY_BYTES``                request body limit, 413 above (default 1 MiB)
``SCIM_BULK_MAX_OPERATIONS``           most operations in one ``POST /Bulk`` (RFC 7644
                                       §3.7.4), 413 above (default 100)
``SCIM_MAX_PAGE_SIZE``                 largest ``count`` honoured (default 1000)
``SCIM_DEFAULT_PAGE_SIZE``             ``count`` when none is given (default 100)
``SCIM_CURSOR_TIMEOUT_SECONDS``        how long a pagination cursor (RFC 9865) stays
                                       valid (default 3600)
``SCIM_STORAGE_TIMEOUT_SECONDS``       per-call storage read timeout (default 10)
``SCIM_AUTH_CACHE_SECONDS``            how long a verified token is cached (default 30)
``SCIM_EXPOSE_STORAGE_CALLS``          ``1``: add ``X-Storage-Calls`` to responses
                                       (tests and benchmarks)
``SCIM_TOKEN_SIGNING_KEY``             PEM RSA private key (>= 2048 bits) signing the
                                       OAuth access tokens; in Azure a Key Vault
                                       reference.  Unset: ``/oauth/token`` is off
``SCIM_TOKEN_SIGNING_KEY_PREVIOUS``    during a key rotation, the key it replaces (PEM):
                                       still verifies and is still published
                                       (:mod:`shared.auth.signing_keys`)
``SCIM_OAUTH_TOKEN_MINUTES``           OAuth access-token lifetime, 60-360 (default 60)
``SCIM_ENTRA_AUDIENCES``               comma-separated extra ``aud`` values accepted in
                                       Entra-issued JWTs (gallery application ids)
``SCIM_AUDIT_RETENTION_DAYS``          days audit entries and change events (the audit
                                       of the changes) are kept (default 90)
``SCIM_RATE_LIMIT_PER_SECOND``         per-tenant request rate answered 429 above
                                       (default 0: off; see docs/security.md)
``SCIM_EVENTS_QUEUE``                  name of the Storage Queue every change event is
                                       also put on (default: none, off)
``SCIM_STORAGE_QUEUE_ENDPOINT``        ``https://<account>.queue.core.windows.net``, with
                                       the managed identity (no connection string)
``SCIM_EVENTS_PUSH_RETRY_SECONDS``     how long a push keeps being retried before the
                                       event is parked (default 86400: one day)
``SCIM_EVENTS_PUSH_TIMEOUT_SECONDS``   how long a push waits for the receiver's answer
                                       (default 10)
``SCIM_EVENTS_POLL_WAIT_SECONDS``      longest a poll without ``returnImmediately``
                                       waits for events (default 20)
``SCIM_EVENTS_POLL_INTERVAL_SECONDS``  how often a waiting poll looks again (default 1)
``SCIM_SIGNIN_CLIENT_ID``              application (client) id of the deployment's
                                       multi-tenant Entra app registration; unset: sign-in
                                       is off (:mod:`shared.signin`)
``SCIM_SIGNIN_CLIENT_SECRET``          its client secret (local runs); unset: the managed
                                       identity as a federated credential (Azure)
``SCIM_SIGNIN_MANAGED_IDENTITY_CLIENT_ID``  the user-assigned managed identity to use for
                                       that (default: the system-assigned one)
``SCIM_RUN_DIR``                       ``scimctl`` and ``make run`` only: make run's folder
                                       (default ``.local`` in the repository)
``SCIM_SIGNIN_AUTHORITY``              the Entra authority (default
                                       ``https://login.microsoftonline.com``; tests: a
                                       local provider, http on loopback only)
=====================================  =================================================
"""

from __future__ import annotations

import os
from dataclasses import dataclass


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    return int(raw) if raw else default


@dataclass(frozen=True, slots=True)
class Settings:
    connection_string: str | None
    table_endpoint: str | None
    table_prefix: str
    public_base_url: str | None
    max_body_bytes: int
    max_page_size: int
    default_page_size: int
    storage_timeout_seconds: int
    auth_cache_seconds: int
    expose_storage_calls: bool
    token_signing_key: str | None = None
    oauth_token_minutes: int = 60
    entra_audiences: tuple[str, ...] = ()
    audit_retention_days: int = 90
    rate_limit_per_second: float = 0.0
    trust_forwarded_headers: bool = False
    token_signing_key_previous: str | None = None
    cursor_timeout_seconds: int = 3600
    events_poll_wait_seconds: int = 20
    events_poll_interval_seconds: float = 1.0
    events_queue: str = ""
    queue_endpoint: str | None = None
    events_push_retry_seconds: int = 86400
    events_push_timeout_seconds: float = 10.0
    signin_client_id: str | None = None
    signin_client_secret: str | None = None
    signin_managed_identity_client_id: str | None = None
    signin_authority: str | None = None
    bulk_max_operations: int = 100

    @classmethod
    def from_env(cls) -> "Settings":
        return cls(
            connection_string=os.environ.get("SCIM_STORAGE_CONNECTION_STRING") or None,
            table_endpoint=os.environ.get("SCIM_STORAGE_TABLE_ENDPOINT") or None,
            table_prefix=os.environ.get("SCIM_TABLE_PREFIX", "scim"),
            public_base_url=(os.environ.get("SCIM_PUBLIC_BASE_URL") or "").rstrip("/") or None,
            max_body_bytes=_int("SCIM_MAX_BODY_BYTES", 1024 * 1024),
            max_page_size=_int("SCIM_MAX_PAGE_SIZE", 1000),
            default_page_size=_int("SCIM_DEFAULT_PAGE_SIZE", 100),
            cursor_timeout_seconds=_int("SCIM_CURSOR_TIMEOUT_SECONDS", 3600),
            storage_timeout_seconds=_int("SCIM_STORAGE_TIMEOUT_SECONDS", 10),
            auth_cache_seconds=_int("SCIM_AUTH_CACHE_SECONDS", 30),
            expose_storage_calls=os.environ.get("SCIM_EXPOSE_STORAGE_CALLS") == "1",
            token_signing_key=os.environ.get("SCIM_TOKEN_SIGNING_KEY") or None,
            oauth_token_minutes=_int("SCIM_OAUTH_TOKEN_MINUTES", 60),
            entra_audiences=tuple(a.strip() for a in os.environ.get("SCIM_ENTRA_AUDIENCES", "").split(",") if a.strip()),
            audit_retention_days=_int("SCIM_AUDIT_RETENTION_DAYS", 90),
            rate_limit_per_second=float(os.environ.get("SCIM_RATE_LIMIT_PER_SECOND", "").strip() or 0),
            trust_forwarded_headers=os.environ.get("SCIM_TRUST_FORWARDED_HEADERS") == "1",
            token_signing_key_previous=os.environ.get("SCIM_TOKEN_SIGNING_KEY_PREVIOUS") or None,
            events_poll_wait_seconds=_int("SCIM_EVENTS_POLL_WAIT_SECONDS", 20),
            events_poll_interval_seconds=float(os.environ.get("SCIM_EVENTS_POLL_INTERVAL_SECONDS", "").strip() or 1),
            events_queue=os.environ.get("SCIM_EVENTS_QUEUE", "").strip(),
            queue_endpoint=os.environ.get("SCIM_STORAGE_QUEUE_ENDPOINT") or None,
            events_push_retry_seconds=_int("SCIM_EVENTS_PUSH_RETRY_SECONDS", 86400),
            events_push_timeout_seconds=float(os.environ.get("SCIM_EVENTS_PUSH_TIMEOUT_SECONDS", "").strip() or 10),
            signin_client_id=os.environ.get("SCIM_SIGNIN_CLIENT_ID", "").strip() or None,
            signin_client_secret=os.environ.get("SCIM_SIGNIN_CLIENT_SECRET") or None,
            signin_managed_identity_client_id=os.environ.get("SCIM_SIGNIN_MANAGED_IDENTITY_CLIENT_ID", "").strip() or None,
            signin_authority=os.environ.get("SCIM_SIGNIN_AUTHORITY", "").strip() or None,
            bulk_max_operations=_int("SCIM_BULK_MAX_OPERATIONS", 100),
        )
