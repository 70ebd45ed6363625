"""The storage-call counter: an azure-core pipeline hook, not a timer.

The Tables SDK's pipeline runs ``raw_request_hook`` (azure-core's
``CustomHookPolicy``) after its retry policy, so every HTTP request it sends,
retries included, passes :func:`count_storage_call`, which increments the
counter of the current context, so a test or a benchmark can assert how many
round trips one SCIM request cost.  The service opens a counting scope per
request (:func:`counting`); requests are served on their own thread, and
context variables keep concurrent requests apart.
"""

from __future__ import annotations

import contextlib
from contextvars import ContextVar

_calls: ContextVar[list[int] | None] = ContextVar("storage_calls", default=None)


def count_storage_call(_request) -> None:
    """``raw_request_hook``: count one outgoing storage request into the active scope."""
    box = _calls.get()
    if box is not None:
        box[0] += 1


@contextlib.contextmanager
def counting():
    """A scope whose storage calls are counted; yields a one-item list."""
    box = [0]
    token = _calls.set(box)
    try:
        yield box
    finally:
        _calls.reset(token)
