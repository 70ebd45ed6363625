"""``make run``: Azurite and the app on 127.0.0.1, a local tenant and its token.

Steps, each failing with a message that says what to do:

1. Azurite's Table service on ``127.0.0.1:${AZURITE_PORT:-10002}`` and its
   Queue service on ``127.0.0.1:${AZURITE_QUEUE_PORT:-10001}`` (the change
   events' queue, ``SCIM_EVENTS_QUEUE``, ``scim-events`` unless set), data in
   ``.local/azurite`` (git-ignored, kept across restarts; ``make clean-data``
   empties it).  A port already taken is an error, not silently reused.
   While the script runs, ``.local/storage.json`` (mode 0600) records where
   they listen -- their connection string and endpoints -- for ``scimctl``,
   which uses this Azurite when given no storage (:mod:`shared.admin`).  The
   connection string holds Azurite's published development key, not a
   secret, yet it is never printed or logged.
2. The bearer token: ``SCIM_DEV_TOKEN`` when set, otherwise the one kept in
   ``.local/dev-token`` (created once, mode 0600, ``secrets.token_urlsafe(32)``).
3. ``python -m shared.admin ensure-tenant --name local --token-file FILE``
   creates the tenant ``local`` if needed and registers the token for it.
   The token travels in a file so that it never shows in a process list.
   The key that signs OAuth access tokens (``SCIM_TOKEN_SIGNING_KEY``) is
   the environment's when set, otherwise ``.local/oauth-signing-key.pem``
   (an RSA-2048 key created once, mode 0600).
4. The app on ``127.0.0.1:${PORT:-7071}``: ``func start --port PORT`` when Azure
   Functions Core Tools is on ``PATH``, otherwise the bundled dev host
   (``python -m scripts.devhost``, see :mod:`scripts.devhost`).  Both get
   ``SCIM_STORAGE_CONNECTION_STRING`` for the Azurite above in their
   environment, which Core Tools lets win over ``local.settings.json``.
5. Once ``/scim/v2/ServiceProviderConfig`` answers (any status: 401 is "up"),
   the base URL, the token and a curl line are printed, and the script waits.

Ctrl-C, SIGTERM or SIGHUP stop the app, then Azurite (each by the PID this
script started, SIGKILL after 10 s), and the script exits 0.  The PID to
signal is this script's; it is written to ``.local/run.pid`` while it runs.
Both files, ``run.pid`` and ``storage.json``, are removed on exit.  The
Makefile starts it with ``exec``, and GNU make passes SIGTERM on to its
children, so ``kill -TERM`` on the ``make run`` PID works as well.  If the app
or Azurite dies on its own, the other is stopped and the exit status is 1.

Environment: ``PORT``, ``AZURITE_PORT``, ``AZURITE_QUEUE_PORT``, ``SCIM_DEV_TOKEN``,
``DEVHOST_ACCESS_LOG=1`` (one log line per request from the dev host),
``SCIM_RUN_DIR`` (instead of ``.local``: where the data, token, PID and storage
files live; the tests use it to run this script beside a developer's own, and
scimctl reads it to find this Azurite).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scripts.app_process import AppNotUp, AppProcess  # noqa: E402
from scripts.azurite import AzuriteError, port_in_use, start  # noqa: E402

HOST = "127.0.0.1"
LOCAL = Path(os.environ.get("SCIM_RUN_DIR") or ROOT / ".local")
DATA_DIR = LOCAL / "azurite"
TOKEN_FILE = LOCAL / "dev-token"
SIGNING_KEY_FILE = LOCAL / "oauth-signing-key.pem"
PID_FILE = LOCAL / "run.pid"
STORAGE_FILE = LOCAL / "storage.json"  # read by scimctl (shared/admin/store.py)
MIN_TOKEN_CHARS = 32  # shared.auth.credentials.MIN_TOKEN_LENGTH: a shorter token is not registered
TENANT_NAME = "local"
SCIM_BASE = "scim/v2"


class Stop(Exception):
    """A stop signal arrived."""


class Failure(Exception):
    """Something the user has to fix; the message says what."""


def _on_signal(signum, frame):
    # Later signals are noted but do not interrupt the clean-up.
    for other in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(other, lambda *_: None)
    raise Stop(signal.Signals(signum).name)


def _write_secret(path: Path, text: str) -> None:
    """Create ``path`` readable by its owner only, then write ``text``."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text + "\n")


