"""Several app processes on one storage account, and a client that spreads
requests over them the way a load balancer without session affinity does
(docs/reliability.md, "Many instances").

:func:`start_fleet` starts ``python -m scripts.devhost`` (the path ``make run``
takes without Core Tools, :mod:`scripts.run`) once per instance, each with
the same environment and ``--port 0`` so the kernel gives each its own free
port; the URL each prints tells which.  :meth:`Fleet.stop` stops each process
by its PID (:class:`scripts.app_process.AppProcess`: SIGTERM, SIGKILL after a
timeout) and hands what the instances logged to the session's log scan (:mod:`tests.log_scan`), so a secret in an
instance's log fails the run as one in the test process's own log would.

:class:`RoundRobinClient` is a :class:`~tests.integration.conftest.ScimClient`
whose every request goes to the next instance in turn; each response says
which instance served it (``response.instance``).
"""

from __future__ import annotations

import itertools
import os
import re
import select
import subprocess
import sys
import tempfile
import time

import requests

from scripts.app_process import AppProcess
from tests.integration.conftest import ScimClient
from tests.log_scan import LOG_CAPTURE

HOST = "127.0.0.1"
START_TIMEOUT_SECONDS = 60.0
_LISTENING = re.compile(r"Dev host listening on (http://127\.0\.0\.1:\d+\S*)")


class FleetError(RuntimeError):
    """An instance did not start; the message carries what it logged."""


class Instance:
    """One app process this test process started."""

    def __init__(self, index: int, env: dict[str, str]) -> None:
        self.index = index
        self.log = tempfile.TemporaryFile()
        self.app = AppProcess([sys.executable, "-m", "scripts.devhost", "--host", HOST, "--port", "0"], env,
                              stdout=subprocess.PIPE, stderr=self.log)
        self.process = self.app.process
        self.base: str | None = None

    @property
    def pid(self) -> int:
        return self.process.pid

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read().decode("utf-8", "replace")

    def wait_listening(self, deadline: float) -> str:
        """The base URL the instance printed once it listens."""
        stdout = self.process.stdout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise FleetError(f"instance {self.index} exited with {self.process.returncode}:\n{self.output()[-3000:]}")
            ready, _, _ = select.select([stdout], [], [], 0.2)
            if ready:
                line = stdout.readline().decode("utf-8", "replace")
                found = _LISTENING.search(line)
                if found:
                    self.base = found.group(1).rstrip("/") + "/scim/v2"  # the host's root; SCIM is below it
                    return self.base
        raise FleetError(f"instance {self.index} did not listen within {START_TIMEOUT_SECONDS:.0f} s:\n{self.output()[-3000:]}")

    def stop(self) -> None:
        """:meth:`AppProcess.stop` (SIGTERM by PID, SIGKILL after a timeout); idempotent."""
        self.app.stop()
        if self.process.stdout is not None:
            self.process.stdout.close()


class Fleet:
    """The instances of one deployment, sharing one storage account."""

    def __init__(self, instances: list[Instance]) -> None:
        self.instances = instances

    @property
    def bases(self) -> list[str]:
        return [instance.base for instance in self.instances]

    def __len__(self) -> int:
        return len(self.instances)

    def client(self, token: str) -> "RoundRobinClient":
        return RoundRobinClient(self.bases, token)

    def pinned(self, token: str) -> list[ScimClient]:
        """One client per instance, each sending everything to its instance."""
        return [ScimClient(base, token) for base in self.bases]

    def stop(self) -> None:
        for instance in self.instances:
            instance.stop()
        for instance in self.instances:  # into the session's log scan
            LOG_CAPTURE.feed(instance.output(), f"instance {instance.index} (pid {instance.pid})")
            instance.log.close()


def fleet_env(storage_connection_string: str, table_prefix: str, signing_key: str, **settings: str) -> dict[str, str]:
    """The environment every instance gets: the same storage, key and settings."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("SCIM_")}
    env.update({
        "SCIM_STORAGE_CONNECTION_STRING": storage_connection_string,
        "SCIM_TABLE_PREFIX": table_prefix,
        "SCIM_TOKEN_SIGNING_KEY": signing_key,
        "SCIM_EXPOSE_STORAGE_CALLS": "1",
        "PYTHONUNBUFFERED": "1",
    })
    env["NO_PROXY"] = env["no_proxy"] = ",".join(filter(None, [env.get("NO_PROXY") or env.get("no_proxy"), HOST]))
    env.update(settings)
    return env


def start_fleet(env: dict[str, str], count: int = 3) -> Fleet:
    """``count`` instances with the same ``env``, each listening on its own free port."""
    instances: list[Instance] = []
    fleet = Fleet(instances)
    try:
        for index in range(count):  # all start at once; then wait for each
            instances.append(Instance(index, env))
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        for instance in instances:
            instance.wait_listening(deadline)
        for instance in instances:  # listening is up; any HTTP answer (401) says the app is served
            requests.get(f"{instance.base}/ServiceProviderConfig", timeout=30)
    except BaseException:
        fleet.stop()
        raise
    return fleet


class RoundRobinClient(ScimClient):
    """Each request to the next instance in turn, no affinity; ``response.instance``
    is the index of the instance that served it."""

    def __init__(self, bases: list[str], token: str) -> None:
        super().__init__(bases[0], token)
        self.clients = [ScimClient(base, token) for base in bases]
        self._turn = itertools.count()  # next() on a count is atomic under the GIL

    def request(self, method: str, path: str, body=None, **kwargs):
        index = next(self._turn) % len(self.clients)
        response = self.clients[index].request(method, path, body, **kwargs)
        response.instance = index
        return response
