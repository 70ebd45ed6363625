"""No token, client secret, signing key or password reaches a log line.

The whole run's logs are scanned at the end of the session (tests/log_scan.py);
this test drives every credential path on purpose and scans its own lines,
and checks that the scan would notice a leak.
"""

from __future__ import annotations

import base64

import requests

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
