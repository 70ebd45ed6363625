"""``make test``: run pytest against a fresh in-memory Azurite, always stopped afterwards.

One Azurite serves the whole run (and every pytest-xdist worker): its
connection string reaches the ``storage_connection_string`` fixture through
``SCIM_TEST_STORAGE_CONNECTION_STRING``.  If that variable is already set,
the Azurite it names is used and none is started.

Pytest arguments come from ``PYTEST_ARGS`` (shell-quoted, e.g.
``make test PYTEST_ARGS='-k "patch and not slow" -x'``) followed by this
script's own arguments.  The exit status is pytest's.

The tests run in ``TEST_WORKERS`` pytest-xdist workers (default: one more
than the CPUs, as most tests wait on Azurite or a socket part of the time),
unless the arguments choose (``-n``, ``--numprocesses``, ``-p no:xdist``);
``TEST_WORKERS=0`` runs them in this one process.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scripts.azurite import AzuriteError, start  # noqa: E402

ENV_NAME = "SCIM_TEST_STORAGE_CONNECTION_STRING"


def workers(args: list[str]) -> list[str]:
    """The pytest-xdist arguments to add to ``args`` (module docstring)."""
    if any(arg in ("-n", "--numprocesses", "no:xdist") or arg.startswith(("-n", "--numprocesses=")) for arg in args):
        return []
    count = os.environ.get("TEST_WORKERS") or str((os.cpu_count() or 1) + 1)
    # Two tests at a time: xdist's first hand-out is otherwise a quarter of a
    # worker's share in one run of consecutive tests, and the slow tests,
    # collected first (tests/conftest.py), would all go to the first worker.
    return ["-n", count, "--maxschedchunk", "2"]


def main(argv: list[str]) -> int:
    args = shlex.split(os.environ.get("PYTEST_ARGS", "")) + argv
    args = workers(args) + args
    # Ctrl-C reaches pytest directly (same process group) and pytest winds down
    # by itself; SIGTERM/SIGHUP to this script are passed on to pytest.
    child: subprocess.Popen | None = None
    stopping = False

    def forward(signum, frame):
        nonlocal stopping
        stopping = True
        if child is not None and child.poll() is None:
            child.send_signal(signal.SIGTERM)

    # A Python-level handler (unlike SIG_IGN) is reset to the default by exec,
    # so pytest still gets its KeyboardInterrupt.
    signal.signal(signal.SIGINT, lambda signum, frame: None)
    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGHUP, forward)
    env = dict(os.environ)
    # Tests talk to 127.0.0.1 only; a proxy from the environment must not intercept that.
    env["NO_PROXY"] = env["no_proxy"] = ",".join(filter(None, [env.get("NO_PROXY") or env.get("no_proxy"),
                                                               "127.0.0.1"]))
    azurite = None
    try:
        if not env.get(ENV_NAME):
            try:
                azurite = start(in_memory=True, queue=True)
            except AzuriteError as error:
                print(f"error: {error}", file=sys.stderr)
                return 2
            env[ENV_NAME] = azurite.connection_string
            print(f"Azurite (in memory) on 127.0.0.1:{azurite.port}, pid {azurite.pid}; "
                  f"its Queue service on 127.0.0.1:{azurite.queue.port}, pid {azurite.queue.pid}", flush=True)
        if stopping:
            return 128 + signal.SIGTERM
        child = subprocess.Popen([sys.executable, "-m", "pytest", *args], cwd=ROOT, env=env)
        status = child.wait()
        return 128 - status if status < 0 else status  # killed by a signal: shell convention
    finally:
        if azurite is not None:
            azurite.stop()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
