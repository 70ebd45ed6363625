"""The Azure SDK's request logging is quiet once an entry point has set up logging.

azure-core's ``HttpLoggingPolicy`` logs every storage URL at INFO, and a
Table Storage URL holds row keys made of userNames, emails and ids
(:mod:`shared.logs`).  Each entry point -- ``function_app`` (import and the
service it builds), the dev host (``start_in_thread`` and ``main``) and
``scimctl`` -- must set those loggers to WARNING.

Each case runs in a fresh interpreter (this test process has long since
imported ``function_app``), logs everything at DEBUG to a list, lets the
entry point set up logging, then makes a storage request whose URL holds a
value of the test's, and reports the records.  The control case, with no
entry point, shows that the same request does reach the logs otherwise.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import urllib.request
import uuid
from pathlib import Path

import pytest

from shared.logs import SDK_LOGGERS
from tests.log_scan import LOG_CAPTURE

ROOT = Path(__file__).resolve().parents[2]

# A tiny app for the dev host cases: not function_app, which quiets the SDK itself.
PROBE_APP = '''
import azure.functions as func
from shared.config import Settings
from shared.storage.tables import Tables

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)
tables = Tables(Settings.from_env())


@app.route(route="probe/{value}", methods=["PUT"])
def probe(req: func.HttpRequest) -> func.HttpResponse:
    tables.table("resources").upsert_entity({"PartitionKey": "probe", "RowKey": req.route_params["value"]})
    return func.HttpResponse("stored")
'''

DRIVER = textwrap.dedent('''
    import json, logging, sys, urllib.request
    entry, value, connection_string = sys.argv[1:4]
    records = []

    class Keep(logging.Handler):
        def emit(self, record):
            records.append({"name": record.name, "level": record.levelno, "message": record.getMessage()})

    root = logging.getLogger()
    root.addHandler(Keep(logging.DEBUG))
    root.setLevel(logging.DEBUG)

    def put_through_dev_host(base):
        request = urllib.request.Request(f"{base}/probe/{value}", method="PUT", data=b"")
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        assert opener.open(request, timeout=30).status == 200

    if entry == "function_app":
        import function_app
        from shared.scim.http import Request
        service = function_app._get_service()
        tenant = service.registry.create_tenant("sdk-logging-probe")
        _, token = service.registry.issue_token(tenant)
        body = json.dumps({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": value}).encode()
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"}
        response = service.handle(Request.build("POST", "http://127.0.0.1/scim/v2/Users", headers, body), "Users")
        assert response.status == 201, response.body
    elif entry == "start_in_thread":
        from scripts.devhost import start_in_thread
        from probe_app import app
        server, base = start_in_thread(app, route_prefix="")
        put_through_dev_host(base)
        server.shutdown()
    elif entry == "scimctl":
        from shared.admin import main
        assert main(["--connection-string", connection_string, "--table-prefix", "sdklogging", "--json",
                     "tenant", "list"]) == 0
    if entry in ("scimctl", "nothing"):
        from shared.config import Settings
        from shared.storage.tables import Tables
        Tables(Settings.from_env()).table("resources").upsert_entity({"PartitionKey": "probe", "RowKey": value})
    print("RECORDS " + json.dumps(records))
''')


def _sdk_records(records: list[dict]) -> list[dict]:
    """Records below WARNING from the loggers shared.logs quiets (or their children)."""
    return [r for r in records if r["level"] < 30 and any(r["name"] == n or r["name"].startswith(n + ".")
                                                          for n in SDK_LOGGERS)]


def _env(tmp_path: Path, connection_string: str) -> dict[str, str]:
    (tmp_path / "probe_app.py").write_text(PROBE_APP, encoding="utf-8")
    env = dict(os.environ, SCIM_STORAGE_CONNECTION_STRING=connection_string, SCIM_TABLE_PREFIX="sdklogging",
               PYTHONPATH=os.pathsep.join([str(tmp_path), str(ROOT)]))  # tables of its own: probe rows stay apart
    env.pop("SCIM_TOKEN_SIGNING_KEY", None)
    return env


def _drive(entry: str, value: str, tmp_path: Path, connection_string: str) -> list[dict]:
    done = subprocess.run([sys.executable, "-c", DRIVER, entry, value, connection_string], cwd=ROOT,
                          env=_env(tmp_path, connection_string), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    line = next(line for line in done.stdout.splitlines() if line.startswith("RECORDS "))
    return json.loads(line[len("RECORDS "):])


@pytest.mark.parametrize("entry", ["function_app", "start_in_thread", "scimctl"])
def test_no_sdk_request_logging_after_the_entry_point_sets_up_logging(entry, tmp_path, storage_connection_string):
    value = f"sdk-quiet-{uuid.uuid4().hex[:10]}@example.com"
    LOG_CAPTURE.register_personal(value)
    records = _drive(entry, value, tmp_path, storage_connection_string)
    assert _sdk_records(records) == []
    assert not [r for r in records if value in r["message"] or value.replace("@", "%40") in r["message"]]


def test_without_an_entry_point_the_sdk_logs_the_value(tmp_path, storage_connection_string):
    """The control: the probe's request does reach the logs when nothing quiets the SDK."""
    value = f"sdk-loud-{uuid.uuid4().hex[:10]}"
    records = _drive("nothing", value, tmp_path, storage_connection_string)
    assert any(value in r["message"] for r in _sdk_records(records))


def test_dev_host_command_line_logs_no_storage_url(tmp_path, storage_connection_string):
    """``python -m scripts.devhost`` logs to stderr at INFO; the SDK's request lines must not be there."""
    value = f"devhost-main-{uuid.uuid4().hex[:10]}"
    LOG_CAPTURE.register_personal(value)
    process = subprocess.Popen([sys.executable, "-m", "scripts.devhost", "--port", "0", "--app", "probe_app:app",
                                "--route-prefix", "", "--access-log"],
                               cwd=ROOT, env=_env(tmp_path, storage_connection_string), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    stderr = LOG_CAPTURE.follow(process.stderr, "devhost-main")
    try:
        line = process.stdout.readline().strip()
        assert line.startswith("Dev host listening on http://127.0.0.1:"), line
        base = line.rsplit(" ", 1)[1].rstrip("/")
        request = urllib.request.Request(f"{base}/probe/{value}?filter=userName%20eq%20%22{value}%22",
                                         method="PUT", data=b"")
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        assert opener.open(request, timeout=30).status == 200
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    lines = stderr.join()
    assert any('"PUT probe/{value}" 200' in line for line in lines), lines  # the access log, by template
    assert not [line for line in lines if value in line], lines
    assert LOG_CAPTURE.leaks(lines) == []
