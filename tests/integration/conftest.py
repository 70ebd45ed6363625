"""Integration fixtures: the real app behind the dev host, on Azurite.

``scim_server`` starts ``function_app.app`` in the dev host (the same path
``make run`` uses) on a free loopback port; ``scim`` gives each test a fresh
tenant with its own bearer token, so tests never see each other's data.

The log scan (tests/log_scan.py) learns the personal values tests send:
:class:`ScimClient` registers its bodies' and filters' values, and the dev
host's request objects are tapped (:func:`_registering`) so that whatever
any client sends to ``scim_server`` -- the conformance suites, the fuzzer,
raw sockets -- is registered too.  Tenant names and ids are registered
where tenants are made.

Tests about the protocol and not about storage are marked ``memory_store``
(a module's ``pytestmark``): their ``scim`` and ``other_tenant`` clients
talk to a second dev host whose app serves the same service over an
in-memory store (:mod:`tests.memory_tables`; the contract suite
``test_store_contract.py`` runs the same cases against it and Azurite).
Every transaction, race, crash, outage and storage-call budget test stays
on Azurite.
"""

from __future__ import annotations

import json
import os
import uuid

import pytest
import requests

from shared.scim import storable_text
from tests.log_scan import LOG_CAPTURE
from tests.recorder import running_recorder, table_on

SCIM_MEDIA = "application/scim+json"


class ScimClient:
    """A bearer-authenticated HTTP client for one tenant."""

    def __init__(self, base: str, token: str) -> None:
        self.base = base
        self.token = token
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"

    def request(self, method: str, path: str, body=None, *, headers=None, raw: bytes | None = None, **kwargs):
        hdrs = dict(headers or {})
        data = raw
        LOG_CAPTURE.register_query(path)
        LOG_CAPTURE.register_sent(body)
        if isinstance(kwargs.get("params"), dict):
            LOG_CAPTURE.register_filter(kwargs["params"].get("filter"))
        if body is not None:
            data = json.dumps(body).encode()
            hdrs.setdefault("Content-Type", SCIM_MEDIA)
        return self.session.request(method, self.base + path, data=data, headers=hdrs, timeout=60, **kwargs)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body, **kw)

    def put(self, path, body=None, **kw):
        return self.request("PUT", path, body, **kw)

    def patch(self, path, body=None, **kw):
        return self.request("PATCH", path, body, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    @staticmethod
    def calls(response) -> int:
        """Storage round trips the request cost (the storage-call counter)."""
        return int(response.headers["X-Storage-Calls"])


@pytest.fixture(scope="module")
def recorder():
    """A loopback server recording requests and playing back answers
    (:mod:`tests.recorder`), for the tests of the lean storage paths."""
    with running_recorder() as server:
        yield server


@pytest.fixture(scope="module")
def recorded_table(recorder):
    """A ``TableClient`` of table ``t`` on the recorder, Shared Key signed, no retries."""
    return table_on(recorder)


def rsa_private_pem(bits: int = 2048) -> str:
    """A fresh RSA private key in PEM (test keys: nothing leaves the process)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


@pytest.fixture(scope="session")
def scim_app(storage_connection_string):
    os.environ["SCIM_STORAGE_CONNECTION_STRING"] = storage_connection_string
    os.environ["SCIM_EXPOSE_STORAGE_CALLS"] = "1"
    os.environ["SCIM_TOKEN_SIGNING_KEY"] = rsa_private_pem()
    os.environ["SCIM_EVENTS_POLL_WAIT_SECONDS"] = "2"  # a long poll of the tests ends soon
    os.environ["SCIM_EVENTS_POLL_INTERVAL_SECONDS"] = "0.2"
    os.environ["SCIM_EVENTS_PUSH_TIMEOUT_SECONDS"] = "1"  # the push tests' silent receiver is given up on soon
    os.environ.pop("SCIM_PUBLIC_BASE_URL", None)
    import function_app

    return function_app


def _registering(request_class):
    """The dev host's request class, registering each request's filter and body values first."""
    def build(method, url, *args, body=b"", **kwargs):
        LOG_CAPTURE.register_query(url)
        if body and body.lstrip()[:1] in (b"{", b"["):
            try:  # storable_text.loads: a fuzzed body nested thousands deep must not recurse (a fatal stack overflow)
                LOG_CAPTURE.register_sent(storable_text.loads(body.decode("utf-8")))
            except (ValueError, RecursionError):
                pass
        return request_class(method, url, *args, body=body, **kwargs)
    return build


@pytest.fixture(scope="session")
def scim_server(scim_app):
    yield from _served(scim_app.app)


def _served(app):
    """Serve ``app`` in a dev host on a free loopback port, tapped for the log scan; yields its SCIM base URL."""
    from scripts.devhost import start_in_thread

    server, root_url = start_in_thread(app, host="127.0.0.1", port=0, route_prefix="")
    server.router.request_class = _registering(server.router.request_class)
    yield f"{root_url}/scim/v2"
    server.shutdown()


@pytest.fixture(scope="session")
def registry(scim_app):
    return scim_app._get_service().registry


@pytest.fixture(scope="session")
def memory_service(scim_app):
    """The app's service over an in-memory store, for tests marked ``memory_store``."""
    from shared.web.service import ScimService
    from tests.memory_tables import MemoryTables

    return ScimService(tables=MemoryTables())


@pytest.fixture(scope="session")
def memory_server(scim_app, memory_service):
    """The app's endpoints, served by ``memory_service``, in a dev host of their own."""
    import azure.functions as func

    app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)
    scim_app.register_endpoints(app, lambda: memory_service)
    yield from _served(app)


@pytest.fixture
def backend(request) -> tuple[str, object]:
    """(base URL, tenant registry) of the store this test runs on: in memory when marked ``memory_store``."""
    if request.node.get_closest_marker("memory_store"):
        return request.getfixturevalue("memory_server"), request.getfixturevalue("memory_service").registry
    return request.getfixturevalue("scim_server"), request.getfixturevalue("registry")


def new_registered_tenant(registry, prefix: str = "test") -> tuple[str, str, str]:
    """A new tenant and its first token: (tenant id, token id, token), the
    token registered with the log scan as a secret, the name and id as
    personal values."""
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    tenant_id = registry.create_tenant(name)
    token_id, token = registry.issue_token(tenant_id)
    LOG_CAPTURE.secrets.add(token)
    LOG_CAPTURE.register_personal(name)
    LOG_CAPTURE.register_personal(tenant_id)
    return tenant_id, token_id, token


def new_tenant_client(base_url: str, registry) -> ScimClient:
    tenant_id, _, token = new_registered_tenant(registry)
    client = ScimClient(base_url, token)
    client.tenant_id = tenant_id
    return client


def events_client(base_url: str, registry, tenant_id: str) -> ScimClient:
    """A client with a new ``events``-scope token of the tenant (the poll feed)."""
    _, token = registry.issue_token(tenant_id, "events")
    LOG_CAPTURE.secrets.add(token)
    client = ScimClient(base_url, token)
    client.tenant_id = tenant_id
    return client


@pytest.fixture
def scim(backend) -> ScimClient:
    """A client for a brand-new, empty tenant."""
    return new_tenant_client(*backend)


@pytest.fixture
def other_tenant(backend) -> ScimClient:
    """A second tenant, for isolation checks."""
    return new_tenant_client(*backend)
