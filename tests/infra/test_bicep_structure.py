"""What the templates declare, checked on the parsed Bicep (issue 5, item 1).

Azure facts the checks rely on, with their sources:
* Flex Consumption is sku FC1, tier FlexConsumption, Linux (``reserved``),
  configured through ``functionAppConfig`` ("Create and manage function apps
  in a Flex Consumption plan", learn.microsoft.com/azure/azure-functions/flex-consumption-how-to).
* Role ids: "Azure built-in roles" (learn.microsoft.com/azure/role-based-access-control/built-in-roles).
"""

from __future__ import annotations

import ast
import re

from tests.infra.templates import (INFRA, ROOT, accessor, bicep_files, dump, function, only_resource, parse,
                                   resource_config, resources_of_type, text)

ROLE_IDS = {
    "Storage Blob Data Owner": "b7e6dc6d-f1e8-4753-8033-0f276bb0955b",
    "Storage Queue Data Contributor": "974c5e8b-45b9-4653-ba55-5f855dd0fb88",
    "Storage Queue Data Message Processor": "8a0f0c08-91a1-4084-bc3d-661d67233fed",
    "Storage Table Data Contributor": "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3",
    "Monitoring Metrics Publisher": "3913510d-42f4-4e42-8a64-420c390055eb",
    "Key Vault Secrets User": "4633458b-17de-408a-b874-0445c86b69e6",
    "Key Vault Secrets Officer": "b86a8fe4-44ce-4948-aee5-eccb2c155cd7",
}


def site() -> dict:
    return resource_config(only_resource("app/api.bicep", "Microsoft.Web/sites"))


def app_settings() -> dict:
    configs = resources_of_type("app/api.bicep", "Microsoft.Web/sites/config")
    settings = [resource_config(c) for c in configs.values() if resource_config(c)["name"] == "appsettings"]
    assert len(settings) == 1
    return settings[0]["properties"]


# --- plan and app ------------------------------------------------------------

def test_plan_is_flex_consumption_on_linux():
    plan = resource_config(only_resource("app/api.bicep", "Microsoft.Web/serverfarms"))
    assert plan["sku"] == {"name": "FC1", "tier": "FlexConsumption"}
    assert plan["properties"]["reserved"] is True
    assert site()["properties"]["serverFarmId"] is not None


def test_app_runs_python_312_on_linux_over_https():
    app = site()
    assert app["kind"] == "functionapp,linux"
    assert app["properties"]["functionAppConfig"]["runtime"] == {"name": "python", "version": "3.12"}
    assert app["properties"]["httpsOnly"] is True
    assert app["properties"]["siteConfig"]["minTlsVersion"] == "1.2"


def test_scale_settings_are_parameters_with_flex_limits():
    scale = site()["properties"]["functionAppConfig"]["scaleAndConcurrency"]
    assert scale["maximumInstanceCount"] == "maximumInstanceCount"
    assert scale["instanceMemoryMB"] == "instanceMemoryMB"
    assert scale["triggers"]["http"]["perInstanceConcurrency"] == "httpPerInstanceConcurrency"
    always_ready = dump(scale["alwaysReady"])
    assert '"name": "http"' in always_ready and '"instanceCount": "httpAlwaysReady"' in always_ready
    main = parse("main.bicep")["parameters"]
    assert main["httpAlwaysReady"]["default"] == 1
    assert main["maximumInstanceCount"]["default"] == 100
    memory = {d["type"]: d["argument"] for d in main["instanceMemoryMB"]["decorators"]}
    assert set(memory["allowed"]) <= {512, 2048, 4096} and main["instanceMemoryMB"]["default"] == 2048
    for name in ("maximumInstanceCount", "instanceMemoryMB", "httpAlwaysReady", "httpPerInstanceConcurrency"):
        assert parse("main.bicep")["modules"]["api"]["config"]["params"][name] == name


