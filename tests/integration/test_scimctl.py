"""``scimctl`` end to end against Azurite: the installed console command, its
output, and the effect of each change on the next SCIM request.

Effects are checked through a service with a 0 s authentication cache (a
deployment's instances cache for ``SCIM_AUTH_CACHE_SECONDS``, documented).
"""

from __future__ import annotations

import base64
import dataclasses
import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from shared.storage.audit import AuditEntry, _row_key, enforce_retention
from shared.scim.http import Request
from shared.web.service import ScimService
from shared.storage.keys import ROW_INDEX
from shared.storage.tables import AUDIT

SCIMCTL = Path(sys.executable).with_name("scimctl")


@pytest.fixture
def ctl(storage_connection_string, scim_app, log_capture):
    def run(*args: str, ok: bool = True) -> dict | subprocess.CompletedProcess:
        result = subprocess.run([str(SCIMCTL), "--connection-string", storage_connection_string, "--json", *args],
                                capture_output=True, text=True, timeout=60)
        log_capture.feed(result.stderr, "scimctl")  # stdout is the command's output, secrets shown once
        if not ok:
            return result
        assert result.returncode == 0, result.stderr
        data = json.loads(result.stdout)
        for name in ("token", "client_secret"):
            if name in data:
                log_capture.secrets.add(data[name])
        return data
    return run


@pytest.fixture
def service(scim_app):
    shared_service = scim_app._get_service()
    return ScimService(dataclasses.replace(shared_service.settings, auth_cache_seconds=0), shared_service.tables)


def status(service, bearer: str, method="GET", route="Users", body=None) -> int:
    raw = json.dumps(body).encode() if body else b""
    request = Request.build(method, f"http://127.0.0.1/scim/v2/{route}",
                            {"Authorization": f"Bearer {bearer}", "Content-Type": "application/scim+json"}, raw)
    return service.handle(request, route).status


def oauth(service, client_id: str, secret: str) -> tuple[int, dict]:
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    request = Request.build("POST", "http://127.0.0.1/scim/v2/oauth/token",
                            {"Authorization": f"Basic {basic}", "Content-Type": "application/x-www-form-urlencoded"},
                            b"grant_type=client_credentials")
    response = service.handle(request, "oauth/token")
    return response.status, response.body


def test_scimctl_is_installed_with_the_project():
    assert SCIMCTL.exists(), "make install installs the project (pip install -e .), which provides scimctl"
    help_text = subprocess.run([str(SCIMCTL), "--help"], capture_output=True, text=True, timeout=30).stdout
    for group in ("tenant", "token", "client", "audit"):
        assert group in help_text


