"""Stand-ins for curl and scimctl, recording their calls like stubs/az.py.

Run as ``tools.py curl ARGS...`` (answers 401, the app's answer without a
token; at ``/oauth/token`` 401 ``invalid_client`` once the app reads its
signing key: after a restart when ``$STUB_SCENARIO`` has ``key_needs_restart``,
never when ``oauth_off``) or ``tools.py scimctl ARGS...`` (``tenant list`` answers the tenants
of ``$STUB_SCENARIO``'s ``tenants``; ``tenant create`` and ``token issue``
answer a new token; ``client issue`` a new client).
"""

import json
import os
import sys
from pathlib import Path

STUB_DIR = Path(os.environ["STUB_DIR"])
SCENARIO = json.loads(os.environ.get("STUB_SCENARIO", "{}"))
TOKEN = "stub-token-0123456789"


def main(tool, argv):
    with open(STUB_DIR / "calls.jsonl", "a", encoding="utf-8") as log:
        log.write(json.dumps({"tool": tool, "argv": argv}) + "\n")
    if tool == "curl":
        if argv[-1].endswith("/oauth/token"):
            off = SCENARIO.get("oauth_off") or (SCENARIO.get("key_needs_restart") and not (STUB_DIR / "restarted").exists())
            status, body = (400, {"error": "unauthorized_client"}) if off else (401, {"error": "invalid_client"})
            Path(argv[argv.index("--output") + 1]).write_text(json.dumps(body), encoding="utf-8")
            print(status, end="")
            return 0
        print("401", end="")
        return 0
    words = [a for a in argv if not a.startswith("--")]
    if "list" in words:
        print(json.dumps({"tenants": [{"tenant_id": t["id"], "name": t["name"]} for t in SCENARIO.get("tenants", [])]}))
    elif "create" in words:
        print(json.dumps({"tenant_id": "tenant-new", "name": argv[argv.index("--name") + 1], "token_id": "tok-1",
                          "token": TOKEN}))
    elif "issue" in words and "client" in words:
        print(json.dumps({"tenant_id": words[-1], "client_id": "client-1", "client_secret": "stub-secret-9876"}))
    elif "issue" in words:
        print(json.dumps({"tenant_id": words[-1], "token_id": "tok-2", "token": TOKEN}))
    else:
        print(f"stub scimctl: unexpected {argv}", file=sys.stderr)
        return 2
    return 0


sys.exit(main(sys.argv[1], sys.argv[2:]))