def test_app_is_deployed_from_blob_with_its_user_assigned_identity():
    app = site()
    assert app["identity"]["type"] == "UserAssigned"
    storage = app["properties"]["functionAppConfig"]["deployment"]["storage"]
    assert storage["type"] == "blobContainer"
    assert storage["authentication"] == {"type": "UserAssignedIdentity", "userAssignedIdentityResourceId": "identityId"}
    assert "${deploymentContainerName}" in storage["value"]
    assert app["properties"]["keyVaultReferenceIdentity"] == "identityId"
    identity = only_resource("main.bicep", "Microsoft.ManagedIdentity/userAssignedIdentities")
    assert identity["existing"] is False
    api = parse("main.bicep")["modules"]["api"]["config"]
    assert accessor(api["params"]["identityId"]) == ["identity", "id"]
    assert accessor(api["params"]["identityClientId"]) == ["identity", "properties", "clientId"]
    assert "rbac" in api["dependsOn"], "the roles must exist before the app starts"


def test_basic_publishing_credentials_are_off():
    policies = resources_of_type("app/api.bicep", "Microsoft.Web/sites/basicPublishingCredentialsPolicies")
    assert {resource_config(p)["name"]: resource_config(p)["properties"]["allow"] for p in policies.values()} == {
        "ftp": False, "scm": False}


# --- app settings ------------------------------------------------------------

def test_host_storage_is_identity_based():
    settings = app_settings()
    assert settings["AzureWebJobsStorage__credential"] == "managedidentity"
    assert settings["AzureWebJobsStorage__clientId"] == "identityClientId"
    for service in ("blob", "queue", "table"):
        assert settings[f"AzureWebJobsStorage__{service}ServiceUri"] == f"{service}Endpoint"
    assert "AzureWebJobsStorage" not in settings, "a connection string would need a key"
    assert "SCIM_STORAGE_CONNECTION_STRING" not in settings


def test_no_setting_flex_consumption_rejects():
    # "App settings reference": these are replaced by functionAppConfig on Flex Consumption.
    forbidden = {"FUNCTIONS_WORKER_RUNTIME", "FUNCTIONS_EXTENSION_VERSION", "WEBSITE_RUN_FROM_PACKAGE",
                 "SCM_DO_BUILD_DURING_DEPLOYMENT", "WEBSITE_CONTENTAZUREFILECONNECTIONSTRING", "WEBSITE_CONTENTSHARE"}
    assert not forbidden & set(app_settings())


def test_telemetry_uses_the_identity():
    settings = app_settings()
    assert settings["APPLICATIONINSIGHTS_AUTHENTICATION_STRING"] == "ClientId=${identityClientId};Authorization=AAD"
    assert settings["AZURE_CLIENT_ID"] == "identityClientId"
    component = resource_config(only_resource("app/monitoring.bicep", "Microsoft.Insights/components"))
    assert component["properties"]["DisableLocalAuth"] is True
    assert accessor(component["properties"]["WorkspaceResourceId"]) == ["logAnalytics", "id"]
    only_resource("app/monitoring.bicep", "Microsoft.OperationalInsights/workspaces")


def test_signing_key_is_a_key_vault_reference():
    settings = app_settings()
    assert settings["SCIM_TOKEN_SIGNING_KEY"] == \
        "@Microsoft.KeyVault(VaultName=${keyVaultName};SecretName=${signingKeySecretName})"
    assert settings["SCIM_STORAGE_TABLE_ENDPOINT"] == "tableEndpoint"
    assert "https://${storageAccountName}.table." in text("app/api.bicep")


# --- storage -----------------------------------------------------------------

