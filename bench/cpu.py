"""CPU time, the resource an instance serves with and Azure bills: the app
process's CPU per request, the CPU of a raw HTTP round trip to the same
storage, and a sampling profile of the app.

* :func:`cpu_seconds`: a process's user + system CPU so far, from its own
  counters (Linux ``/proc/<pid>/stat``), never wall time;
* :func:`raw_round_trip_cpu`: what one keep-alive HTTP round trip to the
  storage endpoint costs a Python client (urllib3, the transport under
  azure-core), measured on this thread's CPU clock in the same run as the
  app: the floor an app request cannot go below by much, since every
  request makes at least one; :func:`paced_round_trips`, the same round
  trip sent after idle gaps, for what idling does to the CPU of the same
  work here;
* :func:`sdk_call_cpu`: the same clock around single storage calls
  (``get_entity``, ``create_entity``, transactions of 2, 5 and 20 entities,
  on the app's lean path and on the SDK's own);
* :class:`Profile`: py-spy (https://github.com/benfred/py-spy) sampling the
  app process while it runs a scenario, only when it holds the GIL
  (``--gil``: time waiting on sockets is not CPU), written as collapsed
  stacks beside the report and summarised by :func:`summarise`.
"""

from __future__ import annotations

import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process so far (Linux ``/proc``), None when unavailable."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class AppCpu:
    """The app's CPU between two points: ``with AppCpu(pid) as cpu: ...`` then ``cpu.seconds``."""

    def __init__(self, pid: int) -> None:
        self.pid, self.seconds = pid, None

    def __enter__(self) -> "AppCpu":
        self._start = cpu_seconds(self.pid)
        return self

    def __exit__(self, *exc) -> None:
        end = cpu_seconds(self.pid)
        self.seconds = None if self._start is None or end is None else end - self._start

    def per_request_ms(self, requests: int) -> float | None:
        return round(self.seconds / requests * 1000, 3) if self.seconds is not None and requests else None


def _thread_cpu_rounds(call, calls: int, rounds: int) -> list[float]:
    """This thread's CPU per ``call()`` in each of ``rounds`` rounds, in microseconds."""
    call()  # warm: the connection is open, the code paths loaded
    per_round = []
    for _ in range(rounds):
        start = time.thread_time()
        for _ in range(calls):
            call()
        per_round.append((time.thread_time() - start) / calls * 1e6)
    return per_round


def _paced_cpu_rounds(call, calls: int, rounds: int, gap_seconds: float) -> list[float]:
    """This thread's CPU per ``call()`` made once every ``gap_seconds`` of
    idling, in each of ``rounds`` rounds, in microseconds (the calls' own CPU
    only, not the idling)."""
    call()
    per_round = []
    for _ in range(rounds):
        spent = 0.0
        for _ in range(calls):
            time.sleep(gap_seconds)
            start = time.thread_time()
            call()
            spent += time.thread_time() - start
        per_round.append(spent / calls * 1e6)
    return per_round


def raw_round_trip_cpu(url: str, calls: int = 500, rounds: int = 5, gap_seconds: float = 0.0) -> dict:
    """This thread's CPU per keep-alive GET of ``url`` (urllib3, one pooled
    connection; the storage answers whatever it answers, a 4xx is fine: it
    is a round trip): back to back, or with ``gap_seconds`` one every that
    long (:func:`paced_round_trips`)."""
    import urllib3

    pool = urllib3.PoolManager(maxsize=1, retries=False)

    def send():
        return pool.request("GET", url, preload_content=True)

    try:
        per_round = (_paced_cpu_rounds(send, calls, rounds, gap_seconds) if gap_seconds
                     else _thread_cpu_rounds(send, calls, rounds))
    finally:
        pool.clear()
    return {"client": f"urllib3 {urllib3.__version__}", "url": url, "calls_per_round": calls, "rounds": rounds,
            "gap_ms": gap_seconds * 1000, "cpu_us_per_round_trip": round(statistics.median(per_round), 1),
            "cpu_us_per_round": [round(us, 1) for us in per_round]}


#: The idle gaps :func:`paced_round_trips` leaves between round trips, in seconds.
PACES = (0.001, 0.01)


