// Log Analytics workspace and workspace-based Application Insights with local
// (instrumentation-key) authentication disabled: telemetry is accepted only
// with an Entra token, which the app gets from its managed identity
// (APPLICATIONINSIGHTS_AUTHENTICATION_STRING, see api.bicep).
// Docs: "Microsoft Entra authentication for Application Insights"
// (learn.microsoft.com/azure/azure-monitor/app/azure-ad-authentication).

param logAnalyticsName string
param applicationInsightsName string
param location string
param tags object

@description('Days Log Analytics keeps data (30 is included in the ingestion price).')
param retentionInDays int = 30

resource logAnalytics 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: logAnalyticsName
  location: location
  tags: tags
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: retentionInDays
  }
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: applicationInsightsName
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: logAnalytics.id
    DisableLocalAuth: true
  }
}

output applicationInsightsName string = applicationInsights.name
// Not a credential: with DisableLocalAuth the instrumentation key in it
// cannot be used to send telemetry without an Entra token.
output applicationInsightsConnectionString string = applicationInsights.properties.ConnectionString
