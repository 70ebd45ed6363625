// SCIM 2.0 endpoint for Microsoft Entra ID provisioning: the whole stack in
// one resource group, laid out like the Azure Functions azd quickstarts
// (main.bicep + app/*.bicep modules, names from abbreviations.json and a
// uniqueString token).  Nothing in it uses a shared key: the app reaches
// storage, Key Vault and Application Insights with its user-assigned managed
// identity.  Deployed by scripts/deploy.sh (or `azd up`, see azure.yaml).
targetScope = 'resourceGroup'

@minLength(1)
@maxLength(64)
@description('Name of the environment, e.g. prod; part of the resource-name token and tagged on every resource.')
param environmentName string

@description('Region of every resource; it must offer Flex Consumption (az functionapp list-flexconsumption-locations).')
param location string = resourceGroup().location

@description('Object id of whoever deploys: granted Storage Table Data Contributor (scimctl creates tenants) and Key Vault Secrets Officer (deploy.sh stores the signing key). Empty: no deployer roles.')
param principalId string = ''

@allowed([
  'User'
  'ServicePrincipal'
])
param principalType string = 'User'

@minValue(40)
@maxValue(1000)
@description('Flex Consumption: most instances the app scales out to.')
param maximumInstanceCount int = 100

@allowed([
  512
  2048
  4096
])
@description('Flex Consumption: memory of each instance, in MB.')
param instanceMemoryMB int = 2048

@minValue(0)
@description('Flex Consumption: always-ready instances for the HTTP triggers (0: scale to zero, with cold starts).')
param httpAlwaysReady int = 1

@minValue(1)
@maxValue(1000)
@description('Flex Consumption: concurrent HTTP requests per instance (the Python default is 1; requests mostly wait on storage).')
param httpPerInstanceConcurrency int = 16

@allowed([
  'Standard_LRS'
  'Standard_ZRS'
  'Standard_GRS'
  'Standard_GZRS'
])
@description('Storage replication: LRS is cheapest; ZRS (where the region has zones) survives a zone outage.')
param storageSku string = 'Standard_LRS'

// Table names are the prefix + resources, tenants, audit, signin: letters and
// digits, starting with a letter, 3-63 characters (scripts/deploy.sh checks the letters).
@minLength(1)
@maxLength(54)
@description('Prefix of the table names (SCIM_TABLE_PREFIX): letters and digits, starting with a letter.')
param tablePrefix string = 'scim'

@description('Public SCIM base URL (SCIM_PUBLIC_BASE_URL) when a custom domain fronts the app; empty: https://<app>.azurewebsites.net/scim/v2.')
param publicBaseUrl string = ''

@minValue(60)
@maxValue(360)
@description('Lifetime of OAuth access tokens in minutes (SCIM_OAUTH_TOKEN_MINUTES).')
param oauthTokenMinutes int = 60

@description('Comma-separated extra audiences accepted in Entra-issued JWTs (SCIM_ENTRA_AUDIENCES).')
param entraAudiences string = ''

@minValue(1)
@description('Days audit entries and change events are kept (SCIM_AUDIT_RETENTION_DAYS).')
param auditRetentionDays int = 90

@minValue(0)
@description('Per-tenant requests per second answered 429 above; 0: off (SCIM_RATE_LIMIT_PER_SECOND).')
param rateLimitPerSecond int = 0

@minLength(3)
@maxLength(63)
@description('Storage Queue every change event is put on, for the application backend (SCIM_EVENTS_QUEUE).')
param eventsQueueName string = 'scim-events'

@description('Principal id of the application backend\'s identity, granted Storage Queue Data Message Processor on the events queue. Empty: none.')
param eventsConsumerPrincipalId string = ''

@description('Application (client) id of the multi-tenant Entra app registration sign-in brokers through (SCIM_SIGNIN_CLIENT_ID); scripts/deploy.sh creates it and passes it. Empty: sign-in is off.')
param signinClientId string = ''

var abbrs = loadJsonContent('abbreviations.json')
var resourceToken = toLower(uniqueString(subscription().id, resourceGroup().id, environmentName))
var tags = {
  'azd-env-name': environmentName
}
var functionAppName = '${abbrs.webSitesFunctions}${resourceToken}'
var deploymentContainerName = 'app-package-${take(resourceToken, 7)}'
// Key Vault secret holding the PEM key that signs OAuth access tokens
// (SCIM_TOKEN_SIGNING_KEY); scripts/deploy.sh creates it once.
var signingKeySecretName = 'scim-token-signing-key'
// shared/storage/tables.py: RESOURCES, TENANTS, AUDIT, SIGNIN (the app names them prefix + name).
var tableNames = [
  '${tablePrefix}resources'
  '${tablePrefix}tenants'
  '${tablePrefix}audit'
  '${tablePrefix}signin'
]

