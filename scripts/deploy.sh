#!/usr/bin/env bash
# Deploy the SCIM endpoint to Azure with one command: infrastructure (infra/,
# Bicep), the app code (remote build), the token-signing key, and the first
# tenant with its credential for the Entra enterprise application.
# Safe to run again: every step creates what is missing and keeps what exists.
# Run `scripts/deploy.sh --help` for the options.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

usage() {
  cat <<'EOF'
Usage: scripts/deploy.sh [options]

Deploys infra/main.bicep into a resource group, deploys the app with a remote
build, stores a generated token-signing key in Key Vault (once), waits until
/scim/v2/ServiceProviderConfig answers 401, creates the first SCIM tenant and
prints the Tenant URL and Secret Token for Microsoft Entra ID.

Options:
  -e, --environment NAME     environment name, part of resource names
                             (default: $AZURE_ENV_NAME, else scim)
  -g, --resource-group NAME  resource group, created when missing (default: rg-<environment>)
  -l, --location REGION      region for a new resource group (default: eastus2)
  -s, --subscription ID      subscription to use (default: the az CLI's current one)
  -t, --tenant-name NAME     name of the first SCIM tenant (default: the environment name)
  -p, --parameter NAME=VALUE template parameter, repeatable (e.g. httpAlwaysReady=0)
      --what-if              show what the deployment would change, change nothing
      --new-token            the tenant exists: issue it another bearer token
      --oauth-client         also issue an OAuth client (client credentials grant)
      --no-signin            do not create or update sign-in's Entra app registration
      --package-only FILE    only build the deployment package into FILE (no Azure)
      --azd-hook STAGE       run from azure.yaml: postprovision (signing key) or
                             postdeploy (wait, first tenant); names come from azd
  -h, --help                 this text

Environment:
  PYTHON          Python for packaging and scimctl (default: .venv/bin/python,
                  created with `make` when missing)
  SCIM_ADMIN_CMD  the scimctl command (default: "$PYTHON -m shared.admin")
  DEPLOY_WAIT_SECONDS   how long to wait for the app and for role assignments (default 600)
  DEPLOY_RETRY_SECONDS  pause between attempts (default 10)

Needs: az (logged in, with Bicep: az bicep install), curl, openssl, Python >= 3.11.
The deployer is granted Storage Table Data Contributor on the storage account and
Key Vault Secrets Officer on the vault (to create the tenant and the key).
Sign-in's multi-tenant app registration (scim-signin-<environment>) is created
or updated when the deployer may register applications in Entra ID; its
credential is the app's managed identity (a federated identity credential).
EOF
}

die() { echo "deploy: error: $*" >&2; exit 1; }
say() { echo "==> $*" >&2; }

ENVIRONMENT="${AZURE_ENV_NAME:-scim}"
RESOURCE_GROUP=""
LOCATION="eastus2"
SUBSCRIPTION=""
TENANT_NAME=""
WHAT_IF=0
NEW_TOKEN=0
OAUTH_CLIENT=0
SIGNIN=1
SIGNIN_CLIENT_ID=""
SIGNIN_SKIPPED=0
PACKAGE_ONLY=""
AZD_HOOK=""
EXTRA_PARAMETERS=()

while [[ $# -gt 0 ]]; do
  case "$1" in
    -e|--environment) ENVIRONMENT="${2:?$1 needs a value}"; shift 2 ;;
    -g|--resource-group) RESOURCE_GROUP="${2:?$1 needs a value}"; shift 2 ;;
    -l|--location) LOCATION="${2:?$1 needs a value}"; shift 2 ;;
    -s|--subscription) SUBSCRIPTION="${2:?$1 needs a value}"; shift 2 ;;
    -t|--tenant-name) TENANT_NAME="${2:?$1 needs a value}"; shift 2 ;;
    -p|--parameter) EXTRA_PARAMETERS+=("${2:?$1 needs NAME=VALUE}"); shift 2 ;;
    --what-if) WHAT_IF=1; shift ;;
    --new-token) NEW_TOKEN=1; shift ;;
    --oauth-client) OAUTH_CLIENT=1; shift ;;
    --no-signin) SIGNIN=0; shift ;;
    --package-only) PACKAGE_ONLY="${2:?$1 needs a file}"; shift 2 ;;
    --azd-hook) AZD_HOOK="${2:?$1 needs postprovision or postdeploy}"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown option: $1" ;;
  esac
