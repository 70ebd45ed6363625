"""The SCIM service: one method per route, storage behind :mod:`shared.storage.table_store`.

``function_app.py`` hands every request to :meth:`ScimService.handle` with
the route it matched; this module authenticates the caller (a bearer token
names exactly one tenant), parses and validates the message, runs it
against that tenant's store and builds the response.  Every failure becomes
an RFC 7644 §3.12 error; nothing leaks a stack trace.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import time
import uuid
from urllib.parse import urlsplit

from ..storage import keys
from ..scim import storable_text
from ..config import Settings
from ..scim.endpoints import ENDPOINTS, TOKEN_ROUTE, Endpoint
from ..scim.discovery import list_response, resource_type_json, schema_json, service_provider_config_json
from ..scim.errors import (
    ScimError,
    bad_request,
    conflict,
    invalid_syntax,
    invalid_value,
    not_found,
    unavailable,
)
from ..scim.http import ACCEPTED_MEDIA_TYPES, Request, Response
from ..scim.membership import MembershipPlan, parse_members, plan_membership, split_member_operations
from ..scim.patch import apply_operations, parse_patch_request
from ..scim.query import ListQuery, parse_list_query, parse_search_request
from ..scim.representation import Projection, etag, location, to_scim
from ..scim.resource import check_immutable, parse_resource, protect_password
from ..scim.schemas import GROUP_TYPE, LIST_RESPONSE_URN, RESOURCE_TYPES, SCHEMAS, USER_TYPE, ResourceType
from ..storage.search import find_resources
from ..storage.calls import counting
from ..storage.outcomes import AlreadyExists, Changed, Missing, StorageUnavailable, TooLarge, WritesClosed
from ..scim.records import Member, StoredResource, now_iso
from ..storage.table_store import TenantStore
from ..storage.tables import RESOURCES, Tables
from ..auth.tenants import TenantRegistry
from ..storage.audit import AuditEntry, AuditLog, changed_attributes, enforce_retention
from ..auth.authentication import AuthFailed, Authenticator, Principal
from ..auth.entra_jwt import EntraKeys
from ..auth.oauth import TokenSigner, token_response
from ..scim.openapi import openapi_document
from ..auth.rate_limit import RateLimiter

log = logging.getLogger("scim")

KIND_OF_TYPE = {"User": keys.USER, "Group": keys.GROUP}
_CHANGES = {"POST": "create", "PUT": "replace", "PATCH": "patch", "DELETE": "delete"}
_REQUEST_ID = re.compile(r"[A-Za-z0-9-]{8,64}")
# RFC 3986 §3.2.2-3.2.3: a reg-name or IPv4 address, or an IPv6 literal, and an optional port.
_FORWARDED_HOST = re.compile(r"(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?|\[[0-9A-Fa-f:.]{2,45}\])(?::[0-9]{1,5})?")
_RETRIES = 4
MAX_WORK_EMAILS = 20  # each is an index row written in the resource's transaction


def index_keys(rt: ResourceType, resource_id: str, data: dict) -> tuple[str, ...]:
    """The index rows a resource must own, so that the lookups Entra makes are point reads:
    users by ``userName``, ``externalId`` or ``emails[type eq "work"].value``, groups by
    ``displayName`` (Microsoft Learn, "Tutorial: Develop and plan provisioning for a SCIM
    endpoint in Microsoft Entra ID",
    https://learn.microsoft.com/en-us/entra/identity/app-provisioning/use-scim-to-provision-users-and-groups);
    a group's ``externalId`` is indexed too."""
    rows = []
    if rt is USER_TYPE:
        rows.append(keys.unique_key("un", keys.index_value(data["userName"], False)))
        if isinstance(data.get("externalId"), str):
            rows.append(keys.index_key("ue", keys.index_value(data["externalId"], True), resource_id))
        emails = work_emails(data)
        if len(emails) > MAX_WORK_EMAILS:
            raise invalid_value(f"a User may have at most {MAX_WORK_EMAILS} distinct work emails")
        for email in emails:
            rows.append(keys.index_key("uw", keys.index_value(email, False), resource_id))
    else:
        rows.append(keys.unique_key("gn", keys.index_value(data["displayName"], False)))
        if isinstance(data.get("externalId"), str):
            rows.append(keys.index_key("ge", keys.index_value(data["externalId"], True), resource_id))
    return tuple(dict.fromkeys(rows))


def work_emails(data: dict) -> list[str]:
    """Distinct ``emails[type eq "work"].value`` values (case-insensitive)."""
    seen = {}
    for email in data.get("emails") or []:
        if isinstance(email, dict) and str(email.get("type", "")).lower() == "work" and isinstance(email.get("value"), str):
            seen.setdefault(email["value"].lower(), email["value"])
    return list(seen.values())


def new_version() -> str:
    return secrets.token_hex(8)


def _request_id(request: Request) -> str:
    """The caller's ``client-request-id`` when it is a plain token, else a fresh id."""
    given = request.header("client-request-id") or request.header("x-request-id") or ""
    return given if _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex


def _token_signer(settings: Settings) -> TokenSigner | None:
    """The OAuth token signer, or None (OAuth off) when no usable key is configured."""
    if not settings.token_signing_key:
        return None
    try:
        return TokenSigner(settings.token_signing_key, settings.oauth_token_minutes)
    except Exception as exc:  # noqa: BLE001 - a bad key disables OAuth, it must not break the SCIM routes
        log.error("oauth_disabled: SCIM_TOKEN_SIGNING_KEY or SCIM_OAUTH_TOKEN_MINUTES is unusable (%s)", type(exc).__name__)
        return None


class ScimService:
    """Route handlers; one instance per process, shared by all requests."""

    def __init__(self, settings: Settings | None = None, tables: Tables | None = None,
                 entra_keys: EntraKeys | None = None) -> None:
        self.settings = settings or Settings.from_env()
        self.tables = tables or Tables(self.settings)
        self.registry = TenantRegistry(self.tables, self.settings.auth_cache_seconds)
        self.signer = _token_signer(self.settings)
        self.authenticator = Authenticator(self.registry, self.signer, entra_keys or EntraKeys(),
                                           self.settings.entra_audiences)
        self.audit = AuditLog(self.tables)
        rate = self.settings.rate_limit_per_second
        self.rate_limiter = RateLimiter(rate) if rate > 0 else None

    # ------------------------------------------------------------ dispatch
    def handle(self, request: Request, route: str, resource_id: str | None = None) -> Response:
        """Serve one request for ``route`` (e.g. ``"Users/{id}"``); never raises.

        One log line per request, ``key=value`` pairs: request id, method,
        route, status, storage calls and milliseconds -- never a header, a
        body or a value.  An accepted change also gets an audit entry.
        """
        started = time.perf_counter()
        request_id = _request_id(request)
        caller: list[Principal] = []
        with counting() as calls:
            try:
                if route == TOKEN_ROUTE:
                    response = self.token(request, request_id)
                else:
                    response = self._dispatch(request, route, resource_id, caller)
            except ScimError as exc:
                response = Response(exc.status, exc.body(), dict(exc.headers))
            except StorageUnavailable:
                exc = unavailable("storage is unavailable or slow; retry shortly")
                response = Response(exc.status, exc.body(), dict(exc.headers))
            except TooLarge as exc:
                err = ScimError(413, f"the resource is too large to store: {exc}")
                response = Response(413, err.body())
            except Exception:  # noqa: BLE001 - the last line of defence: log, answer generic 500
                log.exception("unhandled error on %s %s", request.method, route)
                err = ScimError(500, "internal error; the request was not completed")
                response = Response(500, err.body())
            if caller and request.method in _CHANGES and route in _AUDITED_ROUTES and response.status < 300:
                self._record(request, route, resource_id, response, caller[0], request_id)
        if self.settings.expose_storage_calls:
            response.headers["X-Storage-Calls"] = str(calls[0])
        response.headers["X-Request-Id"] = request_id
        log.info(
            "request=%s method=%s route=%s status=%d storage_calls=%d ms=%.1f",
            request_id, request.method, route, response.status, calls[0], (time.perf_counter() - started) * 1000,
        )
        return response

    def _dispatch(self, request: Request, route: str, resource_id: str | None, caller: list) -> Response:
        """Authenticate, then serve the route.  A write refused by the tenant's
        write guard (:class:`WritesClosed`: the tenant was disabled or deleted
        after this instance cached its credential) answers 401 like any
        revoked credential; a guard missing from an enabled tenant is
        restored and the request served once more (nothing was committed)."""
        principal = self._authenticate(request)
        caller.append(principal)
        _check_url_text(request, resource_id)
        retried = False
        while True:
            try:
                return self._serve_route(request, route, resource_id, principal)
            except WritesClosed:
                if retried or not self.registry.reopen_writes(principal.tenant_id):
                    raise self._writes_refused() from None
                retried = True

    def _writes_refused(self) -> ScimError:
        total = self.authenticator.failures.add("tenant_writes_closed")
        log.warning("auth_failed reason=tenant_writes_closed failures_in_process=%d", total)
        return _unauthorized(AuthFailed("tenant_writes_closed"))

    def _serve_route(self, request: Request, route: str, resource_id: str | None, principal: Principal) -> Response:
        store = TenantStore(self.tables.table(RESOURCES), principal.tenant_id)
        handler = _HANDLERS.get(route)
        if handler is None:
            path = urlsplit(request.url).path
            raise ScimError(404, f'no SCIM endpoint at "{path}"; the endpoints are /Users, /Groups, /Schemas, /ResourceTypes, /ServiceProviderConfig and .search')
        methods, arguments = handler
        if request.method not in methods:
            raise ScimError(405, f"{request.method} is not allowed on {route}; use {', '.join(methods)}", headers={"Allow": ", ".join(methods)})
        return getattr(self, methods[request.method])(request, store, resource_id, *arguments)

    def _authenticate(self, request: Request) -> Principal:
        """RFC 6750 bearer credential → the caller and its tenant; otherwise
        401 (the same for every reason), or 429 above the optional rate limit."""
        try:
            principal = self.authenticator.authenticate(request.header("authorization"))
        except AuthFailed as failure:
            raise _unauthorized(failure) from None
        if self.rate_limiter is not None:
            wait = self.rate_limiter.retry_after(principal.tenant_id)
            if wait:
                raise ScimError(429, "too many requests for this tenant; retry later", headers={"Retry-After": str(wait)})
        return principal

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

    def enforce_audit_retention(self) -> int:
        """Delete audit entries older than ``SCIM_AUDIT_RETENTION_DAYS`` (the daily timer)."""
        deleted = enforce_retention(self.audit, self.registry, self.settings.audit_retention_days)
        log.info("audit_retention deleted=%d days=%d", deleted, self.settings.audit_retention_days)
        return deleted

    def _record(self, request: Request, route: str, resource_id, response: Response, principal: Principal, request_id: str):
        """Append the audit entry of an accepted change (see :mod:`shared.storage.audit`)."""
        if resource_id is None and isinstance(response.body, dict):
            resource_id = response.body.get("id")
        try:
            body = json.loads(request.body) if request.body else None
        except (ValueError, RecursionError):  # a DELETE's body is never parsed before this
            body = None
        attributes = ",".join(changed_attributes(request.method, body))
        self._append_audit(AuditEntry(now_iso(), principal.tenant_id, principal.actor, _CHANGES[request.method],
                                      _AUDITED_ROUTES[route], str(resource_id or ""), attributes, str(response.status), request_id))

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
    def _json_body(self, request: Request):
        """RFC 7644 §3.1/§8.1: a JSON body as application/scim+json or application/json."""
        if len(request.body) > self.settings.max_body_bytes:
            raise ScimError(413, f"the request body is {len(request.body)} bytes; the limit is {self.settings.max_body_bytes}")
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
        except RecursionError as exc:
            raise invalid_syntax("the request body is nested too deeply") from exc
        problem = storable_text.first_refused(body)
        if problem:
            raise invalid_value(f"the request body cannot be stored: {problem}")
        return body

    def _projection(self, rt: ResourceType, request: Request) -> Projection:
        from ..scim.representation import parse_attribute_list

        return Projection(
            rt,
            parse_attribute_list(request.query.get("attributes"), "attributes"),
            parse_attribute_list(request.query.get("excludedattributes"), "excludedAttributes"),
        )

    def _resource_response(self, status, rt, res: StoredResource, request, projection: Projection, extra=None) -> Response:
        base = self.base_url(request)
        body = projection.apply(to_scim(rt, res, base))
        headers = {"ETag": etag(res.version)}
        if status == 201:
            headers["Location"] = location(base, rt, res.id)
        headers.update(extra or {})
        return Response(status, body, headers)

    @staticmethod
    def _check_preconditions(request: Request, res: StoredResource) -> None:
        """RFC 7644 §3.14 / RFC 7232 §3.1-3.2: If-Match that does not match → 412;
        on PUT/PATCH/DELETE, If-None-Match that matches → 412 (GET answers 304)."""
        current = etag(res.version)
        wanted = request.header("if-match")
        if wanted and wanted.strip() != "*" and current not in _tags(wanted):
            raise ScimError(412, f"the resource has changed: its version is {current}, not {wanted.strip()}")
        unwanted = request.header("if-none-match")
        if request.method != "GET" and unwanted and (unwanted.strip() == "*" or current in _tags(unwanted)):
            raise ScimError(412, f"the resource's version is {current}, which If-None-Match excludes")

    @staticmethod
    def _load(store: TenantStore, rt: ResourceType, resource_id: str, edges: bool) -> StoredResource:
        kind = KIND_OF_TYPE[rt.name]
        if keys.kind_of(resource_id) != kind:
            raise not_found(rt.name, _printable(resource_id))
        res = store.get(kind, resource_id, edges=edges)
        if res is None:
            raise not_found(rt.name, resource_id)
        return res

    @staticmethod
    def _uniqueness(rt: ResourceType, data: dict) -> ScimError:
        name = "userName" if rt is USER_TYPE else "displayName"
        return conflict(
            f'{name} "{data.get(name)}" is already in use by another {rt.name} of this tenant '
            f"({name} is unique, case-insensitively); change the existing {rt.name} or choose another {name}"
        )

    # -------------------------------------------------------------- create
    def create(self, request: Request, store: TenantStore, _id, rt: ResourceType) -> Response:
        """POST /Users, /Groups (RFC 7644 §3.3)."""
        body = self._json_body(request)
        projection = self._projection(rt, request)
        data = parse_resource(rt, body)
        members = parse_members(data.pop("members", None)) if rt is GROUP_TYPE else []
        kind = KIND_OF_TYPE[rt.name]
        resource_id = keys.new_id(kind)
        if rt is USER_TYPE:
            protect_password(data, None, keep_missing=False)
        now = now_iso()
        res = StoredResource(kind, resource_id, data, now, now, new_version(), index_keys(rt, resource_id, data))
        try:
            store.create(res, members)
        except AlreadyExists as exc:
            raise self._uniqueness(rt, data) from exc
        except Missing as exc:
            raise invalid_value(f'member "{_id_in(exc.row_key)}" does not exist in this tenant') from exc
        res.members = members if rt is GROUP_TYPE else None
        return self._resource_response(201, rt, res, request, projection)

    # ---------------------------------------------------------------- read
    def read(self, request: Request, store: TenantStore, resource_id: str, rt: ResourceType) -> Response:
        """GET /Users/{id}, /Groups/{id} (RFC 7644 §3.4.1)."""
        projection = self._projection(rt, request)
        edge_attr = "groups" if rt is USER_TYPE else "members"
        res = self._load(store, rt, resource_id, projection.wants(edge_attr))
        self._check_preconditions(request, res)
        none_match = request.header("if-none-match")
        if none_match and (none_match.strip() == "*" or etag(res.version) in _tags(none_match)):
            return Response(304, None, {"ETag": etag(res.version)})
        return self._resource_response(200, rt, res, request, projection)

    # ------------------------------------------------------------- replace
    def replace(self, request: Request, store: TenantStore, resource_id: str, rt: ResourceType) -> Response:
        """PUT /Users/{id}, /Groups/{id} (RFC 7644 §3.5.1)."""
        body = self._json_body(request)
        projection = self._projection(rt, request)
        data = parse_resource(rt, body)
        members = None
        if rt is GROUP_TYPE:
            data.pop("members", None)
            if any(k.lower() == "members" for k in body):  # "members": [] empties the group
                members = parse_members(next(v for k, v in body.items() if k.lower() == "members"), resource_id)
        for _ in range(_RETRIES):
            old = self._load(store, rt, resource_id, rt is USER_TYPE)
            self._check_preconditions(request, old)
            check_immutable(rt, old.data, data)
            if rt is USER_TYPE:
                protect_password(data, old.data, keep_missing=True)
            new = self._successor(rt, old, data)
            try:
                if new.data != old.data:
                    store.replace(old, new)
                else:
                    new = old
            except AlreadyExists as exc:
                raise self._uniqueness(rt, data) from exc
            except Changed:
                continue
            break
        else:
            raise ScimError(409, "the resource kept changing during the update; retry")
        if members is not None:
            current = store.member_ids(resource_id)
            wanted = {m.id: m for m in members}
            plan = MembershipPlan()
            plan.adding([m for mid, m in wanted.items() if mid not in current])
            plan.removing([mid for mid in current if mid not in wanted])
            new.version, new.last_modified = self._apply_membership(store, resource_id, plan, None)
            new.members = members
        return self._resource_response(200, rt, new, request, projection)

    @staticmethod
    def _successor(rt: ResourceType, old: StoredResource, data: dict) -> StoredResource:
        return StoredResource(
            old.kind, old.id, data, old.created, now_iso(), new_version(),
            index_keys(rt, old.id, data), group_ids=old.group_ids, members=old.members,
        )

    # --------------------------------------------------------------- patch
    def patch(self, request: Request, store: TenantStore, resource_id: str, rt: ResourceType) -> Response:
        """PATCH /Users/{id}, /Groups/{id} (RFC 7644 §3.5.2)."""
        operations = parse_patch_request(self._json_body(request))
        projection = self._projection(rt, request)
        if rt is GROUP_TYPE:
            return self._patch_group(request, store, resource_id, operations, projection)
        for _ in range(_RETRIES):
            old = self._load(store, rt, resource_id, projection.wants("groups"))
            self._check_preconditions(request, old)
            data = apply_operations(rt, old.data, operations)
            protect_password(data, old.data, keep_missing=False)
            if data == old.data:
                return self._resource_response(200, rt, old, request, projection)
            new = self._successor(rt, old, data)
            try:
                store.replace(old, new)
            except AlreadyExists as exc:
                raise self._uniqueness(rt, data) from exc
            except Changed:
                continue
            return self._resource_response(200, rt, new, request, projection)
        raise ScimError(409, "the resource kept changing during the update; retry")

    def _patch_group(self, request, store: TenantStore, group_id: str, operations, projection: Projection) -> Response:
        """Group PATCH: attribute changes on the group row, membership as edges.

        Entra expects 204 No Content for a group PATCH (Microsoft Learn,
        "Tutorial: Develop and plan provisioning for a SCIM endpoint in
        Microsoft Entra ID",
        https://learn.microsoft.com/en-us/entra/identity/app-provisioning/use-scim-to-provision-users-and-groups);
        a client that asks for attributes/excludedAttributes gets 200 with the group.
        Order: member additions first (they may fail on an unknown id,
        before anything changed), then the group's own attributes, then
        removals.
        """
        rt = GROUP_TYPE
        attr_ops, member_ops = split_member_operations(rt, operations)
        if keys.kind_of(group_id) != keys.GROUP:
            raise not_found(rt.name, _printable(group_id))
        old = None
        if attr_ops or request.header("if-match") or request.header("if-none-match"):
            old = self._load(store, rt, group_id, False)
            self._check_preconditions(request, old)
            apply_operations(rt, old.data, attr_ops)  # invalid operations fail before any write
        plan = plan_membership(rt, member_ops, group_id, lambda: self._load(store, rt, group_id, True).members or [])
        if not plan.empty:
            self._apply_membership(store, group_id, plan, old.etag if old and request.header("if-match") else None)
        if attr_ops:
            self._patch_group_attributes(request, store, group_id, attr_ops, old if plan.empty else None)
        if not (request.query.get("attributes") or request.query.get("excludedattributes")):
            return Response(204)
        res = self._load(store, rt, group_id, projection.wants("members"))
        return self._resource_response(200, rt, res, request, projection)

    def _patch_group_attributes(self, request, store: TenantStore, group_id: str, attr_ops, old: StoredResource | None) -> None:
        """Apply non-member operations to the group row, re-reading when a
        concurrent change (a membership update touches the row) got in first."""
        rt = GROUP_TYPE
        for _ in range(_RETRIES):
            if old is None:  # preconditions were checked on the first read
                old = self._load(store, rt, group_id, False)
            new_data = apply_operations(rt, old.data, attr_ops)
            if new_data == old.data:
                return
            try:
                store.replace(old, self._successor(rt, old, new_data))
                return
            except AlreadyExists as exc:
                raise self._uniqueness(rt, new_data) from exc
            except Changed as exc:
                if request.header("if-match"):
                    raise ScimError(412, "the group changed since the version you sent") from exc
                old = None
        raise ScimError(409, "the group kept changing during the update; retry")

    def _apply_membership(self, store: TenantStore, group_id: str, plan: MembershipPlan, if_match: str | None):
        """Run a membership plan; returns the group's new (version, lastModified).

        ``if_match`` is the group row's ETag when the client sent If-Match.
        """
        version, modified = new_version(), now_iso()
        remove = list(plan.remove)
        if plan.clear:
            remove = store.member_ids(group_id)
        try:
            if plan.add:
                store.add_members(group_id, [Member(mid, disp) for mid, disp in plan.add.items()], version, modified, if_match)
                if_match = None
            if remove or not plan.add:
                store.remove_members(group_id, [m for m in remove if m not in plan.add], version, modified, if_match)
        except Missing as exc:
            missing = _id_in(exc.row_key)
            if missing == group_id:
                raise not_found("Group", group_id) from exc
            raise invalid_value(f'member "{missing}" does not exist in this tenant') from exc
        except Changed as exc:
            raise ScimError(412, "the group changed since it was read; retry") from exc
        return version, modified

    # -------------------------------------------------------------- delete
    def delete(self, request: Request, store: TenantStore, resource_id: str, rt: ResourceType) -> Response:
        """DELETE /Users/{id}, /Groups/{id} (RFC 7644 §3.6): edges and index rows go too."""
        for _ in range(_RETRIES):
            res = self._load(store, rt, resource_id, True)
            self._check_preconditions(request, res)
            try:
                store.delete(res)
            except (Changed, Missing):
                continue
            return Response(204)
        raise ScimError(409, "the resource kept changing during the delete; retry")

    # --------------------------------------------------------------- query
    def list(self, request: Request, store: TenantStore, _id, rt: ResourceType) -> Response:
        """GET /Users, /Groups (RFC 7644 §3.4.2)."""
        query = parse_list_query(request.query, self.settings)
        return self._query(request, store, [rt], query)

    def search(self, request: Request, store: TenantStore, _id, types: tuple[ResourceType, ...]) -> Response:
        """POST .../.search (RFC 7644 §3.4.3)."""
        query = parse_search_request(self._json_body(request), self.settings)
        return self._query(request, store, list(types), query)

    def _query(self, request: Request, store: TenantStore, types: list[ResourceType], query: ListQuery) -> Response:
        base = self.base_url(request)
        found = find_resources(store, types, query)
        resources = []
        for rt, res in found.page:
            projection = Projection(rt, query.attributes, query.excluded)
            if rt is GROUP_TYPE and res.members is None and projection.wants("members"):
                res = store.get(keys.GROUP, res.id, edges=True) or res
            resources.append(projection.apply(to_scim(rt, res, base)))
        body = {
            "schemas": [LIST_RESPONSE_URN],
            "totalResults": found.total,
            "startIndex": query.start_index,
            "itemsPerPage": len(resources),
            "Resources": resources,
        }
        return Response(200, body)

    # ----------------------------------------------------------- discovery
    def service_provider_config(self, request: Request, _store, _id) -> Response:
        """GET /ServiceProviderConfig (RFC 7644 §4, RFC 7643 §5)."""
        body = service_provider_config_json(
            self.base_url(request), max_results=self.settings.max_page_size, max_payload_size=self.settings.max_body_bytes
        )
        return Response(200, body)

    def schemas(self, request: Request, _store, schema_id) -> Response:
        """GET /Schemas[/{id}] (RFC 7644 §4, RFC 7643 §7)."""
        return self._discovery(request, schema_id, SCHEMAS, lambda s: s.id, schema_json, "schema")

    def resource_types(self, request: Request, _store, type_id) -> Response:
        """GET /ResourceTypes[/{id}] (RFC 7644 §4, RFC 7643 §6)."""
        return self._discovery(request, type_id, RESOURCE_TYPES, lambda rt: rt.name, resource_type_json, "resource type")

    def openapi(self, request: Request, _store, _id) -> Response:
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
        raise ScimError(404, f'{what} "{_printable(wanted)}" not found')


def _unauthorized(failure: AuthFailed) -> ScimError:
    """RFC 6750 §3: 401 with the challenge, the same for every reason."""
    return ScimError(401, "a valid bearer credential is required (Authorization: Bearer <token>)",
                     headers={"WWW-Authenticate": failure.challenge})


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
            shown = _printable(name)
            if name == "filter":
                raise bad_request(f'the "filter" query parameter holds {problem}', "invalidFilter")
            raise invalid_value(f'the query parameter "{shown}" holds {problem}')


def _tags(header: str) -> list[str]:
    return [t.strip() for t in header.split(",")]


def _id_in(row_key: str) -> str:
    """The resource id in a row key such as ``U:{id}`` or ``G:{gid}:m:{id}``."""
    parts = row_key.split(":")
    return parts[1] if len(parts) > 1 else row_key


def _printable(text: str) -> str:
    """An id for an error message, with control characters made visible."""
    return json.dumps(text)[1:-1][:200]


_RESOURCE_TYPES = {"User": USER_TYPE, "Group": GROUP_TYPE}


def _handler_arguments(endpoint: Endpoint) -> tuple:
    """What a route's handlers take after (request, store, id): the resource
    type, the types a ``.search`` spans, or nothing (discovery)."""
    types = tuple(_RESOURCE_TYPES[name] for name in endpoint.types)
    if not types:
        return ()
    return (types,) if endpoint.handlers == {"POST": "search"} else types


_HANDLERS: dict[str, tuple[dict[str, str], tuple]] = {
    e.route: (e.handlers, _handler_arguments(e)) for e in ENDPOINTS if e.methods and e.route != TOKEN_ROUTE
}
_AUDITED_ROUTES = {e.route: e.types[0] for e in ENDPOINTS if e.audited}