def storage_record(azurite, events_queue: str) -> str:
    """The text of :data:`STORAGE_FILE`: where this run's Azurite listens and the
    change events' queue, so that ``scimctl`` works on what the app works on."""
    return json.dumps({
        "pid": os.getpid(), "connection_string": azurite.connection_string, "table_endpoint": azurite.table_endpoint,
        "queue_endpoint": azurite.queue.table_endpoint,  # the property's URL form serves both services
        "events_queue": events_queue}, indent=2)


def remove_own(path: Path, text: str) -> None:
    """Delete ``path`` if it still holds the ``text`` this process wrote there
    (another run with the same folder may have replaced it since)."""
    try:
        if path.read_text(encoding="utf-8").strip() == text.strip():
            path.unlink()
    except OSError:
        pass


def dev_token() -> tuple[str, Path, bool]:
    """The token, a file holding it, and whether that file is temporary."""
    given = os.environ.get("SCIM_DEV_TOKEN", "").strip()
    if given and len(given) < MIN_TOKEN_CHARS:
        raise Failure(f"SCIM_DEV_TOKEN is {len(given)} characters; a bearer token needs at least {MIN_TOKEN_CHARS} "
                      "(unset it to use the generated one in .local/dev-token)")
    if given:
        scratch = LOCAL / f"dev-token.{os.getpid()}.tmp"
        _write_secret(scratch, given)
        return given, scratch, True
    if TOKEN_FILE.exists():
        token = TOKEN_FILE.read_text(encoding="utf-8").strip()
        if token:
            return token, TOKEN_FILE, False
    token = secrets.token_urlsafe(32)
    _write_secret(TOKEN_FILE, token)
    return token, TOKEN_FILE, False


def dev_signing_key() -> str:
    """The PEM key signing OAuth access tokens: the environment's, or a local one made once."""
    given = os.environ.get("SCIM_TOKEN_SIGNING_KEY")
    if given:
        return given
    if SIGNING_KEY_FILE.exists():
        return SIGNING_KEY_FILE.read_text(encoding="utf-8")
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    _write_secret(SIGNING_KEY_FILE, pem)
    return pem


def register_token(env: dict[str, str], token_file: Path) -> None:
    """``shared.admin ensure-tenant`` for the local tenant."""
    command = [sys.executable, "-m", "shared.admin", "ensure-tenant", "--name", TENANT_NAME,
               "--token-file", str(token_file)]
    result = subprocess.run(command, cwd=ROOT, env=env, stdin=subprocess.DEVNULL)
    if result.returncode != 0:
        raise Failure(f"registering the dev token failed (python -m shared.admin ensure-tenant exited "
                      f"with status {result.returncode})")


def start_app(env: dict[str, str], port: int) -> AppProcess:
    """Core Tools when installed, the dev host otherwise; in its own process group."""
    func = shutil.which("func")
    if func:
        env = dict(env)
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"  # the venv's python
        env.setdefault("FUNCTIONS_WORKER_RUNTIME", "python")
        env.setdefault("AzureWebJobsFeatureFlags", "EnableWorkerIndexing")
        command = [func, "start", "--port", str(port)]
        print(f"Starting the app with Azure Functions Core Tools ({func})", flush=True)
    else:
        command = [sys.executable, "-m", "scripts.devhost", "--host", HOST, "--port", str(port)]
        if env.get("DEVHOST_ACCESS_LOG") == "1":
            command.append("--access-log")
        print("Starting the app with the dev host (Core Tools' `func` is not on PATH)", flush=True)
    return AppProcess(command, env)


