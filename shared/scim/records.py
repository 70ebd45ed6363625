"""The records the core and storage hand each other: a stored resource, a
membership edge, and the time format of ``meta`` (RFC 7643 §3.1)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Member:
    """One membership edge as stored: the member's id and a client display."""

    id: str
    display: str | None = None


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
