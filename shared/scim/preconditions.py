"""Conditional requests on a resource's version (RFC 7644 §3.14; RFC 7232
§3.1 If-Match, §3.2 If-None-Match).  The version is ``meta.version``, sent
and compared as a weak entity tag (:func:`shared.scim.representation.etag`)."""

from __future__ import annotations

from .errors import ScimError
from .http import Request
from .representation import etag


def check_preconditions(request: Request, version: str) -> None:
    """If-Match that does not match → 412; on PUT/PATCH/DELETE, If-None-Match
    that matches → 412 (a GET answers 304 instead: :func:`not_modified`)."""
    current = etag(version)
    wanted = request.header("if-match")
    if wanted and wanted.strip() != "*" and current not in _tags(wanted):
        raise ScimError(412, f"the resource has changed: its version is {current}, not {wanted.strip()}")
    unwanted = request.header("if-none-match")
    if request.method != "GET" and unwanted and (unwanted.strip() == "*" or current in _tags(unwanted)):
        raise ScimError(412, f"the resource's version is {current}, which If-None-Match excludes")


def not_modified(request: Request, version: str) -> bool:
    """A GET whose If-None-Match names the current version (or ``*``): 304."""
    none_match = request.header("if-none-match")
    return bool(none_match) and (none_match.strip() == "*" or etag(version) in _tags(none_match))


def _tags(header: str) -> list[str]:
    return [t.strip() for t in header.split(",")]
