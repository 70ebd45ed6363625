"""Hardening: security headers everywhere, size and shape limits, the optional
rate limit, and hostile values kept out of OData (parameter binding only)."""

from __future__ import annotations

import ast
import dataclasses
import json
from pathlib import Path

import pytest
import requests

from shared.scim.filter_parser import MAX_FILTER_DEPTH, MAX_FILTER_LENGTH
from shared.scim.http import SECURITY_HEADERS, Request
from shared.web.service import ScimService

from tests.messages import GROUP, USER, patch_op

ROOT = Path(__file__).resolve().parents[2]


def _probes(scim):
    uid = scim.post("/Users", {"schemas": [USER], "userName": "headers"}).json()["id"]
    return [
        scim.get("/Users"), scim.get(f"/Users/{uid}"), scim.get("/Users/" + "0" * 32), scim.delete("/Users"),
        scim.get("/ServiceProviderConfig"), scim.get("/Schemas"), scim.get("/nowhere"),
        scim.post("/Users", raw=b"{", headers={"Content-Type": "application/scim+json"}),
        scim.patch(f"/Users/{uid}", patch_op({"op": "replace", "path": "active", "value": False})),
        requests.get(scim.base + "/Users", timeout=10),
        requests.get(scim.base + "/Users", headers={"Authorization": "Bearer nope"}, timeout=10),
        requests.post(scim.base + "/oauth/token", data={"grant_type": "client_credentials"}, timeout=10),
        scim.delete(f"/Users/{uid}"),
    ]


def test_every_response_carries_the_security_headers(scim):
    for response in _probes(scim):
        for name, value in SECURITY_HEADERS.items():
            assert response.headers.get(name) == value, (response.request.method, response.url, response.status_code, name)
        assert response.headers.get("X-Request-Id")


def test_401_names_the_bearer_scheme_and_reveals_nothing(scim):
    missing = requests.get(scim.base + "/Users", timeout=10)
    assert missing.status_code == 401 and missing.headers["WWW-Authenticate"] == 'Bearer realm="scim"'
    wrong = requests.get(scim.base + "/Users", headers={"Authorization": "Bearer " + scim.token[:-4] + "abcd"}, timeout=10)
    assert wrong.headers["WWW-Authenticate"] == 'Bearer realm="scim", error="invalid_token"'
    assert wrong.json() == missing.json()


def test_body_over_the_limit_is_413(scim):
    huge = json.dumps({"schemas": [USER], "userName": "big", "nickName": "x" * (1024 * 1024)}).encode()
    response = scim.post("/Users", raw=huge, headers={"Content-Type": "application/scim+json"})
    assert response.status_code == 413 and "limit" in response.json()["detail"]


def test_filter_length_and_nesting_are_limited(scim):
    too_long = 'userName eq "' + "a" * MAX_FILTER_LENGTH + '"'
    assert scim.get("/Users", params={"filter": too_long}).status_code == 400
    nested = "(" * (MAX_FILTER_DEPTH + 1) + 'userName eq "a"' + ")" * (MAX_FILTER_DEPTH + 1)
    assert scim.get("/Users", params={"filter": nested}).status_code == 400


def test_count_is_capped(scim, scim_app):
    shared_service = scim_app._get_service()
    capped = ScimService(dataclasses.replace(shared_service.settings, max_page_size=2), shared_service.tables)
    for i in range(3):
        scim.post("/Users", {"schemas": [USER], "userName": f"cap{i}"})
    request = Request.build("GET", scim.base + "/Users?count=1000000000", {"Authorization": f"Bearer {scim.token}"}, b"")
    page = capped.handle(request, "Users").body
    assert page["totalResults"] == 3 and page["itemsPerPage"] == 2 and len(page["Resources"]) == 2


def test_the_optional_rate_limit_answers_429_with_retry_after(scim, other_tenant, scim_app):
    shared_service = scim_app._get_service()
    limited = ScimService(dataclasses.replace(shared_service.settings, rate_limit_per_second=2), shared_service.tables)

    def get(client):
        request = Request.build("GET", scim.base + "/ServiceProviderConfig", {"Authorization": f"Bearer {client.token}"}, b"")
        return limited.handle(request, "ServiceProviderConfig")

    statuses = [get(scim).status for _ in range(5)]
    assert statuses[:2] == [200, 200] and 429 in statuses
    throttled = next(r for r in (get(scim) for _ in range(3)) if r.status == 429)
    assert int(throttled.headers["Retry-After"]) >= 1 and throttled.body["status"] == "429"
    assert get(other_tenant).status == 200  # per tenant
    assert shared_service.rate_limiter is None  # off by default


