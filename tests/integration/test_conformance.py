"""The public SCIM conformance suites, run against the dev host on Azurite.

* scim2-tester (``scim2 ... test``): every check must be SUCCESS (the CLI
  exits non-zero otherwise).
* scim-sanity (``scim-sanity probe``): 0 failures except the Group PATCH
  checks, which expect 200 where this service answers 204 No Content as
  Microsoft's guidance asks (README, "Known deviations"); its "add member"
  check also adds a member id that does not exist, which the service rejects
  with 400 ``invalidValue`` by design.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

BIN = Path(sys.executable).parent
EXPECTED_SANITY_FAILURES = {
    "PATCH /Groups/{id}",
    "PATCH /Groups/{id} add member",
    "PATCH /Groups/{id} remove members",
}


def _run(args: list[str]) -> subprocess.CompletedProcess:
    env = {**os.environ, "NO_COLOR": "1"}
    return subprocess.run(args, capture_output=True, text=True, timeout=600, env=env)


def test_scim2_tester_all_checks_succeed(scim):
    result = _run([str(BIN / "scim2"), "--url", scim.base, "-h", f"Authorization: Bearer {scim.token}", "test", "-v"])
    statuses = re.findall(r"^\s*(SUCCESS|ERROR|CRITICAL|WARNING|SKIPPED)\b", result.stdout, re.M)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert statuses and set(statuses) == {"SUCCESS"}
    assert len(statuses) >= 135


def test_scim_sanity_fails_only_the_group_patch_204_checks(scim):
    result = _run([str(BIN / "scim-sanity"), "probe", scim.base, "--token", scim.token, "--i-accept-side-effects"])
    failed = set(re.findall(r"\[(?:FAIL|ERROR)\]\s+(.+?)\s*$", result.stdout, re.M))
    passed = re.findall(r"\[PASS\]", result.stdout)
    assert failed == EXPECTED_SANITY_FAILURES, result.stdout[-4000:]
    assert len(passed) >= 25
