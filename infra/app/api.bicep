// The function app on a Flex Consumption plan (FC1, Linux), Python 3.12, with
// runtime, scale and deployment storage declared in functionAppConfig.
// Docs: "Create and manage function apps in a Flex Consumption plan"
// (learn.microsoft.com/azure/azure-functions/flex-consumption-how-to),
// "Automate resource deployment for your function app" (Flex Consumption tab,
// learn.microsoft.com/azure/azure-functions/functions-infrastructure-as-code),
// "App settings reference" (.../functions-app-settings): Flex apps must not set
// FUNCTIONS_WORKER_RUNTIME, FUNCTIONS_EXTENSION_VERSION or WEBSITE_RUN_FROM_PACKAGE.

param name string
param planName string
param location string
param tags object

@description('Resource id of the user-assigned identity the app runs as.')
param identityId string

@description('Client id of that identity (DefaultAzureCredential and the host pick it by this id).')
param identityClientId string

param storageAccountName string
param deploymentContainerName string
param applicationInsightsConnectionString string
param keyVaultName string
param signingKeySecretName string

param maximumInstanceCount int
param instanceMemoryMB int
param httpAlwaysReady int
param httpPerInstanceConcurrency int

param tablePrefix string
param publicBaseUrl string
param oauthTokenMinutes int
param entraAudiences string
param auditRetentionDays int
param rateLimitPerSecond int
param eventsQueueName string

@description('Client id of the multi-tenant app registration sign-in brokers through; empty: sign-in is off.')
param signinClientId string

var storageSuffix = environment().suffixes.storage
var blobEndpoint = 'https://${storageAccountName}.blob.${storageSuffix}'
var queueEndpoint = 'https://${storageAccountName}.queue.${storageSuffix}'
var tableEndpoint = 'https://${storageAccountName}.table.${storageSuffix}'

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true
  }
}

resource site 'Microsoft.Web/sites@2024-04-01' = {
  name: name
  location: location
  tags: union(tags, { 'azd-service-name': 'api' })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    // Key Vault references are resolved with this identity, not a system one.
    keyVaultReferenceIdentity: identityId
    siteConfig: {
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${blobEndpoint}/${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
        // "http" is the always-ready group of every HTTP trigger.
        alwaysReady: (httpAlwaysReady > 0) ? [
          {
            name: 'http'
            instanceCount: httpAlwaysReady
          }
        ] : []
        triggers: {
          http: {
            perInstanceConcurrency: httpPerInstanceConcurrency
          }
        }
      }
      runtime: {
        name: 'python'
        version: '3.12'
      }
    }
  }
}

// Every setting the code reads (shared/config.py) and the identity-based host
// storage connection ("Connecting to host storage with an identity",
// learn.microsoft.com/azure/azure-functions/functions-reference).
resource appSettings 'Microsoft.Web/sites/config@2024-04-01' = {
  parent: site
  name: 'appsettings'
  properties: {
    AzureWebJobsStorage__credential: 'managedidentity'
    AzureWebJobsStorage__clientId: identityClientId
    AzureWebJobsStorage__blobServiceUri: blobEndpoint
    AzureWebJobsStorage__queueServiceUri: queueEndpoint
    AzureWebJobsStorage__tableServiceUri: tableEndpoint
    APPLICATIONINSIGHTS_CONNECTION_STRING: applicationInsightsConnectionString
    // Entra-authenticated telemetry (local auth is disabled on the component).
    APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
    // DefaultAzureCredential picks the user-assigned identity by this id.
    AZURE_CLIENT_ID: identityClientId
    SCIM_STORAGE_TABLE_ENDPOINT: tableEndpoint
    SCIM_TABLE_PREFIX: tablePrefix
    SCIM_PUBLIC_BASE_URL: empty(publicBaseUrl) ? 'https://${name}.azurewebsites.net/scim/v2' : publicBaseUrl
    SCIM_TOKEN_SIGNING_KEY: '@Microsoft.KeyVault(VaultName=${keyVaultName};SecretName=${signingKeySecretName})'
    SCIM_OAUTH_TOKEN_MINUTES: string(oauthTokenMinutes)
    SCIM_ENTRA_AUDIENCES: entraAudiences
    SCIM_AUDIT_RETENTION_DAYS: string(auditRetentionDays)
    SCIM_RATE_LIMIT_PER_SECOND: string(rateLimitPerSecond)
    SCIM_EVENTS_QUEUE: eventsQueueName
    SCIM_STORAGE_QUEUE_ENDPOINT: queueEndpoint
    // Sign-in's app registration; its credential is this identity (a federated
    // identity credential on the registration), so no client secret exists.
    SCIM_SIGNIN_CLIENT_ID: signinClientId
    SCIM_SIGNIN_MANAGED_IDENTITY_CLIENT_ID: identityClientId
  }
}

// No publishing user names and passwords: deployments authenticate with Entra ID.
resource ftpCredentials 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: site
  name: 'ftp'
  properties: {
    allow: false
  }
}

resource scmCredentials 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: site
  name: 'scm'
  properties: {
    allow: false
  }
}

output name string = site.name
output defaultHostName string = site.properties.defaultHostName
output tableEndpoint string = tableEndpoint
