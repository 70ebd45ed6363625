"""Azure Functions entry point (Python v2 programming model).

One anonymous HTTP trigger per SCIM route; host.json puts them under
``/scim/v2``.  Authentication is done in code (Entra sends
``Authorization: Bearer``, not function keys).  Each trigger only translates
``func.HttpRequest`` into :class:`shared.scim.http.Request`, calls the service and
translates the :class:`shared.scim.http.Response` back: no SCIM logic lives here.
Every trigger accepts every method so that the service answers a wrong
method with a SCIM 405 rather than the host's bare 404.

Importing the module quiets the Azure SDK's request logging (it would log
every storage URL, whose keys hold userNames and emails, at INFO; see
:mod:`shared.logs`).
"""

from __future__ import annotations

import azure.functions as func

from shared.scim.http import Request
from shared.logs import quiet_sdk_loggers

quiet_sdk_loggers()
app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)

ALL_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
_service = None


def _get_service():
    """The process-wide service, built on first use (keeps cold import small)."""
    global _service
    if _service is None:
        from shared.web.service import ScimService

        quiet_sdk_loggers()  # again, in case the worker reconfigured logging after the import
        _service = ScimService()
    return _service


def _serve(req: func.HttpRequest, route: str, resource_id: str | None = None) -> func.HttpResponse:
    request = Request.build(req.method, req.url, req.headers, req.get_body())
    response = _get_service().handle(request, route, resource_id)
    return func.HttpResponse(body=response.payload(), status_code=response.status, headers=response.all_headers())


@app.route(route="Users", methods=ALL_METHODS)
def users(req: func.HttpRequest) -> func.HttpResponse:
    return _serve(req, "Users")


@app.route(route="Users/.search", methods=ALL_METHODS)
def users_search(req: func.HttpRequest) -> func.HttpResponse:
    return _serve(req, "Users/.search")


@app.route(route="Users/{id}", methods=ALL_METHODS)
def user(req: func.HttpRequest) -> func.HttpResponse:
    return _serve(req, "Users/{id}", req.route_params.get("id"))


@app.route(route="Groups", methods=ALL_METHODS)
def groups(req: func.HttpRequest) -> func.HttpResponse:
    return _serve(req, "Groups")


@app.route(route="Groups/.search", methods=ALL_METHODS)
def groups_search(req: func.HttpRequest) -> func.HttpResponse:
    return _serve(req, "Groups/.search")


@app.route(route="Groups/{id}", methods=ALL_METHODS)
def group(req: func.HttpRequest) -> func.HttpResponse:
    return _serve(req, "Groups/{id}", req.route_params.get("id"))


@app.route(route=".search", methods=ALL_METHODS)
def root_search(req: func.HttpRequest) -> func.HttpResponse:
    return _serve(req, ".search")


@app.route(route="ServiceProviderConfig", methods=ALL_METHODS)
def service_provider_config(req: func.HttpRequest) -> func.HttpResponse:
    return _serve(req, "ServiceProviderConfig")


@app.route(route="Schemas", methods=ALL_METHODS)
def schemas(req: func.HttpRequest) -> func.HttpResponse:
    return _serve(req, "Schemas")


@app.route(route="Schemas/{id}", methods=ALL_METHODS)
def schema(req: func.HttpRequest) -> func.HttpResponse:
    return _serve(req, "Schemas/{id}", req.route_params.get("id"))


@app.route(route="ResourceTypes", methods=ALL_METHODS)
def resource_types(req: func.HttpRequest) -> func.HttpResponse:
    return _serve(req, "ResourceTypes")


@app.route(route="ResourceTypes/{id}", methods=ALL_METHODS)
def resource_type(req: func.HttpRequest) -> func.HttpResponse:
    return _serve(req, "ResourceTypes/{id}", req.route_params.get("id"))


@app.route(route="openapi.json", methods=ALL_METHODS)
def openapi_description(req: func.HttpRequest) -> func.HttpResponse:
    """The API's OpenAPI description, built from shared/scim/schemas.py."""
    return _serve(req, "openapi.json")


@app.route(route="oauth/token", methods=ALL_METHODS)
def oauth_token(req: func.HttpRequest) -> func.HttpResponse:
    """OAuth 2.0 client credentials token endpoint (RFC 6749 §4.4)."""
    return _serve(req, "oauth/token")


@app.timer_trigger(schedule="0 17 3 * * *", arg_name="timer", run_on_startup=False)
def audit_retention(timer: func.TimerRequest) -> None:
    """Daily: delete audit entries older than SCIM_AUDIT_RETENTION_DAYS."""
    _get_service().enforce_audit_retention()


@app.route(route="{*path}", methods=ALL_METHODS)
def unknown_path(req: func.HttpRequest) -> func.HttpResponse:
    return _serve(req, "unknown")
