"""``make run``'s script, driven the way a script in the background would:
start it, wait for the URL, use the token, stop it with SIGTERM."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

from scripts.azurite import free_port

ROOT = Path(__file__).resolve().parents[2]


def _wait_for(process, marker: str, timeout: float = 90) -> str:
    """Read the script's output until ``marker`` appears (or it exits)."""
    seen = b""
    deadline = time.monotonic() + timeout
    fd = process.stdout.fileno()
    while time.monotonic() < deadline and marker.encode() not in seen:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            seen += chunk
    text = seen.decode(errors="replace")
    assert marker in text, text
    return text


def test_run_in_background_prints_url_and_token_and_stops_on_sigterm(tmp_path):
    port, azurite_port = free_port(), free_port()
    env = {**os.environ, "PORT": str(port), "AZURITE_PORT": str(azurite_port),
           "SCIM_DEV_TOKEN": "background-test-token-0123456789", "SCIM_RUN_DIR": str(tmp_path)}
    env.pop("SCIM_TOKEN_SIGNING_KEY", None)  # other tests' app fixture sets one
    process = subprocess.Popen([sys.executable, str(ROOT / "scripts" / "run.py")], env=env, cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        output = _wait_for(process, "Bearer token:")
        base = f"http://127.0.0.1:{port}/scim/v2"
        assert f"SCIM base URL: {base}" in output and "background-test-token-0123456789" in output
        headers = {"Authorization": "Bearer background-test-token-0123456789"}
        assert requests.get(f"{base}/Users", headers=headers, timeout=10).status_code == 200
        assert requests.get(f"{base}/Users", timeout=10).status_code == 401
        oauth = requests.post(f"{base}/oauth/token", data={"grant_type": "client_credentials"}, auth=("nobody", "x"), timeout=10)
        assert oauth.json()["error"] == "invalid_client"  # OAuth is on: make run made a signing key
        assert (tmp_path / "oauth-signing-key.pem").stat().st_mode & 0o777 == 0o600
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    for p in (port, azurite_port):
        try:
            requests.get(f"http://127.0.0.1:{p}/", timeout=2)
        except requests.ConnectionError:
            continue
        raise AssertionError(f"something still listens on {p} after SIGTERM")
    assert (tmp_path / "azurite").is_dir()  # data kept for the next run
