"""Storage unreachable or timing out: 503 with Retry-After, within a bounded time."""

from __future__ import annotations

import socket
import threading
import time

from shared.config import Settings
from shared.http import Request
from shared.service import ScimService


def _settings(port: int, timeout: int) -> Settings:
    base = Settings.from_env()
    fields = {name: getattr(base, name) for name in base.__slots__}
    fields["connection_string"] = (
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
        "AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;"
        f"TableEndpoint=http://127.0.0.1:{port}/devstoreaccount1;"
    )
    fields["storage_timeout_seconds"] = timeout
    return Settings(**fields)


def _get_users(service: ScimService):
    request = Request.build("GET", "http://127.0.0.1/scim/v2/Users", {"Authorization": "Bearer " + "x" * 43}, b"")
    started = time.monotonic()
    response = service.handle(request, "Users")
    return response, time.monotonic() - started


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_refused_connection_answers_503_quickly():
    response, elapsed = _get_users(ScimService(_settings(_free_port(), 2)))
    assert response.status == 503
    assert response.headers["Retry-After"].isdigit()
    assert response.body["status"] == "503" and "storage" in response.body["detail"]
    assert elapsed < 10


def test_silent_storage_answers_503_within_the_timeout_budget():
    """A server that accepts connections and never answers (a hung storage front end)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    held = []
    stop = threading.Event()

    def accept():
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        response, elapsed = _get_users(ScimService(_settings(listener.getsockname()[1], 1)))
    finally:
        stop.set()
        thread.join()
        for conn in held:
            conn.close()
        listener.close()
    assert response.status == 503 and "Retry-After" in response.headers
    assert elapsed < 15  # 3 attempts x 1 s read timeout + back-off