// User-assigned, so its role assignments exist before the app first starts.
resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: '${abbrs.managedIdentityUserAssignedIdentities}${resourceToken}'
  location: location
  tags: tags
}

module monitoring 'app/monitoring.bicep' = {
  name: 'monitoring'
  params: {
    logAnalyticsName: '${abbrs.operationalInsightsWorkspaces}${resourceToken}'
    applicationInsightsName: '${abbrs.insightsComponents}${resourceToken}'
    location: location
    tags: tags
  }
}

module storage 'app/storage.bicep' = {
  name: 'storage'
  params: {
    name: '${abbrs.storageStorageAccounts}${resourceToken}'
    location: location
    tags: tags
    deploymentContainerName: deploymentContainerName
    tableNames: tableNames
    skuName: storageSku
    eventsQueueName: eventsQueueName
  }
}

module keyVault 'app/keyvault.bicep' = {
  name: 'keyvault'
  params: {
    name: '${abbrs.keyVaultVaults}${resourceToken}'
    location: location
    tags: tags
  }
}

module rbac 'app/rbac.bicep' = {
  name: 'rbac'
  params: {
    storageAccountName: storage.outputs.name
    keyVaultName: keyVault.outputs.name
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    appPrincipalId: identity.properties.principalId
    deployerPrincipalId: principalId
    deployerPrincipalType: principalType
    eventsQueueName: storage.outputs.eventsQueueName
    eventsConsumerPrincipalId: eventsConsumerPrincipalId
  }
}

module api 'app/api.bicep' = {
  name: 'api'
  // The roles first: the host reads its storage with them as soon as it starts.
  dependsOn: [
    rbac
  ]
  params: {
    name: functionAppName
    planName: '${abbrs.webServerFarms}${resourceToken}'
    location: location
    tags: tags
    identityId: identity.id
    identityClientId: identity.properties.clientId
    storageAccountName: storage.outputs.name
    deploymentContainerName: deploymentContainerName
    applicationInsightsConnectionString: monitoring.outputs.applicationInsightsConnectionString
    keyVaultName: keyVault.outputs.name
    signingKeySecretName: signingKeySecretName
    maximumInstanceCount: maximumInstanceCount
    instanceMemoryMB: instanceMemoryMB
    httpAlwaysReady: httpAlwaysReady
    httpPerInstanceConcurrency: httpPerInstanceConcurrency
    tablePrefix: tablePrefix
    publicBaseUrl: publicBaseUrl
    oauthTokenMinutes: oauthTokenMinutes
    entraAudiences: entraAudiences
    auditRetentionDays: auditRetentionDays
    rateLimitPerSecond: rateLimitPerSecond
    eventsQueueName: storage.outputs.eventsQueueName
    signinClientId: signinClientId
  }
}

// Read by scripts/deploy.sh (and azd, which exports them as environment values).
output AZURE_LOCATION string = location
output AZURE_RESOURCE_GROUP string = resourceGroup().name
output AZURE_FUNCTION_APP_NAME string = api.outputs.name
output SCIM_BASE_URL string = 'https://${api.outputs.defaultHostName}/scim/v2'
// For sign-in's app registration (scripts/deploy.sh): its redirect URI, and the
// federated identity credential that makes the app's identity its credential.
output SCIM_SIGNIN_CALLBACK_URL string = 'https://${api.outputs.defaultHostName}/auth/callback'
output SCIM_SIGNIN_IDENTITY_PRINCIPAL_ID string = identity.properties.principalId
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_STORAGE_ACCOUNT_NAME string = storage.outputs.name
output SCIM_STORAGE_TABLE_ENDPOINT string = api.outputs.tableEndpoint
output SCIM_TABLE_PREFIX string = tablePrefix
output AZURE_KEY_VAULT_NAME string = keyVault.outputs.name
output SCIM_SIGNING_KEY_SECRET_NAME string = signingKeySecretName
output SCIM_EVENTS_QUEUE string = storage.outputs.eventsQueueName
output SCIM_STORAGE_QUEUE_ENDPOINT string = storage.outputs.queueEndpoint
