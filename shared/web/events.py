"""The change-event routes: the poll feed (RFC 8936) and the key set that
verifies the SETs (RFC 7517).

``POST /Events`` serves one tenant's feed to a credential with the
``events`` scope (:mod:`shared.auth.credentials`): it records the
acknowledgements the poll carries, then answers the oldest events no poll
acknowledged, signed (:mod:`shared.delivery.sets`), in the order of their
versions -- for one resource, the order they were committed in.  Until
acknowledged an event is sent again on every poll (at least once); the
recipient deduplicates by ``jti``.  Without ``returnImmediately`` a poll
with nothing to answer waits (RFC 8936 §2.5) up to
``SCIM_EVENTS_POLL_WAIT_SECONDS`` (20 s, inside every HTTP front end's
timeout), looking again every ``SCIM_EVENTS_POLL_INTERVAL_SECONDS`` (1 s)
and at once when a change of the tenant commits in this process.

``GET /.well-known/jwks.json`` (no credential) lists the public keys of
:mod:`shared.auth.signing_keys`: the current one and, during a rotation,
the previous one, each with the ``kid`` the SETs' headers name.
"""

from __future__ import annotations

import time

from ..auth.authentication import Principal
from ..auth.signing_keys import SigningKeys
from ..config import Settings
from ..delivery.sets import sign_set
from ..delivery.signal import EventSignal
from ..scim.errors import ScimError
from ..scim.http import Request, Response
from ..scim.poll import PollError, parse_poll_request, poll_error, poll_response
from ..scim.request_body import json_body
from ..storage.outbox import Outbox
from ..storage.tables import RESOURCES, Tables

MIN_POLL_INTERVAL_SECONDS = 0.05
MAX_POLL_BYTES = 4 * 1024 * 1024  # a poll's SETs stop here; moreAvailable tells the rest is waiting


class EventFeed:
    """The handlers of ``/Events`` and ``/.well-known/jwks.json``."""

    def __init__(self, settings: Settings, tables: Tables, keys: SigningKeys | None, signal: EventSignal) -> None:
        self.settings = settings
        self.tables = tables
        self.keys = keys
        self.signal = signal

    def jwks(self, request: Request) -> Response:
        """``GET /.well-known/jwks.json``: the JWK Set (RFC 7517 §5)."""
        if request.method not in ("GET", "HEAD"):
            raise ScimError(405, "use GET", headers={"Allow": "GET"})
        body = self.keys.jwks() if self.keys is not None else {"keys": []}
        return Response(200, body, {"Content-Type": "application/json", "Cache-Control": "public, max-age=300"})

    def poll(self, request: Request, principal: Principal) -> Response:
        """``POST /Events`` (RFC 8936 §2)."""
        try:
            poll = parse_poll_request(json_body(request, self.settings.max_body_bytes))
        except ScimError as exc:
            return poll_error(exc.detail)
        except PollError as exc:
            return poll_error(str(exc))
        if self.keys is None:
            raise ScimError(503, "change events cannot be signed: SCIM_TOKEN_SIGNING_KEY is not configured")
        outbox = Outbox(self.tables.table(RESOURCES), principal.tenant_id)
        if poll.answered:
            outbox.acknowledge(poll.answered)
        wait = 0.0 if poll.return_immediately else float(self.settings.events_poll_wait_seconds)
        deadline = time.monotonic() + wait
        while True:
            seen = self.signal.generation(principal.tenant_id)
            events, more = outbox.pending_for_poll(poll.max_events)
            remaining = deadline - time.monotonic()
            if events or (more and poll.max_events == 0) or remaining <= 0:
                break
            interval = max(MIN_POLL_INTERVAL_SECONDS, self.settings.events_poll_interval_seconds)
            self.signal.wait(principal.tenant_id, seen, min(remaining, interval))
        audience = principal.events.audience or principal.tenant_id
        sets, size = {}, 0
        for event in events:
            token = sign_set(event, audience, self.keys)
            size += len(token) + len(event.jti) + 6
            if sets and size > MAX_POLL_BYTES:
                more = True
                break
            sets[event.jti] = token
        return poll_response(sets, more)
