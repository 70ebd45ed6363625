"""Where page N of an unfiltered list starts, remembered between requests.

Table Storage has no OFFSET: ``startIndex=40001`` would mean reading 40,000
rows first.  Clients page sequentially (Entra, the validators), so when a
page is served, the key just after its last row is remembered -- with the
``totalResults`` reported for it -- as where the next ``startIndex`` begins.
The next request then costs one range read of its own rows: no counter
read, no rows before it.

A walk therefore sees a consistent continuation (no row twice, none
skipped because something was inserted before it) and the total reported
when it started.  The snapshot is bounded: an entry is used for at most
:data:`MAX_AGE_SECONDS` after it was recorded (each page records the next,
so a walk can last as long as it needs), and a create or delete made by
this process retires the positions of that list at once.  Another
instance's writes show within that bound, like the authentication cache.
Bounded to :data:`MAX_ENTRIES`, least recently used first out; per process,
so another instance simply starts without them.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, defaultdict
from typing import NamedTuple

MAX_ENTRIES = 4096
MAX_AGE_SECONDS = 30.0


class Position(NamedTuple):
    row_key: str
    total: int


class PagePositions:
    """An LRU map of (scope, kind, startIndex) → where that page starts and the total."""

    def __init__(self, capacity: int = MAX_ENTRIES, max_age: float = MAX_AGE_SECONDS) -> None:
        self._entries: OrderedDict[tuple, tuple[Position, float, int]] = OrderedDict()
        self._generations: defaultdict[tuple, int] = defaultdict(int)
        self._capacity = capacity
        self._max_age = max_age
        self._lock = threading.Lock()

    def get(self, scope: tuple, kind: str, start: int) -> Position | None:
        key = (*scope, kind, start)
        with self._lock:
            found = self._entries.get(key)
            if found is None:
                return None
            position, recorded, generation = found
            if generation != self._generations[(*scope, kind)] or time.monotonic() - recorded > self._max_age:
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return position

    def put(self, scope: tuple, kind: str, start: int, position: Position) -> None:
        key = (*scope, kind, start)
        with self._lock:
            self._entries[key] = (position, time.monotonic(), self._generations[(*scope, kind)])
            self._entries.move_to_end(key)
            while len(self._entries) > self._capacity:
                self._entries.popitem(last=False)

    def changed(self, scope: tuple, kind: str) -> None:
        """A resource of ``kind`` was created or deleted: retire its positions."""
        with self._lock:
            self._generations[(*scope, kind)] += 1


POSITIONS = PagePositions()
