"""The sign-in routes (:mod:`shared.signin`): this service as the
application's OpenID Provider, brokering to each customer's Entra.

=====================================  ============================================
Route                                  What it does
=====================================  ============================================
``GET /.well-known/openid-configuration``  the provider metadata (OpenID Connect
                                       Discovery 1.0 §3); the JWKS is
                                       ``/scim/v2/.well-known/jwks.json``
``GET|POST /auth/authorize``           the application's authorization request
                                       (Core §3.1.2): checked, its tenant found,
                                       then the browser goes to that tenant's Entra
``GET /auth/callback``                 Entra's answer: the ID token checked, the
                                       provisioned user found and admitted (or the
                                       person told why not), a code for the application
``POST /auth/token``                   the code for tokens (Core §3.1.3)
``GET|POST /auth/userinfo``            the user's claims (Core §5.3)
``/scim/v2/Me``                        the user's own SCIM resource (RFC 7644 §3.11):
                                       GET only; the rest is 403, Entra owns the data
=====================================  ============================================

**Which tenant**: ``tenant=<tenant id>`` in the authorization request, or a
``login_hint`` email whose domain a tenant claimed.  An unknown tenant, a
disabled one, or one not bound to an Entra tenant is an error sent back to
the application's (already verified) redirect URI, never a redirect elsewhere.

**The browser binding**: the pending authorization's ``state`` is tied to
a cookie (``scim_signin``: HttpOnly, SameSite=Lax, Secure over https, path
``/auth/callback``, :data:`PENDING_SECONDS`) holding our tenant id and a
random binding whose hash the pending row keeps; a callback without it is
refused (RFC 6749 §10.12, OpenID Connect Core §15.5.2).

**Linking and admission**: the Entra user is the provisioned user whose
``externalId`` is the ID token's ``oid`` (or, for a tenant configured with
``--link userName``, whose ``userName`` is its ``preferred_username``);
admitted only when the tenant is enabled and that user exists and is
active.  Each sign-in, admitted or refused, is an entry of the tenant's
audit trail (``signin.admit`` / ``signin.refuse`` with the reason; never a
token).
"""

from __future__ import annotations

import logging
import threading
import time
from urllib.parse import parse_qsl

import jwt

from ..auth.oauth import form_parameters
from ..auth.signin_directory import SignInDirectory, email_domain
from ..auth.signing_keys import SigningKeys
from ..auth.tenants import Tenant, TenantRegistry
from ..config import Settings
from ..scim.endpoints import BY_ROUTE
from ..scim.errors import ScimError
from ..scim.http import Request, Response
from ..scim.ids import GROUP, USER
from ..scim.records import now_iso
from ..scim.extensions import load_extensions
from ..scim.schemas import USER_TYPE
from ..signin import pages
from ..signin.apps import SCOPES, TOKEN_AUTH_METHODS, AppRegistry
from ..signin.claims import MAX_GROUPS, user_claims
from ..signin.upstream import EntraSignIn, Redirect, UpstreamError
from ..storage.audit import AuditEntry, AuditLog
from ..storage.event_rows import EventContext
from ..storage.signin_rows import SignInRows
from ..storage.table_store import TenantStore
from ..storage.tables import RESOURCES, Tables

log = logging.getLogger("scim.signin")
COOKIE = "scim_signin"
CALLBACK_PATH = "/auth/callback"
PENDING_SECONDS = 600
SESSION_SECONDS = 12 * 3600
_REFUSALS = {
    "not_provisioned": pages.NOT_PROVISIONED, "deactivated": pages.DEACTIVATED, "tenant_disabled": pages.TENANT_DISABLED,
    "foreign_tenant": pages.WRONG_ORGANISATION, "ambiguous_link": pages.NOT_PROVISIONED,
}


class _Refused(Exception):
    def __init__(self, reason: str, user_id: str = "") -> None:
        super().__init__(reason)
        self.reason, self.user_id = reason, user_id


def _cookie(request: Request) -> str | None:
    for part in (request.header("cookie") or "").split(";"):
        name, _, value = part.strip().partition("=")
        if name == COOKIE:
            return value
    return None


