"""The OAuth 2.0 / OpenID Connect machinery of sign-in, on Authlib
(https://docs.authlib.org/en/latest/specs/oidc.html): request validation,
client authentication, PKCE, the code grant's rules and the error responses
are Authlib's; this module supplies the storage, the keys and the claims.

* **Authorization code flow** (OpenID Connect Core 1.0 §3.1) only, with
  PKCE S256 required (RFC 7636; ``plain`` is refused: OAuth 2.0 Security
  BCP, RFC 9700 §2.1.1) and ``redirect_uri`` required and exactly registered.
* **Codes** are single-use and live :data:`CODE_SECONDS`.  A code redeemed a
  second time is refused and revokes the session its first redemption
  opened, so the tokens issued for it stop working (RFC 6749 §4.1.2, §10.5).
  A code carries its tenant after a dot: its row is a point read.
* **Client authentication** at the token endpoint, one method per
  application: ``client_secret_basic`` (RFC 6749 §2.3.1) or
  ``private_key_jwt`` (OpenID Connect Core 1.0 §9, RFC 7523 §2.2: an
  assertion signed with a key of the JWK Set the application registered,
  ``aud`` the token endpoint or the issuer, each ``jti`` accepted once).
* **Tokens**, RS256 with the service's signing key (the JWKS at
  ``/scim/v2/.well-known/jwks.json``), both :data:`TOKEN_SECONDS` long:
  the ID token (Core §2, claims of :mod:`shared.signin.claims`, plus
  ``nonce``, ``auth_time``, ``at_hash``, ``sid``) and a JWT access token
  (RFC 9068: ``typ`` ``at+jwt``, ``aud`` the issuer, ``client_id``, ``sid``),
  good at ``/auth/userinfo`` and ``/scim/v2/Me`` while its session stands
  and its user is active.  No refresh token is issued: the application keeps
  its own session, which back-channel logout ends.
"""

from __future__ import annotations

import dataclasses
import secrets
import time
import uuid
from dataclasses import dataclass
from urllib.parse import urlencode

from authlib.oauth2 import OAuth2Request
from authlib.oauth2.rfc6749 import AuthorizationServer, InvalidClientError, InvalidRequestError
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload
from authlib.oauth2.rfc6749.grants import AuthorizationCodeGrant
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import OpenIDCode
from cryptography.hazmat.primitives import serialization
from joserfc.jwk import KeySet, RSAKey
from requests.structures import CaseInsensitiveDict

from ..auth.signing_keys import SigningKeys
from ..scim.http import Request, Response
from ..storage.signin_rows import CodeGrant, SignInRows
from .apps import PRIVATE_KEY_JWT, SCOPES, TOKEN_AUTH_METHODS, AppRegistry

CODE_SECONDS = 60
TOKEN_SECONDS = 600
ACCESS_TOKEN_TYPE = "at+jwt"


@dataclass(frozen=True, slots=True)
class SignedInUser:
    """The user a grant is for: our tenant, the SCIM id, the session, the claims."""

    tenant_id: str
    user_id: str
    sid: str
    auth_time: int
    claims: dict
    issuer: str = ""


class _Request(OAuth2Request):
    """An Authlib request over the parameters of one of our requests."""

    def __init__(self, method: str, uri: str, headers: dict, params: dict, form: dict, issuer: str) -> None:
        super().__init__(method, uri, headers=headers)
        self._args, self._form = params, form
        self.payload = BasicOAuth2Payload({**params, **form})
        self.issuer = issuer

    @property
    def args(self):
        return self._args

    @property
    def form(self):
        return self._form


def oauth_request(request: Request, issuer: str, params: dict | None = None, form: dict | None = None) -> _Request:
    """``request`` for Authlib: ``params`` the query (default: the request's),
    ``form`` the form body already parsed (token endpoint)."""
    return _Request(request.method, request.url, CaseInsensitiveDict(request.headers),
                    dict(request.query if params is None else params), dict(form or {}), issuer)


