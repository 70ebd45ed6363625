"""The upstream ID-token checks of sign-in (shared/signin/upstream.py):
every refusal of the security list, against locally made keys and tokens.

OpenID Connect Core 1.0 §3.1.3.7; Microsoft identity platform, "ID token
claims reference": ``iss`` is ``{authority}/{tid}/v2.0``, ``tid`` the
organisation, ``aud`` the app registration, ``nonce`` the one sent.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from shared.auth.entra_jwt import EntraKeys
from shared.config import Settings
from shared.signin.upstream import LEEWAY_SECONDS, EntraSignIn, UpstreamError, pkce_pair, s256

TID = str(uuid.uuid4())
CLIENT_ID = str(uuid.uuid4())
AUTHORITY = "https://login.microsoftonline.com"
NONCE = "nonce-123"
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _jwks() -> dict:
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(KEY.public_key()))
    return {"keys": [{**jwk, "kid": "k1", "use": "sig"}]}


@pytest.fixture
def upstream() -> EntraSignIn:
    settings = Settings(connection_string=None, table_endpoint=None, table_prefix="t", public_base_url=None,
                        max_body_bytes=1, max_page_size=1, default_page_size=1, storage_timeout_seconds=1,
                        auth_cache_seconds=0, expose_storage_calls=False, signin_client_id=CLIENT_ID,
                        signin_authority=AUTHORITY)
    return EntraSignIn(settings, keys=EntraKeys(fetch=lambda tid: _jwks()))


def _claims(**changes) -> dict:
    now = int(time.time())
    claims = {"iss": f"{AUTHORITY}/{TID}/v2.0", "aud": CLIENT_ID, "tid": TID, "oid": str(uuid.uuid4()),
              "sub": "pairwise", "nonce": NONCE, "iat": now, "nbf": now, "exp": now + 3600, "ver": "2.0"}
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def _token(claims: dict, key=KEY, kid: str = "k1", alg: str = "RS256") -> str:
    return jwt.encode(claims, key, algorithm=alg, headers={"kid": kid})


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_a_token_of_the_bound_tenant_for_this_sign_in_is_accepted(upstream):
    claims = upstream.verify_id_token(TID, _token(_claims()), NONCE)
    assert claims["tid"] == TID and claims["oid"]


def test_skew_within_the_leeway_is_accepted(upstream):
    now = int(time.time())
    upstream.verify_id_token(TID, _token(_claims(exp=now - LEEWAY_SECONDS + 30, iat=now + 30, nbf=now + 30)), NONCE)


def _hs256_with_the_public_key(claims: dict) -> str:
    """The key-confusion attack: HS256 keyed with the RSA public key's PEM."""
    secret = KEY.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    signing_input = f"{_b64(json.dumps({'alg': 'HS256', 'kid': 'k1', 'typ': 'JWT'}).encode())}.{_b64(json.dumps(claims).encode())}"
    return f"{signing_input}.{_b64(hmac.new(secret, signing_input.encode(), hashlib.sha256).digest())}"


def _alg_none(claims: dict) -> str:
    return f"{_b64(json.dumps({'alg': 'none', 'kid': 'k1'}).encode())}.{_b64(json.dumps(claims).encode())}."


@pytest.mark.parametrize("make, reason", [
    (lambda: _alg_none(_claims()), "algorithm_not_allowed"),
    (lambda: _hs256_with_the_public_key(_claims()), "algorithm_not_allowed"),
    (lambda: _token(_claims(tid=str(uuid.uuid4()))), "foreign_tenant"),  # another organisation, right issuer
    (lambda: _token(_claims(iss=f"{AUTHORITY}/{uuid.uuid4()}/v2.0")), "wrong_issuer"),
    (lambda: _token(_claims(iss=f"{AUTHORITY}/common/v2.0")), "wrong_issuer"),
    (lambda: _token(_claims(iss=f"https://sts.windows.net/{TID}/")), "wrong_issuer"),  # a v1.0 token
    (lambda: _token(_claims(nonce=None)), "missing_claim"),
    (lambda: _token(_claims(nonce="another")), "nonce_mismatch"),
    (lambda: _token(_claims(exp=int(time.time()) - LEEWAY_SECONDS - 60)), "expired"),
    (lambda: _token(_claims(nbf=int(time.time()) + LEEWAY_SECONDS + 60)), "not_yet_valid"),
    (lambda: _token(_claims(iat=int(time.time()) + LEEWAY_SECONDS + 60)), "not_yet_valid"),
    (lambda: _token(_claims(aud=str(uuid.uuid4()))), "wrong_audience"),
    (lambda: _token(_claims(oid=None)), "missing_claim"),
    (lambda: _token(_claims(oid="")), "missing_claim"),
    (lambda: _token(_claims(), kid="unknown"), "unknown_key"),
    (lambda: _token(_claims(), key=OTHER_KEY), "bad_signature"),
    (lambda: "not a jwt", "malformed"),
])
def test_refusals(upstream, make, reason):
    with pytest.raises(UpstreamError) as refused:
        upstream.verify_id_token(TID, make(), NONCE)
    assert refused.value.reason == reason


def test_pkce_s256_is_rfc_7636_appendix_b():
    assert s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk") == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    verifier, challenge = pkce_pair()
    assert 43 <= len(verifier) <= 128 and challenge == s256(verifier)


def test_the_authorization_url_carries_state_nonce_and_pkce(upstream, monkeypatch):
    from urllib.parse import parse_qs, urlsplit

    from shared.signin.upstream import Redirect

    endpoint = f"{AUTHORITY}/{TID}/oauth2/v2.0/authorize"
    monkeypatch.setattr(upstream, "_endpoints", lambda tid: ({"authorization_endpoint": endpoint}, False))
    redirect = Redirect.new()
    url = upstream.authorization_url(TID, "https://app.example/auth/callback", "the-state", redirect, "ada@contoso.com")
    assert url.startswith(endpoint + "?")
    query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    assert query == {"client_id": CLIENT_ID, "response_type": "code", "redirect_uri": "https://app.example/auth/callback",
                     "scope": "openid profile email", "response_mode": "query", "state": "the-state",
                     "nonce": redirect.nonce, "code_challenge": s256(redirect.code_verifier),
                     "code_challenge_method": "S256", "login_hint": "ada@contoso.com"}
