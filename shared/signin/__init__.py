"""Sign-in: this service as the application's OpenID Provider, brokering each
sign-in to the customer's own Entra ID tenant.

The application sends its users here (OpenID Connect Core 1.0, the
authorization code flow with PKCE); the service sends them on to the Entra
tenant of the customer the request names, validates the ID token Entra
returns, links it to the provisioned SCIM user (``oid`` = ``externalId``),
admits only provisioned, active users of enabled tenants, and answers the
application with its own ID and access tokens: ``sub`` is the SCIM id,
with the user's groups and the roles they map to.  Deprovisioning ends the
application's sessions by OpenID Connect Back-Channel Logout 1.0.

* :mod:`.apps` -- the registered applications (confidential clients);
* :mod:`.upstream` -- the deployment's app registration toward each Entra;
* :mod:`.claims` -- what the tokens say about a user;
* :mod:`.provider` -- the OAuth 2.0 / OpenID Connect machinery (Authlib);
* :mod:`.logout` -- back-channel logout tokens and their delivery;
* :mod:`.pages` -- the pages a refused user sees.

The web edge serves the routes (:mod:`shared.web.signin`); sign-in state
lives in the ``signin`` table (:mod:`shared.storage.signin_rows`).
"""
