"""Poll-based SET delivery (RFC 8936): the poll request and its answers.

A recipient POSTs a JSON object (§2.2), every member optional:
``maxEvents`` (a non-negative integer; 0 asks for acknowledgements only;
absent: no limit beyond this service's own, :data:`MAX_EVENTS`),
``returnImmediately`` (default false: a long poll, §2.5), ``ack`` (the jtis
received and stored) and ``setErrs`` (jti -> ``{"err", "description"}``,
§2.6: SETs it could not accept; they count as answered and are not sent
again).  The answer (§2.3) is ``{"sets": {jti: SET}, "moreAvailable": bool}``.

RFC 8936 §2.5.1 leaves the body of a 400 to an invalid poll undefined; this
service sends the RFC 8935 §2.4 error object, ``{"err": "invalid_request",
"description": ...}``, naming what is wrong.
"""

from __future__ import annotations

from dataclasses import dataclass

from .http import Response

MAX_EVENTS = 1000
MAX_ANSWERED = 2 * MAX_EVENTS  # acknowledgements and errors one poll may carry
POLL_MEDIA_TYPE = "application/json"


class PollError(Exception):
    """An invalid poll request (RFC 8936 §2.5.1); the message says why."""


@dataclass(frozen=True, slots=True)
class PollRequest:
    max_events: int
    return_immediately: bool
    answered: dict[str, str]  # jti -> "" (acknowledged) or the err code of its setErrs entry


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def parse_poll_request(body) -> PollRequest:
    """The poll request of a parsed JSON body (RFC 8936 §2.2); :class:`PollError` when invalid."""
    if not isinstance(body, dict):
        raise PollError("the poll request must be a JSON object")
    max_events = body.get("maxEvents", MAX_EVENTS)
    if not _is_int(max_events) or max_events < 0:
        raise PollError('"maxEvents" must be a non-negative integer')
    return_immediately = body.get("returnImmediately", False)
    if not isinstance(return_immediately, bool):
        raise PollError('"returnImmediately" must be true or false')
    acks = body.get("ack", [])
    if not isinstance(acks, list) or not all(isinstance(jti, str) for jti in acks):
        raise PollError('"ack" must be an array of jti strings')
    errors = body.get("setErrs", {})
    if not isinstance(errors, dict):
        raise PollError('"setErrs" must be an object of jti to {"err", "description"}')
    answered = dict.fromkeys(acks, "")
    for jti, error in errors.items():
        if not isinstance(error, dict) or not isinstance(error.get("err"), str) or not error["err"] \
                or not isinstance(error.get("description", ""), str):
            raise PollError(f'the "setErrs" entry of {jti!r} must be {{"err": "<code>", "description": "<text>"}}'[:300])
        answered[jti] = error["err"]
    if len(answered) > MAX_ANSWERED:
        raise PollError(f'a poll may acknowledge (ack and setErrs) at most {MAX_ANSWERED} SETs; send the rest with the next')
    return PollRequest(min(max_events, MAX_EVENTS), return_immediately, answered)


def poll_error(description: str) -> Response:
    """400 with an RFC 8935 §2.4 error object (RFC 8936 §2.5.1)."""
    return Response(400, {"err": "invalid_request", "description": description},
                    {"Content-Type": POLL_MEDIA_TYPE, "Content-Language": "en"})


def poll_response(sets: dict[str, str], more: bool) -> Response:
    """The poll answer (RFC 8936 §2.3)."""
    return Response(200, {"sets": sets, "moreAvailable": more}, {"Content-Type": POLL_MEDIA_TYPE})
