"""The web entry: every request, whatever its route, through :meth:`ScimService.handle`.

``function_app.py`` hands each request to :meth:`ScimService.handle` with
the route of the endpoint table (:mod:`shared.scim.endpoints`) it matched.
This module authenticates the caller (a bearer token names exactly one
tenant), refuses text storage cannot hold in the URL, dispatches to the
resource handlers (:mod:`shared.web.resources`), Bulk requests
(:mod:`shared.web.bulk`, each operation served here as its own request),
the event feed (:mod:`shared.web.events`) or the discovery documents,
checks that the credential's scope allows the route, gives every write the
context of its change events (:mod:`shared.storage.event_rows`), records
accepted changes in the audit trail and logs one line per request.
Every failure becomes an RFC 7644 §3.12 error; nothing leaks a stack trace.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from urllib.parse import urlsplit

from ..auth.authentication import AuthFailed, Authenticator, Principal
from ..auth.entra_jwt import EntraKeys
from ..auth.oauth import TokenSigner, token_response
from ..auth.signing_keys import SigningKeys
from ..auth.rate_limit import RateLimiter
from ..auth.tenants import TenantRegistry
from ..config import Settings
from ..scim import storable_text
from ..scim.bulk import changed_anything
from ..scim.discovery import list_response, resource_type_json, schema_json, service_provider_config_json
from ..delivery.dispatch import Dispatcher
from ..delivery.signal import EventSignal
from ..delivery.worker import DeliveryWorker
from ..scim.endpoints import (
    BULK_ROUTE,
    ENDPOINTS,
    EVENTS_SCOPE,
    JWKS_ROUTE,
    SIGNIN_ROUTES,
    TOKEN_ROUTE,
    UNAUTHENTICATED,
    Endpoint,
)
from ..scim.cursors import CursorCodec
from ..scim.errors import ScimError, bad_request, invalid_value, printable, unavailable
from ..scim.http import Request, Response
from ..scim.openapi import openapi_document
from ..scim.records import now_iso
from ..scim.extensions import TenantSchemas
from ..storage.audit import AuditEntry, AuditLog, enforce_retention
from ..storage.calls import counting
from ..storage.event_queue import EventQueue
from ..storage.event_rows import EventContext
from ..storage.outcomes import StorageUnavailable, TooLarge, WritesClosed
from ..storage.table_store import TenantStore
from ..storage.tables import RESOURCES, Tables
from .bulk import BulkEndpoint
from .events import EventFeed
from .resources import ResourceHandlers
from .signin import SignInEndpoints

log = logging.getLogger("scim")

_CHANGES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_REQUEST_ID = re.compile(r"[A-Za-z0-9-]{8,64}")
# RFC 3986 §3.2.2-3.2.3: a reg-name or IPv4 address, or an IPv6 literal, and an optional port.
_FORWARDED_HOST = re.compile(r"(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?|\[[0-9A-Fa-f:.]{2,45}\])(?::[0-9]{1,5})?")


def _request_id(request: Request) -> str:
    """The caller's ``client-request-id`` when it is a plain token, else a fresh id."""
    given = request.header("client-request-id") or request.header("x-request-id") or ""
    return given if _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex


def _signing_keys(settings: Settings) -> SigningKeys | None:
    """The service's signing keys, or None when no usable key is configured
    (OAuth and change-event delivery are then off; the SCIM routes work)."""
    if not settings.token_signing_key:
        return None
    previous = (settings.token_signing_key_previous,) if settings.token_signing_key_previous else ()
    try:
        return SigningKeys(settings.token_signing_key, previous)
    except Exception as exc:  # noqa: BLE001 - a bad key disables signing, it must not break the SCIM routes
        log.error("signing_disabled: SCIM_TOKEN_SIGNING_KEY or SCIM_TOKEN_SIGNING_KEY_PREVIOUS is unusable (%s)",
                  type(exc).__name__)
        return None


def _cursor_codec(settings: Settings, keys: SigningKeys | None) -> CursorCodec | None:
    """What seals pagination cursors (RFC 9865): a secret derived from the
    signing key, so every instance opens every other's cursors; None
    (cursor pagination off) without a key."""
    if keys is None:
        return None
    return CursorCodec(keys.derived_secret("scim-pagination-cursor-v1"), settings.cursor_timeout_seconds)


