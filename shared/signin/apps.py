"""The applications that sign their users in through this service: OAuth 2.0
confidential clients (RFC 6749 §2.1), registered by the operator with
``scimctl app register``.

An application has a client id, one way to authenticate at the token
endpoint -- ``client_secret_basic`` with a secret (256 random bits, shown
once, stored as its SHA-256 like every credential here,
:mod:`shared.auth.credentials`), or ``private_key_jwt`` with the public JWK
Set it registered (RFC 7523 §2.2, OpenID Connect Core 1.0 §9: no secret
exists) -- one or more redirect URIs and, optionally, the back-channel
logout URI (OpenID Connect Back-Channel Logout 1.0 §2.2) that learns of
ended sessions.
Registrations are deployment-wide: one application serves every tenant.
They are rows of the tenants table (partition ``app``, RowKey the client
id) and are read once per :data:`CACHE_SECONDS` per process.

Redirect URIs are compared exactly, character for character (RFC 6749
§3.1.2.3; OAuth 2.0 Security Best Current Practice, RFC 9700 §2.1): no
prefix, no pattern, no default.  Each must be an absolute ``https`` URL
without a fragment, or ``http`` on the loopback interface for development
(:func:`shared.urls.receiver_problem`).

The class implements Authlib's ``ClientMixin`` protocol
(https://docs.authlib.org/en/latest/specs/rfc6749.html), which the
protocol machinery (:mod:`shared.signin.provider`) calls.
"""

from __future__ import annotations

import hmac
import json
import secrets
import threading
import time
from dataclasses import dataclass

from azure.core.exceptions import ResourceNotFoundError

from ..auth.credentials import secret_hash
from ..scim.records import now_iso
from ..storage.queries import each_row
from ..storage.tables import TENANTS, Tables, storage_call
from ..urls import receiver_problem

APP = "app"
CACHE_SECONDS = 30
SCOPES = ("openid", "profile", "email")
SECRET_BASIC, PRIVATE_KEY_JWT = "client_secret_basic", "private_key_jwt"
TOKEN_AUTH_METHODS = (SECRET_BASIC, PRIVATE_KEY_JWT)
MAX_JWKS_CHARS = 16_000
MAX_NAME_CHARS = 100


class AppError(Exception):
    """A registration that cannot be made (a bad redirect URI, ...)."""


def _public_jwks(jwks) -> str:
    """``jwks`` checked to be a JWK Set (RFC 7517 §5) of public signing keys, as JSON."""
    from joserfc.jwk import KeySet

    if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list) or not jwks["keys"]:
        raise AppError("the JWK Set must be a JSON object with a non-empty \"keys\" list")
    if any(not isinstance(key, dict) or {"d", "p", "q", "k"} & set(key) for key in jwks["keys"]):
        raise AppError("the JWK Set must hold public keys only (no private or symmetric key material)")
    try:
        KeySet.import_key_set(jwks)
    except Exception as exc:  # noqa: BLE001 - whatever joserfc refuses, the registration is refused
        raise AppError(f"the JWK Set is not usable: {exc}") from None
    text = json.dumps(jwks, separators=(",", ":"))
    if len(text) > MAX_JWKS_CHARS:
        raise AppError(f"the JWK Set is larger than {MAX_JWKS_CHARS} characters")
    return text


@dataclass(frozen=True, slots=True)
class App:
    """A registered application (never its secret)."""

    client_id: str
    name: str
    secret_hash: str
    redirect_uris: tuple[str, ...]
    backchannel_logout_uri: str
    created: str
    auth_method: str = SECRET_BASIC
    jwks: dict | None = None  # private_key_jwt: the public keys its assertions are signed with

    # Authlib's ClientMixin: what the protocol machinery asks of a client.
    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> None:
        return None  # OpenID Connect Core 1.0 §3.1.2.1: redirect_uri is required

    def get_allowed_scope(self, scope: str) -> str:
        return " ".join(s for s in (scope or "").split() if s in SCOPES)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        return bool(self.secret_hash) and hmac.compare_digest(secret_hash(client_secret or ""), self.secret_hash)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return endpoint == "token" and method == self.auth_method

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "authorization_code"

    @classmethod
    def from_row(cls, row) -> "App":
        return cls(row["RowKey"], row.get("name", ""), row.get("hash", ""), tuple(json.loads(row.get("redirect_uris") or "[]")),
                   row.get("backchannel_logout_uri") or "", row.get("created", ""), row.get("auth_method") or SECRET_BASIC,
                   json.loads(row["jwks"]) if row.get("jwks") else None)


class AppRegistry:
    """Register, list and look up applications."""

    def __init__(self, tables: Tables, cache_seconds: int = CACHE_SECONDS) -> None:
        self._tables = tables
        self._cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, App | None]] = {}
        self._lock = threading.Lock()

    @property
    def _table(self):
        return self._tables.table(TENANTS)

    def register(self, name: str, redirect_uris: list[str], backchannel_logout_uri: str | None = None,
                 jwks: dict | None = None) -> tuple[App, str | None]:
        """A new application and its secret (shown once); with ``jwks`` (a
        public JWK Set) it authenticates by ``private_key_jwt`` and has no secret."""
        if not name or len(name) > MAX_NAME_CHARS or not name.isprintable():
            raise AppError(f"the name must be 1-{MAX_NAME_CHARS} printable characters")
        if not redirect_uris:
            raise AppError("at least one --redirect-uri is needed")
        for uri in [*redirect_uris, *([backchannel_logout_uri] if backchannel_logout_uri else [])]:
            problem = receiver_problem(uri)
            if problem:
                raise AppError(f"{uri!r}: {problem}")
        client_id = secrets.token_hex(16)
        secret = None if jwks is not None else secrets.token_urlsafe(32)
        row = {"PartitionKey": APP, "RowKey": client_id, "name": name, "hash": secret_hash(secret) if secret else "",
               "redirect_uris": json.dumps(list(dict.fromkeys(redirect_uris))),
               "backchannel_logout_uri": backchannel_logout_uri or "", "created": now_iso(),
               "auth_method": SECRET_BASIC if jwks is None else PRIVATE_KEY_JWT}
        if jwks is not None:
            row["jwks"] = _public_jwks(jwks)
        storage_call(self._table.create_entity, row)
        return App.from_row(row), secret

    def remove(self, client_id: str) -> None:
        try:
            storage_call(self._table.delete_entity, APP, client_id)
        except ResourceNotFoundError:
            raise AppError(f"no application {client_id}") from None
        with self._lock:
            self._cache.pop(client_id, None)

    def apps(self) -> list[App]:
        rows = storage_call(self._table.query_entities, "PartitionKey eq @p", parameters={"p": APP})
        return sorted((App.from_row(row) for row in each_row(rows)), key=lambda a: a.created)

    def get(self, client_id: str) -> App | None:
        """The application ``client_id`` names (cached for :data:`CACHE_SECONDS`), or None."""
        if not isinstance(client_id, str) or not client_id.isalnum() or len(client_id) > 64:
            return None
        with self._lock:
            cached = self._cache.get(client_id)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        try:
            app = App.from_row(storage_call(self._table.get_entity, APP, client_id))
        except ResourceNotFoundError:
            app = None
        with self._lock:
            self._cache[client_id] = (time.monotonic() + self._cache_seconds, app)
        return app
