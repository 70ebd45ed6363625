"""Where page N of an unfiltered list starts, remembered between requests.

Table Storage has no OFFSET: ``startIndex=40001`` would mean reading 40,000
rows first.  Clients page sequentially (Entra, the validators), so when a
page is served, the key just after its last row is remembered as where the
next ``startIndex`` begins; the next request then reads only its own rows.

An entry is tied to the list's ``totalResults`` at the time: once a create or
delete changes the total, the positions recorded before no longer apply and
are not used (a fresh walk rebuilds them).  Bounded to :data:`MAX_ENTRIES`,
least recently used first out; per process, so another instance simply
starts without them.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

MAX_ENTRIES = 4096


class PagePositions:
    """An LRU map of (scope, kind, startIndex, total) → the RowKey to start at."""

    def __init__(self, capacity: int = MAX_ENTRIES) -> None:
        self._entries: OrderedDict[tuple, str] = OrderedDict()
        self._capacity = capacity
        self._lock = threading.Lock()

    def get(self, key: tuple) -> str | None:
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
            return found

    def put(self, key: tuple, row_key: str) -> None:
        with self._lock:
            self._entries[key] = row_key
            self._entries.move_to_end(key)
            while len(self._entries) > self._capacity:
                self._entries.popitem(last=False)


POSITIONS = PagePositions()
