"""Delivery right after a commit, in the committing process (best effort).

After a change commits, the web edge nudges this worker for the tenant
(:meth:`DeliveryWorker.nudge`, when the tenant pushes or the deployment
queues events); a daemon thread runs the tenant's delivery
(:meth:`~shared.delivery.dispatch.Dispatcher.deliver`) soon after, off the
request's path, and again when a failed push is due.  Nothing depends on it:
if the process stops first, the app's timer (every minute) delivers.
"""

from __future__ import annotations

import logging
import threading
import time

from .dispatch import Dispatcher

log = logging.getLogger("scim.events")


class DeliveryWorker:
    """One background thread delivering nudged tenants' events."""

    def __init__(self, dispatcher: Dispatcher) -> None:
        self.dispatcher = dispatcher
        self._due: dict[str, float] = {}  # tenant -> when to run (epoch seconds)
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
            except Exception:  # noqa: BLE001 - the timer delivers what this run could not
                log.exception("event_delivery_failed: the timer delivers what this run could not")
                continue
            if report.next_attempt is not None:
                with self._changed:
                    self._due.setdefault(tenant_id, report.next_attempt)