def test_tenant_token_client_and_audit_lifecycle(ctl, service):
    created = ctl("tenant", "create", "--name", "cli-e2e")
    tenant, token, first_id = created["tenant_id"], created["token"], created["token_id"]
    assert status(service, token, "POST", "Users", {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                                                    "userName": "cli-user", "password": "t1meMa$heen"}) == 201

    listed = ctl("token", "list", tenant)
    assert [t["id"] for t in listed["tokens"]] == [first_id] and token not in json.dumps(listed)
    assert tenant in [t["tenant_id"] for t in ctl("tenant", "list")["tenants"]]

    rotated = ctl("token", "rotate", tenant, first_id, "--grace-hours", "1")
    assert status(service, token) == 200 and status(service, rotated["token"]) == 200  # both during the grace period
    ctl("token", "revoke", tenant, first_id)
    assert status(service, token) == 401 and status(service, rotated["token"]) == 200

    client = ctl("client", "issue", tenant)
    code, issued = oauth(service, client["client_id"], client["client_secret"])
    assert code == 200 and status(service, issued["access_token"]) == 200
    assert client["client_secret"] not in json.dumps(ctl("client", "list", tenant))
    ctl("client", "revoke", tenant, client["client_id"])
    assert status(service, issued["access_token"]) == 401
    assert oauth(service, client["client_id"], client["client_secret"])[0] == 401

    ctl("tenant", "disable", tenant)
    assert status(service, rotated["token"]) == 401
    ctl("tenant", "enable", tenant)
    assert status(service, rotated["token"]) == 200

    shown = ctl("tenant", "show", tenant)
    assert shown["name"] == "cli-e2e" and len(shown["tokens"]) == 2 and shown["tokens"][0]["revoked"]

    entries = ctl("audit", "show", tenant, "--limit", "50")["entries"]
    operations = [e["operation"] for e in entries]
    assert operations == ["tenant.enable", "tenant.disable", "client.revoke", "token.issue", "client.issue",
                          "token.revoke", "token.rotate", "create", "token.issue", "tenant.create"]
    assert entries[3]["actor"] == f"oauth:{client['client_id']}"  # the access token the client obtained
    assert [e["time"] for e in entries] == sorted((e["time"] for e in entries), reverse=True)  # newest first
    created_user = next(e for e in entries if e["operation"] == "create")
    assert created_user["actor"] == f"token:{first_id}" and created_user["resource_type"] == "User"
    assert "password" in created_user["attributes"].split(",") and "t1meMa$heen" not in json.dumps(entries)
    assert all(e["actor"].startswith(("cli:", "token:", "oauth:")) for e in entries)


def test_deleting_a_tenant_needs_confirmation_and_removes_its_data(ctl, service):
    created = ctl("tenant", "create", "--name", "cli-delete")
    tenant, token = created["tenant_id"], created["token"]
    assert status(service, token, "POST", "Users", {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                                                    "userName": "doomed"}) == 201
    refused = ctl("tenant", "delete", tenant, ok=False)
    assert refused.returncode == 1 and "--yes" in refused.stderr
    deleted = ctl("tenant", "delete", tenant, "--yes")
    assert deleted["deleted_rows"] >= 2  # the user, its index rows, a counter shard
    assert status(service, token) == 401
    assert tenant not in [t["tenant_id"] for t in ctl("tenant", "list")["tenants"]]
    assert ctl("audit", "show", tenant)["entries"][0]["operation"] == "tenant.delete"  # kept until retention


def test_errors_are_one_line_without_a_traceback(ctl):
    missing = ctl("token", "issue", "0" * 32, ok=False)
    assert missing.returncode == 1 and "Traceback" not in missing.stderr and "no tenant" in missing.stderr
    bad_mode = ctl("tenant", "create", "--name", "x", "--auth", "entra", ok=False)
    assert bad_mode.returncode == 1 and "entra" in bad_mode.stderr


def test_retention_deletes_only_entries_older_than_the_period(service, ctl):
    tenant = ctl("tenant", "create", "--name", "retention", "--no-token")["tenant_id"]
    table = service.tables.table(AUDIT)
    old_ms = int((datetime.now(timezone.utc) - timedelta(days=100)).timestamp() * 1000)
    old = dataclasses.asdict(AuditEntry("2000-01-01T00:00:00Z", tenant, "cli:test", "create", "User", "x", "", "ok", ""))
    table.create_entity({**old, "PartitionKey": tenant, "RowKey": _row_key(old_ms)})
    assert len(service.audit.recent(tenant, 10)) == 2
    assert enforce_retention(service.audit, service.registry, 90) >= 1
    assert [e.operation for e in service.audit.recent(tenant, 10)] == ["tenant.create"]


