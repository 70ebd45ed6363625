"""Where page N of an unfiltered list starts, remembered between requests.

Table Storage has no OFFSET: ``startIndex=40001`` would mean reading 40,000
rows first.  Clients page sequentially (Entra, the validators), so when a
page is served, the key just after its last row is remembered -- with the
``totalResults`` reported for it and the *version* of the list's counter
shards (:mod:`shared.storage.counters`) -- as where the next ``startIndex`` begins.
The next request reads the counter shards (one small range read) and, when
their version is the one remembered, only its own rows: two reads however
deep the page.

The version makes a remembered position exact on any number of instances:
every create and delete of a kind rewrites one of its counter shards in the
same transaction, on whichever instance it runs, so an unchanged version
means the list is the one the position was measured on, and the page is
exactly what an offset scan would return.  After any change a position is
not used; the page is served the long way (the rows before it are read)
and records fresh positions.  So what a client sees never depends on which
instance served the previous page (docs/reliability.md, "Many instances");
only the cost does: a page whose predecessor another instance served costs
the counters plus every row up to it.

Entries are bounded to :data:`MAX_ENTRIES`, least recently used first out,
and live :data:`MAX_AGE_SECONDS` after they were recorded (each page records
the next, so a walk can last as long as it needs).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import NamedTuple

MAX_ENTRIES = 4096
MAX_AGE_SECONDS = 30.0


class Position(NamedTuple):
    """Where a page starts (the first row key at or after it), the total
    reported with the page before, and the counters' version then."""

    row_key: str
    total: int
    version: tuple


class PagePositions:
    """An LRU map of (scope, kind, startIndex) → :class:`Position`."""

    def __init__(self, capacity: int = MAX_ENTRIES, max_age: float = MAX_AGE_SECONDS) -> None:
        self._entries: OrderedDict[tuple, tuple[Position, float]] = OrderedDict()
        self._capacity = capacity
        self._max_age = max_age
        self._lock = threading.Lock()

    def get(self, scope: tuple, kind: str, start: int) -> Position | None:
        key = (*scope, kind, start)
        with self._lock:
            found = self._entries.get(key)
            if found is None:
                return None
            position, recorded = found
            if time.monotonic() - recorded > self._max_age:
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return position

    def put(self, scope: tuple, kind: str, start: int, position: Position) -> None:
        key = (*scope, kind, start)
        with self._lock:
            self._entries[key] = (position, time.monotonic())
            self._entries.move_to_end(key)
            while len(self._entries) > self._capacity:
                self._entries.popitem(last=False)


POSITIONS = PagePositions()
