"""The records the core and storage hand each other: a stored resource, a
membership edge, the time format of ``meta`` (RFC 7643 §3.1) and the
resource versions (``meta.version``, RFC 7644 §3.14).

A version is 20 hex digits: the microseconds since 1970 (13 digits) and 28
random bits.  Versions of one resource increase: a write that read the
resource takes a time after the version it read (:func:`new_version`), so
its change events (:mod:`shared.scim.events`) can be ordered by
``meta.version`` even when instances' clocks disagree; a write that did not
read it (a membership change) takes this instance's clock, never earlier
than its own last version.  The random part keeps two instances' versions
of the same microsecond apart.  Versions written before this scheme are
16 random hex digits; :func:`version_time` tells them apart (None).
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field

VERSION_CHARS = 20
_TIME_DIGITS = 13
_clock_lock = threading.Lock()
_last_micros = 0


@dataclass(frozen=True, slots=True)
class Member:
    """One membership edge as stored: the member's id.  (A member's
    ``display`` is readOnly in the schema: what a client sends is ignored,
    RFC 7644 §3.5.1, and none is returned, README "Deviations".)"""

    id: str


@dataclass(slots=True)
class StoredResource:
    """A resource row: its data (the SCIM attributes the client owns) and meta."""

    kind: str
    id: str
    data: dict
    created: str
    last_modified: str
    version: str
    index_keys: tuple[str, ...] = ()
    etag: str | None = None
    group_ids: list[str] | None = None
    members: list[Member] | None = field(default=None)


def now_iso() -> str:
    """The current time as RFC 3339 with milliseconds (``2018-03-27T19:59:26.000Z``)."""
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1000):03d}Z"


def version_time(version: str | None) -> int | None:
    """The microseconds a version was made at, or None for a version of the
    older, random-only form (or none)."""
    if not version or len(version) != VERSION_CHARS:
        return None
    try:
        return int(version[:_TIME_DIGITS], 16)
    except ValueError:
        return None


def new_version(after: str | None = None) -> str:
    """A fresh ``meta.version``, later than ``after`` (the version the
    writer read, when it read one) and than every version this process made."""
    global _last_micros
    floor = (version_time(after) or 0) + 1
    with _clock_lock:
        micros = max(time.time_ns() // 1000, _last_micros + 1, floor)
        _last_micros = micros
    return f"{micros:0{_TIME_DIGITS}x}{secrets.randbits(28):07x}"
