"""Entra-issued JWTs: what Entra sends when a job's Secret Token field is blank.

Validation follows the provisioning tutorial's guidance (reference
``entra-scim.md`` §4.1) with PyJWT doing every cryptographic step:

* the algorithm is pinned to RS256 (``none``, HS* and everything else are
  refused before a key is even looked up, which also defeats the "HS256
  with the RSA public key as the secret" confusion);
* ``iss`` must be ``https://sts.windows.net/{tid}/`` for an Entra tenant
  bound to one of our tenants (``scimctl tenant create --entra-tenant-id``);
* ``aud`` must be the custom-app id ``8adf8e6e-67b2-4cf2-a259-e3dc5476c621``,
  an id from ``SCIM_ENTRA_AUDIENCES`` or one configured for the tenant;
* ``exp`` and ``nbf`` hold with :data:`LEEWAY_SECONDS` of clock skew;
* the key is the one with the token's ``kid`` among the issuer's published
  signing keys: its OpenID metadata names the JWKS, both fetched over HTTPS
  and cached; an unknown ``kid`` refetches them (Entra rolls its keys), at
  most once per :data:`MIN_REFRESH_SECONDS`, so a stream of made-up kids
  does not turn into a stream of fetches.  Keys embedded in the token
  (``jwk``, ``jku``, ``x5u``, ``x5c`` headers) are never used.

The key source is injectable: tests give :class:`EntraKeys` a function that
returns locally generated JWKS, so nothing here needs the network in tests.
"""

from __future__ import annotations

import json
import re
import threading
import time
import urllib.request
from collections.abc import Callable

import jwt

CUSTOM_APP_AUDIENCE = "8adf8e6e-67b2-4cf2-a259-e3dc5476c621"
ALGORITHMS = ["RS256"]
LEEWAY_SECONDS = 120
MIN_REFRESH_SECONDS = 60
AUTHORITY = "https://login.microsoftonline.com"
FETCH_TIMEOUT_SECONDS = 5
_ISSUER = re.compile(r"^https://sts\.windows\.net/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})/$")


_REASONS = (
    (jwt.ExpiredSignatureError, "expired"),
    (jwt.ImmatureSignatureError, "not yet valid"),
    (jwt.InvalidAudienceError, "wrong audience"),
    (jwt.InvalidIssuerError, "wrong issuer"),
    (jwt.InvalidSignatureError, "bad signature"),
)


class InvalidJwt(Exception):
    """A JWT that must not be accepted; ``reason`` is for logs (never token content)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=FETCH_TIMEOUT_SECONDS) as response:  # noqa: S310 - https URLs only
        return json.loads(response.read())


def fetch_issuer_jwks(entra_tenant: str) -> dict:
    """The JWKS an Entra tenant publishes, found through its OpenID metadata."""
    metadata = _get_json(f"{AUTHORITY}/{entra_tenant}/.well-known/openid-configuration")
    jwks_uri = metadata.get("jwks_uri", "")
    if not jwks_uri.startswith("https://"):
        raise InvalidJwt("issuer metadata without an https jwks_uri")
    return _get_json(jwks_uri)


class EntraKeys:
    """Signing keys per Entra tenant, cached, refreshed on an unknown ``kid``."""

    def __init__(self, fetch: Callable[[str], dict] = fetch_issuer_jwks, min_refresh_seconds: float = MIN_REFRESH_SECONDS) -> None:
        self._fetch = fetch
        self._min_refresh = min_refresh_seconds
        self._keys: dict[str, dict[str, jwt.PyJWK]] = {}
        self._refreshed_at: dict[str, float] = {}
        self._lock = threading.Lock()

    def key(self, entra_tenant: str, kid: str):
        """The public key ``kid`` of the issuer, or None."""
        with self._lock:
            keys = self._keys.get(entra_tenant)
            if keys is None:
                keys = self._load(entra_tenant)
            elif kid not in keys and self._may_refresh(entra_tenant):
                self._refreshed_at[entra_tenant] = time.monotonic()
                keys = self._load(entra_tenant)
            found = keys.get(kid)
        return found.key if found is not None else None

    def _may_refresh(self, entra_tenant: str) -> bool:
        """Refreshes for unknown kids are spaced by ``min_refresh_seconds``."""
        return time.monotonic() - self._refreshed_at.get(entra_tenant, float("-inf")) >= self._min_refresh

    def _load(self, entra_tenant: str) -> dict[str, jwt.PyJWK]:
        try:
            jwks = jwt.PyJWKSet.from_dict(self._fetch(entra_tenant))
        except (OSError, ValueError, jwt.PyJWKSetError) as exc:
            raise InvalidJwt(f"signing keys unavailable ({type(exc).__name__})") from exc
        keys = {k.key_id: k for k in jwks.keys if k.key_id and k.key_type == "RSA" and k.public_key_use in (None, "sig")}
        self._keys[entra_tenant] = keys
        return keys


def unverified_entra_tenant(token: str) -> str:
    """The Entra tenant id in ``iss`` (not yet verified: it picks the keys)."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise InvalidJwt("malformed") from exc
    match = _ISSUER.match(str(claims.get("iss", "")))
    if not match:
        raise InvalidJwt("not issued by Entra ID")
    return match.group(1)


def verify_entra_jwt(token: str, entra_tenant: str, keys: EntraKeys, audiences: list[str]) -> dict:
    """The verified claims of an Entra-issued token for ``entra_tenant``."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise InvalidJwt("malformed") from exc
    if header.get("alg") not in ALGORITHMS:
        raise InvalidJwt("algorithm not allowed")
    key = keys.key(entra_tenant, str(header.get("kid", "")))
    if key is None:
        raise InvalidJwt("unknown signing key")
    try:
        return jwt.decode(
            token, key=key, algorithms=ALGORITHMS, audience=audiences,
            issuer=f"https://sts.windows.net/{entra_tenant}/", leeway=LEEWAY_SECONDS,
            options={"require": ["exp", "iss", "aud"]},
        )
    except jwt.PyJWTError as exc:
        reason = next((text for kind, text in _REASONS if isinstance(exc, kind)), "invalid")
        raise InvalidJwt(reason) from exc