def test_storage_account_has_no_shared_keys_and_tls_12():
    account = resource_config(only_resource("app/storage.bicep", "Microsoft.Storage/storageAccounts"))
    assert account["kind"] == "StorageV2"
    assert account["sku"]["name"] == "skuName"
    main = parse("main.bicep")
    assert main["modules"]["storage"]["config"]["params"]["skuName"] == "storageSku"
    assert main["parameters"]["storageSku"]["default"] == "Standard_LRS"
    props = account["properties"]
    assert props["allowSharedKeyAccess"] is False
    assert props["minimumTlsVersion"] == "TLS1_2"
    assert props["supportsHttpsTrafficOnly"] is True
    assert props["allowBlobPublicAccess"] is False
    container = resource_config(only_resource("app/storage.bicep",
                                              "Microsoft.Storage/storageAccounts/blobServices/containers"))
    assert container["name"] == "deploymentContainerName" and container["properties"]["publicAccess"] == "None"


def _table_constants() -> set[str]:
    """RESOURCES = "resources", ... : the table names shared/storage/tables.py uses."""
    tree = ast.parse((ROOT / "shared" / "storage" / "tables.py").read_text(encoding="utf-8"))
    return {node.value.value for node in tree.body
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str) and all(isinstance(t, ast.Name) and t.id.isupper() for t in node.targets)}


def test_tables_match_the_code():
    constants = _table_constants()
    assert {"resources", "tenants", "audit"} <= constants
    # shared/storage/tables.py names a table settings.table_prefix + name.
    assert "self._settings.table_prefix + name" in (ROOT / "shared" / "storage" / "tables.py").read_text(encoding="utf-8")
    main = parse("main.bicep")
    assert {n.replace("${tablePrefix}", main["parameters"]["tablePrefix"]["default"])
            for n in main["variables"]["tableNames"]["value"]} == {"scim" + c for c in constants}
    tables = only_resource("app/storage.bicep", "Microsoft.Storage/storageAccounts/tableServices/tables")
    assert tables["config"]["loop_type"]["detail"]["array_name"] == "tableNames"
    assert main["modules"]["storage"]["config"]["params"]["tableNames"] == "tableNames"


# --- Key Vault ---------------------------------------------------------------

def test_key_vault_uses_rbac():
    vault = resource_config(only_resource("app/keyvault.bicep", "Microsoft.KeyVault/vaults"))
    assert vault["properties"]["enableRbacAuthorization"] is True
    assert "accessPolicies" not in vault["properties"]


# --- role assignments --------------------------------------------------------

def _assignments() -> list[tuple[str, str, str, str, bool]]:
    """(symbolic name, scope, principal, role id, conditional) of every assignment in rbac.bicep."""
    rbac = parse("app/rbac.bicep")
    roles = rbac["variables"]["roles"]["value"]
    found = []
    for name, resource in resources_of_type("app/rbac.bicep", "Microsoft.Authorization/roleAssignments").items():
        body = resource_config(resource)
        guid = function(body["name"], "guid")
        scope_id = accessor(guid["base_string"])
        principal, role_ref = guid["extra_string_1"], accessor(guid["extra_string_2"])
        definition = function(body["properties"]["roleDefinitionId"], "subscription_resource_id")
        assert definition["resource_type"] == "Microsoft.Authorization/roleDefinitions"
        # The name is guid(scope, principal, role), the same role as the definition and the same scope.
        assert accessor(definition["resource_name_1"]) == role_ref and role_ref[0] == "roles"
        assert scope_id == [body["scope"], "id"]
        assert body["properties"]["principalId"] == principal
        found.append((name, body["scope"], principal, roles[role_ref[1]], resource["config"].get("condition") is not None))
    return found


def test_role_ids_are_the_built_in_ones():
    roles = parse("app/rbac.bicep")["variables"]["roles"]["value"]
    assert set(roles.values()) <= set(ROLE_IDS.values())


def test_app_identity_has_the_roles_it_needs():
    app = {(scope, role) for _, scope, principal, role, conditional in _assignments()
           if principal == "appPrincipalId" and not conditional}
    assert app == {
        ("storage", ROLE_IDS["Storage Table Data Contributor"]),
        ("storage", ROLE_IDS["Storage Blob Data Owner"]),
        ("storage", ROLE_IDS["Storage Queue Data Contributor"]),
        ("applicationInsights", ROLE_IDS["Monitoring Metrics Publisher"]),
        ("vault", ROLE_IDS["Key Vault Secrets User"]),
    }
    rbac = parse("main.bicep")["modules"]["rbac"]["config"]["params"]
    assert accessor(rbac["appPrincipalId"]) == ["identity", "properties", "principalId"]


