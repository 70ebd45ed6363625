"""SCIM errors (RFC 7644 §3.12) as one exception type.

Every failure the service reports is a :class:`ScimError`; the HTTP layer
turns it into the RFC 7644 §3.12 error body (``status`` as a *string*,
``scimType`` where the RFC defines one, an actionable ``detail``).
"""

from __future__ import annotations

import json

ERROR_URN = "urn:ietf:params:scim:api:messages:2.0:Error"


class ScimError(Exception):
    """An error response: HTTP status, optional ``scimType`` and a ``detail``.

    ``headers`` carries extra response headers (``Retry-After`` on 503,
    ``WWW-Authenticate`` on 401, ``Allow`` on 405).
    """

    def __init__(
        self,
        status: int,
        detail: str,
        scim_type: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.scim_type = scim_type
        self.headers = headers or {}

    def body(self) -> dict:
        """The RFC 7644 §3.12 JSON error body."""
        body: dict = {"schemas": [ERROR_URN], "status": str(self.status)}
        if self.scim_type:
            body["scimType"] = self.scim_type
        body["detail"] = self.detail
        return body


def bad_request(detail: str, scim_type: str | None = None) -> ScimError:
    """400 with an RFC 7644 §3.12 ``scimType`` (invalidFilter, invalidPath, ...)."""
    return ScimError(400, detail, scim_type)


def invalid_value(detail: str) -> ScimError:
    """400 ``invalidValue``: a required value is missing or a value is malformed."""
    return ScimError(400, detail, "invalidValue")


def invalid_syntax(detail: str) -> ScimError:
    """400 ``invalidSyntax``: the request body is not a parsable SCIM message."""
    return ScimError(400, detail, "invalidSyntax")


def invalid_path(detail: str) -> ScimError:
    """400 ``invalidPath``: a PATCH path is malformed or names no attribute."""
    return ScimError(400, detail, "invalidPath")


def mutability(detail: str) -> ScimError:
    """400 ``mutability``: the request tried to change an immutable attribute."""
    return ScimError(400, detail, "mutability")


def no_target(detail: str) -> ScimError:
    """400 ``noTarget``: a PATCH path filter matched nothing where a target is required."""
    return ScimError(400, detail, "noTarget")


def not_found(resource_type: str, resource_id: str) -> ScimError:
    """404 for a resource that does not exist in the caller's tenant."""
    return ScimError(404, f'{resource_type} "{resource_id}" not found')


def conflict(detail: str) -> ScimError:
    """409 ``uniqueness`` (RFC 7644 §3.3, §3.5.1)."""
    return ScimError(409, detail, "uniqueness")


def unavailable(detail: str, retry_after: int = 5) -> ScimError:
    """503 with ``Retry-After``: storage unreachable or timing out."""
    return ScimError(503, detail, headers={"Retry-After": str(retry_after)})


def printable(text: str) -> str:
    """A client's value for an error message: control characters and lone
    surrogates made visible as JSON escapes, at most 200 characters."""
    return json.dumps(text)[1:-1][:200]