class _Code:
    """A stored code as Authlib's ``AuthorizationCodeMixin``."""

    def __init__(self, grant: CodeGrant) -> None:
        self.grant = grant

    def get_redirect_uri(self):
        return self.grant.redirect_uri

    def get_scope(self):
        return self.grant.scope

    def get_nonce(self):
        return self.grant.nonce or None

    def get_auth_time(self):
        return self.grant.auth_time

    def get_acr(self):
        return None

    def get_amr(self):
        return None


class _PKCE(CodeChallenge):
    """PKCE (RFC 7636) required of every client, S256 only, named explicitly
    (RFC 7636 §4.3 would default a missing method to ``plain``)."""

    DEFAULT_CODE_CHALLENGE_METHOD = "S256"
    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]

    def validate_code_challenge(self, grant, redirect_uri):
        data = grant.request.payload.data
        if not data.get("code_challenge"):
            raise InvalidRequestError("PKCE is required: send code_challenge and code_challenge_method=S256")
        if data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("code_challenge_method must be S256")
        super().validate_code_challenge(grant, redirect_uri)

    def get_authorization_code_challenge(self, authorization_code: _Code):
        return authorization_code.grant.code_challenge

    def get_authorization_code_challenge_method(self, authorization_code: _Code):
        return authorization_code.grant.code_challenge_method


class _CodeGrant(AuthorizationCodeGrant):
    """The code grant over the ``signin`` rows (Authlib builds one per request, ``self.server`` ours)."""

    TOKEN_ENDPOINT_AUTH_METHODS = list(TOKEN_AUTH_METHODS)

    def generate_authorization_code(self):
        return f"{secrets.token_urlsafe(32)}.{self.request.user.tenant_id}"

    def save_authorization_code(self, code, request):
        payload, user = request.payload, request.user
        self.server.rows.save_code(code, CodeGrant(
            tenant_id=user.tenant_id, user_id=user.user_id, sid=user.sid, client_id=request.client.get_client_id(),
            redirect_uri=payload.redirect_uri, scope=request.scope, nonce=payload.data.get("nonce") or "",
            code_challenge=payload.data.get("code_challenge") or "",
            code_challenge_method=payload.data.get("code_challenge_method") or "S256", auth_time=user.auth_time,
        ), CODE_SECONDS)

    def query_authorization_code(self, code, client):
        _, dot, tenant_id = (code or "").rpartition(".")
        if not dot or not tenant_id.isalnum():
            return None
        grant, replayed = self.server.rows.redeem(tenant_id, code)
        if grant is None or grant.client_id != client.get_client_id():
            return None
        if replayed:  # RFC 6749 §4.1.2: deny, and revoke what the code gave
            self.server.rows.revoke(grant.tenant_id, grant.user_id, grant.sid)
            return None
        return _Code(grant)

    def delete_authorization_code(self, authorization_code):
        """Nothing to do: :meth:`query_authorization_code` claimed the code."""

    def authenticate_user(self, authorization_code: _Code):
        grant = authorization_code.grant
        user = self.server.load_user(grant.tenant_id, grant.user_id, grant.sid)
        return dataclasses.replace(user, issuer=self.request.issuer) if user is not None else None


class _OpenID(OpenIDCode):
    """The ID token (OpenID Connect Core 1.0 §2, §3.1.3.6) signed with the service's key."""

    def __init__(self, keys: SigningKeys) -> None:
        super().__init__(require_nonce=False)
        self.keys = keys
        self._private_key = RSAKey.import_key(keys.current.private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))

    def exists_nonce(self, nonce, request):
        return False  # the nonce is the application's to check; codes are single-use

    def resolve_client_private_key(self, client):
        return self._private_key

    def get_client_algorithm(self, client):
        return "RS256"

    def get_encode_header(self, client):
        return {"alg": "RS256", "kid": self.keys.key_id, "typ": "JWT"}

    def get_compatible_claims(self, request: _Request):
        now = int(time.time())
        return {"iss": request.issuer, "aud": request.client.get_client_id(), "iat": now, "exp": now + TOKEN_SECONDS}

    def generate_user_info(self, user: SignedInUser, scope):
        return {**user.claims, "sid": user.sid}


