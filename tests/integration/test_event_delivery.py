"""Delivery of change events by push (RFC 8935) and by the Storage Queue,
settling, retention and replay, on Azurite.

The push receiver is this test's own HTTP server on 127.0.0.1: it answers
202 (RFC 8935 §2.2), 500, nothing in time (a timeout), and comes back; every
SET it is given is verified with the service's published key set.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import pytest
import requests
from azure.storage.queue import QueueClient

from shared.delivery.dispatch import Dispatcher
from shared.delivery.push import backoff_seconds
from shared.delivery.push import endpoint_problem
from shared.storage.event_queue import EventQueue
from shared.storage.outbox import Outbox
from tests.integration.conftest import ScimClient, events_client
from tests.integration.store_state import resources_table
from tests.log_scan import LOG_CAPTURE
from tests.messages import USER

RECEIVER_SECRET = "Bearer receiver-" + uuid.uuid4().hex


class Receiver:
    """An RFC 8935 push endpoint on loopback whose answer the test chooses."""

    def __init__(self) -> None:
        self.answer = 202  # or 500, or "silent" (no answer within the push timeout)
        self.received: list[tuple[dict, bytes]] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - the http.server hook
                body = self.rfile.read(int(self.headers["Content-Length"]))
                answer = receiver.answer
                if answer == "silent":
                    time.sleep(2.5)
                    answer = 202
                else:
                    with receiver.lock:
                        if answer == 202:
                            receiver.received.append((dict(self.headers), body))
                self.send_response(answer)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/events"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def sets(self) -> list[str]:
        with self.lock:
            return [body.decode() for _, body in self.received]

    def wait_for(self, count: int, timeout: float = 15) -> list[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.sets()) >= count:
                return self.sets()
            time.sleep(0.05)
        raise AssertionError(f"{len(self.sets())} SETs received, {count} expected")

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    running = Receiver()
    yield running
    running.stop()


def _claims(scim, token: str, audience: str) -> dict:
    keys = requests.get(scim.base + "/.well-known/jwks.json", timeout=10).json()["keys"]
    key = next(jwt.PyJWK(k) for k in keys if k["kid"] == jwt.get_unverified_header(token)["kid"])
    return jwt.decode(token, key, algorithms=["RS256"], audience=audience)


def _pushing_client(scim, registry, url: str) -> ScimClient:
    """A fresh credential of the tenant once its push endpoint is set (a new
    credential is looked up, so it carries the new settings at once)."""
    LOG_CAPTURE.secrets.add(RECEIVER_SECRET)
    registry.set_event_settings(scim.tenant_id, push_url=url, push_authorization=RECEIVER_SECRET)
    _, token = registry.issue_token(scim.tenant_id)
    LOG_CAPTURE.secrets.add(token)
    client = ScimClient(scim.base, token)
    client.tenant_id = scim.tenant_id
    return client


def _pending(scim_app, tenant_id: str) -> list:
    return list(Outbox(resources_table(scim_app), tenant_id).pending())


def test_each_set_is_pushed_after_its_commit_as_rfc_8935_says(scim, registry, scim_app, receiver):
    client = _pushing_client(scim, registry, receiver.url)
    created = client.post("/Users", {"schemas": [USER], "userName": "pushed"})
    (token,) = receiver.wait_for(1)
    headers = receiver.received[0][0]
    assert headers["Content-Type"] == "application/secevent+jwt" and headers["Accept"] == "application/json"
    assert headers["Authorization"] == RECEIVER_SECRET
    claims = _claims(scim, token, scim.tenant_id)
    assert claims["txn"] == created.headers["X-Request-Id"]
    assert claims["sub_id"]["uri"] == f"/Users/{created.json()['id']}"
    deadline = time.monotonic() + 10
    while _pending(scim_app, scim.tenant_id) and time.monotonic() < deadline:  # settled: delivered everywhere
        time.sleep(0.05)
    assert _pending(scim_app, scim.tenant_id) == []


def test_a_failing_receiver_gets_the_events_again_in_order_when_it_comes_back(scim, registry, scim_app, receiver):
    client = _pushing_client(scim, registry, receiver.url)
    for answer in (500, "silent"):
        receiver.answer = answer
        uid = client.post("/Users", {"schemas": [USER], "userName": f"retry-{answer}"}).json()["id"]
        client.patch(f"/Users/{uid}", {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                                       "Operations": [{"op": "replace", "path": "displayName", "value": "x"}]})
        time.sleep(1.5)
        pending = _pending(scim_app, scim.tenant_id)
        assert pending and pending[0].push_attempts >= 1 and pending[0].push_error in ("HTTP 500", "timeout")
        assert Dispatcher(scim_app._get_service().settings, scim_app._get_service().tables, registry, None,
                          None).status(scim.tenant_id)["last_push_error"]
        receiver.answer = 202
        tokens = receiver.wait_for(2 if answer == 500 else 4, timeout=20)
    versions = [next(iter(_claims(scim, t, scim.tenant_id)["events"].values()))["version"] for t in tokens]
    assert versions == sorted(versions)  # each resource's events in commit order, after the retries too
    assert len({_claims(scim, t, scim.tenant_id)["jti"] for t in tokens}) == len(tokens)


def test_an_event_past_its_retry_window_is_parked_shown_and_replayed(scim, registry, scim_app, receiver, capsys):
    from shared.admin import main

    service = scim_app._get_service()
    receiver.answer = 500
    client = _pushing_client(scim, registry, receiver.url)
    client.post("/Users", {"schemas": [USER], "userName": "parked"})
    dispatcher = Dispatcher(service.settings, service.tables, registry, service.keys, None)
    dispatcher.deliver(scim.tenant_id, now=time.time() + 600)  # a failure now: the retry window starts
    later = time.time() + service.settings.events_push_retry_seconds + 1200
    deadline = time.monotonic() + 10
    while dispatcher.deliver(scim.tenant_id, now=later).parked == 0 and time.monotonic() < deadline:
        time.sleep(0.1)  # the app's own worker may be mid-attempt
    status = dispatcher.status(scim.tenant_id)
    assert status["parked"] == 1 and status["last_push_error"] == "HTTP 500"
    assert main(["--json", "events", "status", scim.tenant_id]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert (shown["parked"], shown["pending"], shown["last_push_error"]) == (1, 1, "HTTP 500")
    assert shown["push_url"] == receiver.url and RECEIVER_SECRET not in json.dumps(shown)
    receiver.answer = 202
    assert dispatcher.deliver(scim.tenant_id).pushed == 0  # parked: not pushed again by itself
    assert main(["--json", "events", "replay", scim.tenant_id, "--since", "2000-01-01T00:00:00Z"]) == 0
    assert '"replayed": 1' in capsys.readouterr().out
    deadline = time.monotonic() + 10  # a run of the app's own worker that began before the replay may mark it
    while not receiver.sets() and time.monotonic() < deadline:
        dispatcher.deliver(scim.tenant_id, now=time.time() + 600)
    assert len(receiver.wait_for(1)) == 1


def test_the_queue_carries_every_set_and_a_replay_sends_them_again(scim, registry, scim_app):
    service = scim_app._get_service()
    settings = dataclasses.replace(service.settings, events_queue="events-" + uuid.uuid4().hex[:12])
    dispatcher = Dispatcher(settings, service.tables, registry, service.keys, EventQueue(settings))
    uid = scim.post("/Users", {"schemas": [USER], "userName": "queued"}).json()["id"]
    scim.delete(f"/Users/{uid}")
    assert dispatcher.deliver(scim.tenant_id).queued == 2
    assert _pending(scim_app, scim.tenant_id) == []  # no other channel: delivered, kept for replay
    queue = QueueClient.from_connection_string(settings.connection_string, settings.events_queue)

    def drained() -> list[dict]:
        messages = [base64.b64decode(m.content).decode() for m in queue.receive_messages(messages_per_page=32)]
        return [_claims(scim, token, scim.tenant_id) for token in messages]

    first = drained()
    assert [c["sub_id"]["uri"] for c in first] == [f"/Users/{uid}"] * 2
    assert list(first[1]["events"]) == ["urn:ietf:params:scim:event:prov:delete"]
    assert Outbox(resources_table(scim_app), scim.tenant_id).replay(0) == 2
    assert dispatcher.deliver(scim.tenant_id).queued == 2
    assert [c["jti"] for c in drained()] == [c["jti"] for c in first]  # the same events again, by jti


def test_poll_feed_events_settle_once_acknowledged_and_expire_after_the_retention(scim, registry, scim_app, backend):
    feed = events_client(backend[0], registry, scim.tenant_id)
    service = scim_app._get_service()
    dispatcher = Dispatcher(service.settings, service.tables, registry, service.keys, None)
    scim.post("/Users", {"schemas": [USER], "userName": "settles"})
    assert dispatcher.deliver(scim.tenant_id).settled == 0  # the poll feed has not answered it
    sets = feed.post("/Events", {"returnImmediately": True}).json()["sets"]
    feed.post("/Events", {"returnImmediately": True, "ack": list(sets), "maxEvents": 0})
    assert dispatcher.deliver(scim.tenant_id).settled == 1
    outbox = Outbox(resources_table(scim_app), scim.tenant_id)
    assert outbox.prune(int((time.time() + 60) * 1_000_000)) == 1


def test_only_https_or_loopback_endpoints_are_accepted():
    assert endpoint_problem("https://app.example.com/events") is None
    assert endpoint_problem("http://127.0.0.1:8080/e") is None and endpoint_problem("http://localhost/e") is None
    for bad in ("http://app.example.com/e", "ftp://x/y", "https://", "not a url", "http://10.0.0.1/e"):
        assert endpoint_problem(bad), bad
    assert [backoff_seconds(n) for n in (1, 2, 3, 10, 20)] == [1, 2, 4, 300, 300]


def test_a_lagging_poll_recipient_does_not_hold_back_the_queue(scim, registry, scim_app, backend, monkeypatch):
    """More events pending for an idle poll recipient than one run sends: the
    queue still gets every one, over successive runs."""
    from shared.delivery import dispatch

    monkeypatch.setattr(dispatch, "MAX_SENDS_PER_RUN", 3)
    events_client(backend[0], registry, scim.tenant_id)  # a poll recipient exists, and never polls
    service = scim_app._get_service()
    settings = dataclasses.replace(service.settings, events_queue="lag-" + uuid.uuid4().hex[:12])
    dispatcher = Dispatcher(settings, service.tables, registry, service.keys, EventQueue(settings))
    for i in range(7):
        scim.post("/Users", {"schemas": [USER], "userName": f"lag{i}"})
    sent = [dispatcher.deliver(scim.tenant_id) for _ in range(4)]
    assert [r.queued for r in sent] == [3, 3, 1, 0] and sent[0].next_attempt is not None
    assert len(_pending(scim_app, scim.tenant_id)) == 7  # still waiting for the poll


def test_revoking_the_last_events_credential_turns_the_poll_feed_off(scim, registry):
    first, second = (registry.issue_token(scim.tenant_id, "events")[0] for _ in range(2))
    assert registry.tenant(scim.tenant_id).events.poll
    registry.revoke(scim.tenant_id, "token", first)
    assert registry.tenant(scim.tenant_id).events.poll  # one left
    registry.revoke(scim.tenant_id, "token", second)
    assert not registry.tenant(scim.tenant_id).events.poll


def test_retention_expires_a_disabled_tenants_events_and_delivery_survives_a_bad_tenant(scim, registry, scim_app,
                                                                                       monkeypatch):
    service = scim_app._get_service()
    dispatcher = Dispatcher(service.settings, service.tables, registry, service.keys, None)
    scim.post("/Users", {"schemas": [USER], "userName": "expires"})
    # Retention sweeps every tenant: here only this one, or it would delete the
    # pending events of the tests other workers run at the same time.
    only = registry.tenant(scim.tenant_id)
    monkeypatch.setattr(registry, "tenants", lambda: [registry.tenant(only.id)])
    registry.set_disabled(scim.tenant_id, True)
    try:
        assert dispatcher.enforce_retention(days=-1) >= 1  # everything is older than "tomorrow"
        assert _pending(scim_app, scim.tenant_id) == []
    finally:
        registry.set_disabled(scim.tenant_id, False)
    broken = dataclasses.replace(registry.tenant(scim.tenant_id))
    monkeypatch.setattr(Dispatcher, "deliver", lambda self, tenant_id, now=None, sweep=False: (_ for _ in ()).throw(ValueError("x")))
    assert dispatcher.deliver_all().settled == 0 and broken  # logged, not raised


def test_a_push_header_that_cannot_be_sent_is_refused_and_urls_are_shown_without_secrets():
    from shared.delivery.push import authorization_problem, shown_url

    assert authorization_problem("Bearer abc") is None and authorization_problem("Bearer é")
    assert authorization_problem("a\r\nb")
    assert shown_url("https://user:pw@app.example.com:8443/api/events?code=secret") == "https://app.example.com:8443/api/events?…"


def test_a_delivery_run_that_fails_is_tried_again_without_waiting_for_the_timer(scim, registry, scim_app, receiver,
                                                                                monkeypatch):
    """Storage failing in the middle of a run: the worker runs the tenant again
    after 1 s (doubling), so the dev host, which has no timer, still delivers."""
    from shared.delivery.worker import DeliveryWorker
    from shared.storage.outcomes import StorageUnavailable

    service = scim_app._get_service()
    dispatcher = Dispatcher(service.settings, service.tables, registry, service.keys, None)
    runs = []
    deliver = dispatcher.deliver

    def flaky(tenant_id, now=None, sweep=False):
        runs.append(time.monotonic())
        if len(runs) == 1:
            raise StorageUnavailable("injected: the first run's storage call times out")
        return deliver(tenant_id, now, sweep)

    monkeypatch.setattr(dispatcher, "deliver", flaky)
    client = _pushing_client(scim, registry, receiver.url)
    worker = DeliveryWorker(dispatcher)
    service.delivery, original = worker, service.delivery  # this test's worker takes the nudge
    try:
        client.post("/Users", {"schemas": [USER], "userName": "after-a-failed-run"})
        (token,) = receiver.wait_for(1, timeout=10)
    finally:
        service.delivery = original
    assert len(runs) >= 2 and 0.9 <= runs[1] - runs[0] < 5
    assert next(iter(_claims(scim, token, scim.tenant_id)["events"])).startswith("urn:ietf:params:scim:event:prov:create")
