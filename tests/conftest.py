"""Fixtures shared by every test.

Sections: storage (Azurite); the log scan.  Other sections go below their own banner.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `scripts` and `shared` import from the repo root
    sys.path.insert(0, str(ROOT))

from tests.log_scan import LOG_CAPTURE, LogCapture  # noqa: E402


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: long-running tests (deselect with -m 'not slow')")
    LOG_CAPTURE.install()


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

    azurite = start(in_memory=True)
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


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    started = time.perf_counter()
    leaks = LOG_CAPTURE.leaks()
    seconds = time.perf_counter() - started
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(f"log scan: {len(LOG_CAPTURE.lines)} log lines, {len(LOG_CAPTURE.secrets)} registered secrets, "
                            f"{len(LOG_CAPTURE.personal)} registered personal values, {len(leaks)} leaks "
                            f"({seconds:.2f} s)")
        for leak in leaks[:20]:
            reporter.write_line(f"  LEAK {leak}", red=True)
    if leaks:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