def _token_signer(settings: Settings, keys: SigningKeys | None) -> TokenSigner | None:
    """The OAuth token signer, or None (OAuth off) without keys or with a bad lifetime."""
    if keys is None:
        return None
    try:
        return TokenSigner(keys, settings.oauth_token_minutes)
    except ValueError:
        log.error("oauth_disabled: SCIM_OAUTH_TOKEN_MINUTES is out of range")
        return None


class ScimService:
    """Route handlers; one instance per process, shared by all requests."""

    def __init__(self, settings: Settings | None = None, tables: Tables | None = None,
                 entra_keys: EntraKeys | None = None) -> None:
        self.settings = settings or Settings.from_env()
        self.tables = tables or Tables(self.settings)
        self.registry = TenantRegistry(self.tables, self.settings.auth_cache_seconds)
        self.keys = _signing_keys(self.settings)
        self.signer = _token_signer(self.settings, self.keys)
        self.signal = EventSignal()
        self.events = EventFeed(self.settings, self.tables, self.keys, self.signal)
        self.queue = EventQueue(self.settings) if self.settings.events_queue else None
        self.dispatcher = Dispatcher(self.settings, self.tables, self.registry, self.keys, self.queue)
        self.delivery = DeliveryWorker(self.dispatcher)
        self.authenticator = Authenticator(self.registry, self.signer, entra_keys or EntraKeys(),
                                           self.settings.entra_audiences)
        self.audit = AuditLog(self.tables)
        rate = self.settings.rate_limit_per_second
        self.rate_limiter = RateLimiter(rate) if rate > 0 else None
        self.resources = ResourceHandlers(self.settings, self.base_url, _cursor_codec(self.settings, self.keys))
        self.bulk = BulkEndpoint(self.settings, self.serve_operation, self.base_url)
        self.signin = SignInEndpoints(self.settings, self.tables, self.registry, self.keys, self.audit, self.resources,
                                      self.base_url)
        self._handlers = {name: getattr(self.resources, name, None) or getattr(self, name)
                          for endpoint in ENDPOINTS if endpoint.route in _HANDLERS and endpoint.scope != EVENTS_SCOPE
                          and endpoint.route != BULK_ROUTE
                          for name in endpoint.handlers.values()}

    # ------------------------------------------------------------ dispatch
    def handle(self, request: Request, route: str, resource_id: str | None = None) -> Response:
        """Serve one request for ``route`` (e.g. ``"Users/{id}"``); never raises.

        One log line per request, ``key=value`` pairs: request id, method,
        route, status, storage calls and milliseconds -- never a header, a
        body or a value.  An accepted change (for a Bulk request: one or more)
        wakes its tenant's waiting polls and starts the delivery of its events
        (its audit entry is its event), once per request.
        """
        started = time.perf_counter()
        request_id = _request_id(request)
        caller: list[Principal] = []
        with counting() as calls:
            try:
                if route == TOKEN_ROUTE:
                    response = self.token(request, request_id)
                elif route == JWKS_ROUTE:
                    response = self.events.jwks(request)
                elif route in SIGNIN_ROUTES:
                    response = self.signin.handle(request, route, request_id)
                else:
                    response = self._dispatch(request, route, resource_id, caller, request_id)
            except Exception as exc:  # noqa: BLE001 - every failure becomes an RFC 7644 §3.12 error
                response = _failure(exc, request.method, route)
            if caller and _committed_change(request, route, response):
                self._committed(caller[0])
        if self.settings.expose_storage_calls:
            response.headers["X-Storage-Calls"] = str(calls[0])
        response.headers["X-Request-Id"] = request_id
        log.info(
            "request=%s method=%s route=%s status=%d storage_calls=%d ms=%.1f",
            request_id, request.method, route, response.status, calls[0], (time.perf_counter() - started) * 1000,
        )
        return response

    def _dispatch(self, request: Request, route: str, resource_id: str | None, caller: list, request_id: str) -> Response:
        """Authenticate, then serve the route."""
        principal = self._authenticate(request)
        caller.append(principal)
        return self._serve_checked(request, route, resource_id, principal, request_id)

    def serve_operation(self, request: Request, route: str, resource_id: str | None, principal: Principal,
                        request_id: str) -> Response:
        """Serve one operation of a Bulk request (:mod:`shared.web.bulk`) as
        the same request sent alone, for the caller already authenticated;
        never raises: a failure is the operation's error response.  The
        rate limit counts it as a request; one log line per operation, as
        :meth:`handle` writes per request."""
        try:
            self._check_rate(principal.tenant_id)
            response = self._serve_checked(request, route, resource_id, principal, request_id)
        except Exception as exc:  # noqa: BLE001 - every failure becomes the operation's RFC 7644 §3.12 error
            response = _failure(exc, request.method, route)
        log.info("bulk_operation request=%s method=%s route=%s status=%d", request_id, request.method, route,
                 response.status)
        return response

    def _serve_checked(self, request: Request, route: str, resource_id: str | None, principal: Principal,
                       request_id: str) -> Response:
        """Refuse URL text storage cannot hold, then serve the route.  A write
        refused by the tenant's write guard (:class:`WritesClosed`: the tenant
        was disabled or deleted after this instance cached its credential)
        answers 401 like any revoked credential; a guard missing from an
        enabled tenant is restored and the request served once more (nothing
        was committed)."""
        _check_url_text(request, resource_id)
        retried = False
        while True:
            try:
                return self._serve_route(request, route, resource_id, principal, request_id)
            except WritesClosed:
                if retried or not self.registry.reopen_writes(principal.tenant_id):
                    raise self._writes_refused() from None
                retried = True

    def _writes_refused(self) -> ScimError:
        total = self.authenticator.failures.add("tenant_writes_closed")
        log.warning("auth_failed reason=tenant_writes_closed failures_in_process=%d", total)
        return _unauthorized(AuthFailed("tenant_writes_closed"))

    def _serve_route(self, request: Request, route: str, resource_id: str | None, principal: Principal,
                     request_id: str) -> Response:
        """Serve an authenticated route: 403 when the credential's scope is not
        the route's (an Entra credential at /Events, an events credential on
        the resource routes), 405 for a method the route does not have."""
        handler = _HANDLERS.get(route)
        if handler is None:
            path = urlsplit(request.url).path
            raise ScimError(404, f'no SCIM endpoint at "{path}"; the endpoints are /Users, /Groups, /Bulk, /Schemas, /ResourceTypes, /ServiceProviderConfig and .search')
        methods, endpoint, scope = handler
        if scope is not None and principal.scope != scope:
            return _wrong_scope(route, scope)
        if request.method not in methods:
            raise ScimError(405, f"{request.method} is not allowed on {route}; use {', '.join(methods)}", headers={"Allow": ", ".join(methods)})
        if scope == EVENTS_SCOPE:
            return self.events.poll(request, principal)
        if route == BULK_ROUTE:
            return self.bulk.serve(request, principal, request_id)
        context = EventContext(request_id, principal.actor, self.base_url(request), principal.events.full,
                               schemas=principal.schemas)
        store = TenantStore(self.tables.table(RESOURCES), principal.tenant_id, context)
        arguments = _handler_arguments(endpoint, principal.schemas)
        return self._handlers[methods[request.method]](request, store, resource_id, *arguments)

    def _authenticate(self, request: Request) -> Principal:
        """RFC 6750 bearer credential → the caller and its tenant; otherwise
        401 (the same for every reason), or 429 above the optional rate limit."""
        try:
            principal = self.authenticator.authenticate(request.header("authorization"))
        except AuthFailed as failure:
            raise _unauthorized(failure) from None
        self._check_rate(principal.tenant_id)
        return principal

    def _check_rate(self, tenant_id: str) -> None:
        """429 with Retry-After above the optional per-tenant rate limit,
        which counts each request, and each operation of a Bulk request."""
        if self.rate_limiter is not None:
            wait = self.rate_limiter.retry_after(tenant_id)
            if wait:
                raise ScimError(429, "too many requests for this tenant; retry later", headers={"Retry-After": str(wait)})

    def token(self, request: Request, request_id: str) -> Response:
        """``POST /oauth/token`` (RFC 6749 §4.4); an issued token is audited."""
        response, issued = token_response(request, self.registry, self.signer, self.settings.max_body_bytes)
        if issued is None and response.status == 401:
            total = self.authenticator.failures.add("oauth_client_authentication")
            log.warning("auth_failed reason=oauth_client_authentication failures_in_process=%d", total)
        if issued is not None:
            tenant_id, client_id = issued
            self._append_audit(AuditEntry(now_iso(), tenant_id, f"oauth:{client_id}", "token.issue", "AccessToken",
                                          "", "", "ok", request_id))
        return response

    def _committed(self, principal: Principal) -> None:
        """A change of the caller's tenant committed: wake its waiting polls
        and, when its events are pushed or queued or may end sign-in
        sessions, start their delivery."""
        self.signal.notify(principal.tenant_id)
        if principal.events.push_url or self.queue is not None or self.signin.enabled:
            try:
                self.delivery.nudge(principal.tenant_id)
            except Exception:  # noqa: BLE001 - best effort: the timer delivers; the change stands
                log.exception("event_delivery_nudge_failed")

    def deliver_events(self) -> None:
        """Deliver every tenant's pending change events (the timer, every minute)."""
        report = self.dispatcher.deliver_all()
        log.info("event_delivery queued=%d pushed=%d push_failures=%d parked=%d settled=%d",
                 report.queued, report.pushed, report.push_failures, report.parked, report.settled)

    def enforce_audit_retention(self) -> int:
        """Delete audit entries and change events older than
        ``SCIM_AUDIT_RETENTION_DAYS`` (the daily timer)."""
        deleted = enforce_retention(self.audit, self.registry, self.settings.audit_retention_days)
        events = self.dispatcher.enforce_retention()
        signin = self.dispatcher.prune_signin_rows()
        log.info("audit_retention deleted=%d events_deleted=%d signin_rows_deleted=%d days=%d", deleted, events, signin,
                 self.settings.audit_retention_days)
        return deleted + events + signin

    def _append_audit(self, entry: AuditEntry) -> None:
        """Write an audit entry; the change is already committed, so a failure
        is logged loudly rather than turned into an error for the client."""
        try:
            self.audit.append(entry)
        except Exception:  # noqa: BLE001 - the change stands; the gap must show in the logs
            log.error("audit_write_failed request=%s operation=%s", entry.request_id, entry.operation)

    def base_url(self, request: Request) -> str:
        """The absolute SCIM base URL for ``meta.location`` and ``Location``
        (RFC 7643 §3.1): ``SCIM_PUBLIC_BASE_URL``, else the request's own.

        ``X-Forwarded-Host``/``-Proto`` can be sent by anyone, so they are
        used only with ``SCIM_TRUST_FORWARDED_HEADERS=1`` (a proxy or tunnel
        in front that sets them) and only when they are a plain host[:port]
        and ``http``/``https``; otherwise a client could make the service
        hand out URLs of a host of its choosing."""
        if self.settings.public_base_url:
            return self.settings.public_base_url
        parts = urlsplit(request.url)
        path = parts.path
        marker = path.lower().find("/scim/v2")
        prefix = path[: marker + len("/scim/v2")] if marker >= 0 else ""
        host, scheme = parts.netloc, parts.scheme
        if self.settings.trust_forwarded_headers:
            forwarded_host = (request.header("x-forwarded-host") or "").split(",")[0].strip()
            forwarded_proto = (request.header("x-forwarded-proto") or "").split(",")[0].strip().lower()
            if _FORWARDED_HOST.fullmatch(forwarded_host):
                host = forwarded_host
            if forwarded_proto in ("http", "https"):
                scheme = forwarded_proto
        return f"{scheme}://{host}{prefix}"

    # ------------------------------------------------------------- helpers
    # ----------------------------------------------------------- discovery
    def service_provider_config(self, request: Request, _store, _id, _schemas) -> Response:
        """GET /ServiceProviderConfig (RFC 7644 §4, RFC 7643 §5)."""
        cursors = self.resources.cursors
        body = service_provider_config_json(
            self.base_url(request), max_results=self.settings.max_page_size,
            max_payload_size=self.settings.max_body_bytes, max_operations=self.settings.bulk_max_operations,
            default_page_size=self.settings.default_page_size,
            cursor_timeout=cursors.timeout_seconds if cursors is not None else None,
        )
        return Response(200, body)

    def schemas(self, request: Request, _store, schema_id, schemas: TenantSchemas) -> Response:
        """GET /Schemas[/{id}] (RFC 7644 §4, RFC 7643 §7): the built-in
        schemas and the caller's tenant's extensions."""
        return self._discovery(request, schema_id, schemas.schemas, lambda s: s.id, schema_json, "schema")

    def resource_types(self, request: Request, _store, type_id, schemas: TenantSchemas) -> Response:
        """GET /ResourceTypes[/{id}] (RFC 7644 §4, RFC 7643 §6), each naming
        the caller's tenant's extensions in ``schemaExtensions``."""
        return self._discovery(request, type_id, schemas.resource_types, lambda rt: rt.name, resource_type_json,
                               "resource type")

    def openapi(self, request: Request, _store, _id, _schemas) -> Response:
        """GET /openapi.json: this API's OpenAPI description (:mod:`shared.scim.openapi`)."""
        return Response(200, openapi_document(self.base_url(request)), {"Content-Type": "application/json; charset=utf-8"})

    def _discovery(self, request: Request, wanted: str | None, items, id_of, render, what: str) -> Response:
        """A discovery list (a ListResponse) or one of its entries by id, case-insensitively."""
        base = self.base_url(request)
        if wanted is None:
            return Response(200, list_response([render(item, base) for item in items]))
        for item in items:
            if id_of(item).lower() == wanted.lower():
                return Response(200, render(item, base))
        raise ScimError(404, f'{what} "{printable(wanted)}" not found')


