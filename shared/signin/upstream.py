"""The upstream half of sign-in: the deployment's one multi-tenant app
registration, sending each user to their own company's Entra ID tenant and
validating the ID token that comes back.

Endpoints come from the tenant's v2.0 OpenID Provider metadata (OpenID
Connect Discovery 1.0 §4, ``{authority}/{tid}/v2.0/.well-known/openid-configuration``;
for Entra the authorization endpoint is
``https://login.microsoftonline.com/{tid}/oauth2/v2.0/authorize``).  The
authority is ``SCIM_SIGNIN_AUTHORITY`` (default
``https://login.microsoftonline.com``; tests point it at a local provider,
plain http accepted only on loopback).  Metadata is cached per Entra tenant
for :data:`METADATA_SECONDS`; keys through :class:`shared.auth.entra_jwt.EntraKeys`
(its refresh and backoff rules).

Every redirect carries its own ``state``, ``nonce`` and PKCE S256 verifier
(RFC 7636), kept in the pending authorization (:mod:`shared.storage.signin_rows`).
The code is redeemed with the registration's credential: locally
``SCIM_SIGNIN_CLIENT_SECRET`` (``client_secret_post``); in Azure, with no
secret set, the app's managed identity as a federated identity credential
(a token for ``api://AzureADTokenExchange`` sent as ``client_assertion``,
RFC 7523 §2.2; Microsoft Learn, "Configure an application to trust a
managed identity",
https://learn.microsoft.com/entra/workload-id/workload-identity-federation-config-app-trust-managed-identity).

The ID token is accepted only when (Microsoft identity platform, "ID token
claims reference", https://learn.microsoft.com/entra/identity-platform/id-token-claims-reference;
OpenID Connect Core 1.0 §3.1.3.7):

* its algorithm is RS256 (``none``, HS256 and the rest are refused before
  a key is looked up) and its signature verifies with the ``kid`` it names
  in the tenant's published keys (keys embedded in the token are never used);
* ``iss`` is ``{authority}/{tid}/v2.0`` and ``tid`` is the Entra tenant the
  tenant is bound to (a token of another organisation, or a multi-tenant
  ``common`` token, is refused);
* ``aud`` is the registration's client id;
* ``nonce`` is the one this sign-in sent (compared in constant time);
* ``exp``, ``nbf`` and ``iat`` hold within :data:`LEEWAY_SECONDS` of skew;
* ``oid`` is present (the link to the provisioned user).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from base64 import urlsafe_b64encode
from dataclasses import dataclass
from functools import partial
from urllib.parse import urlencode

import jwt
import requests

from ..auth.entra_jwt import (AUTHORITY, EntraKeys, InvalidJwt, failure_reason, fetch_issuer_jwks, fetch_metadata,
                              fetchable)
from ..config import Settings

METADATA_SECONDS = 3600
LEEWAY_SECONDS = 120
TIMEOUT_SECONDS = 5
SCOPE = "openid profile email"
FEDERATION_AUDIENCE = "api://AzureADTokenExchange/.default"
_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


class UpstreamError(Exception):
    """The customer's Entra could not be used, or its answer is refused;
    ``reason`` is a fixed word for logs and the audit trail (never token content)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def s256(code_verifier: str) -> str:
    """The S256 ``code_challenge`` of a verifier (RFC 7636 §4.2)."""
    return urlsafe_b64encode(hashlib.sha256(code_verifier.encode("ascii")).digest()).rstrip(b"=").decode("ascii")


def pkce_pair() -> tuple[str, str]:
    """(code_verifier, its S256 code_challenge), RFC 7636 §4.1-§4.2."""
    verifier = secrets.token_urlsafe(48)
    return verifier, s256(verifier)


@dataclass(frozen=True, slots=True)
class Redirect:
    """The secrets of one upstream redirect, to check its answer against:
    the ``nonce`` (OpenID Connect Core 1.0 §3.1.2.1) and the PKCE verifier."""

    nonce: str
    code_verifier: str

    @classmethod
    def new(cls) -> "Redirect":
        return cls(secrets.token_urlsafe(24), pkce_pair()[0])

    @property
    def code_challenge(self) -> str:
        return s256(self.code_verifier)