def paced_round_trips(url: str, back_to_back_us: float, calls: int = 100, rounds: int = 3) -> dict:
    """The raw round trip's CPU when one is sent after each gap of
    :data:`PACES` instead of back to back, and each over the back-to-back
    figure: what idling between bursts of work does to the CPU the same
    work costs on this machine.  An app request thread idles so between
    its storage calls, for as long as the storage takes to answer (tens of
    milliseconds when Azurite is the bottleneck).  Reported beside the
    judged ratio, not judged."""
    paced = {}
    for gap in PACES:
        figure = raw_round_trip_cpu(url, calls, rounds, gap_seconds=gap)
        paced[f"{gap * 1000:g} ms"] = {"cpu_us_per_round_trip": figure["cpu_us_per_round_trip"],
                                       "over_back_to_back": round(figure["cpu_us_per_round_trip"] / back_to_back_us, 2)
                                       if back_to_back_us else None}
    return paced


def combined_round_trips(*measures: dict) -> dict:
    """One raw round-trip figure from measurements taken at different times
    of a run (before and after a scenario): the median of all their rounds,
    each measurement's own median kept beside it.  The machine's speed
    drifts within a run; a baseline taken at one moment moves a ratio with
    it."""
    rounds = [us for measure in measures for us in measure["cpu_us_per_round"]]
    return {**measures[0], "rounds": len(rounds), "cpu_us_per_round": rounds,
            "cpu_us_per_round_trip": round(statistics.median(rounds), 1),
            "medians_of_each_measure": [measure["cpu_us_per_round_trip"] for measure in measures]}