class _PrivateKeyJWT(JWTBearerClientAssertion):
    """``private_key_jwt`` client authentication, Authlib's RFC 7523 checks
    over the application's registered JWK Set."""

    CLIENT_AUTH_METHOD = PRIVATE_KEY_JWT

    def __init__(self, rows: SignInRows, audiences: list[str] | None = None) -> None:
        super().__init__(validate_jti=True, leeway=30)
        self.rows, self._audiences = rows, audiences or []

    def __call__(self, query_client, request: "_Request"):
        # The audience depends on the request's issuer: check with a copy bound to it.
        bound = _PrivateKeyJWT(self.rows, [f"{request.issuer}/auth/token", request.issuer])
        return JWTBearerClientAssertion.__call__(bound, query_client, request)

    def get_audiences(self):
        return self._audiences

    def resolve_client_public_key(self, client):
        if not client.jwks:
            raise InvalidClientError(description="this client authenticates with client_secret_basic")
        return KeySet.import_key_set(client.jwks)

    def validate_jti(self, claims, jti):
        exp = claims.get("exp")
        return isinstance(jti, str) and self.rows.claim_assertion(
            claims["sub"], jti, int(exp) if isinstance(exp, (int, float)) else int(time.time()) + 3600)


class SignInServer(AuthorizationServer):
    """The authorization server: Authlib's, over our apps, rows and keys.

    ``load_user(tenant_id, user_id, sid)`` gives the :class:`SignedInUser` a
    code is redeemed for, or None when the user is no longer admitted."""

    def __init__(self, apps: AppRegistry, rows: SignInRows, keys: SigningKeys, load_user) -> None:
        super().__init__(scopes_supported=list(SCOPES))
        self.apps, self.rows, self.keys, self.load_user = apps, rows, keys, load_user
        self.register_grant(_CodeGrant, [_PKCE(required=True), _OpenID(keys)])
        self.register_client_auth_method(PRIVATE_KEY_JWT, _PrivateKeyJWT(rows))
        self.register_token_generator("default", self._tokens)

    # Authlib's framework hooks
    def query_client(self, client_id):
        return self.apps.get(client_id)

    def save_token(self, token, request):
        """Nothing to store: the tokens are signed JWTs; their state is the session row."""

    def create_oauth2_request(self, request):
        return request  # already an Authlib request (oauth_request)

    def create_json_request(self, request):
        raise NotImplementedError("no JSON endpoints")

    def send_signal(self, name, *args, **kwargs):
        """No signal subscribers."""

    def handle_response(self, status, body, headers):
        headers = dict(headers)
        if body == "" or body is None:
            return Response(status, None, headers)
        return Response(status, body, {**headers, "Content-Type": "application/json", "Pragma": "no-cache"})

    def _tokens(self, grant_type, client, user: SignedInUser = None, scope=None, expires_in=None,
                include_refresh_token=False):
        """The access token (RFC 9068 §2) and the token response's other members (RFC 6749 §5.1)."""
        now = int(time.time())
        access = self.keys.sign({
            "iss": user.issuer, "aud": user.issuer, "sub": user.user_id, "client_id": client.get_client_id(),
            "tenant": user.tenant_id, "sid": user.sid, "scope": scope, "iat": now, "exp": now + TOKEN_SECONDS,
            "jti": uuid.uuid4().hex,
        }, typ=ACCESS_TOKEN_TYPE)
        return {"access_token": access, "token_type": "Bearer", "expires_in": TOKEN_SECONDS, "scope": scope}


def error_redirect(redirect_uri: str, error: str, description: str, state: str | None) -> Response:
    """An authorization error sent back to the application (RFC 6749 §4.1.2.1)."""
    params = {"error": error, "error_description": description}
    if state:
        params["state"] = state
    separator = "&" if "?" in redirect_uri else "?"
    return Response(302, None, {"Location": f"{redirect_uri}{separator}{urlencode(params)}"})