# ------------------------------------------------------------- injection
HOSTILE = [
    "' or PartitionKey ne '", "x' or RowKey gt '", "' or 1 eq 1 or '", "\" or \"\" eq \"", "a'b", "a''b", "a\"b",
    "O'Brien@example.com", "$filter=PartitionKey eq 'x'", "%27%20or%20%27", "x) or (true", "\\' or \\'",
    "a b eq c", "userName eq \"x\"", "x\u0000y", "x\ny", "RowKey ge ''", "U:00000000000000000000000000000000",
    "X:un:someone", "datetime'2020-01-01'", "guid'00000000-0000-0000-0000-000000000000'", "x%00y", "é ü 中文 🙂",
]


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_values_are_stored_and_matched_literally(scim, value):
    decoy = scim.post("/Users", {"schemas": [USER], "userName": "decoy", "externalId": "decoy"}).json()["id"]
    created = scim.post("/Users", {"schemas": [USER], "userName": value, "externalId": value,
                                   "emails": [{"type": "work", "value": value}]})
    if created.status_code == 400:  # refused as a value (for instance a control character): fine, nothing stored
        assert scim.get("/Users").json()["totalResults"] == 1
        return
    assert created.status_code == 201, created.text
    uid = created.json()["id"]
    quoted = json.dumps(value)
    for flt in (f"userName eq {quoted}", f"externalId eq {quoted}", f'emails[type eq "work"].value eq {quoted}',
                f"userName co {quoted}", f"userName sw {quoted}"):
        found = scim.get("/Users", params={"filter": flt})
        assert found.status_code == 200, (flt, found.text)
        assert [r["id"] for r in found.json()["Resources"]] == [uid], flt
    group = scim.post("/Groups", {"schemas": [GROUP], "displayName": value, "members": [{"value": uid}]})
    assert group.status_code == 201
    assert scim.get("/Groups", params={"filter": f"displayName eq {quoted}"}).json()["totalResults"] == 1
    assert scim.get(f"/Users/{decoy}").status_code == 200


def _query_calls(tree):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if name == "query_entities" or (name == "storage_call" and node.args and isinstance(node.args[0], ast.Attribute)
                                            and node.args[0].attr == "query_entities"):
                yield node


def test_every_storage_query_binds_its_values():
    """No value reaches an OData filter by string building: each query's
    filter is a constant (a literal or a module constant) and its values
    travel as ``parameters``."""
    found = 0
    for path in sorted((ROOT / "shared").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        constants = {t.id for n in tree.body if isinstance(n, ast.Assign) for t in n.targets if isinstance(t, ast.Name)}
        for call in _query_calls(tree):
            found += 1
            args = call.args[1:] if getattr(call.func, "id", "") == "storage_call" else call.args
            query = args[0] if args else next(k.value for k in call.keywords if k.arg in ("query_filter", "filter"))
            where = f"{path.name}:{call.lineno}"
            is_constant = (isinstance(query, ast.Constant) and isinstance(query.value, str)) or (
                isinstance(query, ast.Name) and (query.id in constants or query.id == "query"))
            assert is_constant, f"{where}: the filter is built, not a constant"
            assert any(k.arg == "parameters" for k in call.keywords), f"{where}: no parameters= binding"
    assert found >= 8


# ------------------------------------------------------- forwarded headers
def _created_location(service: ScimService, scim, headers: dict) -> tuple[str, str]:
    request = Request.build("POST", "http://127.0.0.1:7071/scim/v2/Users", {
        "Authorization": f"Bearer {scim.token}", "Content-Type": "application/scim+json", **headers},
        json.dumps({"schemas": [USER], "userName": f"fwd-{len(json.dumps(headers))}-{sorted(headers)}"}).encode())
    response = service.handle(request, "Users")
    assert response.status == 201, response.body
    return response.headers["Location"], response.body["meta"]["location"]


def test_forwarded_headers_are_ignored_unless_trusted(scim, scim_app):
    shared_service = scim_app._get_service()
    forwarded = {"X-Forwarded-Host": "attacker.example", "X-Forwarded-Proto": "https"}
    location, meta = _created_location(shared_service, scim, forwarded)
    assert location.startswith("http://127.0.0.1:7071/scim/v2/Users/") and meta == location
    trusting = ScimService(dataclasses.replace(shared_service.settings, trust_forwarded_headers=True), shared_service.tables)
    location, _ = _created_location(trusting, scim, {"X-Forwarded-Host": "scim.contoso.example", "X-Forwarded-Proto": "https"})
    assert location.startswith("https://scim.contoso.example/scim/v2/Users/")
    for junk in ({"X-Forwarded-Host": "evil.example/path?x", "X-Forwarded-Proto": "javascript"},
                 {"X-Forwarded-Host": "a b", "X-Forwarded-Proto": "ftp"}, {"X-Forwarded-Host": "x\ud800y"}):
        location, _ = _created_location(trusting, scim, junk)
        assert location.startswith("http://127.0.0.1:7071/scim/v2/Users/"), junk


def test_a_long_indexed_value_is_stored_and_found(scim):
    """Values over 256 characters are indexed by their SHA-256; the hashed key
    once began with "#", which Table Storage refuses in a key (it was a 413)."""
    name = "long." + "x" * 300 + "@contoso.example"
    created = scim.post("/Users", {"schemas": [USER], "userName": name, "externalId": "e" * 400,
                                   "emails": [{"type": "work", "value": name}]})
    assert created.status_code == 201, created.text
    for flt in (f'userName eq "{name.upper()}"', f'externalId eq "{"e" * 400}"', f'emails[type eq "work"].value eq "{name}"'):
        found = scim.get("/Users", params={"filter": flt}).json()
        assert [r["id"] for r in found["Resources"]] == [created.json()["id"]], flt
    assert scim.post("/Users", {"schemas": [USER], "userName": name}).status_code == 409
