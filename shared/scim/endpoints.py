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
    name), the resource types it serves and whether a change through it is
    audited."""

    route: str
    function: str
    methods: tuple[tuple[str, str], ...] = ()
    types: tuple[str, ...] = ()
    audited: bool = False

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
CATCH_ALL = "{*path}"

ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("Users", "users", _COLLECTION, ("User",), audited=True),
    Endpoint("Users/.search", "users_search", _SEARCH, ("User",)),
    Endpoint("Users/{id}", "user", _RESOURCE, ("User",), audited=True),
    Endpoint("Groups", "groups", _COLLECTION, ("Group",), audited=True),
    Endpoint("Groups/.search", "groups_search", _SEARCH, ("Group",)),
    Endpoint("Groups/{id}", "group", _RESOURCE, ("Group",), audited=True),
    Endpoint(".search", "root_search", _SEARCH, ("User", "Group")),
    Endpoint("ServiceProviderConfig", "service_provider_config", (("GET", "service_provider_config"),)),
    Endpoint("Schemas", "schemas", (("GET", "schemas"),)),
    Endpoint("Schemas/{id}", "schema", (("GET", "schemas"),)),
    Endpoint("ResourceTypes", "resource_types", (("GET", "resource_types"),)),
    Endpoint("ResourceTypes/{id}", "resource_type", (("GET", "resource_types"),)),
    Endpoint("openapi.json", "openapi_description", (("GET", "openapi"),)),
    Endpoint(TOKEN_ROUTE, "oauth_token", (("POST", "token"),)),  # RFC 6749 §4.4, unauthenticated
    Endpoint(CATCH_ALL, "unknown_path"),
)
BY_ROUTE = {endpoint.route: endpoint for endpoint in ENDPOINTS}
