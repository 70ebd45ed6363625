// The one storage account of the stack: the Functions host (AzureWebJobsStorage),
// the Flex Consumption deployment container, the SCIM tables and the queue
// of change events for the application (SCIM_EVENTS_QUEUE).  Shared-key
// access is off, so every caller (the app, the deployer) authenticates with
// Entra ID and an RBAC data role (rbac.bicep).
// Docs: "Prevent Shared Key authorization for an Azure Storage account"
// (learn.microsoft.com/azure/storage/common/shared-key-authorization-prevent),
// "Enforce a minimum required version of TLS" (.../transport-layer-security-configure-minimum-version).

param name string
param location string
param tags object

@description('Blob container Flex Consumption deploys the app package from.')
param deploymentContainerName string

@description('Full names of the tables the app uses (SCIM_TABLE_PREFIX + name in shared/tables.py).')
param tableNames array

@description('Replication; Flex Consumption host storage supports the Standard SKUs.')
param skuName string

@description('Queue every change event (a SET) is put on, for an application backend (SCIM_EVENTS_QUEUE).')
param eventsQueueName string

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: skuName
  }
  properties: {
    accessTier: 'Hot'
    supportsHttpsTrafficOnly: true
    minimumTlsVersion: 'TLS1_2'
    allowSharedKeyAccess: false
    allowBlobPublicAccess: false
    defaultToOAuthAuthentication: true
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: storage
  name: 'default'
}

resource deploymentContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: deploymentContainerName
  properties: {
    publicAccess: 'None'
  }
}

resource tableService 'Microsoft.Storage/storageAccounts/tableServices@2023-05-01' = {
  parent: storage
  name: 'default'
}

// The app also creates them on first use (shared/tables.py); creating them
// here makes a fresh deployment complete before the first request.
resource tables 'Microsoft.Storage/storageAccounts/tableServices/tables@2023-05-01' = [for tableName in tableNames: {
  parent: tableService
  name: tableName
}]

resource queueService 'Microsoft.Storage/storageAccounts/queueServices@2023-05-01' = {
  parent: storage
  name: 'default'
}

// The app also creates it on first use (shared/storage/event_queue.py).
resource eventsQueue 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' = {
  parent: queueService
  name: eventsQueueName
}

output name string = storage.name
output eventsQueueName string = eventsQueue.name
output blobEndpoint string = storage.properties.primaryEndpoints.blob
output queueEndpoint string = storage.properties.primaryEndpoints.queue
output tableEndpoint string = storage.properties.primaryEndpoints.table
