"""Loopback throughput of the dev host itself (``devhost``).

``--threads`` keep-alive clients (:class:`bench.harness.ClientPool`) send
``GET /ServiceProviderConfig`` with the tenant's token: a request that, once
the token's credential is cached, costs no storage round trip
(``X-Storage-Calls: 0``), so what is measured is the dev host's HTTP
serving, routing and the app's request handling, not Azurite.  A warm-up
round (not timed) connects every client and caches the credential; then
``rounds`` timed rounds of ``requests`` requests each.  Requests/s is the
median of the rounds; p50/p99 are over every timed request.  The dev host
process's CPU time per timed request (user + system, from ``/proc``) is
reported too: the clients share the machine's cores with it, and that
figure moves much less with whatever else the machine runs.  The storage
calls of the timed requests are reported, so a figure that did touch the
storage (a credential looked up again after its cache entry expired) shows.
"""

from __future__ import annotations

import os
import time

from ..cpu import cpu_seconds
from ..harness import ClientPool, Recorder, median, percentile
from .common import rounded

OP = "GET /ServiceProviderConfig"
PATH = "/ServiceProviderConfig"


def run_devhost_throughput(pool: ClientPool, pid: int, rounds: int, requests: int, deadline: float) -> dict:
    """Requests/s (median of ``rounds`` rounds of ``requests`` requests),
    latency percentiles and the dev host's (process ``pid``) CPU time per
    request, of a storage-free request by ``pool.threads`` clients."""

    def task(recorder: Recorder):
        return lambda client: client.call(recorder, OP, "GET", PATH)

    warm = Recorder()
    pool.run([task(warm)] * max(pool.threads * 20, requests // 4), deadline)
    if warm.errors():
        raise RuntimeError(f"warm-up failed: {warm.ops[OP].error_samples[:1]}")
    timed = Recorder()
    per_round: list[float] = []
    skipped = 0
    cpu_before = cpu_seconds(pid)
    for _ in range(rounds):
        if time.monotonic() > deadline:
            break
        before = timed.total()
        wall, not_started = pool.run([task(timed)] * requests, deadline)
        skipped += not_started
        if wall:
            per_round.append((timed.total() - before) / wall)
    cpu_after = cpu_seconds(pid)
    latencies = [x * 1000 for x in timed.all_latencies()]
    summary = timed.ops[OP].summary() if OP in timed.ops else {}
    histogram = summary.get("storage_calls_histogram", {})
    return {
        "threads": pool.threads,
        "request": OP,
        "rounds": len(per_round),
        "requests_per_round": requests,
        "requests_per_s": rounded(median(per_round)),
        "round_requests_per_s": [round(x, 1) for x in per_round],
        "p50_ms": rounded(percentile(latencies, 50), 2),
        "p99_ms": rounded(percentile(latencies, 99), 2),
        "requests": timed.total(),
        "server_cpu_us_per_request": (rounded((cpu_after - cpu_before) / timed.total() * 1e6)
                                      if cpu_before is not None and cpu_after is not None and timed.total() else None),
        "errors": timed.errors(),
        "error_samples": summary.get("error_samples", []),
        "storage_calls_histogram": histogram,
        "requests_with_storage_calls": sum(n for calls, n in histogram.items() if calls != "0"),
        "tasks_skipped_by_time_limit": skipped,
    }
