"""The storage-call counter: an azure-core pipeline hook, not a timer.

The Tables SDK's pipeline runs ``raw_request_hook`` (azure-core's
``CustomHookPolicy``) after its retry policy, so every HTTP request it sends,
retries included, passes :func:`count_storage_call`, which increments the
counter of the current context, so a test or a benchmark can assert how many
round trips one SCIM request cost.  The service opens a counting scope per
request (:func:`counting`); requests are served on their own thread, and
context variables keep concurrent requests apart.

The same hook is where tests inject faults (:func:`failing_after`,
docs/reliability.md "Crash consistency"): a crash of the process after its
Nth storage call looks, from storage, exactly like every later call never
being sent.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from contextvars import ContextVar

from azure.core.exceptions import ClientAuthenticationError

_calls: ContextVar[list[int] | None] = ContextVar("storage_calls", default=None)


class InjectedFault(ClientAuthenticationError):
    """The failure :func:`failing_after` injects.  A ``ClientAuthenticationError``
    because that is the one ``AzureError`` azure-core's retry policy never
    retries (so an injected fault costs no back-off); :func:`shared.tables.storage_call`
    maps it, like any failure without a response, to ``StorageUnavailable``."""


class FaultPlan:
    """Let ``calls`` storage requests through, then fail every later one."""

    def __init__(self, calls: int) -> None:
        self.remaining = calls
        self.tripped = False
        self._lock = threading.Lock()

    def check(self) -> None:
        with self._lock:
            if self.remaining <= 0:
                self.tripped = True
                raise InjectedFault("injected fault: storage call refused by the test's fault plan")
            self.remaining -= 1


_fault: FaultPlan | None = None


def count_storage_call(_request) -> None:
    """``raw_request_hook``: count one outgoing storage request into the active
    scope, and fail it if a :func:`failing_after` plan says so."""
    box = _calls.get()
    if box is not None:
        box[0] += 1
    plan = _fault
    if plan is not None:
        plan.check()


@contextlib.contextmanager
def failing_after(calls: int) -> Iterator[FaultPlan]:
    """Test-only fault injection, process-wide: the next ``calls`` storage
    requests (any thread) are sent, every later one fails before it is sent,
    until the scope ends.  ``plan.tripped`` tells whether a request failed."""
    global _fault
    plan = FaultPlan(calls)
    _fault = plan
    try:
        yield plan
    finally:
        _fault = None


@contextlib.contextmanager
def counting():
    """A scope whose storage calls are counted; yields a one-item list."""
    box = [0]
    token = _calls.set(box)
    try:
        yield box
    finally:
        _calls.reset(token)
