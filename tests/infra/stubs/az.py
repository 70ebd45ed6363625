"""A stand-in for the Azure CLI: records each call and answers like az would.

Calls are appended to ``$STUB_DIR/calls.jsonl`` as ``{"tool": "az", "argv": [...]}``.
``$STUB_SCENARIO`` (JSON) picks the state of the fake subscription:
logged_in, bicep, group_exists, secret_exists (all default true except the
last two); for sign-in's app registration signin_app_exists,
federated_credential_exists and graph_denied (all default false);
az_version (2.67.0), account_type (user), upload_failures (how many code
uploads fail before one succeeds: a storage role not yet effective; 0).
The access token of ``account get-access-token`` is a JWT whose ``oid`` is
DEPLOYER_OID.  The key given to ``keyvault secret set --file`` is copied to
``$STUB_DIR/stored-key.pem`` so the test can check it and look for leaks.
"""

import json
import os
import shutil
import sys
from pathlib import Path

STUB_DIR = Path(os.environ["STUB_DIR"])
SCENARIO = {"logged_in": True, "bicep": True, "group_exists": False, "secret_exists": False,
            "signin_app_exists": False, "federated_credential_exists": False, "graph_denied": False,
            "az_version": "2.67.0", "account_type": "user", "upload_failures": 0,
            **json.loads(os.environ.get("STUB_SCENARIO", "{}"))}
OUTPUTS = {
    "AZURE_FUNCTION_APP_NAME": "func-abc123",
    "SCIM_BASE_URL": "https://func-abc123.azurewebsites.net/scim/v2",
    "AZURE_STORAGE_ACCOUNT_NAME": "stabc123",
    "SCIM_STORAGE_TABLE_ENDPOINT": "https://stabc123.table.core.windows.net",
    "SCIM_TABLE_PREFIX": "scim",
    "AZURE_KEY_VAULT_NAME": "kv-abc123",
    "SCIM_SIGNING_KEY_SECRET_NAME": "scim-token-signing-key",
    "SCIM_SIGNIN_CALLBACK_URL": "https://func-abc123.azurewebsites.net/auth/callback",
    "SCIM_SIGNIN_IDENTITY_PRINCIPAL_ID": "77777777-6666-5555-4444-333333333333",
    "AZURE_TENANT_ID": "11111111-2222-3333-4444-555555555555",
}
SIGNIN_APP_ID = "abababab-cdcd-efef-0101-232323232323"
DEPLOYER_OID = "99999999-8888-7777-6666-555555555555"


def _fake_jwt(claims: dict) -> str:
    import base64

    def part(data: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()
    return f"{part({'alg': 'RS256', 'typ': 'JWT'})}.{part(claims)}.c2lnbmF0dXJl"


def _count(name: str) -> int:
    """How many times this stub ran ``name`` before (kept in STUB_DIR)."""
    counter = STUB_DIR / f"count-{name}"
    seen = int(counter.read_text()) if counter.exists() else 0
    counter.write_text(str(seen + 1))
    return seen


def option(argv, name):
    return argv[argv.index(name) + 1]


def main(argv):
    with open(STUB_DIR / "calls.jsonl", "a", encoding="utf-8") as log:
        log.write(json.dumps({"tool": "az", "argv": argv}) + "\n")
    command = " ".join(a for a in argv[:4] if not a.startswith("-"))
    if command.startswith("version"):
        print(SCENARIO["az_version"])
    elif command.startswith("account show"):
        if not SCENARIO["logged_in"]:
            print("Please run 'az login' to setup account.", file=sys.stderr)
            return 1
        print(f"00000000-1111-2222-3333-444444444444\tContoso Sub\tdeployer@contoso.example\t{SCENARIO['account_type']}")
    elif command.startswith("account get-access-token"):
        print(_fake_jwt({"oid": DEPLOYER_OID, "aud": "https://management.core.windows.net/"}))
    elif command.startswith("account set"):
        pass
    elif command.startswith("bicep version"):
        if not SCENARIO["bicep"]:
            print("Bicep CLI not found.", file=sys.stderr)
            return 1
        print("Bicep CLI version 0.30.23")
    elif command.startswith("bicep build"):
        Path(option(argv, "--outfile")).write_text("{}", encoding="utf-8")
    elif command.startswith("group show"):
        if not SCENARIO["group_exists"]:
            print("(ResourceGroupNotFound) Resource group could not be found.", file=sys.stderr)
            return 3
        print("westeurope")
    elif command.startswith("group create"):
        pass
    elif command.startswith("ad signed-in-user show"):
        print("99999999-8888-7777-6666-555555555555")
    elif command.startswith("deployment group what-if"):
        print("Resource changes: 12 to create.")
    elif command.startswith("deployment group create"):
        query = option(argv, "--query")
        names = [part.strip().removesuffix(".value") for part in query.split("[", 1)[1].rstrip("]").split(",")]
        print("\n".join(OUTPUTS[n] for n in names))
    elif command.startswith("keyvault secret show"):
        if not SCENARIO["secret_exists"]:
            print("(SecretNotFound) A secret with (name/id) scim-token-signing-key was not found in this key vault.",
                  file=sys.stderr)
            return 3
    elif command.startswith("keyvault secret set"):
        source = Path(option(argv, "--file"))
        (STUB_DIR / "stored-key-mode").write_text(oct(source.stat().st_mode & 0o777), encoding="utf-8")
        shutil.copy(source, STUB_DIR / "stored-key.pem")
    elif command.startswith("ad app list"):
        if SCENARIO["signin_app_exists"]:
            print(SIGNIN_APP_ID)
    elif command.startswith("ad app create"):
        if SCENARIO["graph_denied"]:
            print("Insufficient privileges to complete the operation.", file=sys.stderr)
            return 1
        print(SIGNIN_APP_ID)
    elif command.startswith("ad app update"):
        pass
    elif command.startswith("ad app federated-credential"):
        if argv[3] == "list" and SCENARIO["federated_credential_exists"]:
            print("scim-signin-identity")
        elif argv[3] == "create":
            source = option(argv, "--parameters").removeprefix("@")
            shutil.copy(source, STUB_DIR / "federated-credential.json")
    elif command.startswith("functionapp deployment source"):
        if _count("upload") < SCENARIO["upload_failures"]:
            print("Failed to deploy: (AuthorizationPermissionMismatch) This request is not authorized to perform"
                  " this operation using this permission.", file=sys.stderr)
            return 1
        shutil.copy(option(argv, "--src"), STUB_DIR / "deployed.zip")
    elif command.startswith("functionapp restart"):
        (STUB_DIR / "restarted").write_text("1")
    else:
        print(f"stub az: unexpected command {argv}", file=sys.stderr)
        return 2
    return 0


sys.exit(main(sys.argv[1:]))
