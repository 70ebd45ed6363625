"""No token, client secret, signing key, password or personal value reaches a log line.

The whole run's logs are scanned at the end of the session (tests/log_scan.py);
this test drives every credential path on purpose and scans its own lines,
and checks that the scan would notice a leak -- of a secret, and of a
personal value the tests sent, in the forms a log line would spell it.
"""

from __future__ import annotations

import base64
import json
import uuid
from urllib.parse import quote

import pytest
import requests

from tests.conftest import ROOT
from tests.log_scan import LogCapture
from tests.messages import USER, patch_op


def test_credentials_used_in_every_way_leave_no_trace_in_the_logs(scim, registry, log_capture):
    first = len(log_capture.lines)
    client_id, secret = registry.issue_client(scim.tenant_id)
    log_capture.secrets.add(secret)
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    issued = requests.post(scim.base + "/oauth/token", data={"grant_type": "client_credentials"},
                           headers={"Authorization": f"Basic {basic}"}, timeout=10)
    access = issued.json()["access_token"]
    log_capture.secrets.add(access)
    bad_secret = secret[:-3] + "zzz"
    log_capture.secrets.add(bad_secret)
    requests.post(scim.base + "/oauth/token", data={"grant_type": "client_credentials", "client_id": client_id,
                                                    "client_secret": bad_secret}, timeout=10)
    for bearer in (access, access[:-5] + "AAAAA", scim.token[:-2] + "xx", "eyJhbGciOiJub25lIn0.eyJpc3MiOiJ4In0.",
                   "not-a-token-but-long-enough-to-look-up-0000"):
        requests.get(scim.base + "/Users", headers={"Authorization": f"Bearer {bearer}"}, timeout=10)
    uid = scim.post("/Users", {"schemas": [USER], "userName": "pw", "password": "t1meMa$heen"}).json()["id"]
    scim.patch(f"/Users/{uid}", patch_op({"op": "replace", "path": "password", "value": "t1meMa$heen"}))
    scim.put(f"/Users/{uid}", {"schemas": [USER], "userName": "pw", "password": "t1meMa$heen"})
    lines = log_capture.lines[first:]
    assert any("auth_failed" in line for line in lines)
    assert log_capture.leaks(lines) == []


def test_the_scan_would_notice_a_leak(scim, log_capture):
    planted = [f"request from Bearer {scim.token}", "password=t1meMa$heen", "eyJhbGciOi.eyJzdWIiOiJ4In0.c2ln"]
    assert len(log_capture.leaks(planted)) >= 3


def test_the_scan_notices_a_personal_value_the_tests_sent(log_capture):
    """Registered values are found however a log line spells them: any case, URL-encoded
    (a storage row key is %-escaped, then the URL), in a query with ``+``, in OData quotes."""
    tag = "t" + uuid.uuid4().hex[:8]  # never all digits: a value needs a distinctive word
    user = {"schemas": [USER], "userName": f"Barbara.Jensen-{tag}@Example.com", "externalId": f"bjensen-{tag}",
            "name": {"givenName": f"Barbara{tag}", "familyName": f"O'Jensen{tag}"},
            "emails": [{"type": "work", "value": f"bjensen-{tag}@work.example"}]}
    log_capture.register_sent(user)
    log_capture.register_sent(patch_op({"op": "replace", "path": "displayName", "value": f"Babs Jensen {tag}"}))
    nick = json.dumps(f"babs-{tag}")
    log_capture.register_query("/Users?filter=" + quote(f"nickName eq {nick}"))
    planted = [
        f"Request URL: 'http://127.0.0.1:1/devstoreaccount1/scimresources(PartitionKey='t',"
        f"RowKey='X%253Aun%253Abarbara.jensen-{tag}%40example.com')'",
        f"GET /Users?filter=externalId+eq+%22BJENSEN-{tag}%22 HTTP/1.1",
        f"$filter=familyName eq 'o''jensen{tag}'",
        f"oops: babs jensen {tag}",
        f"no match for nickName babs-{tag}",
        f"work email bjensen-{tag}@work.example.",
        f"given Barbara{tag}",
    ]
    assert [line for line in planted if not log_capture.leaks([line])] == []
    assert len(log_capture.leaks(planted)) >= len(planted)


def test_short_common_and_partial_values_are_not_leaks(log_capture):
    tag = uuid.uuid4().hex[:6]
    log_capture.register_sent({"userName": "bob", "displayName": "Members", "externalId": "123456789",
                               "nickName": f"alice{tag}"})
    assert "bob" not in log_capture.personal and "members" not in log_capture.personal
    assert "123456789" not in log_capture.personal  # no letter: numbers collide with ms, ports, counts
    lines = ["request=1 method=GET route=Users/{id} status=200 storage_calls=123456789 ms=1.0",
             f"bob Members m{'alice' + tag}2 {'alice' + tag}x"]
    assert log_capture.leaks(lines) == []


def test_a_string_constant_of_the_service_code_is_not_personal():
    """Hypothesis draws constants of the code it sees as values: a fuzzed ``userName`` may be
    ``seconds`` (``timespec="seconds"``) or a key of scimctl's output (shared/admin/)."""
    capture = LogCapture()
    for value in ("seconds", "reads_refused_within_seconds", "reads_refused_within_hours"):
        capture.register_personal(value)
    assert capture.personal == {"reads_refused_within_hours"}
    lines = ["entra_keys_fetch_failed consecutive_failures=1 retry_in_seconds=60",
             '[scimctl] {"reads_refused_within_seconds": 30}']
    assert capture.leaks(lines) == []


def test_a_leak_in_a_pytest_xdist_worker_fails_the_whole_run(pytester, monkeypatch):
    """Each worker scans its own lines and the controller reports them all (tests/conftest.py)."""
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    pytester.makeconftest("from tests.conftest import pytest_configure, pytest_configure_node, pytest_sessionfinish\n")
    pytester.makepyfile(test_leaky="""
        import logging
        from tests.log_scan import LOG_CAPTURE

        def test_quiet():
            logging.getLogger("quiet").warning("nothing to see")

        def test_leaky():
            LOG_CAPTURE.secrets.add("sekrit-0123456789")
            logging.getLogger("leaky").warning("the secret is sekrit-0123456789")
    """)
    result = pytester.runpytest_subprocess("-n", "2", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*log scan: * 1 leaks (* in 2 workers)", "*LEAK registered secret in: the secret is*"])


def test_what_the_tests_send_is_registered_by_client_and_by_the_dev_host_tap(scim, log_capture):
    tag = "t" + uuid.uuid4().hex[:8]  # never all digits: a value needs a distinctive word
    scim.post("/Users", {"schemas": [USER], "userName": f"client-{tag}", "displayName": f"Client Person {tag}"})
    scim.get("/Users", params={"filter": f'externalId eq "client-ext-{tag}"'})
    requests.post(scim.base + "/Users", json={"schemas": [USER], "userName": f"raw-{tag}"},
                  headers={"Authorization": f"Bearer {scim.token}"}, timeout=10)
    requests.get(scim.base + "/Groups", params={"filter": f'displayName eq "raw group {tag}"'},
                 headers={"Authorization": f"Bearer {scim.token}"}, timeout=10)
    expected = {f"client-{tag}", f"client person {tag}", f"client-ext-{tag}", f"raw-{tag}", f"raw group {tag}",
                scim.tenant_id}
    assert expected <= log_capture.personal
