"""Wake-ups for long polls (RFC 8936 §2.5): a change committed in this
process wakes the polls of its tenant waiting here at once; changes made by
other instances are seen at the poll's next look (every
``SCIM_EVENTS_POLL_INTERVAL_SECONDS``)."""

from __future__ import annotations

import threading


class EventSignal:
    """Per-tenant wake-ups of waiting polls, for this process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._generation: dict[str, int] = {}
        self._changed = threading.Condition(self._lock)

    def generation(self, tenant_id: str) -> int:
        """A number that changes whenever :meth:`notify` is called for the tenant."""
        with self._lock:
            return self._generation.get(tenant_id, 0)

    def notify(self, tenant_id: str) -> None:
        """A change of ``tenant_id`` committed: wake its waiting polls."""
        with self._changed:
            self._generation[tenant_id] = self._generation.get(tenant_id, 0) + 1
            self._changed.notify_all()

    def wait(self, tenant_id: str, seen: int, timeout: float) -> None:
        """Return when the tenant's generation moves past ``seen`` or after ``timeout`` seconds."""
        with self._changed:
            self._changed.wait_for(lambda: self._generation.get(tenant_id, 0) != seen, timeout)
