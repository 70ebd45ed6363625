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
``SCIM_MAX_BODY_BYTES``                request body limit, 413 above (default 1 MiB)
``SCIM_MAX_PAGE_SIZE``                 largest ``count`` honoured (default 1000)
``SCIM_DEFAULT_PAGE_SIZE``             ``count`` when none is given (default 100)
``SCIM_STORAGE_TIMEOUT_SECONDS``       per-call storage read timeout (default 10)
``SCIM_AUTH_CACHE_SECONDS``            how long a verified token is cached (default 30)
``SCIM_EXPOSE_STORAGE_CALLS``          ``1``: add ``X-Storage-Calls`` to responses
                                       (tests and benchmarks)
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
            storage_timeout_seconds=_int("SCIM_STORAGE_TIMEOUT_SECONDS", 10),
            auth_cache_seconds=_int("SCIM_AUTH_CACHE_SECONDS", 30),
            expose_storage_calls=os.environ.get("SCIM_EXPOSE_STORAGE_CALLS") == "1",
        )
