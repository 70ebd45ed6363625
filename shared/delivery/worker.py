"""Delivery right after a commit, in the committing process (best effort).

After a change commits, the web edge nudges this worker for the tenant
(:meth:`DeliveryWorker.nudge`, when the tenant pushes or the deployment
queues events); a daemon thread runs the tenant's delivery
(:meth:`~shared.delivery.dispatch.Dispatcher.deliver`) soon after, off the
request's path, and again when a failed push is due.  A run that fails
(storage failing mid-run) is tried again after :data:`RETRY_AFTER_FAILURE_SECONDS`
doubling up to :data:`MAX_RETRY_AFTER_FAILURE_SECONDS`, so delivery does not
wait for the timer (which a local dev host does not run).  Nothing depends on
it: if the process stops first, the app's timer (every minute) delivers.
"""

from __future__ import annotations

import logging
import threading
import time

from .dispatch import Dispatcher

log = logging.getLogger("scim.events")
RETRY_AFTER_FAILURE_SECONDS = 1.0
MAX_RETRY_AFTER_FAILURE_SECONDS = 60.0


class DeliveryWorker:
    """One background thread delivering nudged tenants' events."""

    def __init__(self, dispatcher: Dispatcher) -> None:
        self.dispatcher = dispatcher
        self._due: dict[str, float] = {}  # tenant -> when to run (epoch seconds)
        self._failures: dict[str, int] = {}  # tenant -> consecutive failed runs
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None

    def nudge(self, tenant_id: str) -> None:
        """Deliver ``tenant_id``'s events soon."""
        with self._changed:
            self._due[tenant_id] = time.time()
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="event-delivery", daemon=True)
                self._thread.start()
            self._changed.notify()

    def _next(self) -> str:
        with self._changed:
            while True:
                now = time.time()
                ready = [t for t, at in self._due.items() if at <= now]
                if ready:
                    del self._due[ready[0]]
                    return ready[0]
                wait = min(self._due.values()) - now if self._due else None
                self._changed.wait(wait)

    def _run(self) -> None:
        while True:
            tenant_id = self._next()
            try:
                report = self.dispatcher.deliver(tenant_id)
            except Exception:  # noqa: BLE001 - a failed run is tried again, the change stands
                failures = self._failures[tenant_id] = self._failures.get(tenant_id, 0) + 1
                retry_in = min(MAX_RETRY_AFTER_FAILURE_SECONDS, RETRY_AFTER_FAILURE_SECONDS * 2 ** (failures - 1))
                log.exception("event_delivery_failed: tried again in %g s", retry_in)
                with self._changed:
                    self._due.setdefault(tenant_id, time.time() + retry_in)
                continue
            self._failures.pop(tenant_id, None)
            if report.next_attempt is not None:
                with self._changed:
                    self._due.setdefault(tenant_id, report.next_attempt)
