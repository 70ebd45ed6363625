"""Change-event delivery (``events``): how fast a backlog drains, and how soon
a committed change can be polled.

1. A backlog of ``backlog`` events of one tenant is written straight into
   its outbox, as the service commits them (notice form; not measured).
2. Baseline: one range read of those rows through the same table client
   (rows/s): what any delivery must at least do.
3. Poll: a consumer drains the backlog over HTTP through the dev host
   (``POST /Events``, ``maxEvents`` 1000, each batch acknowledged with the
   next poll): events/s, and its ratio to the baseline.
4. Push: the backlog again (replayed), delivered by the dispatcher in this
   process to a receiver on loopback answering 202 (RFC 8935), one SET at a
   time in order: events/s.
5. Queue: the backlog again, put on Azurite's Queue service: events/s.
6. Visibility: ``probes`` sequential ``POST /Users`` while a consumer
   long-polls the feed (``maxEvents`` 1): the delay from the writer's
   response to the poll's answer carrying that user's event, median and p99
   (a negative delay -- the poll answered before the writer read its
   response -- counts as 0).
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests

from shared.scim.events import Change
from shared.scim.ids import USER, new_id
from shared.scim.records import new_version
from shared.storage.event_rows import EventContext, event_row

from ..harness import median, percentile
from .common import rounded

POLL_BATCH = 1000


def _seed_backlog(table, tenant_id: str, count: int) -> None:
    context = EventContext("bench-backlog", "bench", "https://bench.example/scim/v2")
    rows = [event_row(tenant_id, Change("create", USER, new_id(USER), new_version(), ("id", "userName")), context)
            for _ in range(count)]
    for start in range(0, len(rows), 100):
        table.submit_transaction([("upsert", row) for row in rows[start : start + 100]])


def _range_read_rate(table, tenant_id: str) -> tuple[float, int]:
    started = time.perf_counter()
    rows = sum(1 for _ in table.query_entities("PartitionKey eq @pk and RowKey ge @lo and RowKey lt @hi",
                                               parameters={"pk": tenant_id, "lo": "E:", "hi": "E;"}))
    return rows / (time.perf_counter() - started), rows


def _session(token: str) -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    session.headers["Authorization"] = f"Bearer {token}"
    return session


def _drain_by_poll(base: str, events_token: str, expected: int, deadline: float) -> tuple[float, int]:
    session = _session(events_token)
    received, answered = 0, []
    started = time.perf_counter()
    try:
        while received < expected and time.monotonic() < deadline:
            body = {"maxEvents": POLL_BATCH, "returnImmediately": True, "ack": answered}
            sets = session.post(f"{base}/Events", json=body, timeout=120).json()["sets"]
            received += len(sets)
            answered = list(sets)
            if not sets:
                break
        session.post(f"{base}/Events", json={"maxEvents": 0, "returnImmediately": True, "ack": answered}, timeout=120)
    finally:
        session.close()
    return received / (time.perf_counter() - started), received


class _Receiver:
    """An RFC 8935 endpoint on loopback that accepts everything (202)."""

    def __init__(self) -> None:
        self.count = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - the http.server hook
                self.rfile.read(int(self.headers["Content-Length"]))
                receiver.count += 1
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/events"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _delivered_by(dispatcher, tenant_id: str, field: str, expected: int, deadline: float) -> tuple[float, int]:
    done = 0
    started = time.perf_counter()
    while done < expected and time.monotonic() < deadline:
        sent = getattr(dispatcher.deliver(tenant_id), field)
        if not sent:
            break
        done += sent
    return done / (time.perf_counter() - started), done


def _visibility(base: str, scim_token: str, events_token: str, probes: int, deadline: float) -> list[float]:
    arrivals: dict[str, float] = {}
    stop = threading.Event()

    def consume():
        session = _session(events_token)
        answered: list[str] = []
        try:
            while not stop.is_set():
                body = {"maxEvents": 1, "returnImmediately": False, "ack": answered}
                sets = session.post(f"{base}/Events", json=body, timeout=120).json()["sets"]
                now = time.perf_counter()
                for token in sets.values():
                    payload = token.split(".")[1]
                    claims = json.loads(_b64decode(payload))
                    arrivals.setdefault(claims["sub_id"]["uri"], now)
                answered = list(sets)
        finally:
            session.close()

    consumer = threading.Thread(target=consume, daemon=True)
    consumer.start()
    writer = _session(scim_token)
    delays = []
    try:
        for i in range(probes):
            if time.monotonic() > deadline:
                break
            response = writer.post(f"{base}/Users", json={"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                                                         "userName": f"visible{i}@bench.example"},
                                   headers={"Content-Type": "application/scim+json"}, timeout=60)
            committed = time.perf_counter()
            uri = f"/Users/{response.json()['id']}"
            limit = time.monotonic() + 30
            while uri not in arrivals and time.monotonic() < limit:
                time.sleep(0.0005)
            if uri in arrivals:
                delays.append(max(0.0, arrivals[uri] - committed) * 1000)
    finally:
        stop.set()
        writer.close()
    return delays


def _b64decode(text: str) -> bytes:
    import base64

    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def run_event_delivery(base: str, scim_token: str, events_token: str, tenant_id: str, tables, registry, keys, queue,
                       settings, backlog: int, probes: int, deadline: float) -> dict:
    """The figures of the module docstring."""
    from shared.delivery.dispatch import Dispatcher
    from shared.storage.outbox import Outbox
    from shared.storage.tables import RESOURCES

    table = tables.table(RESOURCES)
    outbox = Outbox(table, tenant_id)
    started = time.perf_counter()
    _seed_backlog(table, tenant_id, backlog)
    seeded = round(time.perf_counter() - started, 1)
    scan_rate, scanned = _range_read_rate(table, tenant_id)
    poll_rate, polled = _drain_by_poll(base, events_token, backlog, deadline)

    receiver = _Receiver()
    try:
        registry.set_event_settings(tenant_id, push_url=receiver.url)
        outbox.replay(0)
        push_rate, pushed = _delivered_by(Dispatcher(settings, tables, registry, keys, None), tenant_id,
                                          "pushed", backlog, deadline)
    finally:
        registry.set_event_settings(tenant_id, push_url="")
        receiver.close()
    outbox.replay(0)
    queued_settings = dataclasses.replace(settings, events_queue=queue.name)
    queue_rate, queued = _delivered_by(Dispatcher(queued_settings, tables, registry, keys, queue), tenant_id,
                                       "queued", backlog, deadline)
    outbox.prune(int((time.time() + 60) * 1_000_000))  # the backlog is done with; the probes' events follow
    delays = _visibility(base, scim_token, events_token, probes, deadline)
    return {
        "backlog": backlog, "seed_seconds": seeded,
        "range_read_rows_per_s": rounded(scan_rate), "range_read_rows": scanned,
        "poll_events_per_s": rounded(poll_rate), "poll_events": polled,
        "poll_over_range_read": round(poll_rate / scan_rate, 2) if scan_rate else None,
        "push_events_per_s": rounded(push_rate), "push_events": pushed,
        "queue_events_per_s": rounded(queue_rate), "queue_events": queued,
        "visibility_probes": len(delays), "visibility_p50_ms": rounded(median(delays), 2),
        "visibility_p99_ms": rounded(percentile(delays, 99), 2),
    }
