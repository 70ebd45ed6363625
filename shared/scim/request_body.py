"""A request's JSON body (RFC 7644 §3.1, §8.1), held to the text and number
rules of :mod:`shared.scim.storable_text`."""

from __future__ import annotations

import json

from . import storable_text
from .errors import ScimError, invalid_syntax, invalid_value
from .http import ACCEPTED_MEDIA_TYPES, Request


def json_body(request: Request, max_body_bytes: int):
    """The parsed body: 413 above ``max_body_bytes``, 415 for another media
    type than application/scim+json or application/json, 400 for what is not
    UTF-8 JSON or holds what storage cannot (naming where)."""
    if len(request.body) > max_body_bytes:
        raise ScimError(413, f"the request body is {len(request.body)} bytes; the limit is {max_body_bytes}")
    media = (request.header("content-type") or "").split(";")[0].strip().lower()
    if media and media not in ACCEPTED_MEDIA_TYPES:
        raise ScimError(415, f'Content-Type "{media}" is not supported; send application/scim+json or application/json', "invalidSyntax")
    try:
        text = request.body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise invalid_syntax(f"the request body is not valid UTF-8 (byte {exc.start})") from exc
    if not text.strip():
        raise invalid_syntax("the request body is empty; a JSON object is required")
    try:
        body = storable_text.loads(text)
    except json.JSONDecodeError as exc:
        raise invalid_syntax(f"the request body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from exc
    except storable_text.NotJson as exc:
        raise invalid_syntax(f"the request body is not valid JSON: {exc}") from exc
    except (storable_text.TooDeep, RecursionError) as exc:
        raise invalid_syntax(f"the request body is nested too deeply (at most {storable_text.MAX_NESTING} levels)") from exc
    problem = storable_text.first_refused(body)
    if problem:
        raise invalid_value(f"the request body cannot be stored: {problem}")
    return body
