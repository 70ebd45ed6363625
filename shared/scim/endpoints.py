"""The endpoints this service serves (RFC 7644 §3.2), in one table.

The table drives everything that lists routes: the Azure Functions triggers
(``function_app.py`` registers one per entry, under the function name given
here, since the host indexes functions by name), the dispatcher
(:mod:`shared.web.service` maps each method to its handler), the OpenAPI
description (:mod:`shared.scim.openapi`) and the tests.  Routes are
templates below host.json's ``routePrefix`` (``scim/v2``); ``{id}`` is the
one route parameter and ``{*path}`` the catch-all, last, which answers a
SCIM 404 instead of the host's bare one.
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
    Endpoint("ServiceProviderConfig", "service_provider_config", (("GET", "service_provider_config"),)),
    Endpoint("Schemas", "schemas", (("GET", "schemas"),)),
    Endpoint("Schemas/{id}", "schema", (("GET", "schemas"),)),
    Endpoint("ResourceTypes", "resource_types", (("GET", "resource_types"),)),
    Endpoint("ResourceTypes/{id}", "resource_type", (("GET", "resource_types"),)),
    Endpoint("openapi.json", "openapi_description", (("GET", "openapi"),)),
    Endpoint(TOKEN_ROUTE, "oauth_token", (("POST", "token"),)),  # RFC 6749 §4.4, unauthenticated
    Endpoint(EVENTS_ROUTE, "events_poll", (("POST", "poll"),), scope=EVENTS_SCOPE),  # RFC 8936
    Endpoint(JWKS_ROUTE, "jwks", (("GET", "jwks"),)),  # RFC 7517 §5, unauthenticated
    Endpoint(CATCH_ALL, "unknown_path"),
)
BY_ROUTE = {endpoint.route: endpoint for endpoint in ENDPOINTS}
