"""Storage unreachable or timing out: 503 with Retry-After, within a bounded time."""

from __future__ import annotations

import json
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from shared.config import Settings
from shared.scim.http import Request
from shared.web.service import ScimService
from shared.storage.tables import RESOURCES

from scripts.azurite import free_port, start
from tests.integration.entra_cycle import EntraCycle, directory, http_send
from tests.integration.store_state import findings, resources_table, snapshot
from tests.log_scan import LOG_CAPTURE


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


def test_refused_connection_answers_503_quickly():
    response, elapsed = _get_users(ScimService(_settings(free_port(), 2)))
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


@pytest.mark.slow
def test_azurite_stopped_mid_cycle_answers_503_then_serves_again_and_the_replay_converges(tmp_path, scim, scim_app):
    """docs/reliability.md, "Storage outages": our own Azurite (data on disk),
    stopped by PID in the middle of an Entra cycle and started again on the
    same port; the same service object serves throughout."""
    assert EntraCycle(http_send(scim)).run(*directory()) == set()
    clean = snapshot(resources_table(scim_app), scim.tenant_id)

    port, data = free_port(), tmp_path / "azurite"
    azurite = [start(port=port, location=data)]
    stop_at, restart_at = 8, 16  # requests 8..15 of the cycle meet the outage
    try:
        service = ScimService(_settings(port, 2))
        tenant = service.registry.create_tenant("outage")
        token = service.registry.issue_token(tenant)[1]
        LOG_CAPTURE.secrets.add(token)
        seen: list[tuple[int, int, float]] = []  # (request number, status, seconds)
        outage_reads: list[tuple[int, float]] = []  # 8 concurrent reads when storage has just gone

        def send(method, path, body):
            number = len(seen)
            if number == stop_at:
                azurite[0].stop()
                outage_reads.extend(_together_during_outage(lambda: _timed(lambda: service.handle(Request.build(
                    "GET", "http://127.0.0.1/scim/v2/Users?count=5", {"Authorization": f"Bearer {token}"}, b""), "Users"))))
            if number == restart_at:
                azurite[0] = start(port=port, location=data)
            route_path, _, _ = path.partition("?")
            parts = route_path.strip("/").split("/")
            route, rid = (parts[0], None) if len(parts) == 1 else (f"{parts[0]}/{{id}}", parts[1])
            request = Request.build(method, f"http://127.0.0.1/scim/v2{path}", {
                "Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"},
                json.dumps(body).encode() if body is not None else b"")
            started = time.monotonic()
            response = service.handle(request, route, rid)
            seen.append((number, response.status, time.monotonic() - started))
            if response.status == 503:
                assert response.headers["Retry-After"].isdigit() and response.body["status"] == "503"
            return response.status, response.body

        cycle = EntraCycle(send)
        failed = cycle.run(*directory())
        during = [(status, seconds) for number, status, seconds in seen if stop_at <= number < restart_at]
        assert {status for status, _ in during} == {503}
        assert max(seconds for _, seconds in during) < 10  # refused connections: ~1 s with the SDK's 2 retries
        assert all(status < 500 for number, status, _ in seen if number >= restart_at)  # no restart of the app
        assert failed, "the outage should have failed some objects"
        assert [status for status, _ in outage_reads] == [503] * 8 and max(t for _, t in outage_reads) < 10

        assert cycle.run(*directory(), only=failed) == set()  # Entra's next cycle retries what failed
        table = service.tables.table(RESOURCES)
        assert findings(table, tenant) == []
        assert snapshot(table, tenant) == clean
    finally:
        azurite[0].stop()


def _timed(call) -> tuple[int, float]:
    started = time.monotonic()
    return call().status, time.monotonic() - started


def _together_during_outage(call, count: int = 8) -> list:
    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(lambda _: call(), range(count)))
