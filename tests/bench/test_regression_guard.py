"""The performance regression guard that CI runs (``make test``).

A scaled-down ``make bench`` (``--quick``: 300 users and 24 groups in the
Entra cycle, a 2,000-member group, 5,000 users paged three times; without
the storage floor and the dev host throughput, whose figures are only
reported) that gates on what does not move with the load on the machine:

* **storage calls per request** (``X-Storage-Calls``) against the budgets of
  ``bench/budgets.py``, for every request type of the Entra cycle, the
  large-group probes (both sizes) and deep paging: the cheapest request of
  each type costs no more than its budget, and the calls above budget stay
  within what the one-off costs explain;
* no errors, the memory bound, and the two time ratios that stayed far from
  their targets beside CPU-bound load (last page / first page, cold import).

Throughput and latency -- the SCIM / storage-floor ratio among them -- and
the other time ratios are reported by the run and judged by ``make bench``,
not here: on the shared 2-core machine the floor ratio went from 0.77 to
3.45 with the load and no code change, and one extra storage round trip in
every request left it at 0.74-1.06, inside that spread (docs/performance.md,
"The regression guard (CI)", has the runs).  A second test shows the
storage gate failing on exactly that regression.  The storage-call budgets
at large sizes are in tests/integration/test_storage_budgets.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Targets (prefixes of their names) that gate CI, and those only reported here
# (make bench judges them), with their spread over 24 clean quick runs, 13 of
# them beside one to three CPU-bound processes (docs/performance.md, "The
# regression guard (CI)"):
JUDGED = (
    "Entra cycle errors",                # 0 in every run
    "Storage calls",                     # the cheapest request of every type at its budget in every run
    "Paging: last page / first page",    # 0.55-0.99 against <= 1.5
    "Cold import",                       # 0.39-0.67 against <= 1.3
    "Peak RSS",                          # 76-78 MB against <= 200 MB
)
NOT_JUDGED = (
    "Entra cycle requests/s",            # absolute: 35-98 requests/s with the load
    "Entra cycle p99 latency (ms)",      # absolute: 505-1017 ms
    "SCIM / storage-floor throughput",   # 0.77-3.45 clean, 0.74-1.06 with an extra storage read per request
    "Large group",                       # time ratios: up to 1.71 against <= 1.5 (their calls are judged)
    "Paging: full walk / raw SDK scan",  # 0.88-2.19 against <= 2 (the calls per page are judged)
    "Totals:",                           # 1.41-2.22 against <= 3 (the calls are judged)
    "App CPU per Entra-cycle request",   # CPU ratios: the goals of the lean transaction path, reported
    "Storage CPU:",
)
# The scenarios whose figures the gate judges; the storage floor and the dev
# host's loopback throughput feed only reported figures (the floor's target
# shows as SKIP here), so they are left to make bench.
GATED = ["--only", "cold,entra,groups,paging"]
# A small Entra cycle for the gate's own test: more groups than counter shards
# (16), so some POST /Groups meet a shard already read and cost their budget.
SMALL_CYCLE = ["--only", "entra", "--users", "60", "--groups", "20", "--members-per-group", "10"]


def _bench(tmp_path: Path, *args: str, env: dict | None = None, timeout: int = 900) -> dict:
    run = subprocess.run([sys.executable, "-m", "bench.run", "--quick", *args, "--out", str(tmp_path)], cwd=ROOT,
                         env=env, capture_output=True, text=True, timeout=timeout)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    (report,) = tmp_path.glob("*/report.json")
    return json.loads(report.read_text())


@pytest.mark.slow
def test_quick_benchmark_holds_its_storage_budgets_and_ratios(tmp_path):
    results = _bench(tmp_path, *GATED)
    assert not results.get("failures"), results.get("failures")
    targets = results["targets"]
    judged = [t for t in targets if t["target"].startswith(JUDGED)]
    reported = [t for t in targets if t["target"].startswith(NOT_JUDGED)]
    assert len(judged) + len(reported) == len(targets), "a target neither judged nor reported on purpose"
    assert all(any(t["target"].startswith(p) for t in reported) for p in NOT_JUDGED)
    from bench.report import ENTRA_BUDGETED

    storage = [t["target"] for t in judged if t["target"].startswith("Storage calls")]
    assert all(any(f"Entra cycle {op}," in name for name in storage) for op in ENTRA_BUDGETED)
    failed = [f"{t['target']}: {t['value']} (target {t['condition']})" for t in judged if t["verdict"] != "PASS"]
    assert not failed, "\n".join(failed)


@pytest.mark.slow
def test_the_storage_gate_fails_when_every_request_makes_one_more_storage_call(tmp_path):
    """``--inject extra-read`` (bench/inject.py) serves the app with one more
    storage read per SCIM request.  The same small cycle passes the gate
    without it and fails every per-request-type budget with it, by exactly
    that one call."""
    def storage_targets(results):
        assert not results.get("failures"), results.get("failures")
        return {t["target"]: t for t in results["targets"] if t["target"].startswith("Storage calls: Entra cycle")}

    clean = storage_targets(_bench(tmp_path / "clean", *SMALL_CYCLE, timeout=300))
    assert clean and all(t["verdict"] == "PASS" for t in clean.values()), clean

    slowed = storage_targets(_bench(tmp_path / "slowed", *SMALL_CYCLE, "--inject", "extra-read", timeout=300))
    assert slowed.keys() == clean.keys()
    from bench.report import ENTRA_BUDGETED

    per_type = {name: t for name, t in slowed.items() if "cheapest request" in name}
    assert len(per_type) == len(ENTRA_BUDGETED)
    assert all(t["verdict"] == "FAIL" and t["value"] == 1 for t in per_type.values()), per_type
    (total,) = (t for name, t in slowed.items() if "above budget in all" in name)
    assert total["verdict"] == "FAIL", total


@pytest.mark.slow
def test_the_bench_can_measure_another_storage_and_cleans_up_after_itself(tmp_path):
    """``BENCH_STORAGE_CONNECTION_STRING`` points the bench at a real storage
    account (here a second Azurite standing in for one): the run uses tables
    of its own and deletes them at the end."""
    from azure.data.tables import TableServiceClient

    from scripts.azurite import start

    other = start(in_memory=True)
    try:
        env = {**os.environ, "BENCH_STORAGE_CONNECTION_STRING": other.connection_string}
        results = _bench(tmp_path, "--only", "paging", "--paging-users", "300", env=env, timeout=300)
        assert results["meta"]["storage"].startswith("external") and results["paging"]["walk_complete"]
        assert list(TableServiceClient.from_connection_string(other.connection_string).list_tables()) == []
    finally:
        other.stop()
