"""Azure Functions entry point (Python v2 programming model).

One anonymous HTTP trigger per entry of the endpoint table
(:mod:`shared.scim.endpoints`), under the function name it gives, at the
path it gives: the SCIM routes under ``/scim/v2``, sign-in at the root
(host.json's route prefix is empty).  Authentication is done in code (Entra sends
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

from collections.abc import Callable
from typing import TYPE_CHECKING

import azure.functions as func

from shared.scim.http import Request
from shared.logs import quiet_sdk_loggers
from shared.scim.endpoints import ENDPOINTS, Endpoint

if TYPE_CHECKING:
    from shared.web.service import ScimService

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


def _serve(service, req: func.HttpRequest, route: str, resource_id: str | None = None) -> func.HttpResponse:
    request = Request.build(req.method, req.url, req.headers, req.get_body())
    response = service.handle(request, route, resource_id)
    return func.HttpResponse(body=response.payload(), status_code=response.status, headers=response.all_headers())


def register_endpoints(into: func.FunctionApp, service_of: Callable[[], "ScimService"]) -> None:
    """One anonymous HTTP trigger per entry of the endpoint table, named as it says,
    each serving the service ``service_of()`` returns (the tests also serve one
    over an in-memory store this way)."""
    for endpoint in ENDPOINTS:  # the catch-all is last in the table
        _register(into, endpoint, service_of)


def _register(into: func.FunctionApp, endpoint: Endpoint, service_of: Callable[[], "ScimService"]) -> None:
    def trigger(req: func.HttpRequest) -> func.HttpResponse:
        return _serve(service_of(), req, endpoint.route, req.route_params.get("id") if endpoint.has_id else None)

    trigger.__name__ = trigger.__qualname__ = endpoint.function
    into.function_name(name=endpoint.function)(into.route(route=endpoint.path, methods=ALL_METHODS)(trigger))


register_endpoints(app, _get_service)


@app.timer_trigger(schedule="0 17 3 * * *", arg_name="timer", run_on_startup=False)
def audit_retention(timer: func.TimerRequest) -> None:
    """Daily: delete audit entries and change events older than SCIM_AUDIT_RETENTION_DAYS."""
    _get_service().enforce_audit_retention()


@app.timer_trigger(schedule="0 * * * * *", arg_name="timer", run_on_startup=False)
def event_delivery(timer: func.TimerRequest) -> None:
    """Every minute: deliver the change events no request's own delivery did
    (a crash after the commit, a push due for a retry)."""
    _get_service().deliver_events()
