"""OAuth 2.0 client credentials (RFC 6749 §4.4): the token endpoint and its JWTs.

Entra's gallery onboarding accepts only this flow ("Only OAuth 2.0 Client
Credentials flow is accepted": Entra-AppGallery-AI-Validation-Checklist.md in
https://github.com/AzureAD/SCIMReferenceCode).  ``POST /scim/v2/oauth/token`` takes a
form-encoded ``grant_type=client_credentials`` with the client
authenticated by HTTP Basic (``client_secret_basic``) or by
``client_id``/``client_secret`` in the body (``client_secret_post``),
RFC 6749 §2.3.1 -- never both (§2.3).  It answers a Bearer access token
(§5.1) or an error object (§5.2), with ``Cache-Control: no-store``.

The access token is a JWT signed RS256 with the service's signing key
(:mod:`shared.auth.signing_keys`; in Azure a Key Vault reference), valid
``SCIM_OAUTH_TOKEN_MINUTES`` (60 by default, 60-360 as Entra's gallery
checklist asks), naming the client (``sub``) and its tenant (``tid``).  On
the SCIM routes :meth:`TokenSigner.verify` checks it with the same key and
pinned algorithm (or, during a key rotation, the previous key), and the caller checks that the client is still active,
so revoking a client also ends its outstanding tokens.
"""

from __future__ import annotations

import base64
import time
import uuid
from urllib.parse import parse_qsl, unquote_plus

import jwt

from ..scim.http import Request, Response
from .signing_keys import ALGORITHM, SigningKeys
from .tenants import TenantRegistry

ISSUER = "urn:scim-for-entra:oauth"
AUDIENCE = "urn:scim-for-entra:scim"
ALGORITHMS = [ALGORITHM]
MIN_MINUTES, MAX_MINUTES = 60, 360
LEEWAY_SECONDS = 60
_TOKEN_HEADERS = {"Content-Type": "application/json; charset=utf-8", "Cache-Control": "no-store", "Pragma": "no-cache"}


class TokenSigner:
    """Issues and verifies this endpoint's own access tokens."""

    def __init__(self, keys: SigningKeys, lifetime_minutes: int = MIN_MINUTES) -> None:
        if not MIN_MINUTES <= lifetime_minutes <= MAX_MINUTES:
            raise ValueError(f"SCIM_OAUTH_TOKEN_MINUTES must be within {MIN_MINUTES}-{MAX_MINUTES}")
        self.keys = keys
        self.lifetime_seconds = lifetime_minutes * 60

    def issue(self, client_id: str, tenant_id: str, scope: str) -> str:
        now = int(time.time())
        claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": client_id, "tid": tenant_id, "scope": scope, "iat": now,
                  "nbf": now, "exp": now + self.lifetime_seconds, "jti": uuid.uuid4().hex}
        return self.keys.sign(claims)

    def verify(self, token: str) -> dict | None:
        """The claims of one of our unexpired access tokens, or None."""
        key = self.keys.public_key(token)
        if key is None:
            return None
        try:
            claims = jwt.decode(token, key=key, algorithms=ALGORITHMS, audience=AUDIENCE, issuer=ISSUER,
                                leeway=LEEWAY_SECONDS, options={"require": ["exp", "iss", "aud", "sub", "tid"]})
        except jwt.PyJWTError:
            return None
        return claims

    def issued_here(self, token: str) -> bool:
        """Whether a JWT claims to come from this token endpoint (unverified)."""
        try:
            return jwt.decode(token, options={"verify_signature": False}).get("iss") == ISSUER
        except jwt.PyJWTError:
            return False


def _error(status: int, code: str, description: str, basic: bool = False) -> Response:
    """An RFC 6749 §5.2 error response."""
    headers = dict(_TOKEN_HEADERS)
    if basic:
        headers["WWW-Authenticate"] = 'Basic realm="scim"'
    return Response(status, {"error": code, "error_description": description}, headers)


def _basic_credentials(header: str) -> tuple[str, str] | None:
    """``client_secret_basic``: both halves form-urlencoded first (RFC 6749 §2.3.1)."""
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError):  # binascii.Error, or a str with non-ASCII characters
        return ("", "")
    client_id, sep, secret = decoded.partition(":")
    return (unquote_plus(client_id), unquote_plus(secret)) if sep else ("", "")


def form_parameters(request: Request) -> dict[str, str] | None:
    """The form parameters, or None when malformed or repeated (RFC 6749 §3.2)."""
    media = (request.header("content-type") or "").split(";")[0].strip().lower()
    if media != "application/x-www-form-urlencoded":
        return None
    try:
        pairs = parse_qsl(request.body.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(request.body))
    except (UnicodeDecodeError, ValueError):
        return None
    form = dict(pairs)
    return form if len(form) == len(pairs) else None


def token_response(request: Request, registry: TenantRegistry, signer: TokenSigner | None, max_body_bytes: int) -> tuple[Response, tuple[str, str] | None]:
    """Serve ``POST /oauth/token``; returns the response and, when a token
    was issued, (tenant id, client id) for the audit trail."""
    if request.method != "POST":
        response = _error(405, "invalid_request", "use POST")
        response.headers["Allow"] = "POST"
        return response, None
    if signer is None:
        return _error(400, "unauthorized_client", "OAuth client credentials are not configured on this endpoint"), None
    if len(request.body) > max_body_bytes:
        return _error(413, "invalid_request", "the request body is too large"), None
    form = form_parameters(request)
    if form is None:
        return _error(400, "invalid_request", "send application/x-www-form-urlencoded parameters, each at most once"), None
    basic = _basic_credentials(request.header("authorization") or "")
    if basic is not None and ("client_secret" in form or "client_id" in form and form["client_id"] != basic[0]):
        return _error(400, "invalid_request", "use one client authentication method"), None
    if "grant_type" not in form:
        return _error(400, "invalid_request", "grant_type is required"), None
    client_id, secret = basic if basic is not None else (form.get("client_id", ""), form.get("client_secret", ""))
    client = registry.client_for_secret(client_id, secret)
    if client is None:
        return _error(401, "invalid_client", "client authentication failed", basic=basic is not None), None
    if form["grant_type"] != "client_credentials":
        return _error(400, "unsupported_grant_type", "only client_credentials is supported"), None
    body = {"access_token": signer.issue(client.id, client.tenant, client.scope), "token_type": "Bearer",
            "expires_in": signer.lifetime_seconds, "scope": client.scope}
    return Response(200, body, dict(_TOKEN_HEADERS)), (client.tenant, client.id)
