"""Start and stop Azurite's Table and Queue services: the local Azure Storage.

Shared by ``make run`` (persistent data in ``.local/azurite``), ``make test``
and the test fixtures (in memory, on a free port) and the benchmarks::

    azurite = start(in_memory=True)         # or start(port=10002, location=".local/azurite")
    os.environ["SCIM_STORAGE_CONNECTION_STRING"] = azurite.connection_string
    ...
    azurite.stop()

The Table service is started, and with ``queue=True`` the Queue service too
(the change events' Storage Queue, :mod:`shared.storage.event_queue`), each
on 127.0.0.1, from the pinned ``node_modules`` (``package.json``), by
running ``node_modules/.bin/azurite-table`` / ``azurite-queue`` directly and
keeping their PIDs: started through ``npx``, stopping the npx process would
leave node running.  It is stopped with SIGINT, the only
signal on which it saves its data (see :meth:`Azurite.stop`).
``--loose`` and ``--skipApiVersionCheck`` let any SDK version talk to it;
``--inMemoryPersistence`` and ``--location`` are mutually exclusive.
(https://learn.microsoft.com/azure/storage/common/storage-use-azurite#command-line-options)

The connection string is the explicit ``devstoreaccount1`` form, which works
on any port (``UseDevelopmentStorage=true`` implies 10002).  Its key is
Azurite's well-known development key, published by Microsoft; it is not a
secret.
(https://learn.microsoft.com/azure/storage/common/storage-use-azurite#http-connection-strings)

Command line (foreground, Ctrl-C or SIGTERM stops it)::

    python scripts/azurite.py run [--port 10002] [--location .local/azurite | --in-memory]
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
ACCOUNT_NAME = "devstoreaccount1"
# Azurite's public, documented development account key (not a secret).
ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
START_TIMEOUT_SECONDS = 30.0
STOP_TIMEOUT_SECONDS = 10.0


class AzuriteError(RuntimeError):
    """Azurite could not be started."""


def connection_string(port: int, host: str = HOST, queue_port: int | None = None) -> str:
    """The explicit development-storage connection string for a Table endpoint
    on ``port`` (and a Queue endpoint on ``queue_port``)."""
    text = (
        f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT_NAME};AccountKey={ACCOUNT_KEY};"
        f"TableEndpoint=http://{host}:{port}/{ACCOUNT_NAME};"
    )
    if queue_port is not None:
        text += f"QueueEndpoint=http://{host}:{queue_port}/{ACCOUNT_NAME};"
    return text


def executable(root: Path = ROOT, service: str = "table") -> Path:
    """``node_modules/.bin/azurite-{service}``, or a clear error when it is not installed."""
    path = root / "node_modules" / ".bin" / f"azurite-{service}"
    if not path.exists():
        raise AzuriteError(f"{path.relative_to(root)} is missing: run `make install` first (it runs `npm ci`)")
    return path


def free_port(host: str = HOST) -> int:
    """A port nothing listens on right now (the kernel's pick)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def port_in_use(port: int, host: str = HOST) -> bool:
    """Whether something accepts TCP connections on ``host:port``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.5)
        return probe.connect_ex((host, port)) == 0


class Azurite:
    """A running ``azurite-table`` process that this Python process started,
    and the ``azurite-queue`` process beside it (:attr:`queue`) when asked for."""

    def __init__(self, process: subprocess.Popen, port: int, output) -> None:
        self.process = process
        self.port = port
        self._output = output
        self._lock = threading.Lock()
        self.queue: Azurite | None = None

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def connection_string(self) -> str:
        return connection_string(self.port, queue_port=self.queue.port if self.queue else None)

    @property
    def table_endpoint(self) -> str:
        return f"http://{HOST}:{self.port}/{ACCOUNT_NAME}"

    def running(self) -> bool:
        return self.process.poll() is None

    def output(self) -> str:
        """What Azurite wrote to stdout/stderr so far (for error messages)."""
        try:
            self._output.seek(0)
            return self._output.read().decode("utf-8", "replace")
        except (OSError, ValueError):
            return ""

    def stop(self, timeout: float = STOP_TIMEOUT_SECONDS) -> None:
        """SIGINT by PID, SIGKILL if it has not exited after ``timeout`` seconds. Idempotent.

        SIGINT, not SIGTERM: azurite-table's ``main.js`` closes its store (and so
        writes ``--location`` data to disk) only on SIGINT; on SIGTERM node
        exits at once and the last few seconds of writes are lost (the store
        autosaves every 5 s).  The Queue service, if any, is stopped first.
        """
        if self.queue is not None:
            self.queue.stop(timeout)
        with self._lock:
            if self.process.poll() is None:
                self.process.send_signal(signal.SIGINT)
                try:
                    self.process.wait(timeout)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait()
            try:
                self._output.close()
            except OSError:
                pass

    def __enter__(self) -> "Azurite":
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<Azurite pid={self.pid} port={self.port} running={self.running()}>"


def start(*, port: int | None = None, location: str | os.PathLike | None = None, in_memory: bool = False,
          timeout: float = START_TIMEOUT_SECONDS, root: Path = ROOT, queue: bool = False,
          queue_port: int | None = None) -> Azurite:
    """Start the Table service on 127.0.0.1 and wait until it accepts connections;
    with ``queue``, the Queue service too (on ``queue_port``, or a free one).

    ``port`` None picks a free port (and tries another if that one is taken
    in the meantime).  Exactly one of ``location`` (a data directory, created
    if missing, kept across restarts) or ``in_memory=True`` must be given.
    Raises :class:`AzuriteError` when the port is taken, when node_modules is
    missing, or when Azurite exits or is not up within ``timeout`` seconds.
    """
    if (location is None) == (not in_memory):
        raise ValueError("give exactly one of location=DIR or in_memory=True")
    storage = ["--inMemoryPersistence"]
    if not in_memory:
        data = Path(location).resolve()
        data.mkdir(parents=True, exist_ok=True)
        storage = ["--location", str(data)]
    table = _start_service("table", port, storage, timeout, root)
    if queue:
        try:
            table.queue = _start_service("queue", queue_port, storage, timeout, root)
        except BaseException:
            table.stop()
            raise
    return table


def _start_service(service: str, port: int | None, storage: list[str], timeout: float, root: Path) -> Azurite:
    program = executable(root, service)
    attempts = 1 if port is not None else 3
    for attempt in range(1, attempts + 1):
        chosen = free_port() if port is None else port
        if port_in_use(chosen):
            if attempt < attempts:
                continue
            raise AzuriteError(f"port {HOST}:{chosen} is already in use (another Azurite?); "
                               "stop that process or choose another port")
        try:
            return _launch(program, service, chosen, storage, timeout, root)
        except AzuriteError:
            if attempt == attempts:
                raise
    raise AssertionError("unreachable")


def _launch(program: Path, service: str, port: int, storage: list[str], timeout: float, root: Path) -> Azurite:
    command = [str(program), f"--{service}Host", HOST, f"--{service}Port", str(port), *storage,
               "--skipApiVersionCheck", "--loose", "--disableTelemetry", "--silent"]
    output = tempfile.TemporaryFile()
    process = subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=output,
        stderr=subprocess.STDOUT,
        cwd=root,
        start_new_session=True,  # its owner stops it, in order; a terminal's Ctrl-C does not
    )
    azurite = Azurite(process, port, output)
    try:
        deadline = time.monotonic() + timeout
        while not port_in_use(port):
            if process.poll() is not None:
                raise AzuriteError(f"azurite-{service} exited with status {process.returncode}:\n{azurite.output()}")
            if time.monotonic() > deadline:
                raise AzuriteError(f"azurite-{service} did not accept connections on {HOST}:{port} "
                                   f"within {timeout:.0f} s:\n{azurite.output()}")
            time.sleep(0.05)
        if process.poll() is not None:  # something else answered on the port
            raise AzuriteError(f"azurite-{service} exited with status {process.returncode}:\n{azurite.output()}")
    except BaseException:
        azurite.stop()
        raise
    return azurite


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python scripts/azurite.py", description="Run Azurite's Table service.")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run in the foreground until Ctrl-C or SIGTERM")
    run.add_argument("--port", type=int, default=10002)
    where = run.add_mutually_exclusive_group()
    where.add_argument("--location", default=".local/azurite", help="data directory (default .local/azurite)")
    where.add_argument("--in-memory", action="store_true", help="keep nothing on disk")
    args = parser.parse_args(argv)

    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, lambda *_: stop.set())
    try:
        azurite = start(port=args.port, location=None if args.in_memory else args.location, in_memory=args.in_memory)
    except AzuriteError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"Azurite Table service on {azurite.table_endpoint} (pid {azurite.pid})", flush=True)
    print(f"SCIM_STORAGE_CONNECTION_STRING='{azurite.connection_string}'", flush=True)
    try:
        while not stop.wait(0.5):
            if not azurite.running():
                print(f"error: azurite-table exited:\n{azurite.output()}", file=sys.stderr)
                return 1
    finally:
        azurite.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