def _failure(exc: Exception, method: str, route: str) -> Response:
    """The RFC 7644 §3.12 error response for a failure: a :class:`ScimError`
    as it says, 503 with Retry-After for a storage outage, 413 for a
    resource too large to store, and a logged, generic 500 for the rest."""
    if isinstance(exc, ScimError):
        return Response(exc.status, exc.body(), dict(exc.headers))
    if isinstance(exc, StorageUnavailable):
        err = unavailable("storage is unavailable or slow; retry shortly")
        return Response(err.status, err.body(), dict(err.headers))
    if isinstance(exc, TooLarge):
        return Response(413, ScimError(413, f"the resource is too large to store: {exc}").body())
    log.error("unhandled error on %s %s", method, route, exc_info=exc)
    return Response(500, ScimError(500, "internal error; the request was not completed").body())


def _committed_change(request: Request, route: str, response: Response) -> bool:
    """Whether the request committed a change: a 2xx answer to a change of
    an audited route; for ``/Bulk``, a BulkResponse with an operation that
    succeeded."""
    if request.method not in _CHANGES or route not in _AUDITED_ROUTES or response.status >= 300:
        return False
    return route != BULK_ROUTE or changed_anything(response.body)


def _unauthorized(failure: AuthFailed) -> ScimError:
    """RFC 6750 §3: 401 with the challenge, the same for every reason."""
    return ScimError(401, "a valid bearer credential is required (Authorization: Bearer <token>)",
                     headers={"WWW-Authenticate": failure.challenge})


