"""Process management, HTTP clients, statistics and memory sampling for the benchmark.

Everything runs on 127.0.0.1.  Every process this module starts is kept by
its PID and stopped by that PID (the dev host: SIGTERM to its own process
group, SIGKILL after a timeout; Azurite: :meth:`scripts.azurite.Azurite.stop`).
Every wait loop is bounded by a deadline.
"""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import requests

from scripts.app_process import AppProcess

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
SCIM_BASE = "scim/v2"  # below the host root (host.json's route prefix is empty)
SCIM_MEDIA = "application/scim+json"
REQUEST_TIMEOUT_SECONDS = 65.0  # a little above Entra's 60 s give-up
INJECTIONS = ("extra-read",)     # test-only regressions of bench/inject.py (bench.run --inject)
INJECT_ENV = "BENCH_INJECT"      # how the dev host process learns which one to apply


# --------------------------------------------------------------------- stats
def percentile(values: list[float], q: float) -> float | None:
    """The q-th percentile (0..100) by linear interpolation; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    pos = (len(ordered) - 1) * q / 100.0
    lo, hi = math.floor(pos), math.ceil(pos)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def median(values: list[float]) -> float | None:
    return percentile(values, 50)


def ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b == 0:
        return None
    return a / b


@dataclass
class OpStats:
    """Samples of one operation type: latency (s), status, storage calls.

    ``excess`` holds, for each request that came with a budget
    (:mod:`bench.budgets`), its storage calls minus that budget.
    """

    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    storage_calls: list[int] = field(default_factory=list)
    error_samples: list[str] = field(default_factory=list)
    budgets: list[int] = field(default_factory=list)
    excess: list[int] = field(default_factory=list)

    def summary(self) -> dict:
        ms = [x * 1000 for x in self.latencies]
        calls = self.storage_calls
        out = {
            "count": len(ms),
            "errors": self.errors,
            "p50_ms": _round(percentile(ms, 50)),
            "p95_ms": _round(percentile(ms, 95)),
            "p99_ms": _round(percentile(ms, 99)),
            "max_ms": _round(max(ms) if ms else None),
            "mean_storage_calls": _round(sum(calls) / len(calls) if calls else None, 2),
            "storage_calls_histogram": {str(n): calls.count(n) for n in sorted(set(calls))},
            "error_samples": self.error_samples[:3],
        }
        if self.excess:
            lo, hi = min(self.budgets), max(self.budgets)
            out["budget"] = str(lo) if lo == hi else f"{lo}-{hi}"
            out["least_excess"] = min(self.excess)          # the cheapest request against its budget
            out["over_budget"] = sum(1 for x in self.excess if x > 0)
            out["calls_over_budget"] = sum(x for x in self.excess if x > 0)
        return out


def _round(x, digits=1):
    return None if x is None else round(x, digits)


class Recorder:
    """Thread-safe collection of :class:`OpStats` by operation name."""

    def __init__(self) -> None:
        self.ops: dict[str, OpStats] = {}
        self._lock = threading.Lock()

    def add(self, op: str, seconds: float, error: str | None, calls: int | None, budget: int | None = None) -> None:
        with self._lock:
            stats = self.ops.setdefault(op, OpStats())
            stats.latencies.append(seconds)
            if calls is not None:
                stats.storage_calls.append(calls)
                if budget is not None and not error:
                    stats.budgets.append(budget)
                    stats.excess.append(calls - budget)
            if error:
                stats.errors += 1
                stats.error_samples.append(error)

    def total(self) -> int:
        return sum(len(s.latencies) for s in self.ops.values())

    def errors(self) -> int:
        return sum(s.errors for s in self.ops.values())

    def all_latencies(self) -> list[float]:
        return [x for s in self.ops.values() for x in s.latencies]


# ----------------------------------------------------------------- HTTP client
class Client:
    """One keep-alive HTTP session for one tenant, timing each request.

    ``call`` records latency, whether the status was unexpected (>= 400 and
    not in ``expect``) and the ``X-Storage-Calls`` header into a recorder.
    Proxies from the environment are ignored (loopback only).
    """

    def __init__(self, base: str, token: str) -> None:
        self.base = base
        self.session = requests.Session()
        self.session.trust_env = False
        self.session.headers["Authorization"] = f"Bearer {token}"
        self.session.headers["Accept"] = SCIM_MEDIA

    def call(self, recorder: Recorder | None, op: str, method: str, path: str, body=None, params=None,
             expect: tuple[int, ...] = (), budget: int | None = None) -> requests.Response | None:
        headers = {}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = SCIM_MEDIA
        started = time.perf_counter()
        try:
            response = self.session.request(method, self.base + path, data=data, params=params, headers=headers,
                                            timeout=REQUEST_TIMEOUT_SECONDS)
            response.content  # read the whole body inside the timing
        except requests.RequestException as exc:
            if recorder is not None:
                recorder.add(op, time.perf_counter() - started, f"{type(exc).__name__}: {exc}"[:200], None)
            return None
        elapsed = time.perf_counter() - started
        error = None
        if response.status_code >= 400 and response.status_code not in expect:
            error = f"{response.status_code} {method} {path}: {response.text[:200]}"
        calls = response.headers.get("X-Storage-Calls")
        if recorder is not None:
            recorder.add(op, elapsed, error, int(calls) if calls and calls.isdigit() else None, budget)
        return response

    def close(self) -> None:
        self.session.close()


class ClientPool:
    """``threads`` clients, one per worker thread, running task lists concurrently."""

    def __init__(self, base: str, token: str, threads: int) -> None:
        self.threads = threads
        self._base, self._token = base, token
        self._local = threading.local()
        self._clients: list[Client] = []
        self._lock = threading.Lock()
        self.executor = ThreadPoolExecutor(threads, thread_name_prefix="bench-client")

    def client(self) -> Client:
        client = getattr(self._local, "client", None)
        if client is None:
            client = Client(self._base, self._token)
            self._local.client = client
            with self._lock:
                self._clients.append(client)
        return client

    def run(self, tasks, deadline: float | None = None) -> tuple[float, int]:
        """Run callables ``task(client)`` on the pool; returns (wall seconds, tasks skipped).

        Tasks that have not started by ``deadline`` (a ``time.monotonic`` value)
        are skipped, so a phase never runs past its time budget.
        """
        skipped = [0]

        def wrap(task):
            if deadline is not None and time.monotonic() > deadline:
                with self._lock:
                    skipped[0] += 1
                return
            task(self.client())

        started = time.perf_counter()
        for future in [self.executor.submit(wrap, t) for t in tasks]:
            future.result()
        return time.perf_counter() - started, skipped[0]

    def close(self) -> None:
        self.executor.shutdown(wait=True)
        for client in self._clients:
            client.close()


# ------------------------------------------------------------------ processes
def proc_status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of a process in KiB (Linux /proc), {} when unavailable."""
    found = {}
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith(("VmRSS:", "VmHWM:")):
                    name, value = line.split(":", 1)
                    found[name] = int(value.split()[0])
    except OSError:
        pass
    return found


