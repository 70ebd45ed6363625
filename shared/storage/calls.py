"""The storage-call counter: an azure-core pipeline hook, not a timer.

The Tables SDK's pipeline runs ``raw_request_hook`` (azure-core's
``CustomHookPolicy``) after its retry policy, so every HTTP request it sends,
retries included, passes :func:`count_storage_call`, which increments the
counter of the current context, so a test or a benchmark can assert how many
round trips one SCIM request cost.  The service opens a counting scope per
request (:func:`counting`); requests are served on their own thread, and
context variables keep concurrent requests apart.

The same hooks are where tests inject faults (:func:`failing_after`,
docs/reliability.md "Crash consistency"): a crash of the process after its
Nth storage call looks, from storage, exactly like every later call never
being sent; a timeout after storage acted is a call whose answer is lost
(``raw_response_hook``, :func:`drop_lost_answer`).
"""

from __future__ import annotations

import contextlib
import threading
import uuid
from collections.abc import Iterator
from contextvars import ContextVar

from azure.core.exceptions import ClientAuthenticationError

_calls: ContextVar[list[int] | None] = ContextVar("storage_calls", default=None)

#: The header azure-core's ``RequestIdPolicy`` sets on every storage request.
CLIENT_REQUEST_ID = "x-ms-client-request-id"


def client_request_id() -> dict[str, str]:
    """A fresh ``x-ms-client-request-id`` header (a random UUID), for the
    requests the lean paths build (:mod:`shared.storage.changesets`,
    :mod:`shared.storage.entity_reads`).  Present before the pipeline runs,
    it is the one ``RequestIdPolicy`` sends, instead of the ``uuid1`` the
    policy would make: libuuid's time-based generator, 9 us of CPU a call
    here and 1.4 % of the app's profile in the Entra cycle
    (docs/performance.md)."""
    return {CLIENT_REQUEST_ID: str(uuid.uuid4())}


class InjectedFault(ClientAuthenticationError):
    """The failure :func:`failing_after` injects.  A ``ClientAuthenticationError``
    because that is the one ``AzureError`` azure-core's retry policy never
    retries (so an injected fault costs no back-off); :func:`shared.storage.tables.storage_call`
    maps it, like any failure without a response, to ``StorageUnavailable``."""


class FaultPlan:
    """Let ``calls`` storage requests through, then fail every later one.
    With ``lose_answer`` the first request past the limit is still sent --
    storage acts on it -- and only its answer is lost (a timeout after the
    commit); the ones after it fail before they are sent."""

    def __init__(self, calls: int, lose_answer: bool = False) -> None:
        self.remaining = calls
        self.lose_answer = lose_answer
        self.tripped = False
        self._lock = threading.Lock()

    def before_send(self, request) -> None:
        with self._lock:
            if self.remaining > 0:
                self.remaining -= 1
                return
            self.tripped = True
            if self.lose_answer:
                self.lose_answer = False
                request.context[_LOSE_ANSWER] = True
                return
        raise InjectedFault("injected fault: storage call refused by the test's fault plan")


_LOSE_ANSWER = "scim_lose_answer"
_fault: FaultPlan | None = None


def count_storage_call(request) -> None:
    """``raw_request_hook``: count one outgoing storage request into the active
    scope, and fail it if a :func:`failing_after` plan says so."""
    box = _calls.get()
    if box is not None:
        box[0] += 1
    plan = _fault
    if plan is not None:
        plan.before_send(request)


def drop_lost_answer(response) -> None:
    """``raw_response_hook``: lose the answer a :class:`FaultPlan` marked as lost."""
    if response.context.get(_LOSE_ANSWER):
        raise InjectedFault("injected fault: the storage answer was lost after storage acted")


@contextlib.contextmanager
def counting():
    """A scope whose storage calls are counted; yields a one-item list."""
    box = [0]
    token = _calls.set(box)
    try:
        yield box
    finally:
        _calls.reset(token)


@contextlib.contextmanager
def failing_after(calls: int, lose_answer: bool = False) -> Iterator[FaultPlan]:
    """Test-only fault injection, process-wide: the next ``calls`` storage
    requests (any thread) are sent, every later one fails (see
    :class:`FaultPlan` for ``lose_answer``), until the scope ends.
    ``plan.tripped`` tells whether a request failed."""
    global _fault
    plan = FaultPlan(calls, lose_answer)
    _fault = plan
    try:
        yield plan
    finally:
        _fault = None