def _wrong_scope(route: str, scope: str) -> Response:
    """403 for a credential whose scope is not the route's: an RFC 8935 §2.4
    ``access_denied`` at the event feed, a SCIM error elsewhere."""
    if scope == EVENTS_SCOPE:
        return Response(403, {"err": "access_denied", "description": "this credential has no events scope; "
                              "issue one with: scimctl token issue <tenant> --scope events"},
                        {"Content-Type": "application/json", "Content-Language": "en"})
    err = ScimError(403, f"this credential may only read change events; /{route} needs a SCIM provisioning credential")
    return Response(403, err.body())


def _check_url_text(request: Request, resource_id: str | None) -> None:
    """Refuse a path id or query parameter that is not storable text
    (:mod:`shared.scim.storable_text`): 400 ``invalidFilter`` for ``filter``,
    ``invalidValue`` for the rest, naming the parameter."""
    if resource_id is not None:
        problem = storable_text.refused_character(resource_id)
        if problem:
            raise invalid_value(f"the id in the path holds {problem}")
    for name, value in request.query.items():
        problem = storable_text.refused_character(name) or storable_text.refused_character(value)
        if problem:
            shown = printable(name)
            if name == "filter":
                raise bad_request(f'the "filter" query parameter holds {problem}', "invalidFilter")
            raise invalid_value(f'the query parameter "{shown}" holds {problem}')


def _handler_arguments(endpoint: Endpoint, schemas: TenantSchemas) -> tuple:
    """What a route's handlers take after (request, store, id): the caller's
    tenant's resource type, the types a ``.search`` spans, or (discovery)
    the tenant's schemas -- built-in plus its extensions."""
    types = tuple(schemas.type_named(name) for name in endpoint.types)
    if not types:
        return (schemas,)
    return (types,) if endpoint.handlers == {"POST": "search"} else types


_HANDLERS: dict[str, tuple[dict[str, str], Endpoint, str | None]] = {
    e.route: (e.handlers, e, e.scope) for e in ENDPOINTS
    if e.methods and e.route not in UNAUTHENTICATED and e.route not in SIGNIN_ROUTES
}
_AUDITED_ROUTES = {e.route: e.types[0] for e in ENDPOINTS if e.audited}