def sdk_call_cpu(table, calls: int = 100, rounds: int = 5) -> dict:
    """This thread's CPU per storage call against ``table``, the app's client
    (medians, microseconds): ``get_entity`` (the lean read path,
    :mod:`shared.storage.entity_reads`, and the SDK's own beside it),
    ``create_entity``, transactions of 2, 5 and 20 entities as the app sends
    them (the lean path, :mod:`shared.storage.changesets`) and, beside them,
    through the SDK's own ``TableClient.submit_transaction``.

    The calls take turns, one round of each after another, ``rounds``
    times: a ratio of two of them (a 2-entity transaction over a
    ``create_entity``) then compares rounds measured side by side, not
    blocks measured a minute apart on a machine whose speed drifts."""
    partition = "cpu-" + uuid.uuid4().hex[:12]
    made = iter(range(10**9))

    def entity(i: int) -> dict:
        return {"PartitionKey": partition, "RowKey": f"r{i:09d}", "k": "U", "data": "x" * 200}

    def transaction(submit, size: int):
        return lambda: submit([("create", entity(next(made))) for _ in range(size)])

    table.create_entity(entity(-1))
    timed = {  # name: (call, calls per round)
        "get_entity": (lambda: table.get_entity(partition, "r-00000001"), calls),
        "sdk_get_entity": (lambda: table.sdk_client.get_entity(partition, "r-00000001"), calls),
        "create_entity": (lambda: table.create_entity(entity(next(made))), calls),
    }
    paths = {"transaction": table.submit_transaction, "sdk_transaction": table.sdk_client.submit_transaction}
    for size in (2, 5, 20):
        for name, submit in paths.items():
            timed[f"{name}_{size}"] = (transaction(submit, size), max(10, calls // size))
    per_round: dict[str, list[float]] = {name: [] for name in timed}
    for name, (call, _) in timed.items():
        call()  # warm: the connection is open, the code paths loaded
    for _ in range(rounds):
        for name, (call, count) in timed.items():
            per_round[name] += _thread_cpu_rounds(call, count, 1)
    figures = {name: round(statistics.median(values), 1) for name, values in per_round.items()}
    for name in paths:
        figures[f"{name}_2_over_create"] = round(figures[f"{name}_2"] / figures["create_entity"], 2)
    return {"cpu_us": figures, "calls_per_round": calls, "rounds": rounds}


class Profile:
    """py-spy recording the app process (``pid``) into ``path`` until closed."""

    RATE = 250  # samples per second

    def __init__(self, pid: int, path: Path) -> None:
        self.pid, self.path, self.error = pid, path, None
        self._process: subprocess.Popen | None = None

    def __enter__(self) -> "Profile":
        spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
        if spy is None:
            self.error = "py-spy is not installed (requirements-dev.txt)"
            return self
        self._log = open(self.path.with_suffix(".log"), "wb")
        self._process = subprocess.Popen(
            [spy, "record", "--pid", str(self.pid), "--gil", "--rate", str(self.RATE), "--format", "raw",
             "--output", str(self.path), "--nonblocking"], stdout=self._log, stderr=subprocess.STDOUT)
        time.sleep(0.5)  # attached before the scenario starts
        if self._process.poll() is not None:
            self.error = f"py-spy exited with {self._process.returncode} (see {self.path.with_suffix('.log').name})"
        return self

    def __exit__(self, *exc) -> None:
        if self._process is None:
            return
        if self._process.poll() is None:
            self._process.send_signal(signal.SIGINT)  # py-spy writes the profile on SIGINT
            try:
                self._process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
                self.error = "py-spy did not stop within 30 s"
        self._log.close()
        if not self.error and not self.path.exists():
            self.error = f"py-spy wrote no profile (see {self.path.with_suffix('.log').name})"


#: Frames every request passes through (threads, the HTTP server, the dev host,
#: the trigger): on nearly every stack, they would fill the inclusive top list.
SERVING_MODULES = frozenset({"threading.py", "socketserver.py", "server.py", "serving.py", "devhost.py",
                             "devhost_routing.py", "function_app.py"})
#: Where the samples go, by a frame on the stack: (area, test on the frame).
AREAS = (
    ("entity-group transactions on the lean path (shared.storage.changesets)",
     lambda frame: frame.endswith(" (changesets.py)")),
    ("point reads and queries on the lean path (shared.storage.entity_reads)",
     lambda frame: frame.endswith(" (entity_reads.py)")),
    ("azure-data-tables entity-group transactions (TableClient.submit_transaction)",
     lambda frame: frame.startswith("TableClient.submit_transaction ")),
    ("other azure-data-tables calls (TableClient.get_entity, create_entity, query_entities, ...)",
     lambda frame: frame.startswith("TableClient.") and not frame.startswith("TableClient.submit_transaction ")),
    ("the standard library's email package (multipart bodies)",
     lambda frame: frame.endswith(("(feedparser.py)", "(generator.py)", "(headerregistry.py)", "(_header_value_parser.py)",
                                   "(_policybase.py)", "(policy.py)"))),
    ("the web edge and the SCIM service (shared.web.service.ScimService.handle)",
     lambda frame: frame.startswith("ScimService.handle ")),
)


def summarise(path: Path, top: int = 15) -> dict:
    """A collapsed-stack profile (``a;b;c N`` per line) in figures: the share
    of samples of each of :data:`AREAS`; the top frames by inclusive samples
    (the frame anywhere on the stack; the serving frames of
    :data:`SERVING_MODULES` left out) and by self samples (the frame on top)."""
    inclusive: Counter = Counter()
    own: Counter = Counter()
    areas: Counter = Counter()
    total = 0
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        samples = int(count)
        frames = [_frame(f) for f in stack.split(";") if f]
        total += samples
        for frame in dict.fromkeys(frames):  # once per stack, in stack order (ties rank alike in every run)
            inclusive[frame] += samples
        if frames:
            own[frames[-1]] += samples
        for area, test in AREAS:
            if any(test(frame) for frame in frames):
                areas[area] += samples
    share = (lambda n: round(100 * n / total, 1)) if total else (lambda n: 0.0)
    serving = [(frame, n) for frame, n in inclusive.most_common() if _module(frame) not in SERVING_MODULES]
    return {"samples": total,
            "areas": [[area, share(areas[area])] for area, _ in AREAS],
            "top_inclusive": [[frame, share(n)] for frame, n in serving[:top]],
            "top_self": [[frame, share(n)] for frame, n in own.most_common(top)]}


def _module(frame: str) -> str:
    return frame.rpartition(" (")[2].rstrip(")") if " (" in frame else ""


def _frame(text: str) -> str:
    """``function (path/to/module.py:123)`` as ``function (module.py)``: one entry per function."""
    name, _, where = text.partition(" (")
    module = where.rsplit(":", 1)[0].rsplit("/", 1)[-1] if where else ""
    return f"{name} ({module})" if module else name