def test_check_store_reports_and_repairs_a_tenant(ctl, service):
    created = ctl("tenant", "create", "--name", "cli-check")
    tenant = created["tenant_id"]
    assert status(service, created["token"], "POST", "Users", {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                                                               "userName": "checked"}) == 201
    assert ctl("check-store", tenant) == {"tenant": tenant, "findings": [], "remaining": 0}
    table = service.tables.table("resources")
    table.create_entity({"PartitionKey": tenant, "RowKey": "X:un:ghost", "k": ROW_INDEX, "id": "0" * 32})  # an orphan index row
    broken = ctl("check-store", tenant, ok=False)
    assert broken.returncode == 1 and json.loads(broken.stdout)["findings"][0]["kind"] == "index-orphan"
    repaired = ctl("check-store", tenant, "--repair")
    assert repaired["remaining"] == 0 and repaired["findings"][0]["repaired"]
    assert ctl("check-store", tenant)["findings"] == []
    assert ctl("audit", "show", tenant, "--limit", "1")["entries"][0]["operation"] == "store.repair"


def test_changes_print_when_they_take_effect(ctl, storage_connection_string):
    """Revoke, disable and delete say the bound (SCIM_AUTH_CACHE_SECONDS) in
    text and JSON; a rotation grace shorter than it is refused."""
    created = ctl("tenant", "create", "--name", "cli-bounds")
    tenant, token_id = created["tenant_id"], created["token_id"]

    def text(*args: str) -> str:
        result = subprocess.run([str(SCIMCTL), "--connection-string", storage_connection_string, *args],
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        return result.stdout

    short = ctl("token", "rotate", tenant, token_id, "--grace-hours", "0.001", ok=False)  # 3.6 s
    assert short.returncode == 1 and "at least 30 s" in short.stderr
    assert "within 30 s (SCIM_AUTH_CACHE_SECONDS)" in text("token", "revoke", tenant, token_id)
    assert ctl("client", "revoke", tenant, ctl("client", "issue", tenant)["client_id"])["refused_within_seconds"] == 30
    disabled = text("tenant", "disable", tenant)
    assert "writes are refused now" in disabled and "within 30 s" in disabled
    deleted = ctl("tenant", "delete", tenant, "--yes")
    assert deleted["requests_refused_within_seconds"] == 30


def test_the_changes_in_the_audit_trail_are_their_events_and_outlive_the_tenant(ctl, service):
    """A change's audit entry is its change event (no audit write of its own):
    a request that changed nothing has none, the entry carries the request's
    id, and deleting the tenant keeps the entries until the retention ends."""
    created = ctl("tenant", "create", "--name", "cli-audit-events")
    tenant, token = created["tenant_id"], created["token"]
    request = Request.build("POST", "http://localhost/scim/v2/Users", {
        "Authorization": f"Bearer {token}", "Content-Type": "application/scim+json", "client-request-id": "audit-req-0001"},
        json.dumps({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "audited"}).encode())
    response = service.handle(request, "Users")
    assert response.status == 201
    uid = response.body["id"]
    disable = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
               "Operations": [{"op": "Replace", "path": "active", "value": "False"}]}
    for _ in range(2):  # the second changes nothing
        patch = Request.build("PATCH", f"http://localhost/scim/v2/Users/{uid}", {
            "Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"}, json.dumps(disable).encode())
        assert service.handle(patch, "Users/{id}", uid).status == 200
    changes = [e for e in ctl("audit", "show", tenant)["entries"] if e["resource_id"] == uid]
    assert [(e["operation"], e["attributes"]) for e in changes] == [("patch", "active"), ("create", "id,userName")]
    assert changes[1]["request_id"] == "audit-req-0001" and changes[1]["actor"].startswith("token:")
    issued = ctl("token", "issue", tenant, "--scope", "events")
    assert issued["scope"] == "events" and status(service, issued["token"], "GET", "Users") == 403
    feed = Request.build("POST", "http://localhost/scim/v2/Events", {"Authorization": f"Bearer {issued['token']}"},
                         b'{"returnImmediately": true}')
    assert len(service.handle(feed, "Events").body["sets"]) == 2  # the create and the first patch
    ctl("tenant", "delete", tenant, "--yes")
    kept = ctl("audit", "show", tenant)["entries"]
    assert kept[0]["operation"] == "tenant.delete"
    assert [(e["operation"], e["request_id"]) for e in kept if e["resource_id"] == uid][-1] == ("create", "audit-req-0001")


