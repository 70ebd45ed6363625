"""How many Users and Groups a tenant has, without a scan.

Table Storage has no COUNT, so ``totalResults`` of an unfiltered list would
mean reading the whole partition.  Instead every create and delete adjusts
one of :data:`SHARDS` counter rows (``{kind}!{shard}``) in the *same*
entity-group transaction as the resource row: the count is exact, a crash
can never leave it off by one, and a total is one range read of at most
:data:`SHARDS` rows -- the same read that returns the first page, since the
shards sort just before the resources.

A counter changes by a MERGE conditioned on the row's ETag.  This process
remembers each shard's last value and ETag and lets one request at a time
use a shard (a non-blocking lock; a request takes any free shard), so the
requests of one instance never collide and need no read before writing.  A
collision with another instance shows as 412 on the counter row: the shard
is re-read and the transaction retried.
"""

from __future__ import annotations

import contextlib
import random
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

SHARDS = 16


@dataclass
class Shard:
    """This process's knowledge of one counter row."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    known: bool = False
    value: int = 0
    etag: str | None = None


class CounterShards:
    """Process-wide shard state, keyed by (table, tenant, kind, shard)."""

    def __init__(self) -> None:
        self._shards: dict[tuple, Shard] = {}
        self._guard = threading.Lock()

    def _shard(self, key: tuple) -> Shard:
        with self._guard:
            return self._shards.setdefault(key, Shard())

    @contextlib.contextmanager
    def claim(self, scope: tuple) -> Iterator[tuple[int, Shard]]:
        """A shard of ``scope`` held by this request alone: a free one if any."""
        first = random.randrange(SHARDS)
        for step in range(SHARDS):
            index = (first + step) % SHARDS
            shard = self._shard((*scope, index))
            if shard.lock.acquire(blocking=False):
                try:
                    yield index, shard
                finally:
                    shard.lock.release()
                return
        shard = self._shard((*scope, first))
        with shard.lock:
            yield first, shard


COUNTERS = CounterShards()
