"""``POST /Bulk`` (RFC 7644 §3.7): each operation served as the request it
stands for, through the same route, handler, preconditions and change
events as that request sent alone.

:mod:`shared.scim.bulk` checks the limits, parses the BulkRequest and plans
the order; this module runs the plan.  For each operation it resolves the
``bulkId`` references to the ids created so far, builds the sub-request
(the operation's method, ``path`` below the SCIM base URL, ``data`` as its
JSON body, ``version`` as ``If-Match``) and hands it to the service's
``serve_operation`` (:meth:`shared.web.service.ScimService.serve_operation`),
which checks the URL text, serves the route and turns every failure into
that operation's RFC 7644 §3.12 error.  So an operation is atomic exactly as
the single request is (its writes and its change event, which is also its
audit entry, commit together or not at all), and a tenant whose writes were
closed meanwhile gets 401 per operation, as a single request would.

Each operation's change events carry the request id
``<Bulk request id>-<n>``, ``n`` its position in ``Operations`` (from 1),
so an event or audit entry leads back to the Bulk request and the operation.
"""

from __future__ import annotations

import json
from urllib.parse import quote
from collections.abc import Callable

from ..auth.authentication import Principal
from ..config import Settings
from ..scim.bulk import (
    PlannedOperation,
    bulk_response,
    check_operation_count,
    check_payload_size,
    failed,
    operation_result,
    plan_bulk,
    resolved,
    target,
    unresolved,
)
from ..scim.http import SCIM_MEDIA_TYPE, Request, Response
from ..scim.messages import BulkRequest, parse_message
from ..scim.request_body import json_body
from ..scim.schemas import BULK_REQUEST_URN

ServeOperation = Callable[[Request, str, "str | None", Principal, str], Response]


class BulkEndpoint:
    """Runs BulkRequests with the service's ``serve_operation``."""

    def __init__(self, settings: Settings, serve_operation: ServeOperation, base_url: Callable[[Request], str]) -> None:
        self.settings = settings
        self._serve = serve_operation
        self._base_url = base_url

    def serve(self, request: Request, principal: Principal, request_id: str) -> Response:
        """``POST /Bulk``: 200 with a BulkResponse (RFC 7644 §3.7.3), or the
        request's own 400, 413 or 415 when it is not a BulkRequest within the
        limits (§3.7.4)."""
        check_payload_size(len(request.body), self.settings.max_body_bytes)
        body = json_body(request, self.settings.max_body_bytes)
        check_operation_count(body, self.settings.bulk_max_operations)
        plan = plan_bulk(parse_message(BulkRequest, body, "BulkRequest", BULK_REQUEST_URN))
        base = self._base_url(request)
        ids: dict[str, str] = {}
        results: dict[int, dict] = {}
        errors = 0
        for index in plan.order:
            op = plan.operations[index]
            results[index] = self._run(op, ids, base, principal, f"{request_id}-{index + 1}")
            errors += failed(results[index])
            if plan.fail_on_errors is not None and errors >= plan.fail_on_errors:
                break
        return Response(200, bulk_response([results[index] for index in sorted(results)]))

    def _run(self, op: PlannedOperation, ids: dict[str, str], base: str, principal: Principal,
             request_id: str) -> dict:
        """One operation's entry of the response; a POST that created its
        resource adds its ``bulkId`` to ``ids``."""
        if op.error is not None:
            return operation_result(op, op.error.status, error=op.error.body())
        missing = next((bulk_id for bulk_id in op.references if bulk_id not in ids), None)
        if missing is not None:
            error = unresolved(missing)
            return operation_result(op, error.status, error=error.body())
        route, resource_id = target(resolved(op.path, ids))
        path = resolved(op.path, ids).lstrip("/")
        headers = {"content-type": SCIM_MEDIA_TYPE}
        if op.version is not None and op.method != "POST":
            headers["if-match"] = op.version
        body = json.dumps(resolved(op.data, ids)).encode() if op.method != "DELETE" else b""
        response = self._serve(Request(op.method, f"{base}/{path}", headers, body), route, resource_id, principal,
                               request_id)
        if op.method == "POST" and response.status == 201:
            ids[op.bulk_id] = response.body["id"]
        location = response.headers.get("Location") or _location(base, route, resource_id)
        return operation_result(op, response.status, location=location, version=response.headers.get("ETag"),
                                error=response.body if response.status >= 400 else None)


def _location(base: str, route: str, resource_id: str | None) -> str | None:
    """The resource's canonical URL (RFC 7644 §3.7.3 ``location``), as its
    own responses give it, when the operation named one."""
    if resource_id is None:
        return None
    return f"{base}/{route.replace('{id}', quote(resource_id, safe=''))}"
