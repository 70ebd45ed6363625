"""Targets of issue 3, PASS/FAIL, and the report files (``report.md``, ``report.json``).

Two kinds of targets: the issue's figures (throughput, latency, ratios of
medians, memory) and the storage calls per request against
:mod:`bench.budgets` (:func:`storage_checks`), which do not move with the
load on the machine.  A target whose figure is missing (the scenario was
skipped or failed) is reported as SKIP, never as PASS.
"""

from __future__ import annotations

import json
from pathlib import Path

from . import budgets

# The request types whose storage calls are budgeted (bench/budgets.py), by scenario.
ENTRA_BUDGETED = ("GET /Users?filter=userName", "POST /Users", "GET /Groups?filter=displayName", "POST /Groups",
                  "PATCH /Groups add members", "PATCH /Groups remove member", "PATCH /Users manager",
                  "PATCH /Users update", "PATCH /Users disable", "GET /Users/{id}")
GROUP_PROBES = ("PATCH add 1 member", "PATCH remove 1 member", "GET /Groups/{id}?excludedAttributes=members",
                "GET /Groups?filter=displayName&excludedAttributes=members")
PAGING_BUDGETED = {"page": "GET /Users?startIndex&count=100 (every page)", "count=1": "GET /Users?count=1",
                   "by id": "GET /Users/{id}"}
STORAGE = "Storage calls"  # the prefix of every storage-call target


def _get(results: dict, path: str):
    node = results
    for part in path.split("/"):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _check(name, value, op, limit, unit=""):
    if value is None:
        verdict = "SKIP"
    elif op == ">=":
        verdict = "PASS" if value >= limit else "FAIL"
    elif op == "<=":
        verdict = "PASS" if value <= limit else "FAIL"
    elif op == "<":
        verdict = "PASS" if value < limit else "FAIL"
    elif op == "==":
        verdict = "PASS" if value == limit else "FAIL"
    else:
        raise ValueError(op)
    return {"target": name, "value": value, "condition": f"{op} {limit}{unit}", "verdict": verdict}


def evaluate(results: dict) -> list[dict]:
    """The issue's targets, each checked against the figures of this run."""
    checks = [
        _check("Entra cycle requests/s", _get(results, "entra_cycle/total/requests_per_s"), ">=", 100),
        _check("Entra cycle errors", _get(results, "entra_cycle/total/errors"), "==", 0),
        _check("Entra cycle p99 latency (ms)", _get(results, "entra_cycle/total/p99_ms"), "<", 1000, " ms"),
        _check("SCIM / storage-floor throughput", _get(results, "storage_floor/scim_over_floor"), ">=", 0.7),
        _check("App CPU per Entra-cycle request / raw storage round trip",
               _get(results, "entra_cycle/app_cpu_over_round_trip"), "<=", 12),
        _check("App CPU per Entra-cycle request / raw storage round trip (stretch)",
               _get(results, "entra_cycle/app_cpu_over_round_trip"), "<=", 6),
        _check("Storage CPU: 2-entity transaction / create_entity",
               _get(results, "entra_cycle/sdk_calls/cpu_us/transaction_2_over_create"), "<=", 1.5),
    ]
    probes = _get(results, "large_groups/probes") or {}
    largest = (_get(results, "large_groups/sizes") or ["?"])[-1]
    for op, figures in probes.items():
        checks.append(_check(f"Large group {largest} vs 10 members: {op} (ratio of medians)",
                             figures.get("ratio_of_medians"), "<=", 1.5))
    if not probes:
        checks.append(_check("Large group ratios", None, "<=", 1.5))
    checks += [
        _check("Paging: last page / first page", _get(results, "paging/last_over_first"), "<=", 1.5),
        _check("Paging: full walk / raw SDK scan", _get(results, "paging/walk_over_scan"), "<=", 2),
        _check("Totals: GET /Users?count=1 / GET /Users/{id}", _get(results, "paging/count1_over_get_by_id"), "<=", 3),
        _check("Cold import: function_app / dependencies", _get(results, "cold_start/app_over_floor"), "<=", 1.3),
    ]
    for scenario in ("entra_cycle", "large_groups", "paging"):
        checks.append(_check(f"Peak RSS of the app during {scenario} (MB)",
                             _get(results, f"{scenario}/memory/peak_mb"), "<=", 200, " MB"))
    return checks + storage_checks(results)