done
RESOURCE_GROUP="${RESOURCE_GROUP:-rg-$ENVIRONMENT}"

# Table names are the prefix + resources, tenants, audit, signin
# (shared/storage/tables.py); Table Storage names are letters and digits,
# starting with a letter, 3 to 63 characters ("Understanding the Table
# service data model", learn.microsoft.com/rest/api/storageservices/understanding-the-table-service-data-model).
# Checked before anything is deployed.
check_table_prefix() {
  local prefix="$1" longest=$(( ${#1} + 9 ))  # + "resources"
  [[ "$prefix" =~ ^[A-Za-z][A-Za-z0-9]*$ ]] \
    || die "tablePrefix '$prefix': letters and digits only, starting with a letter (table names are prefix + resources, tenants, audit, signin)"
  (( longest <= 63 )) || die "tablePrefix '$prefix' is too long: '${prefix}resources' would be $longest characters (at most 63)"
}
for parameter in "${EXTRA_PARAMETERS[@]}"; do
  if [[ "$parameter" == tablePrefix=* ]]; then check_table_prefix "${parameter#tablePrefix=}"; fi
done
TENANT_NAME="${TENANT_NAME:-$ENVIRONMENT}"
WAIT_SECONDS="${DEPLOY_WAIT_SECONDS:-600}"
RETRY_SECONDS="${DEPLOY_RETRY_SECONDS:-10}"
DEPLOYMENT_NAME="scim-$ENVIRONMENT"
SIGNIN_APP_NAME="scim-signin-$ENVIRONMENT"

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
chmod 700 "$WORK"

# --- Python (packaging and scimctl) -----------------------------------------

python_cmd() {
  if [[ -n "${PYTHON:-}" ]]; then
    echo "$PYTHON"
    return
  fi
  if [[ ! -x "$ROOT/.venv/bin/python" ]]; then
    say "creating .venv (make install, Python part)"
    make -C "$ROOT" --no-print-directory .venv/.requirements-installed >&2 \
      || die "could not create .venv; set PYTHON to a Python >= 3.11 with requirements.txt installed"
  fi
  echo "$ROOT/.venv/bin/python"
}

# The deployment package: exactly what the Functions runtime loads; remote
# build installs requirements.txt.  Never tests, virtualenvs, node_modules,
# local settings or caches.
build_package() {
  local out="$1" python
  python="$(python_cmd)"
  "$python" - "$ROOT" "$out" <<'PY'
import sys, zipfile
from pathlib import Path

root, out = Path(sys.argv[1]), Path(sys.argv[2])
files = [root / "function_app.py", root / "host.json", root / "requirements.txt"]
files += sorted(p for p in (root / "shared").rglob("*")
                if p.is_file() and "__pycache__" not in p.parts and p.suffix not in (".pyc", ".pyo"))
with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
    for path in files:
        archive.write(path, path.relative_to(root).as_posix())
PY
}

if [[ -n "$PACKAGE_ONLY" ]]; then
  build_package "$PACKAGE_ONLY"
  say "package written to $PACKAGE_ONLY"
  exit 0
fi

# --- Azure CLI -------------------------------------------------------------

command -v az >/dev/null || die "the Azure CLI (az) is not installed: https://aka.ms/azure-cli"

# Flex Consumption needs Azure CLI 2.60.0 or later ("Create and manage function
# apps in the Flex Consumption plan", learn.microsoft.com/azure/azure-functions/flex-consumption-how-to):
# an older CLI takes the classic zip deployment path, sets
# SCM_DO_BUILD_DURING_DEPLOYMENT (which Flex rejects) and needs basic
# publishing credentials, which the templates turn off.
MIN_AZ_VERSION="2.60.0"
check_cli_version() {
  local version
  version="$(az version --query '"azure-cli"' --output tsv 2>/dev/null)" || die "cannot read the Azure CLI version (az version)"
  [[ -n "$version" ]] || die "cannot read the Azure CLI version (az version)"
  if [[ "$(printf '%s\n%s\n' "$MIN_AZ_VERSION" "$version" | sort -V | head -n 1)" != "$MIN_AZ_VERSION" ]]; then
    die "Azure CLI $version is too old: Flex Consumption deployments need $MIN_AZ_VERSION or later (az upgrade)"
  fi
}
for tool in curl openssl; do
  command -v "$tool" >/dev/null || die "$tool is needed (to check the app and to generate the signing key)"
done

check_login() {
  if [[ -n "$SUBSCRIPTION" ]]; then
    az account set --subscription "$SUBSCRIPTION" || die "cannot select subscription $SUBSCRIPTION (az login first?)"
  fi
  local account
  account="$(az account show --query "[id, name, user.name, user.type]" --output tsv 2>/dev/null | tr '\t' '\n')" \
    || die "not logged in to Azure: run 'az login' (and 'az account set --subscription ...')"
  mapfile -t ACCOUNT <<<"$account"
  [[ ${#ACCOUNT[@]} -ge 4 ]] || die "unexpected 'az account show' output"
  say "subscription ${ACCOUNT[1]} (${ACCOUNT[0]}), signed in as ${ACCOUNT[2]} (${ACCOUNT[3]})"
}

# Object id of whoever is signed in, for its data roles: the "oid" claim of
# its ARM access token, which users, service principals and managed
# identities all have, so no Microsoft Graph read permission is needed.
deployer_object_id() {
  local token
  token="$(az account get-access-token --query accessToken --output tsv)" || return 1
  "$(python_cmd)" -c '
import base64, json, sys
payload = sys.argv[1].split(".")[1]
claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
print(claims["oid"])' "$token" 2>/dev/null
}

deployer_principal_type() {
  if [[ "${ACCOUNT[3]}" == "servicePrincipal" ]]; then echo ServicePrincipal; else echo User; fi
}

build_templates() {
  az bicep version >/dev/null 2>&1 \
    || die "Bicep is not available to az: run 'az bicep install' (it needs internet access), then retry"
  say "compiling infra/main.bicep"
  az bicep build --file "$ROOT/infra/main.bicep" --outfile "$WORK/main.json"
}

ensure_resource_group() {
  local existing
  if existing="$(az group show --name "$RESOURCE_GROUP" --query location --output tsv 2>/dev/null)"; then
    say "resource group $RESOURCE_GROUP exists ($existing)"
    LOCATION="$existing"
  elif [[ "$WHAT_IF" == 1 ]]; then
    die "resource group $RESOURCE_GROUP does not exist; what-if compares against an existing group (run without --what-if to create it)"
  else
    say "creating resource group $RESOURCE_GROUP in $LOCATION"
    az group create --name "$RESOURCE_GROUP" --location "$LOCATION" --tags "azd-env-name=$ENVIRONMENT" --output none
  fi
}

# Sets APP_NAME, SCIM_BASE_URL, STORAGE_ACCOUNT, TABLE_ENDPOINT, TABLE_PREFIX,
# KEY_VAULT and SECRET_NAME from the deployment's outputs.
deploy_infrastructure() {
  local principal_id principal_type
  principal_id="$(deployer_object_id)" || die "cannot read the signed-in identity's object id"
  principal_type="$(deployer_principal_type)"
  local parameters=(environmentName="$ENVIRONMENT" location="$LOCATION"
                    principalId="$principal_id" principalType="$principal_type")
  [[ -n "$SIGNIN_CLIENT_ID" ]] && parameters+=(signinClientId="$SIGNIN_CLIENT_ID")
  parameters+=("${EXTRA_PARAMETERS[@]}")
  if [[ "$WHAT_IF" == 1 ]]; then
    say "what-if: changes the deployment would make (nothing is changed)"
    az deployment group what-if --resource-group "$RESOURCE_GROUP" --name "$DEPLOYMENT_NAME" \
      --template-file "$WORK/main.json" --parameters "${parameters[@]}"
    exit 0
  fi
  say "deploying the infrastructure (deployment $DEPLOYMENT_NAME); the deployer ($principal_type $principal_id)" \
      "is granted Storage Table Data Contributor and Key Vault Secrets Officer"
  local outputs
  outputs="$(az deployment group create --resource-group "$RESOURCE_GROUP" --name "$DEPLOYMENT_NAME" \
    --template-file "$WORK/main.json" --parameters "${parameters[@]}" \
    --query "properties.outputs.[AZURE_FUNCTION_APP_NAME.value, SCIM_BASE_URL.value, AZURE_STORAGE_ACCOUNT_NAME.value, SCIM_STORAGE_TABLE_ENDPOINT.value, SCIM_TABLE_PREFIX.value, AZURE_KEY_VAULT_NAME.value, SCIM_SIGNING_KEY_SECRET_NAME.value, SCIM_SIGNIN_CALLBACK_URL.value, SCIM_SIGNIN_IDENTITY_PRINCIPAL_ID.value, AZURE_TENANT_ID.value]" \
    --output tsv | tr '\t' '\n')"
  local values
  mapfile -t values <<<"$outputs"
  [[ ${#values[@]} -ge 10 ]] || die "the deployment did not return its outputs"
  APP_NAME="${values[0]}" SCIM_BASE_URL="${values[1]}" STORAGE_ACCOUNT="${values[2]}"
  TABLE_ENDPOINT="${values[3]}" TABLE_PREFIX="${values[4]}" KEY_VAULT="${values[5]}" SECRET_NAME="${values[6]}"
  SIGNIN_CALLBACK_URL="${values[7]}" IDENTITY_PRINCIPAL_ID="${values[8]}" HOME_TENANT_ID="${values[9]}"
}

# --- Sign-in's app registration -------------------------------------------
# One multi-tenant Entra app registration per deployment: sign-in sends each
# customer's users to their own Entra through it (shared/signin/upstream.py).
# Its only redirect URI is the app's /auth/callback; its credential is the
# app's managed identity, as a federated identity credential (issuer the
# home tenant's v2.0 authority, subject the identity's principal id,
# audience api://AzureADTokenExchange: "Configure an application to trust a
# managed identity", learn.microsoft.com/entra/workload-id/workload-identity-federation-config-app-trust-managed-identity),
# so no client secret is ever made.  Registering needs Microsoft Graph
# rights (the default user permission, or Application Developer); without
# them sign-in stays off and the summary says so.
signin_app_id() {
  az ad app list --display-name "$SIGNIN_APP_NAME" --query "[0].appId" --output tsv 2>/dev/null
}

ensure_signin_app() {
  [[ "$SIGNIN" == 1 ]] || return 0
  local deployed="$SIGNIN_CLIENT_ID" app_id
  app_id="$(signin_app_id)" || app_id=""
  if [[ -z "$app_id" ]]; then
    say "registering sign-in's multi-tenant application $SIGNIN_APP_NAME"
    if ! app_id="$(az ad app create --display-name "$SIGNIN_APP_NAME" --sign-in-audience AzureADMultipleOrgs \
        --web-redirect-uris "$SIGNIN_CALLBACK_URL" --query appId --output tsv 2>"$WORK/ad.err")" || [[ -z "$app_id" ]]; then
      say "sign-in stays off: this identity cannot register an application in Entra ID ($(head -c 300 "$WORK/ad.err"))"
      SIGNIN_SKIPPED=1
      return 0
    fi
  else
    az ad app update --id "$app_id" --sign-in-audience AzureADMultipleOrgs --web-redirect-uris "$SIGNIN_CALLBACK_URL" \
      --output none || die "cannot update $SIGNIN_APP_NAME"
  fi
  ensure_federated_credential "$app_id"
  SIGNIN_CLIENT_ID="$app_id"
  [[ "$deployed" == "$app_id" ]] && return 0
  if [[ -n "$AZD_HOOK" ]]; then  # azd owns the deployment: the next `azd provision` passes the id
    if command -v azd >/dev/null; then azd env set SCIM_SIGNIN_CLIENT_ID "$app_id"; fi
    say "sign-in's registration is $app_id: run 'azd provision' once more to turn sign-in on" \
        "(azd env set SCIM_SIGNIN_CLIENT_ID $app_id, if azd did not run this hook)"
    return 0
  fi
  # The app settings are the templates': deploy them with the id.
  say "deploying the infrastructure again, with the sign-in registration's id ($app_id)"
  deploy_infrastructure
}

ensure_federated_credential() {
  local app_id="$1" existing
  existing="$(az ad app federated-credential list --id "$app_id" --query "[?name=='scim-signin-identity'].name" \
    --output tsv)" || die "cannot read the federated credentials of $SIGNIN_APP_NAME"
  [[ -n "$existing" ]] && return 0
  cat >"$WORK/federated-credential.json" <<JSON
{"name": "scim-signin-identity",
 "issuer": "https://login.microsoftonline.com/$HOME_TENANT_ID/v2.0",
 "subject": "$IDENTITY_PRINCIPAL_ID",
 "audiences": ["api://AzureADTokenExchange"],
 "description": "The function app's managed identity is this registration's credential (no secret)."}
JSON
  az ad app federated-credential create --id "$app_id" --parameters "@$WORK/federated-credential.json" --output none \
    || die "cannot add the managed identity as $SIGNIN_APP_NAME's federated credential"
}

# The admin-consent URL a customer's administrator opens once, for sign-in
# (Microsoft identity platform, "Admin consent on the Microsoft identity
# platform": /{tenant}/v2.0/adminconsent with the scopes and a registered
# redirect URI; "organizations" lets any work or school tenant use it).
consent_url() {
  local redirect
  redirect="$("$(python_cmd)" -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' \
    "$SIGNIN_CALLBACK_URL")"
  echo "https://login.microsoftonline.com/organizations/v2.0/adminconsent?client_id=$SIGNIN_CLIENT_ID&scope=openid%20profile%20email&redirect_uri=$redirect"
}

# Outputs of main.bicep, as azd exports them to its hooks.
outputs_from_azd() {
  APP_NAME="${AZURE_FUNCTION_APP_NAME:?run from azd (AZURE_FUNCTION_APP_NAME is unset)}"
  SCIM_BASE_URL="${SCIM_BASE_URL:?}" STORAGE_ACCOUNT="${AZURE_STORAGE_ACCOUNT_NAME:?}"
  TABLE_ENDPOINT="${SCIM_STORAGE_TABLE_ENDPOINT:?}" TABLE_PREFIX="${SCIM_TABLE_PREFIX:?}"
  KEY_VAULT="${AZURE_KEY_VAULT_NAME:?}" SECRET_NAME="${SCIM_SIGNING_KEY_SECRET_NAME:?}"
  SIGNIN_CALLBACK_URL="${SCIM_SIGNIN_CALLBACK_URL:-}" IDENTITY_PRINCIPAL_ID="${SCIM_SIGNIN_IDENTITY_PRINCIPAL_ID:-}"
  HOME_TENANT_ID="${AZURE_TENANT_ID:-}" SIGNIN_CLIENT_ID="${SCIM_SIGNIN_CLIENT_ID:-}"
}

# Run "$@" until it succeeds or DEPLOY_WAIT_SECONDS pass; new role assignments
# take a few minutes to reach the data plane.
retry() {
  local what="$1" deadline=$((SECONDS + WAIT_SECONDS))
  shift
  until "$@"; do
    (( SECONDS < deadline )) || die "$what: still failing after ${WAIT_SECONDS}s"
    say "$what: not yet (role assignments can take minutes to apply), retrying in ${RETRY_SECONDS}s"
    sleep "$RETRY_SECONDS"
  done
}

# The RSA key signing OAuth access tokens (SCIM_TOKEN_SIGNING_KEY is a Key
# Vault reference to it).  Bicep cannot generate one, so it is made here,
# once: an existing secret is kept, so tokens already issued stay valid.
# The key goes from openssl to a private temporary file to Key Vault; it is
# never printed.
signing_key_state() {
  local error
  if az keyvault secret show --vault-name "$KEY_VAULT" --name "$SECRET_NAME" --query id --output none 2>"$WORK/kv.err"; then
    KEY_STATE=exists
  else
    error="$(cat "$WORK/kv.err")"
    [[ "$error" == *SecretNotFound* ]] || return 1
    KEY_STATE=missing
  fi
}

store_signing_key() {
  az keyvault secret set --vault-name "$KEY_VAULT" --name "$SECRET_NAME" --file "$WORK/signing-key.pem" \
    --content-type application/x-pem-file --output none
}

ensure_signing_key() {
  retry "reading Key Vault $KEY_VAULT" signing_key_state
  if [[ "$KEY_STATE" == exists ]]; then
    say "token-signing key $SECRET_NAME exists in $KEY_VAULT: kept"
    return
  fi
  say "generating the token-signing key (RSA 2048) into Key Vault $KEY_VAULT"
  (umask 077 && openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$WORK/signing-key.pem" 2>/dev/null) \
    || die "openssl could not generate the key"
  retry "storing the key in Key Vault" store_signing_key
  rm -f "$WORK/signing-key.pem"
  KEY_CREATED=1
}

# An instance that started before the key existed holds the Key Vault
# reference's text in SCIM_TOKEN_SIGNING_KEY, and App Service caches a
# reference (about a day, or until a restart or a configuration change:
# "Use Key Vault references as app settings", learn.microsoft.com/azure/app-service/app-service-key-vault-references),
# so OAuth would silently stay off.  After a new key, the app is restarted;
# then, every run, the token endpoint must answer a made-up client with
# invalid_client (OAuth on), not unauthorized_client ("not configured").
oauth_is_on() {
  local status
  status="$(curl --silent --output "$WORK/oauth.json" --max-time 30 --write-out '%{http_code}' \
    --data 'grant_type=client_credentials&client_id=deploy-check&client_secret=deploy-check' \
    "$SCIM_BASE_URL/oauth/token")" || return 1
  [[ "$status" == 401 ]] && grep -q invalid_client "$WORK/oauth.json"
}

restart_app() {
  say "restarting $APP_NAME so that it reads the signing key (Key Vault references are cached)"
  az functionapp restart --resource-group "$RESOURCE_GROUP" --name "$APP_NAME" --output none \
    || die "cannot restart $APP_NAME"
}

verify_signing_key() {
  if [[ "${KEY_CREATED:-0}" != 1 ]] && oauth_is_on; then
    say "OAuth is on: the app reads its signing key"
    return 0
  fi
  restart_app
  local deadline=$((SECONDS + WAIT_SECONDS))
  until oauth_is_on; do
    (( SECONDS < deadline )) || die "OAuth is off on $APP_NAME: SCIM_TOKEN_SIGNING_KEY does not resolve to the key in" \
      "$KEY_VAULT/$SECRET_NAME (check the app's Key Vault reference status in the portal, then: az functionapp restart)"
    say "the token endpoint does not see the signing key yet, retrying in ${RETRY_SECONDS}s"
    sleep "$RETRY_SECONDS"
  done
  say "OAuth is on: the app reads its signing key"
}

# On Flex Consumption the CLI publishes the zip to the deployment container
# (functionAppConfig.deployment) and --build-remote installs requirements.txt
# on Linux ("Create and manage function apps in the Flex Consumption plan",
# section "Deploy your code project", learn.microsoft.com/azure/azure-functions/flex-consumption-how-to).
# The upload runs right after the deployment that grants the app's identity
# its storage role, which can take minutes to apply: the upload (or the CLI's
# health probe after it) fails until then, so it is retried.
upload_package() {
  az functionapp deployment source config-zip --resource-group "$RESOURCE_GROUP" --name "$APP_NAME" \
    --src "$WORK/app.zip" --build-remote true --output none
}

deploy_code() {
  say "packaging the app"
  build_package "$WORK/app.zip"
  say "deploying the package to $APP_NAME (remote build installs requirements.txt)"
  retry "uploading the package (the app's storage role may not be effective yet)" upload_package
}

app_answers_401() {
  [[ "$(curl --silent --output /dev/null --max-time 30 --write-out '%{http_code}' \
        "$SCIM_BASE_URL/ServiceProviderConfig" || true)" == 401 ]]
}

wait_for_app() {
  say "waiting until $SCIM_BASE_URL/ServiceProviderConfig answers 401 without a token"
  retry "the app at $SCIM_BASE_URL" app_answers_401
}

# scimctl against the deployed tables, with the deployer's Azure identity.
admin() {
  local command
  if [[ -n "${SCIM_ADMIN_CMD:-}" ]]; then
    read -r -a command <<<"$SCIM_ADMIN_CMD"
  else
    command=("$(python_cmd)" -m shared.admin)
  fi
  (cd "$ROOT" && "${command[@]}" --table-endpoint "$TABLE_ENDPOINT" --table-prefix "$TABLE_PREFIX" --json "$@")
}

json_field() {  # json_field FIELD < JSON
  "$(python_cmd)" -c 'import json, sys; print(json.load(sys.stdin).get(sys.argv[1]) or "")' "$1"
}

list_tenants() { admin tenant list >"$WORK/tenants.json"; }

existing_tenant_id() {
  "$(python_cmd)" -c '
import json, sys
tenants = json.load(open(sys.argv[1]))["tenants"]
print(next((t["tenant_id"] for t in tenants if t["name"] == sys.argv[2]), ""))' "$WORK/tenants.json" "$TENANT_NAME"
}

ensure_tenant() {
  retry "reading the tenants table" list_tenants
  TENANT_ID="$(existing_tenant_id)"
  TOKEN=""
  if [[ -z "$TENANT_ID" ]]; then
    say "creating SCIM tenant $TENANT_NAME"
    admin tenant create --name "$TENANT_NAME" >"$WORK/tenant.json"
    TENANT_ID="$(json_field tenant_id <"$WORK/tenant.json")"
    TOKEN="$(json_field token <"$WORK/tenant.json")"
  elif [[ "$NEW_TOKEN" == 1 ]]; then
    say "tenant $TENANT_NAME exists ($TENANT_ID): issuing another token"
    admin token issue "$TENANT_ID" >"$WORK/token.json"
    TOKEN="$(json_field token <"$WORK/token.json")"
  else
    say "tenant $TENANT_NAME exists ($TENANT_ID): kept (its token was shown when it was created; --new-token issues another)"
  fi
  CLIENT_ID="" CLIENT_SECRET=""
  if [[ "$OAUTH_CLIENT" == 1 ]]; then
    say "issuing an OAuth client for tenant $TENANT_NAME"
    admin client issue "$TENANT_ID" >"$WORK/client.json"
    CLIENT_ID="$(json_field client_id <"$WORK/client.json")"
    CLIENT_SECRET="$(json_field client_secret <"$WORK/client.json")"
  fi
  rm -f "$WORK/tenant.json" "$WORK/token.json" "$WORK/client.json"
}

print_summary() {
  local scimctl="scimctl --table-endpoint $TABLE_ENDPOINT --table-prefix $TABLE_PREFIX"
  cat <<EOF

SCIM endpoint deployed.
  Function app:    $APP_NAME (resource group $RESOURCE_GROUP)
  Storage account: $STORAGE_ACCOUNT
  SCIM tenant:     $TENANT_NAME ($TENANT_ID)

For the Entra enterprise application (Provisioning, Admin Credentials):
  Tenant URL:   $SCIM_BASE_URL
EOF
  if [[ -n "$TOKEN" ]]; then
    echo "  Secret Token: $TOKEN"
    echo "  (shown once, only its hash is stored)"
  else
    echo "  Secret Token: issue one with: $scimctl token issue $TENANT_ID"
  fi
  if [[ -n "$CLIENT_ID" ]]; then
    cat <<EOF
  OAuth client credentials (token URL $SCIM_BASE_URL/oauth/token):
    Client ID:     $CLIENT_ID
    Client secret: $CLIENT_SECRET
    (shown once, only its hash is stored)
EOF
  else
    cat <<EOF
  OAuth client credentials instead: $scimctl client issue $TENANT_ID
  (token URL $SCIM_BASE_URL/oauth/token)
EOF
  fi
  if [[ -n "$SIGNIN_CLIENT_ID" ]]; then
    cat <<EOF

Sign-in (the application's OpenID Provider: ${SCIM_BASE_URL%/scim/v2}/.well-known/openid-configuration):
  App registration: $SIGNIN_APP_NAME ($SIGNIN_CLIENT_ID), multi-tenant
  Each customer's Entra administrator consents once, at:
    $(consent_url)
  Register the application:  $scimctl app register --name ... --redirect-uri ...
  Bind a tenant to its Entra: $scimctl signin configure $TENANT_ID --entra-tenant-id <GUID>
EOF
  elif [[ "$SIGNIN_SKIPPED" == 1 ]]; then
    cat <<EOF

Sign-in is off: this identity could not register an application in Entra ID.
  Run scripts/deploy.sh again as someone who may (Application Developer role).
EOF
  fi
}

case "$AZD_HOOK" in
  "") ;;
  postprovision)
    outputs_from_azd
    ensure_signing_key
    [[ -n "$SIGNIN_CALLBACK_URL" ]] && ensure_signin_app
    exit 0 ;;
  postdeploy)
    outputs_from_azd
    RESOURCE_GROUP="${AZURE_RESOURCE_GROUP:-$RESOURCE_GROUP}"
    wait_for_app
    verify_signing_key
    ensure_tenant
    print_summary
    exit 0 ;;
  *) die "--azd-hook takes postprovision or postdeploy, not $AZD_HOOK" ;;
esac

check_cli_version
check_login
build_templates
ensure_resource_group
if [[ "$SIGNIN" == 1 ]]; then SIGNIN_CLIENT_ID="$(signin_app_id || true)"; fi
deploy_infrastructure
ensure_signin_app
ensure_signing_key
deploy_code
wait_for_app
verify_signing_key
ensure_tenant
print_summary