class RssSampler:
    """Samples a process's VmRSS every ``interval`` s in a background thread.

    Used per scenario to get the peak resident memory of the dev host while
    that scenario runs (VmHWM is the peak over the process lifetime, so it
    cannot tell scenarios apart; it is reported as well).
    """

    def __init__(self, pid: int, interval: float = 0.05) -> None:
        self.pid = pid
        self.interval = interval
        self.peak_kib = 0
        self.start_kib = proc_status(pid).get("VmRSS", 0)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True, name="bench-rss")

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            rss = proc_status(self.pid).get("VmRSS")
            if rss is None:
                return
            self.peak_kib = max(self.peak_kib, rss)

    def __enter__(self) -> "RssSampler":
        self.peak_kib = self.start_kib
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self.peak_kib = max(self.peak_kib, proc_status(self.pid).get("VmRSS", 0))

    def summary(self) -> dict:
        return {"start_mb": round(self.start_kib / 1024, 1), "peak_mb": round(self.peak_kib / 1024, 1),
                "hwm_mb_so_far": round(proc_status(self.pid).get("VmHWM", 0) / 1024, 1)}


def app_env(connection_string: str) -> dict[str, str]:
    """The environment ``make run`` gives the app, plus the storage-call header."""
    env = dict(os.environ)
    env["SCIM_STORAGE_CONNECTION_STRING"] = connection_string
    env["SCIM_EXPOSE_STORAGE_CALLS"] = "1"
    env.pop("SCIM_PUBLIC_BASE_URL", None)
    no_proxy = ",".join(filter(None, [env.get("NO_PROXY") or env.get("no_proxy"), HOST]))
    env["NO_PROXY"] = env["no_proxy"] = no_proxy
    return env


def ensure_tenant(env: dict[str, str], name: str, token: str, workdir: Path) -> str:
    """``python -m shared.admin ensure-tenant`` (as ``make run``); returns the tenant id."""
    token_file = workdir / f"token-{name}"
    fd = os.open(token_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(token + "\n")
    try:
        result = subprocess.run([sys.executable, "-m", "shared.admin", "ensure-tenant", "--name", name,
                                 "--token-file", str(token_file)], cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                                capture_output=True, text=True, timeout=120)
    finally:
        token_file.unlink(missing_ok=True)
    if result.returncode != 0:
        raise RuntimeError(f"shared.admin ensure-tenant failed: {result.stderr[-2000:]}")
    match = re.search(r"\(([0-9a-f]{32})\)", result.stdout)
    if not match:
        raise RuntimeError(f"could not read the tenant id from: {result.stdout!r}")
    return match.group(1)


class DevHost:
    """The app in the dev host, started as ``make run`` starts it (a separate
    process, :class:`scripts.app_process.AppProcess`).

    ``cold_start_s`` is the time from ``Popen`` to the first answered
    request (any HTTP status) -- the dev host's cold start.
    """

    def __init__(self, env: dict[str, str], port: int, log_path: Path, app: str | None = None) -> None:
        self.port = port
        self.base = f"http://{HOST}:{port}/{SCIM_BASE}"
        self._log = open(log_path, "wb")
        command = [sys.executable, "-m", "scripts.devhost", "--host", HOST, "--port", str(port)]
        if app:  # another module:attribute (bench.inject:app); its folder has no host.json
            command += ["--app", app, "--route-prefix", ""]
        self.process = AppProcess(command, env, stdout=self._log, stderr=subprocess.STDOUT)
        try:
            self.cold_start_s = self.process.wait_up(f"{self.base}/ServiceProviderConfig")
        except BaseException:
            self.stop()
            raise

    @property
    def pid(self) -> int:
        return self.process.pid

    def running(self) -> bool:
        return self.process.running()

    def stop(self) -> None:
        """Stop the process (:meth:`AppProcess.stop`) and close its log. Idempotent."""
        self.process.stop()
        try:
            self._log.close()
        except OSError:
            pass


def time_fresh_process(code: str, timeout: float = 120.0) -> float:
    """Wall time of ``python -c CODE`` in a fresh interpreter (the venv's), in seconds."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, stdin=subprocess.DEVNULL, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=timeout)
    return time.perf_counter() - started


def scratch_dir() -> Path:
    return Path(tempfile.mkdtemp(prefix="scim-bench-"))
