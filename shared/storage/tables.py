"""Table Storage clients, built once per process and reused.

One ``TableServiceClient`` (one connection pool) serves every request.  The
transport ignores proxy environment variables (``use_env_settings=False``):
azure-core otherwise looks them up on every request, which costs more than
Azurite's own work per call; for the same reason the user agent is not
extended from ``AZURE_HTTP_USER_AGENT`` (``user_agent_use_env=False``),
which azure-core would otherwise read from the environment on every
request.  Timeouts and retries are deliberate: a connect timeout of 3 s, a
read timeout of ``SCIM_STORAGE_TIMEOUT_SECONDS`` (10 s) and at most 2
retries with short back-off, so a request facing a storage outage answers
503 within about half a minute, well inside Entra's 60 s limit, instead of
hanging.  Tables are created on first use.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from azure.core.exceptions import (
    AzureError,
    HttpResponseError,
    ResourceExistsError,
    ResourceNotFoundError,
)

from ..config import Settings
from .calls import count_storage_call, drop_lost_answer
from . import changesets, entity_reads
from . import header_parsing
from .outcomes import StorageUnavailable

if TYPE_CHECKING:
    from azure.core.paging import ItemPaged
    from azure.data.tables import TableClient, TableEntity

RESOURCES = "resources"
TENANTS = "tenants"
AUDIT = "audit"
SIGNIN = "signin"


def storage_call(fn, *args, **kwargs):
    """Run one SDK call, mapping outages (timeouts, refused connections, 5xx,
    throttling) to :class:`StorageUnavailable`; answers the caller must
    handle (not found, exists, transaction failures) pass through."""
    from azure.data.tables import TableTransactionError

    try:
        return fn(*args, **kwargs)
    except (ResourceNotFoundError, ResourceExistsError, TableTransactionError):
        raise
    except HttpResponseError as exc:
        if exc.status_code is None or exc.status_code in (408, 429) or exc.status_code >= 500:
            raise StorageUnavailable(str(exc.reason or exc.status_code)) from exc
        raise
    except AzureError as exc:
        raise StorageUnavailable(type(exc).__name__) from exc


def client_options(settings: Settings) -> dict:
    """The azure-core options of every storage client (tables and the event
    queue): the lean transport (:mod:`shared.storage.transport`) without
    proxy look-ups, the timeouts and retries
    of this module's docstring, the storage-call counter's hooks.  Installs
    the lean header parsing of :mod:`shared.storage.header_parsing`."""
    from .transport import LeanRequestsTransport

    header_parsing.install()
    return dict(
        transport=LeanRequestsTransport(use_env_settings=False, connection_timeout=3, read_timeout=settings.storage_timeout_seconds),
        user_agent_use_env=False,  # AZURE_HTTP_USER_AGENT, read on every request otherwise
        raw_request_hook=count_storage_call,
        raw_response_hook=drop_lost_answer,
        retry_total=2,
        retry_backoff_factor=0.2,
        retry_backoff_max=2,
    )


class LeanTableClient:
    """A ``TableClient`` whose ``submit_transaction`` is :func:`shared.storage.changesets.submit_transaction`
    and whose reads, ``get_entity`` and ``query_entities``, are those of
    :mod:`shared.storage.entity_reads`, with one read of its own,
    ``entity_or_none``; every other attribute is the SDK client's own.  :class:`Tables` hands these out, so
    every transaction and every read of the app takes the lean path while
    its callers keep the SDK's interface (and a test's in-memory table
    stays a drop-in)."""

    def __init__(self, client: TableClient) -> None:
        self.sdk_client = client

    def __getattr__(self, name: str):
        return getattr(self.sdk_client, name)

    def submit_transaction(self, operations) -> list[dict]:
        """``TableClient.submit_transaction``, on the lean path."""
        return changesets.submit_transaction(self.sdk_client, operations)

    def get_entity(self, partition_key: str, row_key: str, **kwargs) -> TableEntity:
        """``TableClient.get_entity``, on the lean path."""
        return entity_reads.get_entity(self.sdk_client, partition_key, row_key, **kwargs)

    def entity_or_none(self, partition_key: str, row_key: str, *, select=None) -> TableEntity | None:
        """``get_entity``, ``None`` for an absent entity, on the lean path."""
        return entity_reads.entity_or_none(self.sdk_client, partition_key, row_key, select=select)

    def query_entities(self, query_filter: str, **kwargs) -> ItemPaged:
        """``TableClient.query_entities``, on the lean path: a lazy pager."""
        return entity_reads.entities(self.sdk_client, query_filter, **kwargs)


class Tables:
    """Lazily built, memoised table clients for the app's tables: the SDK's
    ``TableClient``, its transactions and reads on the lean paths (:class:`LeanTableClient`)."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._service = None
        self._clients: dict[str, object] = {}
        self._lock = threading.Lock()

    def _build_service(self):
        from azure.data.tables import TableServiceClient

        options = client_options(self._settings)
        settings = self._settings
        if settings.connection_string:
            return TableServiceClient.from_connection_string(settings.connection_string, **options)
        if settings.table_endpoint:
            from azure.identity import DefaultAzureCredential

            return TableServiceClient(endpoint=settings.table_endpoint, credential=DefaultAzureCredential(), **options)
        raise RuntimeError(
            "no storage configured: set SCIM_STORAGE_CONNECTION_STRING or SCIM_STORAGE_TABLE_ENDPOINT"
        )

    def table(self, name: str):
        """The client of table ``<prefix><name>``, creating the table the first time."""
        client = self._clients.get(name)
        if client is not None:
            return client
        with self._lock:
            client = self._clients.get(name)
            if client is None:
                if self._service is None:
                    self._service = self._build_service()
                full_name = self._settings.table_prefix + name
                client = LeanTableClient(storage_call(self._service.create_table_if_not_exists, full_name))
                self._clients[name] = client
        return client
