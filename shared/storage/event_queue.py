"""The deployment's Storage Queue of change events, for an application
backend in Azure that consumes them with a queue trigger.

With ``SCIM_EVENTS_QUEUE`` set (a queue name), every SET is also put on that
queue (:mod:`shared.delivery.dispatch`), created on first use: in Azure on
``SCIM_STORAGE_QUEUE_ENDPOINT`` with the app's managed identity (the role
"Storage Queue Data Message Sender", no keys), locally on Azurite's Queue
service through the connection string's ``QueueEndpoint``.

A message is the SET itself, Base64-encoded as the Functions queue trigger
expects by default.  A queue message holds at most 64 KiB
(https://learn.microsoft.com/azure/storage/queues/storage-queues-introduction),
so 48 KiB of SET before Base64; a larger (``full``) SET goes as its notice
form, the same ``jti``, ``txn`` and version, which the consumer can follow
with a GET of the resource.
"""

from __future__ import annotations

import threading

from ..config import Settings
from .tables import client_options, storage_call

MAX_MESSAGE_CHARS = 48 * 1024


class EventQueue:
    """Puts SETs on the deployment's event queue (one client per process)."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._client = None
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return self._settings.events_queue

    def _queue(self):
        with self._lock:
            if self._client is None:
                self._client = self._build()
                try:
                    storage_call(self._client.create_queue)
                except Exception as exc:  # noqa: BLE001 - the queue exists already (409): fine
                    if getattr(exc, "status_code", None) != 409:
                        self._client = None
                        raise
        return self._client

    def _build(self):
        from azure.storage.queue import QueueClient, TextBase64EncodePolicy

        options = {**client_options(self._settings), "message_encode_policy": TextBase64EncodePolicy()}
        settings = self._settings
        if settings.connection_string:
            return QueueClient.from_connection_string(settings.connection_string, settings.events_queue, **options)
        if settings.queue_endpoint:
            from azure.identity import DefaultAzureCredential

            return QueueClient(settings.queue_endpoint, settings.events_queue, credential=DefaultAzureCredential(), **options)
        raise RuntimeError("SCIM_EVENTS_QUEUE is set but no queue storage is: set SCIM_STORAGE_QUEUE_ENDPOINT")

    def put(self, message: str) -> None:
        """Put one SET on the queue (:class:`StorageUnavailable` on an outage)."""
        storage_call(self._queue().send_message, message)