def test_sign_in_commands_register_apps_claim_domains_and_map_roles(ctl, service):
    """``app``, ``tenant domains``, ``signin configure`` and ``roles``: what
    sign-in reads (tests/integration/test_signin.py drives the flow)."""
    import uuid

    from shared.auth.signin_directory import SignInDirectory
    from shared.signin.apps import AppRegistry

    app = ctl("app", "register", "--name", "Analytics", "--redirect-uri", "https://app.example/cb",
              "--redirect-uri", "http://127.0.0.1:8080/cb", "--backchannel-logout-uri", "https://app.example/logout")
    registered = AppRegistry(service.tables, cache_seconds=0).get(app["client_id"])
    assert registered.redirect_uris == ("https://app.example/cb", "http://127.0.0.1:8080/cb")
    assert registered.check_client_secret(app["client_secret"]) and not registered.check_client_secret("x")
    assert app["client_id"] in [a["client_id"] for a in ctl("app", "list")["apps"]]
    refused = ctl("app", "register", "--name", "Bad", "--redirect-uri", "http://app.example/cb", ok=False)
    assert refused.returncode == 1 and "https://" in refused.stderr and "Traceback" not in refused.stderr
    ctl("app", "remove", app["client_id"])
    assert AppRegistry(service.tables, cache_seconds=0).get(app["client_id"]) is None

    tenant = ctl("tenant", "create", "--name", f"signin-{uuid.uuid4().hex[:6]}", "--no-token")["tenant_id"]
    entra = str(uuid.uuid4())
    assert ctl("signin", "configure", tenant, "--entra-tenant-id", entra, "--link", "userName") == {
        "tenant_id": tenant, "entra_tenant": entra, "link": "userName"}
    domain = f"d{uuid.uuid4().hex[:8]}.example"
    ctl("tenant", "domains", "add", tenant, domain.upper())
    assert ctl("tenant", "domains", "list", tenant)["domains"] == [domain]
    other = ctl("tenant", "create", "--name", f"other-{uuid.uuid4().hex[:6]}", "--no-token")["tenant_id"]
    taken = ctl("tenant", "domains", "add", other, domain, ok=False)
    assert taken.returncode == 1 and "already claimed" in taken.stderr
    assert SignInDirectory(service.tables).tenant_for_domain(domain) == tenant

    _, token = service.registry.issue_token(tenant)
    created = service.handle(Request.build("POST", "http://127.0.0.1/scim/v2/Groups", {
        "Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"}, json.dumps({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Finance Admins"}).encode()),
        "Groups")
    group_id = created.body["id"]
    assert ctl("roles", "map", tenant, "--group", "finance admins", "--role", "admin")["roles"] == ["admin"]
    assert ctl("roles", "map", tenant, "--group", group_id, "--role", "auditor")["roles"] == ["admin", "auditor"]
    assert ctl("roles", "list", tenant)["roles"] == {group_id: ["admin", "auditor"]}
    assert ctl("roles", "unmap", tenant, "--group", group_id, "--role", "admin")["roles"] == ["auditor"]
    assert ctl("roles", "unmap", tenant, "--group", group_id)["roles"] == []
    missing = ctl("roles", "map", tenant, "--group", "nobody", "--role", "x", ok=False)
    assert missing.returncode == 1 and "no group" in missing.stderr
    audited = [(e["operation"], e.get("attributes")) for e in ctl("audit", "show", tenant, "--limit", "20")["entries"]]
    assert ("role.map", "role=admin") in audited and ("role.unmap", "role=auditor") in audited
    assert ("domain.add", f"domain={domain}") in audited and any(op == "signin.configure" for op, _ in audited)

    ctl("tenant", "delete", tenant, "--yes")
    assert SignInDirectory(service.tables).tenant_for_domain(domain) is None
    assert SignInDirectory(service.tables, cache_seconds=0).role_map(tenant) == {}