def test_deployer_roles_only_when_a_principal_is_given():
    deployer = {(scope, role, conditional) for _, scope, principal, role, conditional in _assignments()
                if principal == "deployerPrincipalId"}
    assert deployer == {("storage", ROLE_IDS["Storage Table Data Contributor"], True),
                        ("vault", ROLE_IDS["Key Vault Secrets Officer"], True)}


def test_the_events_queue_exists_and_only_its_consumer_reads_it():
    queue = resource_config(only_resource("app/storage.bicep", "Microsoft.Storage/storageAccounts/queueServices/queues"))
    assert queue["name"] == "eventsQueueName" and queue["parent"] == "queueService"
    main = parse("main.bicep")
    assert main["parameters"]["eventsQueueName"]["default"] == "scim-events"
    assert main["modules"]["storage"]["config"]["params"]["eventsQueueName"] == "eventsQueueName"
    consumer = {(scope, role, conditional) for _, scope, principal, role, conditional in _assignments()
                if principal == "eventsConsumerPrincipalId"}
    assert consumer == {("eventsQueue", ROLE_IDS["Storage Queue Data Message Processor"], True)}
    assert main["parameters"]["eventsConsumerPrincipalId"]["default"] == ""
    settings = resource_config(only_resource("app/api.bicep", "Microsoft.Web/sites/config"))["properties"]
    assert settings["SCIM_EVENTS_QUEUE"] == "eventsQueueName"
    assert settings["SCIM_STORAGE_QUEUE_ENDPOINT"] == "queueEndpoint"
    assert {"SCIM_EVENTS_QUEUE", "SCIM_STORAGE_QUEUE_ENDPOINT"} <= set(main["outputs"])


# --- outputs -----------------------------------------------------------------

def test_main_outputs_what_the_deploy_script_reads():
    outputs = parse("main.bicep")["outputs"]
    assert outputs["SCIM_BASE_URL"]["value"] == "https://${api.outputs.defaultHostName}/scim/v2"
    assert {"AZURE_FUNCTION_APP_NAME", "AZURE_RESOURCE_GROUP", "AZURE_STORAGE_ACCOUNT_NAME"} <= set(outputs)
    script = (ROOT / "scripts" / "deploy.sh").read_text(encoding="utf-8")
    for name in re.findall(r"(\w+)\.value", script):
        assert name in outputs, f"deploy.sh reads output {name}, which main.bicep does not declare"


def test_no_secret_in_any_output_or_template():
    # Function calls appear as {"function": {"type": "list_keys", ...}} in the parsed dict.
    secret_values = re.compile(r'"type": "list|primaryKey|secondaryKey|AccountKey|SharedAccessSignature', re.I)
    for path in bicep_files():
        relative = path.relative_to(INFRA).as_posix()
        parsed = parse(relative)
        secure = {name for name, p in parsed["parameters"].items()
                  if any(d["type"] == "secure" for d in p["decorators"])}
        for name, output in parsed.get("outputs", {}).items():
            assert not any(d["type"] == "secure" for d in output["decorators"]), f"{relative}: @secure output {name}"
            value = dump(output["value"])
            assert not secret_values.search(value), f"{relative}: output {name} exposes a key"
            assert not any(re.search(rf"\b{p}\b", value) for p in secure), f"{relative}: output {name} leaks a secure parameter"
            assert not (re.search(r"password|secret|token|key", name, re.I) and not name.upper().endswith("_NAME")), \
                f"{relative}: output {name} looks like a credential"
        assert not re.search(r"list(Keys|AccountSas|ServiceSas)\(|AccountKey=", text(relative)), f"{relative} reads a storage key"
