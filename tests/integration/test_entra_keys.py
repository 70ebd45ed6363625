"""The Entra signing-key cache (:class:`shared.auth.entra_jwt.EntraKeys`) against a
real HTTP endpoint: a stand-in for ``login.microsoftonline.com`` on 127.0.0.1
serving each Entra tenant's OpenID metadata and JWKS, healthy, failing (HTTP
500) or slow, plus a port that refuses connections.

Keys are fetched by the production :func:`fetch_issuer_jwks` pointed at that
endpoint, so every count below is the number of requests the endpoint really
received.  Windows and backoffs run on an injected clock; the only real-time
bounds are generous ones (a caller that must not wait for a held fetch has
1.5 s while that fetch is held until the test releases it).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import socket
import threading
import time
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor, wait
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from shared.auth.entra_jwt import MAX_BACKOFF_SECONDS, MIN_REFRESH_SECONDS, EntraKeys, InvalidJwt, fetch_issuer_jwks
from shared.web.service import ScimService

from tests.integration.test_auth_modes import Issuer, _jwk, _rsa, assert_rejected, call

UNAVAILABLE = "signing keys unavailable"
HOLD_SECONDS = 20  # the longest a slow endpoint holds a request (the test releases it sooner)
FAST_BOUND_SECONDS = 1.5  # what a caller that must not wait for a held fetch may take
DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never through a proxy


class Endpoint:
    """``login.microsoftonline.com`` on 127.0.0.1: per Entra tenant, its OpenID metadata and JWKS."""

    def __init__(self) -> None:
        self.issuers: dict[str, Issuer] = {}
        self.modes: dict[str, str] = {}  # healthy | failing | slow
        self.requests: Counter[tuple[str, str]] = Counter()  # (entra tenant, "metadata" | "jwks")
        self.arrived = threading.Condition()
        self.release = threading.Event()  # ends every hold of a slow endpoint
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                try:
                    endpoint.serve(self)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test): nothing to answer

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.authority = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=10)

    def add(self, mode: str = "healthy") -> Issuer:
        issuer = Issuer()
        self.issuers[issuer.entra_tenant] = issuer
        self.modes[issuer.entra_tenant] = mode
        return issuer

    def fetches(self, issuer: Issuer) -> int:
        """Fetches the endpoint saw for ``issuer``: each starts with the metadata document."""
        with self.arrived:
            return self.requests[(issuer.entra_tenant, "metadata")]

    def wait_for_fetches(self, issuer: Issuer, count: int, timeout: float = 30) -> bool:
        with self.arrived:
            return self.arrived.wait_for(lambda: self.requests[(issuer.entra_tenant, "metadata")] >= count, timeout)

    def serve(self, handler: BaseHTTPRequestHandler) -> None:
        tid, _, document = handler.path.strip("/").partition("/")
        kind = {".well-known/openid-configuration": "metadata", "discovery/keys": "jwks"}.get(document)
        issuer = self.issuers.get(tid)
        if kind is None or issuer is None:
            return self.answer(handler, 404, {"error": "not_found"})
        with self.arrived:
            self.requests[(tid, kind)] += 1
            mode = self.modes[tid]
            self.arrived.notify_all()
        if mode == "slow" and kind == "metadata":
            self.release.wait(HOLD_SECONDS)
        if mode == "failing":
            return self.answer(handler, 500, {"error": "server_error"})
        if kind == "metadata":
            return self.answer(handler, 200, {"issuer": f"https://sts.windows.net/{tid}/",
                                              "jwks_uri": f"{self.authority}/{tid}/discovery/keys"})
        return self.answer(handler, 200, {"keys": [_jwk(key, kid) for key, kid in issuer.published]})

    @staticmethod
    def answer(handler: BaseHTTPRequestHandler, status: int, body: dict) -> None:
        raw = json.dumps(body).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(raw)))
        handler.end_headers()
        handler.wfile.write(raw)


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def endpoint():
    server = Endpoint()
    yield server
    server.stop()


def loopback_fetch(authority: str, timeout: float = 10):
    """The production fetch, pointed at the loopback endpoint."""
    return functools.partial(fetch_issuer_jwks, authority=authority, opener=DIRECT, timeout=timeout)


def outcome(keys: EntraKeys, issuer: Issuer, kid: str | None = None):
    """``("key", key)``, ``("none", None)`` for an unknown kid, or ``("error", reason)``."""
    try:
        found = keys.key(issuer.entra_tenant, kid or issuer.kid)
    except InvalidJwt as exc:
        return ("error", exc.reason)
    return ("key", found) if found is not None else ("none", None)


def concurrently(count: int, job):
    """``job()`` from ``count`` threads released together; their results."""
    barrier = threading.Barrier(count)

    def run(_):
        barrier.wait(timeout=30)
        return job()

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(run, range(count)))


def many(keys: EntraKeys, issuer: Issuer, sequential: int, parallel: int, kid: str | None = None) -> list:
    results = [outcome(keys, issuer, kid) for _ in range(sequential)]
    return results + concurrently(parallel, lambda: outcome(keys, issuer, kid)) if parallel else results


def all_unavailable(results) -> bool:
    return all(kind == "error" and reason.startswith(UNAVAILABLE) for kind, reason in results)


# ------------------------------------------------------------------ failures
def test_a_failing_endpoint_is_fetched_once_per_backoff_window(endpoint):
    issuer = endpoint.add("failing")
    clock = Clock()
    keys = EntraKeys(loopback_fetch(endpoint.authority), clock=clock)
    assert all_unavailable(many(keys, issuer, sequential=10, parallel=40))
    assert endpoint.fetches(issuer) == 1  # 50 requests, one fetch
    clock.advance(MIN_REFRESH_SECONDS - 1)
    assert all_unavailable(many(keys, issuer, sequential=5, parallel=20))
    assert endpoint.fetches(issuer) == 1  # still backing off
    clock.advance(1)
    assert all_unavailable(many(keys, issuer, sequential=5, parallel=20))
    assert endpoint.fetches(issuer) == 2  # the window is over: exactly one more
    clock.advance(MIN_REFRESH_SECONDS)
    assert all_unavailable(many(keys, issuer, sequential=5, parallel=0))
    assert endpoint.fetches(issuer) == 2  # a second failure backs off longer


def test_a_refused_connection_is_backed_off_too():
    refusing = socket.socket()
    refusing.bind(("127.0.0.1", 0))  # bound but never listening: connections are refused
    attempts = []
    fetch = loopback_fetch(f"http://127.0.0.1:{refusing.getsockname()[1]}")

    def counted(entra_tenant: str) -> dict:
        attempts.append(entra_tenant)
        return fetch(entra_tenant)

    try:
        issuer, clock = Issuer(), Clock()
        keys = EntraKeys(counted, clock=clock)
        results = many(keys, issuer, sequential=10, parallel=40)
        assert all_unavailable(results) and {reason for _, reason in results} == {f"{UNAVAILABLE} (URLError)"}
        assert len(attempts) == 1
        clock.advance(MIN_REFRESH_SECONDS)
        assert all_unavailable(many(keys, issuer, sequential=10, parallel=0))
        assert len(attempts) == 2
    finally:
        refusing.close()


def test_the_backoff_doubles_up_to_its_cap_and_a_success_resets_it(endpoint):
    issuer = endpoint.add("failing")
    clock = Clock()
    keys = EntraKeys(loopback_fetch(endpoint.authority), clock=clock)
    gaps = [MIN_REFRESH_SECONDS * 2 ** n for n in range(3)] + [MAX_BACKOFF_SECONDS] * 2
    assert gaps == [60, 120, 240, 300, 300]  # the documented schedule
    for fetched, gap in enumerate(gaps, start=1):
        assert all_unavailable(many(keys, issuer, sequential=3, parallel=0))
        assert endpoint.fetches(issuer) == fetched
        clock.advance(gap - 1)
        assert all_unavailable(many(keys, issuer, sequential=3, parallel=0))
        assert endpoint.fetches(issuer) == fetched
        clock.advance(1)
    endpoint.modes[issuer.entra_tenant] = "healthy"  # the endpoint recovers
    assert outcome(keys, issuer)[0] == "key"
    assert endpoint.fetches(issuer) == len(gaps) + 1
    endpoint.modes[issuer.entra_tenant] = "failing"
    clock.advance(MIN_REFRESH_SECONDS)
    assert outcome(keys, issuer, "made-up") == ("none", None)  # a refetch for it fails; the kid stays unknown
    assert outcome(keys, issuer)[0] == "key"  # cached keys stay in use while the endpoint fails
    assert endpoint.fetches(issuer) == len(gaps) + 2
    clock.advance(MIN_REFRESH_SECONDS - 1)
    assert outcome(keys, issuer, "made-up") == ("none", None)
    assert endpoint.fetches(issuer) == len(gaps) + 2
    clock.advance(1)  # the success reset the backoff: one failure, one minute
    assert outcome(keys, issuer, "made-up") == ("none", None)
    assert endpoint.fetches(issuer) == len(gaps) + 3


# ------------------------------------------------------------- single flight
def test_concurrent_callers_for_a_slow_issuer_share_one_fetch(endpoint):
    issuer = endpoint.add("slow")
    keys = EntraKeys(loopback_fetch(endpoint.authority))
    timer = threading.Timer(1.0, endpoint.release.set)  # the endpoint answers after a second
    timer.start()
    try:
        results = many(keys, issuer, sequential=0, parallel=8)
    finally:
        timer.cancel()
    assert [kind for kind, _ in results] == ["key"] * 8
    assert endpoint.fetches(issuer) == 1

    # One that times out: the callers share the failure instead of each timing out in turn.
    endpoint.release.clear()
    stuck = endpoint.add("slow")
    keys = EntraKeys(loopback_fetch(endpoint.authority, timeout=1.0))
    results = many(keys, stuck, sequential=0, parallel=8)
    assert all_unavailable(results)
    assert endpoint.wait_for_fetches(stuck, 1)  # the server may count a request after the client gave up on it
    assert endpoint.fetches(stuck) == 1


def test_a_slow_issuer_delays_neither_cached_kids_nor_other_issuers(endpoint):
    slow, cached, uncached = endpoint.add(), endpoint.add(), endpoint.add()
    keys = EntraKeys(loopback_fetch(endpoint.authority, timeout=HOLD_SECONDS + 10))
    assert outcome(keys, slow)[0] == "key" and outcome(keys, cached)[0] == "key"
    rolled, rolled_kid = _rsa(), "key-2"
    slow.published.append((rolled, rolled_kid))  # slow's issuer rolls its keys ...
    endpoint.modes[slow.entra_tenant] = "slow"  # ... and its endpoint is held until released
    jobs = {
        "cached kid of the slow issuer": lambda: outcome(keys, slow),
        "cached other issuer": lambda: outcome(keys, cached),
        "uncached other issuer": lambda: outcome(keys, uncached),
    }
    with ThreadPoolExecutor(len(jobs) + 1) as pool:
        refetch = pool.submit(outcome, keys, slow, rolled_kid)  # the unknown kid: a refetch, held
        try:
            assert endpoint.wait_for_fetches(slow, 2)

            def timed(job):
                started = time.monotonic()
                return job(), time.monotonic() - started

            futures = {name: pool.submit(timed, job) for name, job in jobs.items()}
            done, _ = wait(futures.values(), timeout=FAST_BOUND_SECONDS)
            assert not refetch.done()  # the slow fetch is still held ...
            for name, future in futures.items():  # ... while every other caller got its answer
                assert future in done, f"{name} waited for another issuer's fetch"
                (kind, _), took = future.result()
                assert kind == "key" and took < FAST_BOUND_SECONDS, name
        finally:
            endpoint.release.set()
        assert refetch.result(timeout=30)[0] == "key"  # the held fetch found the rolled key
    assert endpoint.fetches(slow) == 2 and endpoint.fetches(cached) == 1 and endpoint.fetches(uncached) == 1


# ---------------------------------------------------------------- unknown kids
def test_unknown_kids_refetch_at_most_once_per_window(endpoint):
    issuer = endpoint.add()
    clock = Clock()
    keys = EntraKeys(loopback_fetch(endpoint.authority), clock=clock)
    assert outcome(keys, issuer)[0] == "key"
    assert endpoint.fetches(issuer) == 1
    made_up = many(keys, issuer, sequential=10, parallel=20, kid="made-up")
    assert made_up == [("none", None)] * 30
    assert endpoint.fetches(issuer) == 2  # the first fetch aside, one refetch
    rolled, rolled_kid = _rsa(), "key-2"
    issuer.published.append((rolled, rolled_kid))
    clock.advance(MIN_REFRESH_SECONDS - 1)
    assert outcome(keys, issuer, rolled_kid) == ("none", None)  # published, but the window is not over
    assert endpoint.fetches(issuer) == 2
    clock.advance(1)
    assert outcome(keys, issuer, rolled_kid)[0] == "key"
    assert endpoint.fetches(issuer) == 3
    assert many(keys, issuer, sequential=5, parallel=20, kid="made-up-2") == [("none", None)] * 25
    assert endpoint.fetches(issuer) == 3
    clock.advance(MIN_REFRESH_SECONDS)
    assert many(keys, issuer, sequential=5, parallel=20, kid="made-up-3") == [("none", None)] * 25
    assert endpoint.fetches(issuer) == 4


# --------------------------------------------------------- the fetch itself
def test_the_fetch_wants_https_except_on_loopback(endpoint):
    issuer = endpoint.add()
    assert "keys" in fetch_issuer_jwks(issuer.entra_tenant, authority=endpoint.authority, opener=DIRECT)
    for authority in ("http://login.microsoftonline.com", "ftp://127.0.0.1", "https://"):
        with pytest.raises(ValueError):
            fetch_issuer_jwks(issuer.entra_tenant, authority=authority, opener=DIRECT)
    with pytest.raises(InvalidJwt):
        fetch_issuer_jwks("../../elsewhere", authority=endpoint.authority, opener=DIRECT)
    assert endpoint.fetches(issuer) == 1


# ------------------------------------------------------------- end to end
def test_through_the_authenticator_a_failing_issuer_costs_one_fetch_per_window(scim_app, endpoint):
    shared_service = scim_app._get_service()
    settings = dataclasses.replace(shared_service.settings, auth_cache_seconds=0)
    clock = Clock()
    service = ScimService(settings, shared_service.tables, entra_keys=EntraKeys(loopback_fetch(endpoint.authority), clock=clock))
    issuer = endpoint.add("failing")
    service.registry.create_tenant("entra-keys", modes=("entra",), entra_tenant=issuer.entra_tenant)
    responses = [call(service, issuer.token()) for _ in range(10)]
    responses += concurrently(20, lambda: call(service, issuer.token()))
    for response in responses:
        assert_rejected(response)
    assert endpoint.fetches(issuer) == 1
    reasons = service.authenticator.failures.snapshot()
    assert sum(n for reason, n in reasons.items() if reason.startswith("entra_jwt_signing_keys_unavailable")) == 30
    endpoint.modes[issuer.entra_tenant] = "healthy"
    assert_rejected(call(service, issuer.token()))  # still within the backoff
    clock.advance(MIN_REFRESH_SECONDS)
    assert call(service, issuer.token()).status == 200
    assert call(service, issuer.token()).status == 200
    assert endpoint.fetches(issuer) == 2
