"""Fixtures shared by every test.

Sections: storage (Azurite); the log scan.  Other sections go below their own banner.
"""

from __future__ import annotations

import faulthandler
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `scripts` and `shared` import from the repo root
    sys.path.insert(0, str(ROOT))

from tests.log_scan import LOG_CAPTURE, LogCapture  # noqa: E402

pytest_plugins = ["pytester"]  # tests/integration/test_log_scan.py runs a small suite under pytest-xdist


@pytest.hookimpl(trylast=True)  # after pytest's faulthandler plugin, whose enable() would replace ours
def pytest_configure(config: pytest.Config) -> None:
    LOG_CAPTURE.install()
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None:  # a pytest-xdist worker: a crash's tracebacks to a file the controller prints
        # The pid in the name: a worker that replaces a crashed one has the same id and must not truncate its log.
        crash_log = open(Path(workerinput[LOG_SCAN_DIR], f"crash-{workerinput['workerid']}-{os.getpid()}.log"), "w")
        faulthandler.enable(crash_log, all_threads=True)
        for signum in (signal.SIGTERM, signal.SIGHUP):
            faulthandler.register(signum, crash_log, all_threads=True, chain=True)
        config._crash_log = crash_log


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``slow`` first (otherwise in their order): pytest-xdist hands tests
    out in collection order, and a long test handed out last keeps one worker busy alone."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


# ==========================================================================
# Storage: Azurite's Table service
# ==========================================================================
#
# `make test` starts one in-memory Azurite for the whole run and passes its
# connection string in SCIM_TEST_STORAGE_CONNECTION_STRING (scripts/test.py).
# Without it (plain `.venv/bin/pytest`), the first test that asks for storage
# starts an in-memory Azurite on a free port for the session and stops it at
# the end; tests that need no storage never start one.


@pytest.fixture(scope="session")
def storage_connection_string():
    """Connection string of a running Azure Table Storage emulator (Azurite)."""
    given = os.environ.get("SCIM_TEST_STORAGE_CONNECTION_STRING")
    if given:
        yield given
        return
    from scripts.azurite import start

    azurite = start(in_memory=True, queue=True)
    try:
        yield azurite.connection_string
    finally:
        azurite.stop()


# ==========================================================================
# The log scan: no token, secret, key, password or personal value in any log
# line of the run
# ==========================================================================
# (tests/log_scan.py says what is kept, what is looked for, and the rule that
# keeps short and common values out.)


@pytest.fixture(scope="session")
def log_capture() -> LogCapture:
    return LOG_CAPTURE


#: Where each pytest-xdist worker leaves its scan's outcome for the controller to report.
LOG_SCAN_DIR = "log_scan_dir"


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node) -> None:
    """pytest-xdist, in the controller: tell each worker where to leave its scan (a folder of the run's)."""
    folder = getattr(node.config, "_log_scan_dir", None)
    if folder is None:
        folder = node.config._log_scan_dir = tempfile.mkdtemp(prefix="log-scan-")
    node.workerinput[LOG_SCAN_DIR] = folder


def _scan_this_process() -> dict:
    """This process's scan: each worker (or a run without workers) scans the lines its own tests
    made, against the values and secrets its own tests registered."""
    started = time.perf_counter()
    leaks = LOG_CAPTURE.leaks()
    return {"lines": len(LOG_CAPTURE.lines), "secrets": len(LOG_CAPTURE.secrets),
            "personal": len(LOG_CAPTURE.personal), "leaks": leaks, "seconds": time.perf_counter() - started}


def _worker_scans(config: pytest.Config) -> tuple[list[dict], list[str]]:
    """The workers' scans, and what a worker that crashed wrote as it died (faulthandler)."""
    folder = getattr(config, "_log_scan_dir", None)
    if folder is None:
        return [], []
    scans = [json.loads(path.read_text()) for path in sorted(Path(folder).glob("*.json"))]
    crashes = [f"{path.stem}:\n{text}" for path in sorted(Path(folder).glob("crash-*.log")) if (text := path.read_text())]
    shutil.rmtree(folder, ignore_errors=True)
    return scans, crashes


def pytest_testnodedown(node, error) -> None:
    """A pytest-xdist worker that died: say how (its exit status, or the
    signal that ended it), since a death faulthandler cannot report -- a
    SIGKILL, a stack overflow outside the main thread -- leaves no crash log."""
    if not error:
        return
    popen = getattr(getattr(getattr(node, "gateway", None), "_io", None), "popen", None)
    if popen is None:
        return
    try:
        status = popen.wait(5)
    except Exception:  # noqa: BLE001 - a diagnostic only
        return
    how = f"signal {-status} ({signal.Signals(-status).name})" if status < 0 else f"exit status {status}"
    reporter = node.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(f"worker {node.gateway.id} (pid {popen.pid}) ended: {how}", red=True)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    workerinput = getattr(session.config, "workerinput", None)
    if workerinput is not None:  # an xdist worker: the controller reports
        scan = _scan_this_process()
        Path(workerinput[LOG_SCAN_DIR], f"{workerinput['workerid']}.json").write_text(json.dumps(scan))
        return
    scans, crashes = _worker_scans(session.config)
    scans = scans or [_scan_this_process()]
    leaks = [leak for scan in scans for leak in scan["leaks"]]
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        for crash in crashes:
            reporter.write_line(f"worker {crash[-20000:]}", red=True)
        reporter.ensure_newline()
        total = {name: sum(scan[name] for scan in scans) for name in ("lines", "secrets", "personal", "seconds")}
        reporter.write_line(f"log scan: {total['lines']} log lines, {total['secrets']} registered secrets, "
                            f"{total['personal']} registered personal values, {len(leaks)} leaks "
                            f"({total['seconds']:.2f} s{f' in {len(scans)} workers' if len(scans) > 1 else ''})")
        for leak in leaks[:20]:
            reporter.write_line(f"  LEAK {leak}", red=True)
    if leaks:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
