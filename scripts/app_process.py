"""The app as a child process: started in a process group of its own, waited for, stopped by its PID.

One helper for every script that runs the app beside itself: ``make run``
(:mod:`scripts.run`), the soak (:mod:`scripts.soak`) and the benchmark
(:class:`bench.harness.DevHost`), and the tests' fleet of instances
(``tests/integration/fleet.py``).

* **Start:** ``subprocess.Popen`` with ``start_new_session=True``, so the app
  and whatever it starts (Core Tools runs the Python worker as a child) form
  one process group; stdin is closed.
* **Up:** :meth:`AppProcess.wait_up` polls a URL on loopback (never through a
  proxy) until any HTTP answer comes back -- a 401 means the server is up --
  and fails at once if the process exits first, or after a deadline.
* **Stop:** SIGTERM to the process group (by this process's PID), SIGKILL
  after a timeout. Idempotent; a group already gone is not an error.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parent.parent
UP_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 10.0
POLL_SECONDS = 0.01


class AppNotUp(RuntimeError):
    """The app exited, or did not answer, before the deadline."""


class AppProcess:
    """One started app; ``started`` is its ``time.perf_counter()`` at ``Popen``."""

    def __init__(self, command: Sequence[str], env: Mapping[str, str], *, stdout: IO[bytes] | int | None = None,
                 stderr: IO[bytes] | int | None = None, cwd: Path = ROOT) -> None:
        """``stdout`` and ``stderr`` as :class:`subprocess.Popen` takes them (None: this process's)."""
        self.started = time.perf_counter()
        self.process = subprocess.Popen(list(command), cwd=cwd, env=dict(env), stdin=subprocess.DEVNULL,
                                        stdout=stdout, stderr=stderr, start_new_session=True)

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def returncode(self) -> int | None:
        return self.process.poll()

    def running(self) -> bool:
        return self.process.poll() is None

    def wait_up(self, url: str, timeout: float = UP_TIMEOUT_SECONDS) -> float:
        """Poll ``url`` until the server answers with any status; the seconds since ``Popen``."""
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never via a proxy
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise AppNotUp(f"the app exited with status {self.process.returncode} before answering")
            try:
                with opener.open(url, timeout=2):
                    pass
                return time.perf_counter() - self.started
            except urllib.error.HTTPError:
                return time.perf_counter() - self.started  # 401, 404...: the server is up
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                raise AppNotUp(f"the app did not answer {url} within {timeout:.0f} s")
            time.sleep(POLL_SECONDS)

    def stop(self, timeout: float = STOP_TIMEOUT_SECONDS) -> None:
        """SIGTERM the process group (this PID), SIGKILL after ``timeout`` seconds. Idempotent."""
        if self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        except ProcessLookupError:
            pass
