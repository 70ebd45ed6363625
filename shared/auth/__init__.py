"""Who is calling: tenants and their credentials, bearer tokens, OAuth client
credentials, Entra-issued JWTs, the optional rate limit.  Imports the core,
storage and :mod:`shared.config`."""
