"""Who is calling: a bearer credential (RFC 6750 §2.1) resolved to one tenant.

Three kinds of bearer value reach the SCIM routes, told apart by shape:

* an opaque secret token (``<id>.<secret>``, Entra's Secret Token field),
  looked up in the registry (:mod:`shared.auth.tenants`);
* a JWT from this endpoint's own ``/oauth/token`` (:mod:`shared.auth.oauth`),
  verified with our key, its client still active;
* a JWT Entra issued itself (:mod:`shared.auth.entra_jwt`), verified against the
  issuer's keys and bound to the tenant that claims that Entra tenant.

Each tenant enables the modes it uses.  Every failure looks the same to the
caller -- 401 with ``WWW-Authenticate: Bearer`` (``error="invalid_token"``
when a credential was presented, RFC 6750 §3.1) -- so the answer never tells
whether a tenant, a token or a client exists.  The reason is counted and
logged, never the credential.
"""

from __future__ import annotations

import logging
import re
import threading
from collections import Counter
from dataclasses import dataclass

from .entra_jwt import CUSTOM_APP_AUDIENCE, EntraKeys, InvalidJwt, unverified_entra_tenant, verify_entra_jwt
from ..scim.extensions import BUILT_IN, TenantSchemas, load_extensions
from .credentials import SCIM_SCOPE
from .oauth import TokenSigner
from .tenants import EventSettings, Tenant, TenantRegistry

log = logging.getLogger("scim.auth")
REALM = 'Bearer realm="scim"'


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller: its tenant, who it is (for the audit trail),
    what its credential may do (``scope``, :mod:`shared.auth.credentials`),
    its tenant's change-event settings and its tenant's schemas (built-in
    plus registered extensions, :mod:`shared.scim.extensions`)."""

    tenant_id: str
    actor: str
    scope: str = SCIM_SCOPE
    events: EventSettings = EventSettings()
    schemas: TenantSchemas = BUILT_IN


def _principal(tenant: Tenant, actor: str, scope: str) -> Principal:
    """The caller ``actor`` of ``tenant`` with a credential of ``scope``."""
    return Principal(tenant.id, actor, scope, tenant.events, load_extensions(tenant.extensions))


class AuthFailed(Exception):
    """Authentication failed; ``reason`` (a snake_case code) is for logs and counters only."""

    def __init__(self, reason: str, presented: bool = True) -> None:
        super().__init__(reason)
        self.reason = reason
        self.presented = presented

    @property
    def challenge(self) -> str:
        return f'{REALM}, error="invalid_token"' if self.presented else REALM


class FailureCounter:
    """Failed authentications by reason, for this process (logged with each failure)."""

    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def add(self, reason: str) -> int:
        with self._lock:
            self._counts[reason] += 1
            return sum(self._counts.values())

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)


# RFC 6750 §2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
# A credential of any other shape (control characters, lone surrogates,
# characters a RowKey cannot hold) is refused before any lookup -- with the
# same 401 as every other failure, so the answer says nothing about which
# shapes this service would look up.
_B64TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")


def _looks_like_jwt(value: str) -> bool:
    return value.count(".") == 2 and value.startswith("eyJ")


class Authenticator:
    """Turns an ``Authorization`` header into a :class:`Principal` or :class:`AuthFailed`."""

    def __init__(self, registry: TenantRegistry, signer: TokenSigner | None, entra_keys: EntraKeys,
                 extra_audiences: tuple[str, ...] = ()) -> None:
        self.registry = registry
        self.signer = signer
        self.entra_keys = entra_keys
        self.extra_audiences = extra_audiences
        self.failures = FailureCounter()

    def authenticate(self, header: str | None) -> Principal:
        try:
            return self._authenticate(header or "")
        except AuthFailed as failure:
            total = self.failures.add(failure.reason)
            log.warning("auth_failed reason=%s failures_in_process=%d", failure.reason, total)
            raise

    def _authenticate(self, header: str) -> Principal:
        scheme, _, credential = header.partition(" ")
        credential = credential.strip()
        if scheme.lower() != "bearer" or not credential:
            raise AuthFailed("missing", presented=bool(header))
        if not _B64TOKEN.fullmatch(credential):
            raise AuthFailed("malformed")
        if not _looks_like_jwt(credential):
            return self._secret_token(credential)
        if self.signer is not None and self.signer.issued_here(credential):
            return self._oauth_token(credential)
        return self._entra_token(credential)

    def _secret_token(self, token: str) -> Principal:
        found = self.registry.tenant_for_token(token)
        if found is None:
            raise AuthFailed("token_rejected")
        credential, tenant = found
        return _principal(tenant, f"token:{credential.id}", credential.scope)

    def _oauth_token(self, token: str) -> Principal:
        claims = self.signer.verify(token)
        if claims is None:
            raise AuthFailed("oauth_token_invalid")
        tenant = self.registry.active_client(claims["sub"], claims["tid"])
        if tenant is None:
            raise AuthFailed("oauth_client_inactive")
        return _principal(tenant, f"oauth:{claims['sub']}", claims.get("scope") or SCIM_SCOPE)

    def _entra_token(self, token: str) -> Principal:
        try:
            entra_tenant = unverified_entra_tenant(token)
            tenant = self.registry.tenant_for_entra(entra_tenant)
            if tenant is None:
                raise AuthFailed("entra_tenant_unbound")
            audiences = [CUSTOM_APP_AUDIENCE, *self.extra_audiences, *tenant.audiences]
            claims = verify_entra_jwt(token, entra_tenant, self.entra_keys, audiences)
        except InvalidJwt as exc:
            raise AuthFailed("entra_jwt_" + re.sub(r"[^a-z0-9]+", "_", exc.reason.lower()).strip("_")) from None
        app = claims.get("appid") or claims.get("azp") or "unknown-app"
        return _principal(tenant, f"entra:{app}@{entra_tenant}", SCIM_SCOPE)