def _cheapest(name: str, summaries: list[dict | None]) -> dict:
    """The cheapest request of a type against its budget, over ``summaries``
    (one per group size, or just one): at most 0 extra calls."""
    found = [s for s in summaries if s and s.get("least_excess") is not None]
    value = max(s["least_excess"] for s in found) if found and len(found) == len(summaries) else None
    budget = "/".join(sorted({s["budget"] for s in found})) or "?"
    return _check(f"{STORAGE}: {name}, cheapest request minus its budget ({budget})", value, "<=", 0)


def _above(name: str, summaries: list[dict], seconds, threads: int, kinds: int) -> dict:
    """Calls above budget in all, against what one-off costs can explain
    (:func:`bench.budgets.one_off_allowance`)."""
    if not summaries or seconds is None:
        return _check(f"{STORAGE}: {name}, calls above budget in all (one-off allowance)", None, "<=", 0)
    requests = sum(s.get("count", 0) for s in summaries)
    over = sum(s.get("calls_over_budget", 0) for s in summaries)
    allowance = budgets.one_off_allowance(requests, seconds, threads, kinds)
    return _check(f"{STORAGE}: {name}, calls above budget in all (one-off allowance)", over, "<=", allowance)


def storage_checks(results: dict) -> list[dict]:
    """Storage calls per request against :mod:`bench.budgets`: deterministic,
    whatever else the machine runs -- the figures the CI guard gates on.

    Per request type, the cheapest request must cost no more than its budget
    (one-off costs and retries only ever add calls, so any request type whose
    every request got dearer fails here); per scenario, the calls above
    budget must stay within what the one-off costs explain (a change that
    makes only some requests dearer)."""
    checks = []
    ops = _get(results, "entra_cycle/operations") or {}
    for op in ENTRA_BUDGETED:
        checks.append(_cheapest(f"Entra cycle {op}", [ops.get(op)]))
    entra = results.get("entra_cycle") or {}
    checks.append(_above("Entra cycle", [ops[op] for op in ENTRA_BUDGETED if op in ops] if ops else [],
                         _get(entra, "total/seconds"), entra.get("threads", 0), kinds=2))
    probes = _get(results, "large_groups/probes") or {}
    sizes = _get(results, "large_groups/sizes") or []
    label = f"large group {sizes[-1]} and 10 members" if sizes else "large groups"
    for op in GROUP_PROBES:
        by_size = probes[op].get("by_members") if op in probes else None  # (op names hold "/")
        checks.append(_cheapest(f"{label}, {op}", [by_size.get(size) for size in sizes] if by_size else [None]))
    checks.append(_above(label, [s for p in probes.values() for s in p["by_members"].values()],
                         _get(results, "large_groups/seconds"), 1, kinds=0))
    paging = _get(results, "paging/storage_calls") or {}
    for key, name in PAGING_BUDGETED.items():
        checks.append(_cheapest(f"paging {name}", [paging.get(key)]))
    checks.append(_above("paging and totals", list(paging.values()), _get(results, "paging/seconds"), 1, kinds=0))
    return checks


READING = (
    "PASS/FAIL say whether a goal of the code was reached in this run; FAIL is not an error of the run (errors "
    "have their own targets, and a run that could not measure a figure reports SKIP). The absolute figures "
    "(Entra cycle requests/s and p99 latency) are bound by Azurite on this machine as much as by the app: Azurite "
    "is a single Node.js process sharing the cores with the app and the clients. The ratios are against a baseline "
    "measured in the same run, and the storage-call budgets count calls, so neither depends on the machine's speed."
)


def print_checks(checks: list[dict]) -> None:
    width = max(len(c["target"]) for c in checks)
    for c in checks:
        print(f"  {c['verdict']:4}  {c['target']:<{width}}  {c['value']!s:>10}  (target {c['condition']})")
    print(f"\n{READING}")


