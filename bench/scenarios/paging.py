"""Deep paging and totals (``paging``)."""

from __future__ import annotations

import time

from azure.data.tables import TableClient

from shared.storage import keys
from shared.storage.counters import SHARDS
from shared.storage.keys import ROW_RESOURCE
from shared.storage.table_store import _RANGE_OF_COUNTS_AND_RESOURCES, _RANGE_OF_KIND

from .. import budgets
from ..harness import Recorder, RssSampler, median, ratio
from .common import rounded


def run_paging(client, table: TableClient, partition: str, total_users: int, pid: int, deadline: float,
               page_size: int = 100, probes: int = 30, walks: int = 1) -> dict:
    """Deep paging and totals on a tenant with ``total_users`` seeded users.

    1. ``GET /Users?startIndex=s&count=100`` for every page in order (one
       client), ``walks`` times: first-page and last-page latency (median of
       the first and of the last 5 pages of every walk), the walk time
       (median of the walks), and whether every user was seen once.
    2. A raw scan of the same rows through the SDK (the user rows of the
       partition, pages of ``page_size``; median of ``walks`` scans): the
       floor for the walk.
    3. ``GET /Users?count=1`` (totalResults plus one row) against
       ``GET /Users/{id}``, interleaved ``probes`` times: medians and ratio;
       and the same two reads straight through the SDK.
    """
    started = time.perf_counter()
    firsts: list[float] = []
    lasts: list[float] = []
    calls: list[int] = []
    walk_times: list[float] = []
    seen = 0
    ids = set()
    errors = 0
    total_reported = None
    complete = True
    rec = Recorder()
    with RssSampler(pid) as rss:
        for _ in range(walks):
            pages: list[float] = []
            seen = 0
            walk_started = time.perf_counter()
            start = 1
            while start <= total_users and time.monotonic() < deadline:
                response = client.call(rec, "page", "GET", "/Users", params={"startIndex": start, "count": page_size},
                                       budget=budgets.FIRST_PAGE if start == 1 else budgets.NEXT_PAGE)
                pages.append(rec.ops["page"].latencies[-1])
                if response is None or response.status_code != 200:
                    errors += 1
                    break
                body = response.json()
                total_reported = body.get("totalResults")
                got = body.get("Resources", [])
                if response.headers.get("X-Storage-Calls", "").isdigit():
                    calls.append(int(response.headers["X-Storage-Calls"]))
                seen += len(got)
                ids.update(r["id"] for r in got)
                if not got:
                    break
                start += len(got)
            walk_times.append(time.perf_counter() - walk_started)
            complete = complete and start > total_users
            firsts += pages[:5]
            lasts += pages[-5:]
    walk = median(walk_times)

    def raw_scan():
        t0 = time.perf_counter()
        n = 0
        lo = keys.USER + ":"  # the user rows and their edges; k selects the resource rows
        rows = table.query_entities(_RANGE_OF_KIND,
                                    parameters={"pk": partition, "lo": lo, "hi": keys.prefix_end(lo), "k": ROW_RESOURCE},
                                    results_per_page=page_size)
        for _ in rows:
            n += 1
        return time.perf_counter() - t0, n

    scans = [raw_scan() for _ in range(walks)]
    scan_s = median([s for s, _ in scans])
    scan_rows = scans[0][1]

    some_id = next(iter(ids)) if ids else None
    totals, by_id = Recorder(), Recorder()
    for _ in range(probes if some_id else 0):
        if time.monotonic() > deadline:
            break
        client.call(totals, "count=1", "GET", "/Users", params={"count": 1}, budget=budgets.COUNT)
        client.call(by_id, "by id", "GET", f"/Users/{some_id}", budget=budgets.GET_USER)
    floor = _totals_floor(table, partition, some_id, probes, deadline) if some_id else {}
    first = median(firsts)
    last = median(lasts)
    count_med = median(totals.ops["count=1"].latencies) if totals.ops else None
    id_med = median(by_id.ops["by id"].latencies) if by_id.ops else None
    return {
        "users": total_users, "page_size": page_size, "pages": len(rec.ops["page"].latencies) // walks, "walks": walks,
        "walk_complete": complete,
        "users_seen": seen, "distinct_users_seen": len(ids), "total_results_reported": total_reported,
        "errors": errors + rec.errors() + totals.errors() + by_id.errors(),
        "first_page_ms": rounded(first and first * 1000), "last_page_ms": rounded(last and last * 1000),
        "max_page_ms": rounded(max(rec.ops["page"].latencies) * 1000 if rec.ops else None),
        "last_over_first": rounded(ratio(last, first), 2),
        "page_storage_calls_max": max(calls) if calls else None,
        "storage_calls": {op: _calls_only(stats) for op, stats in
                          (("page", rec.ops.get("page")), ("count=1", totals.ops.get("count=1")), ("by id", by_id.ops.get("by id")))
                          if stats is not None},
        "walk_s": round(walk, 2), "raw_scan_s": round(scan_s, 2), "raw_scan_rows": scan_rows,
        "walk_over_scan": rounded(ratio(walk, scan_s), 2) if complete else None,
        "count1_ms": rounded(count_med and count_med * 1000, 2), "get_by_id_ms": rounded(id_med and id_med * 1000, 2),
        "count1_over_get_by_id": rounded(ratio(count_med, id_med), 2),
        **floor,
        "seconds": round(time.perf_counter() - started, 2),
        "memory": rss.summary(),
    }


def _calls_only(stats) -> dict:
    """The storage-call figures of an :class:`OpStats` summary (no latencies)."""
    summary = stats.summary()
    return {k: summary[k] for k in ("count", "mean_storage_calls", "storage_calls_histogram", "budget", "least_excess",
                                    "over_budget", "calls_over_budget") if k in summary}


def _totals_floor(table: TableClient, partition: str, some_id: str, probes: int, deadline: float) -> dict:
    """The storage's own ratio for the totals probe: the range query that
    ``count=1`` issues (counter shards and the first row,
    :meth:`TenantStore.count_and_first`) against a point read, both straight
    through the SDK, interleaved ``probes`` times.  It tells the cost of the
    storage apart from the cost of the SCIM layer."""
    def first_page():
        rows = table.query_entities(_RANGE_OF_COUNTS_AND_RESOURCES, results_per_page=SHARDS + 1,
                                    parameters={"pk": partition, "lo": keys.counter_prefix(keys.USER),
                                                "hi": keys.prefix_end(keys.USER + ":")})
        return list(next(iter(rows.by_page())))

    def point_read():
        return table.get_entity(partition, keys.resource_key(keys.USER, some_id))

    ranges, reads = [], []
    for _ in range(probes):
        if time.monotonic() > deadline:
            break
        for fn, into in ((first_page, ranges), (point_read, reads)):
            t0 = time.perf_counter()
            fn()
            into.append(time.perf_counter() - t0)
    if not ranges:
        return {}
    return {"sdk_count1_query_ms": rounded(median(ranges) * 1000, 2), "sdk_point_read_ms": rounded(median(reads) * 1000, 2),
            "sdk_count1_over_point_read": rounded(ratio(median(ranges), median(reads)), 2)}
