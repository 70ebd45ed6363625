"""``scimctl`` end to end against Azurite: the installed console command, its
output, and the effect of each change on the next SCIM request.

Effects are checked through a service with a 0 s authentication cache (a
deployment's instances cache for ``SCIM_AUTH_CACHE_SECONDS``, documented).
"""

from __future__ import annotations

import argparse
import base64
import dataclasses
import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from scripts.azurite import ACCOUNT_KEY, free_port
from shared.admin.parser import build_parser
from shared.storage.audit import AuditEntry, _row_key, enforce_retention
from shared.scim.http import Request
from shared.web.service import ScimService
from shared.storage.keys import ROW_INDEX
from shared.storage.tables import AUDIT, TENANTS
from tests.integration.test_make_run import _read, _wait_for
from tests.log_scan import LOG_CAPTURE

SCIMCTL = Path(sys.executable).with_name("scimctl")
ROOT = Path(__file__).resolve().parents[2]
ONE_TIME_FORMAT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")  # like shared.scim.records.now_iso()
ANY_TIME = re.compile(r"\d{4}-\d\d-\d\dT[\d:.+Z-]+")


def scimctl(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run the installed command; its stderr goes to the log scan (stdout is the
    command's output, secrets shown once)."""
    result = subprocess.run([str(SCIMCTL), *args], capture_output=True, text=True, timeout=60, env=env)
    LOG_CAPTURE.feed(result.stderr, "scimctl")
    return result


def output(result: subprocess.CompletedProcess) -> dict:
    """The JSON a successful ``--json`` run printed; the secrets in it registered with the log scan."""
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    for name in ("token", "client_secret"):
        if name in data:
            LOG_CAPTURE.secrets.add(data[name])
    return data


def refusal(result: subprocess.CompletedProcess, status: int) -> str:
    """The one line a failed run wrote on stderr, after checking its exit status and that there was no traceback."""
    assert result.returncode == status, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr and len(result.stderr.splitlines()) == 1, result.stderr
    assert result.stderr.startswith("scimctl: ")
    return result.stderr.strip()


@pytest.fixture
def ctl(storage_connection_string, scim_app):
    def run(*args: str, ok: bool = True) -> dict | subprocess.CompletedProcess:
        result = scimctl("--connection-string", storage_connection_string, "--json", *args)
        return output(result) if ok else result
    return run


@pytest.fixture
def run_dir(tmp_path, storage_connection_string) -> Path:
    """A ``make run`` folder as scripts/run.py keeps it while it runs, its storage.json naming the test's Azurite."""
    (tmp_path / "azurite").mkdir()
    record = os.open(tmp_path / "storage.json", os.O_WRONLY | os.O_CREAT, 0o600)
    with os.fdopen(record, "w", encoding="utf-8") as handle:
        json.dump({"pid": os.getpid(), "connection_string": storage_connection_string}, handle)
    return tmp_path


def no_storage_env(run_folder: Path) -> dict[str, str]:
    """The environment less any storage setting, with ``SCIM_RUN_DIR`` set to ``run_folder``."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("SCIM_STORAGE_")}
    return {**env, "SCIM_RUN_DIR": str(run_folder)}


@pytest.fixture
def local_ctl(run_dir, scim_app):
    """scimctl given no storage option or variable, beside the make run folder ``run_dir``."""
    def run(*args: str) -> subprocess.CompletedProcess:
        return scimctl("--json", *args, env=no_storage_env(run_dir))
    return run


def unique(name: str) -> str:
    """``name`` made unique: a name already taken is refused (tests share one Azurite)."""
    return f"{name}-{uuid.uuid4().hex[:8]}"


def azurite_address(connection_string: str) -> str:
    return re.search(r"TableEndpoint=https?://([^/;]+)", connection_string).group(1)


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
    name = unique("cli-e2e")
    created = ctl("tenant", "create", "--name", name)
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
    assert shown["name"] == name and len(shown["tokens"]) == 2 and shown["tokens"][0]["revoked"]

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
    created = ctl("tenant", "create", "--name", unique("cli-delete"))
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
    assert refusal(missing, 1) == f"scimctl: no tenant {'0' * 32}"
    bad_mode = ctl("tenant", "create", "--name", "x", "--auth", "entra", ok=False)
    assert "entra" in refusal(bad_mode, 1)
    tenant = ctl("tenant", "create", "--name", unique("cli-errors"), "--no-token")["tenant_id"]
    assert "--since: give an ISO 8601 time" in refusal(ctl("events", "replay", tenant, "--since", "yesterday", ok=False), 1)
    assert "cannot read" in refusal(ctl("ensure-tenant", "--name", "x", "--token-file", "/nonexistent/token", ok=False), 1)


def test_retention_deletes_only_entries_older_than_the_period(service, ctl):
    tenant = ctl("tenant", "create", "--name", unique("retention"), "--no-token")["tenant_id"]
    table = service.tables.table(AUDIT)
    old_ms = int((datetime.now(timezone.utc) - timedelta(days=100)).timestamp() * 1000)
    old = dataclasses.asdict(AuditEntry("2000-01-01T00:00:00Z", tenant, "cli:test", "create", "User", "x", "", "ok", ""))
    table.create_entity({**old, "PartitionKey": tenant, "RowKey": _row_key(old_ms)})
    assert len(service.audit.recent(tenant, 10)) == 2
    assert enforce_retention(service.audit, service.registry, 90) >= 1
    assert [e.operation for e in service.audit.recent(tenant, 10)] == ["tenant.create"]


def test_check_store_reports_and_repairs_a_tenant(ctl, service):
    created = ctl("tenant", "create", "--name", unique("cli-check"))
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
    created = ctl("tenant", "create", "--name", unique("cli-bounds"))
    tenant, token_id = created["tenant_id"], created["token_id"]

    def text(*args: str) -> str:
        result = scimctl("--connection-string", storage_connection_string, *args)
        assert result.returncode == 0, result.stderr
        return result.stdout

    short = ctl("token", "rotate", tenant, token_id, "--grace-hours", "0.001", ok=False)  # 3.6 s
    assert refusal(short, 1).endswith("to end a token now, revoke it") and "at least 30 s" in short.stderr
    assert "refuses it within 30 s (SCIM_AUTH_CACHE_SECONDS)" in text("token", "revoke", tenant, token_id)
    second = ctl("token", "issue", tenant)["token_id"]
    assert ctl("token", "revoke", tenant, second)["requests_refused_within_seconds"] == 30  # the key tenant delete uses
    client_id = ctl("client", "issue", tenant)["client_id"]
    assert "refuses it within 30 s (SCIM_AUTH_CACHE_SECONDS)" in text("client", "revoke", tenant, client_id)
    assert ctl("client", "revoke", tenant, ctl("client", "issue", tenant)["client_id"])["requests_refused_within_seconds"] == 30
    disabled = text("tenant", "disable", tenant)
    assert "writes are refused now" in disabled and "within 30 s (SCIM_AUTH_CACHE_SECONDS)" in disabled
    assert ctl("tenant", "disable", tenant)["reads_refused_within_seconds"] == 30
    assert "within 30 s (SCIM_AUTH_CACHE_SECONDS)" in text("tenant", "delete", tenant, "--yes")
    other = ctl("tenant", "create", "--name", unique("cli-bounds-json"), "--no-token")["tenant_id"]
    assert ctl("tenant", "delete", other, "--yes")["requests_refused_within_seconds"] == 30


def test_the_changes_in_the_audit_trail_are_their_events_and_outlive_the_tenant(ctl, service):
    """A change's audit entry is its change event (no audit write of its own):
    a request that changed nothing has none, the entry carries the request's
    id, and deleting the tenant keeps the entries until the retention ends."""
    created = ctl("tenant", "create", "--name", unique("cli-audit-events"))
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


# ------------------------------------------------------------ for people: the store, errors, names, help, times

def test_without_a_storage_option_scimctl_uses_make_runs_azurite(local_ctl, run_dir, ctl, storage_connection_string):
    """No option and no variable, a make run folder with storage.json: its
    Azurite, said in one stderr line; stdout stays the JSON alone."""
    created = local_ctl("tenant", "create", "--name", unique("cli-local"), "--no-token")
    notice = f"scimctl: using make run's Azurite at {azurite_address(storage_connection_string)} ({run_dir / 'azurite'})"
    assert created.stderr.splitlines() == [notice]
    tenant = output(created)["tenant_id"]
    assert ctl("tenant", "show", tenant)["tenant_id"] == tenant  # the same store as the explicit option's
    explicit = scimctl("--connection-string", storage_connection_string, "--json", "tenant", "show", tenant)
    assert explicit.returncode == 0 and explicit.stderr == ""  # a store given is not announced
    from_env = scimctl("--json", "tenant", "show", tenant,
                       env={**no_storage_env(run_dir), "SCIM_STORAGE_CONNECTION_STRING": storage_connection_string})
    assert from_env.returncode == 0 and from_env.stderr == ""


def test_without_storage_json_scimctl_says_make_run_is_not_running(local_ctl, run_dir, tmp_path_factory):
    (run_dir / "storage.json").unlink()
    line = refusal(local_ctl("tenant", "list"), 2)
    assert line == (f"scimctl: storage: make run is not running (there is no {run_dir / 'storage.json'}): "
                    "start it with `make run`, or give --connection-string or --table-endpoint")
    no_folder = tmp_path_factory.mktemp("no-make-run")  # no azurite/ in it: make run never ran there
    line = refusal(scimctl("tenant", "list", env=no_storage_env(no_folder)), 2)
    assert line.startswith("scimctl: storage: none given: use --connection-string or --table-endpoint")


@pytest.mark.slow
def test_make_run_records_where_its_azurite_listens_while_it_runs(tmp_path):
    """scripts/run.py writes storage.json (0600) once Azurite is up and removes
    it on exit; scimctl finds the store through it, by the folder alone."""
    port, azurite_port = free_port(), free_port()
    token = f"scimctl-make-run-{uuid.uuid4().hex}"
    env = {**no_storage_env(tmp_path), "PORT": str(port), "AZURITE_PORT": str(azurite_port),
           "AZURITE_QUEUE_PORT": str(free_port()), "SCIM_DEV_TOKEN": token}
    env.pop("SCIM_TOKEN_SIGNING_KEY", None)
    LOG_CAPTURE.secrets.add(token)
    process = subprocess.Popen([sys.executable, str(ROOT / "scripts" / "run.py")], env=env, cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    stderr = LOG_CAPTURE.follow(process.stderr, "make-run stderr")
    banner = ""
    try:
        banner = _wait_for(process, "Bearer token:")
        record = tmp_path / "storage.json"
        assert record.stat().st_mode & 0o777 == 0o600
        recorded = json.loads(record.read_text(encoding="utf-8"))
        assert recorded["table_endpoint"] == f"http://127.0.0.1:{azurite_port}/devstoreaccount1"
        assert recorded["events_queue"] == "scim-events" and recorded["pid"] == process.pid
        assert ACCOUNT_KEY not in banner  # the connection string is not printed
        shown = scimctl("--json", "tenant", "show", "local", env=no_storage_env(tmp_path))  # by name
        assert shown.stderr.splitlines() == [f"scimctl: using make run's Azurite at 127.0.0.1:{azurite_port} "
                                             f"({tmp_path / 'azurite'})"]
        local = output(shown)
        assert local["name"] == "local" and len(local["tokens"]) == 1
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
        assert not record.exists()
    finally:
        if process.poll() is None:  # a failed assertion: stop it as a user would, so it stops its Azurite and app
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)  # its children run in sessions of their own and may stay
        banner += _read(process, None, 5)
        LOG_CAPTURE.feed([line for line in banner.splitlines() if token not in line], "make-run stdout")
    stderr.join()
    assert "make run is not running" in refusal(scimctl("tenant", "list", env=no_storage_env(tmp_path)), 2)


def test_storage_problems_are_one_line_naming_the_endpoint_and_the_fix(storage_connection_string, tmp_path):
    """What the SDK raises -- a ValueError traceback, ``ServiceRequestError``,
    ``None``, a page of XML -- is one stderr line and exit status 2, and no key."""
    def azurite(endpoint: str, key: str = ACCOUNT_KEY) -> str:
        return f"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={key};TableEndpoint={endpoint};"

    closed = free_port()
    silent = socket.create_server(("127.0.0.1", 0))  # accepts, never answers
    silent_port = silent.getsockname()[1]
    no_login = {"AZURE_TOKEN_CREDENTIALS": "AzureCliCredential", "AZURE_CONFIG_DIR": str(tmp_path)}  # az: not logged in
    cases = [
        (["--connection-string", "garbage"], {},
         "scimctl: storage: --connection-string is not a storage connection string (Connection string is either blank or malformed)"),
        (["--connection-string", "AccountName=devstoreaccount1"], {},
         "scimctl: storage: --connection-string is not a storage connection string (Connection string missing required"),
        (["--connection-string", azurite(f"http://127.0.0.1:{closed}/devstoreaccount1")], {},
         f"scimctl: storage: http://127.0.0.1:{closed}/devstoreaccount1 could not be reached (connection refused): "
         "nothing listens there: start Azurite (`make run`) or fix the port"),
        (["--connection-string", azurite("http://nosuchhost.invalid:10002/devstoreaccount1")], {},
         "scimctl: storage: http://nosuchhost.invalid:10002/devstoreaccount1 could not be reached (name not resolved): "
         "check the host name"),
        (["--connection-string", azurite(f"http://127.0.0.1:{silent_port}/devstoreaccount1")], {"SCIM_STORAGE_TIMEOUT_SECONDS": "1"},
         f"scimctl: storage: http://127.0.0.1:{silent_port}/devstoreaccount1 could not be reached (timed out): check the"),
        (["--connection-string", azurite(f"http://{azurite_address(storage_connection_string)}/devstoreaccount1",
                                         base64.b64encode(b"not the key").decode())], {},
         f"scimctl: storage: http://{azurite_address(storage_connection_string)}/devstoreaccount1 answered 403 "
         "AuthorizationFailure: check the AccountKey of --connection-string"),
        (["--connection-string", azurite(f"http://{azurite_address(storage_connection_string)}/devstoreaccount1", "abc")], {},
         "scimctl: storage: the AccountKey of --connection-string cannot sign requests"),
        (["--table-endpoint", "https://nosuchaccount.table.core.windows.net"], no_login,
         "scimctl: storage: no Azure credential found for https://nosuchaccount.table.core.windows.net: run `az login`"),
        (["--table-endpoint", "http://127.0.0.1:10002/devstoreaccount1"], {},
         "scimctl: storage: --table-endpoint must be https://<account>.table.core.windows.net"),
        ([], {"SCIM_STORAGE_CONNECTION_STRING": "garbage"},
         "scimctl: storage: SCIM_STORAGE_CONNECTION_STRING is not a storage connection string"),
    ]
    with silent:
        for args, env, expected in cases:
            result = scimctl(*args, "tenant", "list", env={**no_storage_env(tmp_path), **env})
            line = refusal(result, 2)
            assert line.startswith(expected), (args, line)
            assert ACCOUNT_KEY not in result.stderr and "garbage" not in result.stderr


def test_a_tenant_name_is_unique_and_names_the_tenant(ctl):
    name = unique("cli-names")
    first = ctl("tenant", "create", "--name", name, "--no-token")["tenant_id"]
    taken = refusal(ctl("tenant", "create", "--name", name, ok=False), 1)
    assert taken == f"scimctl: a tenant named {name!r} exists already: {first} (--allow-duplicate-name creates another)"
    assert ctl("tenant", "show", name)["tenant_id"] == first
    issued = ctl("token", "issue", name)
    assert issued["tenant_id"] == first and [t["id"] for t in ctl("token", "list", name)["tokens"]] == [issued["token_id"]]
    assert ctl("tenant", "disable", name)["tenant_id"] == first
    assert ctl("audit", "show", name, "--limit", "1")["entries"][0]["operation"] == "tenant.disable"

    second = ctl("tenant", "create", "--name", name, "--allow-duplicate-name", "--no-token")["tenant_id"]
    ambiguous = refusal(ctl("tenant", "show", name, ok=False), 1)
    assert ambiguous == f"scimctl: 2 tenants are named {name!r}: {first}, {second}; give the id"
    assert ctl("tenant", "show", second)["name"] == name  # an id is always an id
    assert refusal(ctl("tenant", "show", unique("nobody"), ok=False), 1).startswith("scimctl: no tenant nobody-")


def _commands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    """Each parser of scimctl's command tree, with the words that reach it."""
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _commands(sub, (*path, name))


def test_every_command_explains_each_argument_and_shows_an_example():
    commands = list(_commands(build_parser()))
    assert len(commands) > 40
    for path, parser in commands:
        assert parser.formatter_class is argparse.RawDescriptionHelpFormatter, path
        assert "examples:\n  scimctl " in (parser.epilog or ""), path
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                assert all(choice.help for choice in action._choices_actions), path
            else:
                assert action.help, (path, action.dest)
        for example in parser.epilog.split("examples:\n")[1].splitlines():  # each example is a valid command line
            words = shlex.split(example)[1:]
            build_parser().parse_args(words[:words.index("<")] if "<" in words else words)
    shown = subprocess.run([str(SCIMCTL), "tenant", "show", "--help"], capture_output=True, text=True, timeout=30).stdout
    assert "the tenant's id or name" in shown and "examples:\n  scimctl tenant show contoso" in shown


def test_every_time_printed_is_rfc_3339_utc_with_milliseconds(ctl, service, storage_connection_string):
    created = ctl("tenant", "create", "--name", unique("cli-times"))
    tenant, token_id = created["tenant_id"], created["token_id"]
    ctl("token", "rotate", tenant, token_id, "--grace-hours", "1")
    stored = service.tables.table(TENANTS).get_entity("token", token_id)["expires"]
    assert ONE_TIME_FORMAT.fullmatch(stored), stored  # stored in the one format
    ctl("client", "revoke", tenant, ctl("client", "issue", tenant)["client_id"])
    old = ctl("token", "issue", tenant)["token_id"]
    service.tables.table(TENANTS).update_entity({"PartitionKey": "token", "RowKey": old,
                                                  "expires": "2026-12-02T10:18:23.123456+00:00"})  # as rotate wrote them
    assert [t["expires"] for t in ctl("token", "list", tenant)["tokens"] if t["id"] == old] == ["2026-12-02T10:18:23.123Z"]

    shown = ctl("tenant", "show", tenant)
    times = [shown["created"], *(c[k] for c in shown["tokens"] + shown["clients"] for k in ("created", "expires", "revoked"))]
    times += [t["created"] for t in ctl("tenant", "list")["tenants"]] + [e["time"] for e in ctl("audit", "show", tenant)["entries"]]
    assert all(ONE_TIME_FORMAT.fullmatch(t) for t in times if t), times
    for args in (("tenant", "show", tenant), ("tenant", "list"), ("token", "list", tenant), ("client", "list", tenant),
                 ("audit", "show", tenant)):
        text = scimctl("--connection-string", storage_connection_string, *args).stdout
        printed = ANY_TIME.findall(text)
        assert printed and all(ONE_TIME_FORMAT.fullmatch(t) for t in printed), (args, printed)
