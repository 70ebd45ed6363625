"""``make soak``: three tenants at 25 requests/s each for a bounded time.

Azurite (in memory) and the app in the dev host are started as ``make run``
starts them (:mod:`bench.harness`: a separate dev host process, tenants made
with ``python -m shared.admin ensure-tenant``).  Each tenant gets an
open-loop schedule of 25 requests/s -- the rate per tenant an endpoint must
support by the gallery onboarding checklist of Microsoft Learn, "Tutorial:
Develop and plan provisioning for a SCIM endpoint in Microsoft Entra ID"
(https://learn.microsoft.com/en-us/entra/identity/app-provisioning/use-scim-to-provision-users-and-groups)
-- in a provisioning mix: filter GETs by ``userName`` (Entra's
lookup before every change), creates, attribute PATCHes, GETs by id,
deprovisioning (``active: false``), deletes, and group member PATCHes
(RFC 7644 §3.4.2, §3.3, §3.5.2, §3.6).

Reported per minute (per sixth of runs under five minutes): requests,
errors, p50/p99 latency, the app process's resident memory (``VmRSS``
from ``/proc``) and the machine's highest 1-minute load average (other work
on the same cores shows up in the latencies).  The run passes when there is no error, the RSS after warm-up stays within 10% of the RSS at the end of
warm-up, the p99 of the second half of the post-warm-up time is at most
1.5 times that of the first half (no drift; single windows' p99 on a shared
2-core machine are noisy, so their spread is reported, not checked), and
the achieved rate is at least 95% of the target.  Results are also written
to ``bench-results/soak-<time>.json``.

    python scripts/soak.py [--seconds 600] [--rate 25] [--tenants 3] [--warmup 120]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import secrets
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.harness import ClientPool, DevHost, app_env, ensure_tenant, percentile, proc_status, scratch_dir  # noqa: E402
from scripts.azurite import free_port, start as start_azurite  # noqa: E402

USER_URN = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_URN = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH_URN = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
STABLE_USERS = 100  # per tenant, made before the clock starts; patched and read, never deleted
GROUPS = 5
WORKERS_PER_TENANT = 8
RSS_GROWTH_LIMIT = 0.10
P99_DRIFT_LIMIT = 1.5
RATE_FLOOR = 0.95
MIX = (  # (operation, weight): an Entra provisioning cycle's shape
    ("filter_get", 40), ("create", 10), ("patch_user", 20), ("get_user", 12),
    ("disable", 5), ("delete", 3), ("patch_members", 10),
)


class Samples:
    """(seconds since start, latency s, operation, status) of every request, thread-safe."""

    def __init__(self, started: float) -> None:
        self.started = started
        self.rows: list[tuple[float, float, str, int]] = []
        self.errors: list[str] = []
        self.lock = threading.Lock()

    def add(self, op: str, sent: float, response, expect: tuple[int, ...]) -> None:
        latency = time.perf_counter() - sent
        status = response.status_code if response is not None else 0
        with self.lock:
            self.rows.append((sent - self.started, latency, op, status))
            if status not in expect:
                text = response.text[:200] if response is not None else "no response"
                self.errors.append(f"{op}: {status} {text}")


class Tenant:
    """One tenant's state and its operations; ids shared between worker threads."""

    def __init__(self, name: str, pool: ClientPool, seed: int) -> None:
        self.name, self.pool = name, pool
        self.random = random.Random(seed)
        self.lock = threading.Lock()
        self.stable: list[str] = []
        self.fresh: list[str] = []
        self.groups: list[str] = []
        self.counter = 0

    def _next_name(self) -> str:
        with self.lock:
            self.counter += 1
            return f"{self.name}-u{self.counter}@example.test"

    def _pick(self, items: list[str]) -> str | None:
        with self.lock:
            return self.random.choice(items) if items else None

    def _create(self, client, samples: Samples | None) -> str | None:
        name = self._next_name()
        body = {"schemas": [USER_URN], "userName": name, "active": True, "displayName": name.split("@")[0],
                "emails": [{"type": "work", "value": name, "primary": True}], "externalId": name.split("@")[0]}
        sent = time.perf_counter()
        response = client.session.post(client.base + "/Users", data=json.dumps(body),
                                       headers={"Content-Type": "application/scim+json"}, timeout=65)
        if samples is not None:
            samples.add("create", sent, response, (201,))
        return response.json()["id"] if response.status_code == 201 else None

    def setup(self) -> None:
        client = self.pool.client()
        for _ in range(STABLE_USERS):
            user_id = self._create(client, None)
            if user_id is None:
                raise RuntimeError(f"{self.name}: could not create the stable users")
            self.stable.append(user_id)
        for i in range(GROUPS):
            body = {"schemas": [GROUP_URN], "displayName": f"{self.name} group {i}",
                    "members": [{"value": v} for v in self.stable[i::GROUPS][:10]]}
            response = client.session.post(client.base + "/Groups", data=json.dumps(body),
                                           headers={"Content-Type": "application/scim+json"}, timeout=65)
            response.raise_for_status()
            self.groups.append(response.json()["id"])

    def run(self, op: str, client, samples: Samples) -> None:
        """One request of kind ``op``; its latency and status go to ``samples``."""
        session, base = client.session, client.base
        scim = {"Content-Type": "application/scim+json"}
        if op == "create":
            user_id = self._create(client, samples)
            if user_id is not None:
                with self.lock:
                    self.fresh.append(user_id)
            return
        if op == "delete":
            with self.lock:
                user_id = self.fresh.pop(0) if self.fresh else None
            if user_id is None:
                op = "filter_get"
            else:
                sent = time.perf_counter()
                samples.add(op, sent, session.delete(f"{base}/Users/{user_id}", timeout=65), (204,))
                return
        if op == "filter_get":
            wanted = self.random.choice([f"{self.name}-u{self.random.randint(1, self.counter + 5)}@example.test",
                                         f"absent-{secrets.token_hex(4)}@example.test"])
            sent = time.perf_counter()
            response = session.get(f"{base}/Users", params={"filter": f'userName eq "{wanted}"'}, timeout=65)
            samples.add(op, sent, response, (200,))
        elif op == "get_user":
            sent = time.perf_counter()
            samples.add(op, sent, session.get(f"{base}/Users/{self._pick(self.stable)}", timeout=65), (200,))
        elif op in ("patch_user", "disable"):
            operations = ([{"op": "Replace", "path": "active", "value": "False"}] if op == "disable" else [
                {"op": "replace", "path": "title", "value": f"Title {self.random.randint(1, 99)}"},
                {"op": "replace", "path": 'emails[type eq "work"].value',
                 "value": f"{self.name}-m{self.random.randint(1, 10**6)}@example.test"}])
            body = {"schemas": [PATCH_URN], "Operations": operations}
            sent = time.perf_counter()
            response = session.patch(f"{base}/Users/{self._pick(self.stable)}", data=json.dumps(body), headers=scim,
                                     timeout=65)
            samples.add(op, sent, response, (200, 204))
        elif op == "patch_members":
            member = self._pick(self.stable)
            verb = self.random.choice(["Add", "Remove"])
            operations = [{"op": verb, "path": "members", "value": [{"value": member}]}]
            body = {"schemas": [PATCH_URN], "Operations": operations}
            sent = time.perf_counter()
            response = session.patch(f"{base}/Groups/{self._pick(self.groups)}", data=json.dumps(body), headers=scim,
                                     timeout=65)
            samples.add(op, sent, response, (200, 204))