def _table(rows: list[list], header: list[str]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join("" if v is None else str(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _paced_lines(entra: dict) -> list[str]:
    """The raw round trip sent after idle gaps (:func:`bench.cpu.paced_round_trips`), reported, not judged."""
    paced = entra.get("paced_round_trips") or {}
    if not paced:
        return []
    figures = "; ".join(f"one every {gap}: {p['cpu_us_per_round_trip']} us ({p['over_back_to_back']}x)"
                        for gap, p in paced.items())
    return [f"The same raw round trip sent after idle gaps instead of back to back costs this client more CPU: {figures}. "
            "On this machine work done after idling costs more CPU, and an app request thread idles between its storage "
            "calls for as long as the storage takes to answer; the judged ratio compares the app with the back-to-back "
            "figure (docs/performance.md, \"CPU after idling\").", ""]


def _cpu_section(entra: dict) -> list[str]:
    """The app's CPU per request (its own counters), the raw round trip and SDK calls beside it, the profile."""
    raw = entra.get("raw_round_trip") or {}
    out = ["## CPU per request", "",
           f"The app process used {entra['app_cpu']['seconds']} s of CPU in {entra['app_cpu']['wall_seconds']} s of "
           f"the cycle: **{entra['app_cpu']['ms_per_request']} ms per request**, against "
           f"**{raw.get('cpu_us_per_round_trip')} us** for one raw keep-alive round trip to the same storage "
           f"({raw.get('client')}, measured in this run, the median of {raw.get('rounds')} rounds taken before and after the "
           f"cycle, whose own medians were {raw.get('medians_of_each_measure')} us): **{entra.get('app_cpu_over_round_trip')}x**.", "",
           *_paced_lines(entra),
           _table([[name, p.get("requests"), p.get("seconds"), p.get("app_cpu_ms_per_request"), p.get("app_cpu_seconds"),
                    p.get("storage_cpu_seconds")] for name, p in entra["phases"].items()],
                  ["cycle phase", "requests", "wall s", "app CPU ms/request", "app CPU s", "storage (Azurite) CPU s"]), "",
           "Each request type alone (one client, one type after another; the cycle mixes types within a phase):", "",
           _table([[op, f["requests"], f["app_cpu_ms_per_request"]] for op, f in (entra.get("cpu_per_operation") or {}).items()],
                  ["request", "requests", "app CPU ms/request"]), ""]
    sdk = (entra.get("sdk_calls") or {}).get("cpu_us") or {}
    if sdk:
        out += ["Straight through the app's table client from the bench process (CPU us per call, medians; "
                "`get_entity` and `transaction_*` on the lean paths, `sdk_get_entity` and `sdk_transaction_*` through the SDK's own "
                "`TableClient` methods):", "",
                _table([[name, value] for name, value in sdk.items()], ["call", "CPU us"]), ""]
    profile = entra.get("profile") or {}
    if profile.get("error"):
        out += [f"Profile: not taken ({profile['error']}).", ""]
    elif profile:
        out += [f"Profile of the app during a second Entra cycle ({profile.get('users')} users, {profile.get('groups')} groups, "
                f"a tenant of its own) after the measured one: py-spy, {profile['rate_per_s']} samples/s while the GIL is held, "
                f"{profile['samples']} samples, collapsed stacks in `{profile['file']}` beside this report. Under the profiler "
                f"the app used {profile.get('app_cpu_ms_per_request')} ms of CPU per request ({profile.get('errors')} errors); "
                "no CPU figure above is taken while it samples.", "",
                _table([[area, share] for area, share in profile.get("areas", [])], ["where (a frame on the stack)", "% of samples"]), "",
                _table([[frame, share] for frame, share in profile["top_inclusive"]],
                       ["frame (inclusive; the HTTP server's and dev host's frames left out)", "% of samples"]), "",
                _table([[frame, share] for frame, share in profile["top_self"]], ["frame (self)", "% of samples"]), ""]
    return out


def markdown(results: dict, checks: list[dict]) -> str:
    """A human-readable report of every figure and target."""
    meta = results["meta"]
    out = [f"# SCIM benchmark, {meta['date']}", "",
           f"- Command: `{meta['command']}`",
           f"- Machine: {meta['cpu_count']} cores, {meta['platform']}, Python {meta['python']}",
           f"- Mode: {meta['mode']}; sizes: `{json.dumps(meta['sizes'])}`",
           f"- Dev host cold start (process start to first answered request): {meta.get('devhost_cold_start_ms')} ms",
           f"- Wall time of the whole run: {meta.get('run_seconds')} s; load average (1 min) at start "
           f"{(meta.get('loadavg_start') or ['?'])[0]}, at end {(meta.get('loadavg_end') or ['?'])[0]}",
           *([f"- **Injected regression (test-only, bench/inject.py): {meta['injected_regression']}**"]
             if meta.get("injected_regression") else []), "",
           "Judged figures are ratios and medians against baselines measured in this same run, and storage "
           "calls per request against their budgets (bench/budgets.py).", "", READING, "",
           "## Targets", "",
           _table([[c["verdict"], c["target"], c["value"], c["condition"]] for c in checks],
                  ["", "target", "value", "condition"]), ""]

    host = results.get("devhost_throughput")
    if host:
        out += ["## Dev host loopback throughput", "",
                f"{host['threads']} keep-alive clients, `{host['request']}` (no storage after warm-up), "
                f"{host['rounds']} timed rounds of {host['requests_per_round']} requests; reported, not judged "
                "(compare runs of the same machine).", "",
                _table([[host["requests_per_s"], ", ".join(map(str, host["round_requests_per_s"])), host["p50_ms"],
                         host["p99_ms"], host.get("server_cpu_us_per_request"), host["errors"], _histogram(host)]],
                       ["requests/s (median)", "per round", "p50 ms", "p99 ms", "dev host CPU us/request", "errors",
                        "storage calls: requests"]), ""]
    entra = results.get("entra_cycle")
    if entra and entra.get("app_cpu"):
        out += _cpu_section(entra)
    if entra:
        out += ["## Entra cycle", "", f"{entra['threads']} concurrent keep-alive clients.", "",
                _table([[n, p["requests"], p["seconds"], p["requests_per_s"], p["errors"]] for n, p in entra["phases"].items()]
                       + [["**total**", entra["total"]["requests"], entra["total"]["seconds"], entra["total"]["requests_per_s"],
                           entra["total"]["errors"]]],
                       ["phase", "requests", "s", "requests/s", "errors"]), "",
                _table([[op, s["count"], s["p50_ms"], s["p95_ms"], s["p99_ms"], s["errors"], s["mean_storage_calls"]]
                        for op, s in entra["operations"].items()],
                       ["operation", "count", "p50 ms", "p95 ms", "p99 ms", "errors", "storage calls (mean)"]), ""]
    if entra:
        out += ["### Storage calls per request (bench/budgets.py)", "",
                "Calls per request as `calls: requests`; one-off costs (first use of a counter shard, a credential "
                "looked up again, a retry) only add calls, so the cheapest request of a type costs its budget.", "",
                _table([[op, s.get("budget"), _histogram(s), s.get("least_excess"), s.get("over_budget"), s.get("calls_over_budget")]
                        for op, s in entra["operations"].items()],
                       ["operation", "budget", "calls: requests", "cheapest minus budget", "requests above budget",
                        "calls above budget"]), ""]
    floor = results.get("storage_floor")
    if floor:
        out += ["## Storage floor", "",
                "The same plan as storage operations straight through azure-data-tables (no SCIM layer), same thread count.",
                f"SCIM / floor throughput: **{floor.get('scim_over_floor')}**.", "",
                _table([[n, p["operations"], p["seconds"], p["operations_per_s"]] for n, p in floor["phases"].items()]
                       + [["**total**", floor["total"]["operations"], floor["total"]["seconds"], floor["total"]["operations_per_s"]]],
                       ["phase", "operations", "s", "operations/s"]), "",
                _table([[op, s["count"], s["p50_ms"], s["p95_ms"], s["p99_ms"], s["errors"], s["mean_storage_calls"]]
                        for op, s in floor["operations"].items()],
                       ["storage operation", "count", "p50 ms", "p95 ms", "p99 ms", "errors", "storage calls (mean)"]), ""]
    groups = results.get("large_groups")
    if groups:
        sizes = groups["sizes"]
        rows = []
        for op, fig in groups["probes"].items():
            row = [op]
            for size in sizes:
                s = fig["by_members"].get(size, {})
                row += [s.get("p50_ms"), s.get("p95_ms"), s.get("mean_storage_calls")]
            rows.append(row + [fig["ratio_of_medians"]])
        header = ["probe"] + [f"{h} ({size} members)" for size in sizes for h in ("p50 ms", "p95 ms", "calls")] + ["ratio"]
        out += ["## Large groups", "", f"{groups['repetitions']} repetitions per probe and size; errors: {groups['errors']}; "
                f"app RSS peak {groups['memory']['peak_mb']} MB.", "", _table(rows, header), ""]
    paging = results.get("paging")
    if paging:
        keys = ["users", "pages", "walk_complete", "distinct_users_seen", "total_results_reported", "errors",
                "first_page_ms", "last_page_ms", "max_page_ms", "last_over_first", "page_storage_calls_max",
                "walk_s", "raw_scan_s", "raw_scan_rows", "walk_over_scan", "count1_ms", "get_by_id_ms",
                "count1_over_get_by_id", "sdk_count1_query_ms", "sdk_point_read_ms", "sdk_count1_over_point_read"]
        out += ["## Deep paging and totals", "", _table([[k, paging.get(k)] for k in keys], ["figure", "value"]), "",
                _table([[name, s.get("budget"), _histogram(s), s.get("least_excess"), s.get("calls_over_budget")]
                        for name, s in (paging.get("storage_calls") or {}).items()],
                       ["request", "budget", "storage calls: requests", "cheapest minus budget", "calls above budget"]), "",
                f"App RSS peak during the walk: {paging['memory']['peak_mb']} MB.", ""]
    events = results.get("event_delivery")
    if events:
        out += ["## Change-event delivery", "",
                f"A backlog of {events['backlog']} events of one tenant (notice form), drained by each channel; "
                "the baseline is one range read of the same rows. Reported, not judged.", "",
                _table([["range read (baseline)", events["range_read_rows"], events["range_read_rows_per_s"], 1.0],
                        ["poll (HTTP, maxEvents 1000, acked)", events["poll_events"], events["poll_events_per_s"],
                         events["poll_over_range_read"]],
                        ["push (loopback receiver, 202, in order)", events["push_events"], events["push_events_per_s"], None],
                        ["Storage Queue (Azurite)", events["queue_events"], events["queue_events_per_s"], None]],
                       ["channel", "events", "events/s", "over baseline"]), "",
                f"Commit to poll visibility over {events['visibility_probes']} sequential creates with a long poll "
                f"waiting: median **{events['visibility_p50_ms']} ms**, p99 **{events['visibility_p99_ms']} ms**.", ""]
    cold = results.get("cold_start")
    if cold:
        out += ["## Cold start", "", f"Median of {cold['runs']} fresh interpreters: `import function_app` "
                f"{cold['app_import_ms']} ms, `import azure.functions, azure.data.tables, azure.identity` "
                f"{cold['floor_import_ms']} ms, ratio **{cold['app_over_floor']}**.", ""]
    if results.get("failures"):
        out += ["## Scenario failures", ""] + [f"- {name}: `{msg}`" for name, msg in results["failures"].items()] + [""]
    return "\n".join(out)


def _histogram(summary: dict) -> str:
    return ", ".join(f"{calls}: {n}" for calls, n in (summary.get("storage_calls_histogram") or {}).items())


def write(results: dict, checks: list[dict], folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "report.json").write_text(json.dumps({**results, "targets": checks}, indent=2) + "\n", encoding="utf-8")
    (folder / "report.md").write_text(markdown(results, checks) + "\n", encoding="utf-8")