def main() -> int:
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _on_signal)
    port = int(os.environ.get("PORT") or 7071)
    azurite_port = int(os.environ.get("AZURITE_PORT") or 10002)
    queue_port = int(os.environ.get("AZURITE_QUEUE_PORT") or 10001)
    LOCAL.mkdir(exist_ok=True)
    azurite = app = None
    scratch: Path | None = None
    record = ""
    status = 0
    try:
        token, token_file, temporary = dev_token()  # first: a token too short stops the run before anything starts
        scratch = token_file if temporary else None
        if port_in_use(port):
            raise Failure(f"port {HOST}:{port} is already in use; stop that process or set PORT")
        try:
            azurite = start(port=azurite_port, location=DATA_DIR, queue=True, queue_port=queue_port)
        except AzuriteError as error:
            raise Failure(f"{error} (AZURITE_PORT and AZURITE_QUEUE_PORT set the ports)") from None
        print(f"Azurite Table service on {HOST}:{azurite.port} (pid {azurite.pid}, data in {DATA_DIR}), "
              f"Queue service on {HOST}:{azurite.queue.port} (pid {azurite.queue.pid})", flush=True)

        env = dict(os.environ)
        env["SCIM_STORAGE_CONNECTION_STRING"] = azurite.connection_string
        env.setdefault("SCIM_EVENTS_QUEUE", "scim-events")
        record = storage_record(azurite, env["SCIM_EVENTS_QUEUE"])
        _write_secret(STORAGE_FILE, record)
        no_proxy = ",".join(filter(None, [env.get("NO_PROXY") or env.get("no_proxy"), HOST]))
        env["NO_PROXY"] = env["no_proxy"] = no_proxy
        env["SCIM_TOKEN_SIGNING_KEY"] = dev_signing_key()
        register_token(env, token_file)
        if scratch is not None:
            scratch.unlink(missing_ok=True)
            scratch = None

        app = start_app(env, port)
        base_url = f"http://{HOST}:{port}/{SCIM_BASE}"
        try:
            app.wait_up(f"{base_url}/ServiceProviderConfig")
        except AppNotUp as error:
            raise Failure(str(error)) from None
        PID_FILE.write_text(f"{os.getpid()}\n", encoding="utf-8")
        print(
            f"\nSCIM base URL: {base_url}\n"
            f"Bearer token:  {token}\n"
            f'Try: curl -H "Authorization: Bearer {token}" {base_url}/Users\n'
            f"OAuth token URL: {base_url}/oauth/token (client ids and secrets: scimctl client issue <tenant>)\n"
            f"Admin: .venv/bin/scimctl tenant list (it finds this Azurite through {STORAGE_FILE})\n\n"
            f"Ctrl-C (or kill -TERM {os.getpid()}, also in {PID_FILE}) stops the app and Azurite.",
            flush=True,
        )
        while True:
            time.sleep(0.5)
            if not app.running():
                raise Failure(f"the app exited with status {app.returncode}")
            if not azurite.running():
                raise Failure(f"Azurite exited:\n{azurite.output()}")
    except Stop as stop:
        print(f"\n{stop}: stopping the app and Azurite", flush=True)
    except Failure as failure:
        print(f"error: {failure}", file=sys.stderr, flush=True)
        status = 1
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, lambda *_: None)
        if record:
            remove_own(STORAGE_FILE, record)  # first: scimctl then says make run is not running
        if app is not None:
            app.stop()
        if azurite is not None:
            azurite.stop()
        if scratch is not None:
            scratch.unlink(missing_ok=True)
        remove_own(PID_FILE, str(os.getpid()))
    return status


if __name__ == "__main__":
    sys.exit(main())
