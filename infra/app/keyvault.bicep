// Key Vault holding the app's secrets (the OAuth token-signing key), with
// Azure RBAC authorization instead of access policies.  The secret value is
// not set here: Bicep cannot generate an RSA key, so scripts/deploy.sh creates
// it once with openssl and `az keyvault secret set`.
// Docs: "Provide access to Key Vault keys, certificates, and secrets with
// Azure role-based access control" (learn.microsoft.com/azure/key-vault/general/rbac-guide).

param name string
param location string
param tags object

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: subscription().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 7
    publicNetworkAccess: 'Enabled'
  }
}

output name string = vault.name
output uri string = vault.properties.vaultUri