def _bearer(request: Request) -> str | None:
    scheme, _, token = (request.header("authorization") or "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def _invalid_token(description: str) -> Response:
    """RFC 6750 §3.1 ``invalid_token`` (401)."""
    return Response(401, {"error": "invalid_token", "error_description": description},
                    {"Content-Type": "application/json", "WWW-Authenticate": f'Bearer error="invalid_token", error_description="{description}"'})


class SignInEndpoints:
    """The sign-in routes; one instance per process (built by :class:`shared.web.service.ScimService`)."""

    def __init__(self, settings: Settings, tables: Tables, registry: TenantRegistry, keys: SigningKeys | None,
                 audit: AuditLog, resources, base_url, upstream: EntraSignIn | None = None) -> None:
        self.settings, self.tables, self.registry, self.keys = settings, tables, registry, keys
        self.audit, self.resources, self._base_url = audit, resources, base_url
        self.apps = AppRegistry(tables)
        self.rows = SignInRows(tables)
        self.directory = SignInDirectory(tables)
        self.upstream = upstream or EntraSignIn(settings)
        self._server = None
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.keys is not None and self.upstream.configured

    @property
    def server(self):
        """The Authlib authorization server, built (and Authlib imported) on first use."""
        if self._server is None:
            with self._lock:
                if self._server is None:
                    from ..signin.provider import SignInServer

                    self._server = SignInServer(self.apps, self.rows, self.keys, self._grant_user)
        return self._server

    def issuer(self, request: Request) -> str:
        """The issuer: the deployment's public base URL (``SCIM_PUBLIC_BASE_URL``
        without its ``/scim/v2``), else the request's own scheme and host."""
        base = self._base_url(request)
        return base[: -len("/scim/v2")] if base.lower().endswith("/scim/v2") else base

    def handle(self, request: Request, route: str, request_id: str) -> Response:
        """Serve one sign-in route (or ``/Me``); a method the route's endpoint
        does not list is a 405 with ``Allow``."""
        methods = BY_ROUTE[route].handlers
        if request.method not in methods:
            raise ScimError(405, f"{request.method} is not allowed here; use {', '.join(methods)}",
                            headers={"Allow": ", ".join(methods)})
        if route == "Me":
            return self.me(request)
        if not self.enabled:
            if route == "auth/authorize":
                return pages.page(503, ("Sign-in is not set up", "This service has no sign-in configured yet."))
            raise ScimError(404, "sign-in is not configured on this deployment (SCIM_SIGNIN_CLIENT_ID)")
        handler = {".well-known/openid-configuration": self.discovery, "auth/authorize": self.authorize,
                   "auth/callback": self.callback, "auth/token": self.token, "auth/userinfo": self.userinfo}[route]
        return handler(request, request_id)

    # ------------------------------------------------------------ discovery
    def discovery(self, request: Request, _request_id: str) -> Response:
        """OpenID Provider metadata (OpenID Connect Discovery 1.0 §3)."""
        issuer = self.issuer(request)
        return Response(200, {
            "issuer": issuer,
            "authorization_endpoint": f"{issuer}/auth/authorize",
            "token_endpoint": f"{issuer}/auth/token",
            "userinfo_endpoint": f"{issuer}/auth/userinfo",
            "jwks_uri": f"{issuer}/scim/v2/.well-known/jwks.json",
            "scopes_supported": list(SCOPES),
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": list(TOKEN_AUTH_METHODS),
            "token_endpoint_auth_signing_alg_values_supported": ["RS256", "PS256", "ES256"],
            "code_challenge_methods_supported": ["S256"],
            "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "sid", "tenant",
                                 "preferred_username", "name", "email", "groups", "groups_overage", "roles"],
            "backchannel_logout_supported": True,
            "backchannel_logout_session_supported": True,
        }, {"Content-Type": "application/json", "Cache-Control": "public, max-age=3600"})

    # -------------------------------------------------------- authorization
    def _parameters(self, request: Request) -> dict[str, str] | None:
        if request.method == "GET":
            pairs = parse_qsl(request.url.partition("?")[2], keep_blank_values=True)
            params = dict(pairs)
            return params if len(params) == len(pairs) else None
        return form_parameters(request)

    def authorize(self, request: Request, request_id: str) -> Response:
        """The application's authorization request (OpenID Connect Core 1.0 §3.1.2.1-§3.1.2.2)."""
        from authlib.oauth2 import OAuth2Error

        from ..signin.provider import error_redirect, oauth_request

        params = self._parameters(request)
        if params is None:
            return pages.page(400, pages.BAD_REQUEST, detail="a parameter is repeated or the form is malformed")
        issuer = self.issuer(request)
        try:
            self.server.get_consent_grant(oauth_request(request, issuer, params=params))
        except OAuth2Error as error:
            if error.redirect_uri:  # the client and its redirect URI are known: tell the application
                status, _, headers = error()
                return Response(status, None, dict(headers))
            return pages.page(400, pages.BAD_REQUEST, detail=error.description or error.error)
        redirect_uri, state = params["redirect_uri"], params.get("state")
        if "openid" not in params.get("scope", "").split():
            return error_redirect(redirect_uri, "invalid_scope", "the scope must include openid", state)
        tenant, problem = self._tenant_of(params)
        if tenant is None:
            return error_redirect(redirect_uri, *problem, state)
        login_hint = params.get("login_hint") if "@" in params.get("login_hint", "") else None
        redirect = Redirect.new()
        pending_state, binding = self.rows.begin(
            tenant.id, params, {"nonce": redirect.nonce, "verifier": redirect.code_verifier}, PENDING_SECONDS)
        try:
            url = self.upstream.authorization_url(tenant.entra_tenant, issuer + CALLBACK_PATH, pending_state, redirect, login_hint)
        except UpstreamError as exc:
            log.warning("signin_upstream_unavailable reason=%s", exc.reason)
            return error_redirect(redirect_uri, "temporarily_unavailable", "the organisation's sign-in service cannot be reached", state)
        secure = "; Secure" if issuer.startswith("https://") else ""
        cookie = f"{COOKIE}={tenant.id}.{binding}; Path={CALLBACK_PATH}; Max-Age={PENDING_SECONDS}; HttpOnly; SameSite=Lax{secure}"
        return Response(302, None, {"Location": url, "Set-Cookie": cookie})

    def _tenant_of(self, params: dict) -> tuple[Tenant | None, tuple[str, str]]:
        tenant_id = params.get("tenant")
        if not tenant_id:
            domain = email_domain(params.get("login_hint", ""))
            tenant_id = self.directory.tenant_for_domain(domain) if domain else None
            if tenant_id is None:
                return None, ("invalid_request", "name the tenant (tenant=) or give a login_hint of a claimed domain")
        tenant = self.registry.tenant(tenant_id) if tenant_id.isalnum() else None
        if tenant is None:
            return None, ("invalid_request", "unknown tenant")
        if tenant.disabled:
            return None, ("access_denied", "sign-in is turned off for this tenant")
        if not tenant.entra_tenant:
            return None, ("access_denied", "this tenant is not bound to an Entra tenant (scimctl signin configure)")
        return tenant, ("", "")

    # ------------------------------------------------------------- callback
    def callback(self, request: Request, request_id: str) -> Response:
        """Entra's authorization response (Core §3.1.2.5-§3.1.2.6), then ours to the application."""
        from ..signin.provider import error_redirect, oauth_request

        params = dict(parse_qsl(request.url.partition("?")[2], keep_blank_values=True))
        if request.method == "POST":  # response_mode=form_post
            params.update(form_parameters(request) or {})
        tenant_id, _, binding = (_cookie(request) or "").partition(".")
        pending = self.rows.take(tenant_id, params.get("state", ""), binding) if tenant_id.isalnum() and binding else None
        clear = {"Set-Cookie": f"{COOKIE}=; Path={CALLBACK_PATH}; Max-Age=0; HttpOnly; SameSite=Lax"}
        if pending is None:
            response = pages.page(400, pages.EXPIRED)
            response.headers.update(clear)
            return response
        app_request, issuer = pending.request, self.issuer(request)
        back = error_redirect(app_request["redirect_uri"], "access_denied", "sign-in refused", app_request.get("state"))
        client_id = app_request.get("client_id", "")
        try:
            user_id, admitted = self._admit(pending.tenant_id, params, issuer, pending.upstream)
        except _Refused as refusal:
            self._record(pending.tenant_id, client_id, "signin.refuse", refusal.user_id, refusal.reason, request_id)
            message = _REFUSALS.get(refusal.reason, pages.UPSTREAM_FAILED)
            response = pages.page(403, message, back_to=back.headers["Location"], detail=refusal.reason)
            response.headers.update(clear)
            return response
        session = self.rows.open_session(pending.tenant_id, user_id, client_id, issuer, SESSION_SECONDS)
        user = self._signed_in(pending.tenant_id, admitted, session.sid, int(time.time()))
        authz = oauth_request(Request("GET", request.url, request.headers), issuer, params=app_request)
        grant = self.server.get_consent_grant(authz, end_user=user)
        response = self.server.create_authorization_response(authz, grant_user=user, grant=grant)
        self._record(pending.tenant_id, client_id, "signin.admit", user_id, "", request_id)
        response.headers.update(clear)
        return response

    def _admit(self, tenant_id: str, params: dict, issuer: str, upstream: dict):
        """The admitted user's (id, stored resource), or :class:`_Refused`."""
        tenant = self.registry.tenant(tenant_id)
        if tenant is None or tenant.disabled or not tenant.entra_tenant:
            raise _Refused("tenant_disabled")
        if params.get("error") or not params.get("code"):
            raise _Refused(f"upstream_{params.get('error')}" if str(params.get("error", "")).isidentifier() else "upstream_error")
        redirect = Redirect(upstream.get("nonce", ""), upstream.get("verifier", ""))
        try:
            claims = self.upstream.redeem(tenant.entra_tenant, params["code"], issuer + CALLBACK_PATH, redirect)
        except UpstreamError as exc:
            raise _Refused(exc.reason) from None
        store = self._store(tenant_id)
        if tenant.signin_link == "userName":
            name = claims.get("preferred_username")
            found = store.user_named(name) if isinstance(name, str) and name else None
            ids = [found] if found else []
        else:
            ids = store.users_with_external_id(claims["oid"])
        if len(ids) > 1:
            raise _Refused("ambiguous_link")
        user = store.get(USER, ids[0], edges=True) if ids else None
        if user is None:
            raise _Refused("not_provisioned")
        if user.data.get("active") is False:
            raise _Refused("deactivated", user.id)
        return user.id, user

    def _record(self, tenant_id: str, client_id: str, operation: str, user_id: str, reason: str, request_id: str) -> None:
        log.info("signin operation=%s reason=%s request=%s", operation, reason or "-", request_id)
        try:
            self.audit.append(AuditEntry(now_iso(), tenant_id, f"signin:{client_id}", operation, "User", user_id,
                                         reason, "ok" if operation == "signin.admit" else "refused", request_id))
        except Exception:  # noqa: BLE001 - the sign-in stands; the gap must show in the logs
            log.error("audit_write_failed request=%s operation=%s", request_id, operation)

    # --------------------------------------------------------------- claims
    def _store(self, tenant_id: str) -> TenantStore:
        return TenantStore(self.tables.table(RESOURCES), tenant_id, EventContext("", "signin", ""))

    def _signed_in(self, tenant_id: str, user, sid: str, auth_time: int):
        from ..signin.provider import SignedInUser

        store = self._store(tenant_id)
        group_ids = user.group_ids or []
        groups = [(gid, None) for gid in group_ids] if len(group_ids) > MAX_GROUPS else [
            (gid, (g.data.get("displayName") if g else None)) for gid in group_ids for g in [store.get(GROUP, gid)]]
        claims = user_claims(tenant_id, user, groups, self.directory.role_map(tenant_id))
        return SignedInUser(tenant_id, user.id, sid, auth_time, claims)

    def _grant_user(self, tenant_id: str, user_id: str, sid: str):
        """The user a code is redeemed for, if still admitted (Authlib's ``authenticate_user``)."""
        found = self._session_user(tenant_id, user_id, sid)
        return None if found is None else self._signed_in(tenant_id, found[1], sid, found[0].created)

    def _session_user(self, tenant_id: str, user_id: str, sid: str):
        """(session, user) while the tenant is enabled, the session stands and the user is active; else None."""
        tenant = self.registry.tenant(tenant_id)
        session = self.rows.session(tenant_id, user_id, sid) if tenant is not None and not tenant.disabled else None
        if session is None or session.revoked or session.logout or session.expires < time.time():
            return None
        user = self._store(tenant_id).get(USER, user_id, edges=True)
        if user is None or user.data.get("active") is False:
            return None
        return session, user

    # --------------------------------------------------------------- tokens
    def token(self, request: Request, _request_id: str) -> Response:
        """``POST /auth/token`` (Core §3.1.3), Authlib's token endpoint."""
        from ..signin.provider import oauth_request

        form = form_parameters(request) if len(request.body) <= self.settings.max_body_bytes else None
        if form is None:
            return Response(400, {"error": "invalid_request", "error_description": "send one application/x-www-form-urlencoded body, each parameter once"},
                            {"Content-Type": "application/json"})
        response = self.server.create_token_response(oauth_request(request, self.issuer(request), params={}, form=form))
        response.headers.setdefault("Cache-Control", "no-store")
        return response

    def _verified_access(self, request: Request):
        """(claims, session, user) of the request's access token, or a 401 response."""
        token = _bearer(request)
        key = self.keys.public_key(token) if token and self.keys is not None else None
        if key is None:
            return _invalid_token("a sign-in access token is required")
        issuer = self.issuer(request)
        try:
            if jwt.get_unverified_header(token).get("typ") != "at+jwt":
                return _invalid_token("not an access token")
            claims = jwt.decode(token, key=key, algorithms=["RS256"], audience=issuer, issuer=issuer, leeway=30,
                                options={"require": ["exp", "iat", "sub", "sid", "tenant", "client_id"]})
        except jwt.PyJWTError:
            return _invalid_token("the access token is invalid or expired")
        if not all(isinstance(claims[k], str) for k in ("sub", "sid", "tenant")):
            return _invalid_token("the access token is invalid")
        found = self._session_user(claims["tenant"], claims["sub"], claims["sid"])
        if found is None:
            return _invalid_token("the session has ended or the user is no longer active")
        return claims, found[0], found[1]

    def userinfo(self, request: Request, _request_id: str) -> Response:
        """The UserInfo endpoint (Core §5.3): the claims of the token's user, read now."""
        verified = self._verified_access(request)
        if isinstance(verified, Response):
            return verified
        claims, session, user = verified
        signed_in = self._signed_in(claims["tenant"], user, session.sid, session.created)
        return Response(200, signed_in.claims, {"Content-Type": "application/json", "Cache-Control": "no-store"})

    def me(self, request: Request) -> Response:
        """``/scim/v2/Me`` (RFC 7644 §3.11) with a sign-in access token."""
        verified = self._verified_access(request)
        if isinstance(verified, Response):
            err = ScimError(401, "a sign-in access token is required (Authorization: Bearer <access token>)",
                            headers={"WWW-Authenticate": verified.headers["WWW-Authenticate"]})
            return Response(401, err.body(), dict(err.headers))
        if request.method != "GET":
            err = ScimError(403, "/Me is read-only: the user's data is owned by the organisation's Entra ID")
            return Response(403, err.body())
        claims, _, _ = verified
        tenant = self.registry.tenant(claims["tenant"])  # its extension schemas decide what the user's record shows
        user_type = load_extensions(tenant.extensions).user if tenant is not None else USER_TYPE
        return self.resources.read(request, self._store(claims["tenant"]), claims["sub"], user_type)
