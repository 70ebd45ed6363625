"""The endpoints this service serves (RFC 7644 §3.2), in one table.

The table drives everything that lists routes: the Azure Functions triggers
(``function_app.py`` registers one per entry, under the function name given
here, since the host indexes functions by name), the dispatcher
(:mod:`shared.web.service` maps each method to its handler), the OpenAPI
description (:mod:`shared.scim.openapi`) and the tests.  host.json's
``routePrefix`` is empty: each route is a template below its endpoint's
``base``, ``scim/v2`` for the SCIM service (RFC 7644 §3.13 leaves the base
URL to the provider) and the app's root for sign-in, the OpenID Provider of
:mod:`shared.signin` (OpenID Connect Discovery 1.0 §4 puts its metadata at
``/.well-known/openid-configuration`` below the issuer).  ``{id}`` is the
one route parameter and ``scim/v2/{*path}`` the catch-all, last, which
answers a SCIM 404 instead of the host's bare one.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One route: its template, its Functions function name, the handler of
    each HTTP method (a :class:`~shared.web.service.ScimService` method
    name), the resource types it serves, whether a change through it is
    audited, and the credential scope it needs (None: any credential, or
    none for the unauthenticated routes, :data:`UNAUTHENTICATED`)."""

    route: str
    function: str
    methods: tuple[tuple[str, str], ...] = ()
    types: tuple[str, ...] = ()
    audited: bool = False
    scope: str | None = None
    base: str = "scim/v2"

    @property
    def path(self) -> str:
        """The route template below the host's root (the trigger's route)."""
        return f"{self.base}/{self.route}" if self.base else self.route

    @property
    def handlers(self) -> dict[str, str]:
        return dict(self.methods)

    @property
    def has_id(self) -> bool:
        return "{id}" in self.route


_COLLECTION = (("GET", "list"), ("POST", "create"))
_RESOURCE = (("GET", "read"), ("PUT", "replace"), ("PATCH", "patch"), ("DELETE", "delete"))
_SEARCH = (("POST", "search"),)

TOKEN_ROUTE = "oauth/token"
JWKS_ROUTE = ".well-known/jwks.json"
EVENTS_ROUTE = "Events"
BULK_ROUTE = "Bulk"
ME_ROUTE = "Me"
UNAUTHENTICATED = (TOKEN_ROUTE, JWKS_ROUTE)
CATCH_ALL = "{*path}"
# The credential scopes (what a credential may do, shared.auth.credentials):
# the SCIM resource routes (what Entra provisions with), or the change-event feed.
SCIM_SCOPE, EVENTS_SCOPE = "scim", "events"

ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("Users", "users", _COLLECTION, ("User",), audited=True, scope=SCIM_SCOPE),
    Endpoint("Users/.search", "users_search", _SEARCH, ("User",), scope=SCIM_SCOPE),
    Endpoint("Users/{id}", "user", _RESOURCE, ("User",), audited=True, scope=SCIM_SCOPE),
    Endpoint("Groups", "groups", _COLLECTION, ("Group",), audited=True, scope=SCIM_SCOPE),
    Endpoint("Groups/.search", "groups_search", _SEARCH, ("Group",), scope=SCIM_SCOPE),
    Endpoint("Groups/{id}", "group", _RESOURCE, ("Group",), audited=True, scope=SCIM_SCOPE),
    Endpoint(".search", "root_search", _SEARCH, ("User", "Group"), scope=SCIM_SCOPE),
    # RFC 7644 §3.7: each operation is served as its own request to the routes above.
    Endpoint(BULK_ROUTE, "bulk", (("POST", "bulk"),), ("User", "Group"), audited=True, scope=SCIM_SCOPE),
    Endpoint("ServiceProviderConfig", "service_provider_config", (("GET", "service_provider_config"),)),
    Endpoint("Schemas", "schemas", (("GET", "schemas"),)),
    Endpoint("Schemas/{id}", "schema", (("GET", "schemas"),)),
    Endpoint("ResourceTypes", "resource_types", (("GET", "resource_types"),)),
    Endpoint("ResourceTypes/{id}", "resource_type", (("GET", "resource_types"),)),
    Endpoint("openapi.json", "openapi_description", (("GET", "openapi"),)),
    Endpoint(TOKEN_ROUTE, "oauth_token", (("POST", "token"),)),  # RFC 6749 §4.4, unauthenticated
    Endpoint(EVENTS_ROUTE, "events_poll", (("POST", "poll"),), scope=EVENTS_SCOPE),  # RFC 8936
    Endpoint(JWKS_ROUTE, "jwks", (("GET", "jwks"),)),  # RFC 7517 §5, unauthenticated
    # RFC 7644 §3.11: the signed-in user's own resource, with a sign-in access token.
    Endpoint(ME_ROUTE, "me", (("GET", "me"), ("POST", "me"), ("PUT", "me"), ("PATCH", "me"), ("DELETE", "me"))),
    # Sign-in (shared.signin): OpenID Connect Discovery 1.0 §4, Core 1.0 §3.1.2, §3.1.3, §5.3.
    Endpoint(".well-known/openid-configuration", "openid_configuration", (("GET", "discovery"),), base=""),
    Endpoint("auth/authorize", "signin_authorize", (("GET", "authorize"), ("POST", "authorize")), base=""),
    Endpoint("auth/callback", "signin_callback", (("GET", "callback"), ("POST", "callback")), base=""),
    Endpoint("auth/token", "signin_token", (("POST", "token"),), base=""),
    Endpoint("auth/userinfo", "signin_userinfo", (("GET", "userinfo"), ("POST", "userinfo")), base=""),
    Endpoint(CATCH_ALL, "unknown_path"),
)
BY_ROUTE = {endpoint.route: endpoint for endpoint in ENDPOINTS}
SIGNIN_ROUTES = frozenset(e.route for e in ENDPOINTS if not e.base) | {ME_ROUTE}
"""The routes :class:`shared.web.signin.SignInEndpoints` serves (``/Me`` takes a sign-in access token)."""