def drive(tenant: Tenant, rate: float, deadline: float, samples: Samples, late: list[int]) -> None:
    """Open loop: a request every 1/rate s, whatever the latency of earlier ones."""
    ops, weights = zip(*MIX)
    chooser = random.Random(tenant.random.random())
    interval = 1.0 / rate
    next_at = time.monotonic()
    futures = []
    while next_at < deadline:
        delay = next_at - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        elif delay < -1.0:
            late[0] += 1  # the scheduler itself fell over a second behind
        op = chooser.choices(ops, weights)[0]
        pool = tenant.pool
        futures.append(pool.executor.submit(lambda o=op: tenant.run(o, pool.client(), samples)))
        next_at += interval
    for future in futures:
        future.result()


def load_average() -> float | None:
    """The machine's 1-minute load average: other work competing for the cores."""
    try:
        with open("/proc/loadavg", encoding="ascii") as handle:
            return float(handle.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def sample_rss(pid: int, stop: threading.Event, started: float, out: list[tuple[float, int]],
               load: list[tuple[float, float]]) -> None:
    while not stop.wait(5.0):
        rss = proc_status(pid).get("VmRSS")
        if rss is None:
            return
        now = time.perf_counter() - started
        out.append((now, rss))
        average = load_average()
        if average is not None:
            load.append((now, average))


def summarize(samples: Samples, rss: list[tuple[float, int]], load: list[tuple[float, float]], seconds: float,
              warmup: float, target_rate: float) -> dict:
    """Per-window figures (a minute; a sixth of runs shorter than five minutes) and the checks."""
    window = 60.0 if seconds >= 300 else max(10.0, seconds / 6)
    windows = []
    for index in range(int(-(-seconds // window))):
        start, end = index * window, (index + 1) * window
        rows = [r for r in samples.rows if start <= r[0] < end]
        ms = [r[1] * 1000 for r in rows]
        mem = [kib for t, kib in rss if start <= t < end]
        busy = [average for t, average in load if start <= t < end]
        windows.append({"from_s": round(start), "requests": len(rows),
                        "errors": sum(1 for r in rows if r[3] >= 400 or r[3] == 0),
                        "p50_ms": round(percentile(ms, 50) or 0, 1), "p99_ms": round(percentile(ms, 99) or 0, 1),
                        "rss_mb": round(max(mem) / 1024, 1) if mem else None,
                        "load_max": max(busy) if busy else None})
    after = [kib for t, kib in rss if t >= warmup]
    at_warm = next((kib for t, kib in rss if t >= warmup), None)
    growth = (max(after) - at_warm) / at_warm if after and at_warm else None
    steady = [w["p99_ms"] for w in windows if w["from_s"] >= warmup and w["requests"]]
    spread = max(steady) / min(steady) if steady and min(steady) > 0 else None
    middle = (warmup + seconds) / 2
    first = percentile([r[1] * 1000 for r in samples.rows if warmup <= r[0] < middle], 99)
    second = percentile([r[1] * 1000 for r in samples.rows if r[0] >= middle], 99)
    drift = second / first if first and second else None
    all_ms = [r[1] * 1000 for r in samples.rows]
    achieved = len(samples.rows) / seconds
    checks = {
        "no_errors": not samples.errors,
        "rss_flat_within_10pct": growth is not None and growth <= RSS_GROWTH_LIMIT,
        "p99_no_drift": drift is not None and drift <= P99_DRIFT_LIMIT,
        "rate_at_least_95pct": achieved >= RATE_FLOOR * target_rate,
    }
    return {"windows": windows, "window_s": window, "requests": len(samples.rows), "errors": len(samples.errors),
            "error_samples": samples.errors[:10], "achieved_rate": round(achieved, 1),
            "p50_ms": round(percentile(all_ms, 50) or 0, 1), "p99_ms": round(percentile(all_ms, 99) or 0, 1),
            "rss_at_warmup_mb": round(at_warm / 1024, 1) if at_warm else None,
            "rss_max_after_warmup_mb": round(max(after) / 1024, 1) if after else None,
            "rss_growth_pct": round(growth * 100, 1) if growth is not None else None,
            "p99_spread": round(spread, 2) if spread else None, "p99_drift": round(drift, 2) if drift else None,
            "checks": checks, "passed": all(checks.values())}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/soak.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=600)
    parser.add_argument("--rate", type=float, default=25.0, help="requests per second per tenant")
    parser.add_argument("--tenants", type=int, default=3)
    parser.add_argument("--warmup", type=float, default=None, help="seconds excluded from the RSS and p99 checks "
                                                                     "(default: 2 minutes, or a fifth of a shorter run)")
    parser.add_argument("--seed", type=int, default=None, help="seed of the request mix (default: random, printed)")
    args = parser.parse_args(argv)
    warmup = args.warmup if args.warmup is not None else min(120.0, args.seconds / 5)
    seed = args.seed if args.seed is not None else secrets.randbelow(2**31)
    command = " ".join(["python scripts/soak.py", *(sys.argv[1:] if argv is None else argv)])
    print(f"soak: {args.tenants} tenants x {args.rate:g} req/s for {args.seconds:g} s, warm-up {warmup:g} s, "
          f"seed {seed}", flush=True)

    work = scratch_dir()
    azurite = devhost = None
    pools: list[ClientPool] = []
    try:
        azurite = start_azurite(in_memory=True)
        env = app_env(azurite.connection_string)
        tenants = []
        for i in range(args.tenants):
            token = secrets.token_urlsafe(32)
            ensure_tenant(env, f"soak{i}", token, work)
            tenants.append((f"soak{i}", token))
        devhost = DevHost(env, free_port(), work / "devhost.log")
        print(f"Azurite pid {azurite.pid}, dev host pid {devhost.pid} on {devhost.base}", flush=True)
        runs = []
        for i, (name, token) in enumerate(tenants):
            pool = ClientPool(devhost.base, token, WORKERS_PER_TENANT)
            pools.append(pool)
            runs.append(Tenant(name, pool, seed + i))
        for tenant in runs:
            tenant.setup()
        print(f"set up {STABLE_USERS} users and {GROUPS} groups per tenant; driving load", flush=True)

        started = time.perf_counter()
        samples = Samples(started)
        rss: list[tuple[float, int]] = [(0.0, proc_status(devhost.pid).get("VmRSS", 0))]
        load: list[tuple[float, float]] = []
        stop = threading.Event()
        sampler = threading.Thread(target=sample_rss, args=(devhost.pid, stop, started, rss, load), daemon=True)
        sampler.start()
        deadline = time.monotonic() + args.seconds
        late = [0]
        drivers = [threading.Thread(target=drive, args=(t, args.rate, deadline, samples, late)) for t in runs]
        for thread in drivers:
            thread.start()
        for thread in drivers:
            thread.join()
        stop.set()
        sampler.join()
        alive = devhost.running()
        result = summarize(samples, rss, load, args.seconds, warmup, args.rate * args.tenants)
        result["checks"]["app_alive"] = alive
        result["passed"] = result["passed"] and alive
        result["scheduler_late"] = late[0]
        result["meta"] = {"command": command, "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                          "cpu_count": os.cpu_count(), "platform": platform.platform(), "seed": seed,
                          "tenants": args.tenants, "rate_per_tenant": args.rate, "seconds": args.seconds,
                          "warmup_s": warmup}
    finally:
        for pool in pools:
            pool.close()
        if devhost is not None:
            devhost.stop()
        if azurite is not None:
            azurite.stop()

    print(f"{'from s':>6} {'requests':>9} {'errors':>7} {'p50 ms':>8} {'p99 ms':>8} {'RSS MB':>8} {'load':>5}")
    for w in result["windows"]:
        print(f"{w['from_s']:>6} {w['requests']:>9} {w['errors']:>7} {w['p50_ms']:>8} {w['p99_ms']:>8} "
              f"{w['rss_mb']!s:>8} {w['load_max']!s:>5}")
    print(f"total {result['requests']} requests ({result['achieved_rate']}/s), {result['errors']} errors, "
          f"p50 {result['p50_ms']} ms, p99 {result['p99_ms']} ms; RSS {result['rss_at_warmup_mb']} MB at warm-up, "
          f"max {result['rss_max_after_warmup_mb']} MB after ({result['rss_growth_pct']}%); p99 of the second half of the "
          f"steady state / first half {result['p99_drift']}, windows' p99 max/min {result['p99_spread']}")
    for sample in result["error_samples"]:
        print(f"  error: {sample}")
    for name, ok in result["checks"].items():
        print(f"  {'PASS' if ok else 'FAIL'} {name}")
    out = ROOT / "bench-results" / f"soak-{datetime.now(timezone.utc).strftime('%Y%m%dT%H%M%SZ')}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(f"results: {out.relative_to(ROOT)}")
    return 0 if result["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
