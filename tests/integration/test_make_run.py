"""``make run``'s script, driven the way a script in the background would:
start it, wait for the URL, use the token, stop it with SIGTERM.

Its stderr -- the dev host's log, with the access log on -- goes to the log
scan (tests/log_scan.py), and so does its stdout less the banner lines that
show the dev token on purpose; the test also checks that creating and
looking up a user left neither the userName nor a storage URL in them.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import quote

import requests

from scripts.azurite import free_port
from tests.log_scan import LOG_CAPTURE
from tests.messages import USER

ROOT = Path(__file__).resolve().parents[2]


def _read(process, marker: str | None, timeout: float) -> str:
    """Read the script's stdout until ``marker`` appears, or its end, or ``timeout``."""
    seen = b""
    deadline = time.monotonic() + timeout
    fd = process.stdout.fileno()
    while time.monotonic() < deadline and (marker is None or marker.encode() not in seen):
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            seen += chunk
    return seen.decode(errors="replace")


def _wait_for(process, marker: str, timeout: float = 90) -> str:
    """Read the script's stdout until ``marker`` appears (or it exits)."""
    text = _read(process, marker, timeout)
    assert marker in text, text
    return text


def test_run_in_background_prints_url_and_token_and_stops_on_sigterm(tmp_path):
    port, azurite_port = free_port(), free_port()
    token = "background-test-token-0123456789"
    env = {**os.environ, "PORT": str(port), "AZURITE_PORT": str(azurite_port), "AZURITE_QUEUE_PORT": str(free_port()),
           "SCIM_DEV_TOKEN": token, "SCIM_RUN_DIR": str(tmp_path), "DEVHOST_ACCESS_LOG": "1"}
    env.pop("SCIM_TOKEN_SIGNING_KEY", None)  # other tests' app fixture sets one
    process = subprocess.Popen([sys.executable, str(ROOT / "scripts" / "run.py")], env=env, cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    LOG_CAPTURE.secrets.add(token)  # shown in the banner on purpose, never in a log line
    stderr = LOG_CAPTURE.follow(process.stderr, "make-run stderr")
    user_name = f"make-run-{uuid.uuid4().hex[:8]}@example.com"
    output = ""
    try:
        output = _wait_for(process, "Bearer token:")
        base = f"http://127.0.0.1:{port}/scim/v2"
        assert f"SCIM base URL: {base}" in output and token in output
        headers = {"Authorization": f"Bearer {token}"}
        assert requests.get(f"{base}/Users", headers=headers, timeout=10).status_code == 200
        body = {"schemas": [USER], "userName": user_name}
        LOG_CAPTURE.register_sent(body)
        assert requests.post(f"{base}/Users", json=body, headers=headers, timeout=10).status_code == 201
        lookup = quote('userName eq "%s"' % user_name)
        found = requests.get(f"{base}/Users?filter={lookup}", headers=headers, timeout=10)
        assert found.json()["totalResults"] == 1
        assert requests.get(f"{base}/Users", timeout=10).status_code == 401
        oauth = requests.post(f"{base}/oauth/token", data={"grant_type": "client_credentials"}, auth=("nobody", "x"), timeout=10)
        assert oauth.json()["error"] == "invalid_client"  # OAuth is on: make run made a signing key
        assert (tmp_path / "oauth-signing-key.pem").stat().st_mode & 0o777 == 0o600
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        output += _read(process, None, 5)
        LOG_CAPTURE.feed([line for line in output.splitlines() if token not in line], "make-run stdout")
    logged = stderr.join()
    # The access log names route templates, never the path or its filter; no SDK request line.
    assert [line for line in logged if '"GET scim/v2/Users" 200' in line] and [line for line in logged if '"POST scim/v2/Users" 201' in line]
    assert not [line for line in logged if user_name.split("@")[0] in line or "Request URL" in line], logged
    for p in (port, azurite_port):
        try:
            requests.get(f"http://127.0.0.1:{p}/", timeout=2)
        except requests.ConnectionError:
            continue
        raise AssertionError(f"something still listens on {p} after SIGTERM")
    assert (tmp_path / "azurite").is_dir()  # data kept for the next run


def test_a_dev_token_shorter_than_32_characters_stops_the_run_at_once(tmp_path):
    """The README's rule: SCIM_DEV_TOKEN needs at least 32 characters (a bearer
    token's minimum); a shorter one is refused before Azurite or the app start."""
    env = {**os.environ, "SCIM_RUN_DIR": str(tmp_path), "SCIM_DEV_TOKEN": "too-short-token", "PORT": str(free_port()),
           "AZURITE_PORT": str(free_port()), "AZURITE_QUEUE_PORT": str(free_port())}
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "run.py")], env=env, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 1
    assert "SCIM_DEV_TOKEN is 15 characters; a bearer token needs at least 32" in result.stderr
    assert "Azurite" not in result.stdout and not (tmp_path / "azurite").exists()
