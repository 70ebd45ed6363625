"""An optional per-tenant request rate limit (off by default).

A token bucket per tenant and process: ``rate`` requests per second with
bursts of up to one second's worth.  Above it the service answers 429 with
``Retry-After`` (RFC 6585 §4).  It is off unless
``SCIM_RATE_LIMIT_PER_SECOND`` is set because Entra handles throttling
poorly: a 429 counts as a failed operation, retried only in a later cycle,
and a job whose calls keep failing is quarantined (docs/security.md).
"""

from __future__ import annotations

import math
import threading
import time


class RateLimiter:
    """Token buckets keyed by tenant id."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self._capacity = max(1.0, rate)
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def retry_after(self, tenant_id: str) -> int:
        """0 when the request may go ahead; otherwise the seconds to wait."""
        now = time.monotonic()
        with self._lock:
            tokens, stamp = self._buckets.get(tenant_id, (self._capacity, now))
            tokens = min(self._capacity, tokens + (now - stamp) * self.rate)
            if tokens >= 1:
                self._buckets[tenant_id] = (tokens - 1, now)
                return 0
            self._buckets[tenant_id] = (tokens, now)
            return max(1, math.ceil((1 - tokens) / self.rate))