class EntraSignIn:
    """The deployment's app registration toward every customer's Entra."""

    def __init__(self, settings: Settings, keys: EntraKeys | None = None, assertion=None) -> None:
        """``assertion``: a function returning a client assertion (the managed
        identity's federation token); by default built when no secret is set."""
        self.authority = (settings.signin_authority or AUTHORITY).rstrip("/")
        self.client_id = settings.signin_client_id or ""
        self._secret = settings.signin_client_secret or ""
        self._assertion = assertion
        self._identity_client_id = settings.signin_managed_identity_client_id
        self.keys = keys or EntraKeys(fetch=partial(fetch_issuer_jwks, authority=self.authority, v2=True))
        self._metadata: dict[str, tuple[float, dict, bool]] = {}
        self._lock = threading.Lock()

    @property
    def configured(self) -> bool:
        return bool(self.client_id)

    def issuer(self, entra_tenant: str) -> str:
        return f"{self.authority}/{entra_tenant}/v2.0"

    def _endpoints(self, entra_tenant: str) -> tuple[dict, bool]:
        with self._lock:
            cached = self._metadata.get(entra_tenant)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1], cached[2]
        try:
            metadata, loopback_http = fetch_metadata(entra_tenant, authority=self.authority, v2=True, timeout=TIMEOUT_SECONDS)
        except (OSError, ValueError, InvalidJwt):
            raise UpstreamError("metadata_unavailable") from None
        for name in ("authorization_endpoint", "token_endpoint"):
            if not fetchable(metadata.get(name), loopback_http):
                raise UpstreamError("metadata_unusable")
        with self._lock:
            self._metadata[entra_tenant] = (time.monotonic() + METADATA_SECONDS, metadata, loopback_http)
        return metadata, loopback_http

    def authorization_url(self, entra_tenant: str, redirect_uri: str, state: str, redirect: Redirect,
                          login_hint: str | None) -> str:
        """Where to send the browser (OpenID Connect Core 1.0 §3.1.2.1)."""
        metadata, _ = self._endpoints(entra_tenant)
        params = {"client_id": self.client_id, "response_type": "code", "redirect_uri": redirect_uri, "scope": SCOPE,
                  "response_mode": "query", "state": state, "nonce": redirect.nonce,
                  "code_challenge": redirect.code_challenge, "code_challenge_method": "S256"}
        if login_hint:
            params["login_hint"] = login_hint
        return f"{metadata['authorization_endpoint']}?{urlencode(params)}"

    def _client_credential(self) -> dict:
        if self._secret:
            return {"client_secret": self._secret}
        if self._assertion is None:
            from azure.identity import ManagedIdentityCredential

            credential = ManagedIdentityCredential(client_id=self._identity_client_id) if self._identity_client_id \
                else ManagedIdentityCredential()
            self._assertion = lambda: credential.get_token(FEDERATION_AUDIENCE).token
        try:
            return {"client_assertion_type": _ASSERTION_TYPE, "client_assertion": self._assertion()}
        except Exception:  # noqa: BLE001 - any failure of the identity endpoint means no credential
            raise UpstreamError("no_client_credential") from None

    def redeem(self, entra_tenant: str, code: str, redirect_uri: str, redirect: Redirect) -> dict:
        """Exchange the code (RFC 6749 §4.1.3, PKCE §4.5) and return the
        validated ID token's claims."""
        metadata, _ = self._endpoints(entra_tenant)
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
                "client_id": self.client_id, "code_verifier": redirect.code_verifier, "scope": SCOPE,
                **self._client_credential()}
        try:
            answer = requests.post(metadata["token_endpoint"], data=form, timeout=TIMEOUT_SECONDS, allow_redirects=False,
                                   headers={"Accept": "application/json"})
            body = answer.json() if answer.content else {}
        except (requests.RequestException, ValueError):
            raise UpstreamError("token_endpoint_unavailable") from None
        if answer.status_code != 200 or not isinstance(body, dict) or not isinstance(body.get("id_token"), str):
            error = body.get("error") if isinstance(body, dict) else None
            raise UpstreamError(f"token_refused_{error}" if isinstance(error, str) and error.isidentifier() else "token_refused")
        return self.verify_id_token(entra_tenant, body["id_token"], redirect.nonce)

    def verify_id_token(self, entra_tenant: str, id_token: str, nonce: str) -> dict:
        """The claims of an ID token from ``entra_tenant`` for this sign-in (the module's rules)."""
        try:
            header = jwt.get_unverified_header(id_token)
        except jwt.PyJWTError:
            raise UpstreamError("malformed") from None
        if header.get("alg") != "RS256":
            raise UpstreamError("algorithm_not_allowed")
        try:
            key = self.keys.key(entra_tenant, str(header.get("kid", "")))
        except InvalidJwt:
            raise UpstreamError("keys_unavailable") from None
        if key is None:
            raise UpstreamError("unknown_key")
        try:
            claims = jwt.decode(id_token, key=key, algorithms=["RS256"], audience=self.client_id,
                                issuer=self.issuer(entra_tenant), leeway=LEEWAY_SECONDS,
                                options={"require": ["exp", "iat", "iss", "aud", "tid", "oid", "nonce"]})
        except jwt.PyJWTError as exc:
            raise UpstreamError(failure_reason(exc).replace(" ", "_")) from None
        if not isinstance(claims["tid"], str) or claims["tid"].lower() != entra_tenant.lower():
            raise UpstreamError("foreign_tenant")
        if not isinstance(claims["nonce"], str) or not hmac.compare_digest(claims["nonce"], nonce):
            raise UpstreamError("nonce_mismatch")
        if not isinstance(claims["oid"], str) or not claims["oid"]:
            raise UpstreamError("missing_claim")
        return claims
