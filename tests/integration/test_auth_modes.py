"""The three ways Entra authenticates, each with its failure cases: secret
tokens, Entra-issued JWTs and OAuth client credentials (Microsoft Learn,
"Tutorial: Develop and plan provisioning for a SCIM endpoint in Microsoft
Entra ID", "Handling endpoint authentication",
https://learn.microsoft.com/en-us/entra/identity/app-provisioning/use-scim-to-provision-users-and-groups).

Requests go straight to a :class:`ScimService` built with an authentication
cache of 0 s (so a revocation shows on the next request) and, for Entra JWTs,
an :class:`EntraKeys` whose JWKS comes from keys generated here: no network.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import json
import time
import uuid
from datetime import timedelta

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from shared.auth.entra_jwt import CUSTOM_APP_AUDIENCE, EntraKeys
from shared.scim.http import Request
from shared.auth.oauth import AUDIENCE, ISSUER, TokenSigner
from shared.web.service import ScimService
from shared.auth.tenants import CLIENT, TOKEN

from tests.messages import USER

BASE = "http://127.0.0.1/scim/v2"


def _rsa():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _jwk(key, kid: str) -> dict:
    data = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    return {**data, "kid": kid, "use": "sig", "alg": "RS256"}


ISSUERS: dict[str, "Issuer"] = {}


def fetch_jwks(entra_tenant: str) -> dict:
    """The injected key source: the JWKS of the stand-in issuer for that Entra tenant."""
    issuer = ISSUERS[entra_tenant]
    issuer.fetches += 1
    return {"keys": [_jwk(k, kid) for k, kid in issuer.published]}


class Issuer:
    """A stand-in for one Entra tenant's signing keys and its JWKS endpoint."""

    def __init__(self) -> None:
        self.entra_tenant = str(uuid.uuid4())
        self.key, self.kid = _rsa(), "key-1"
        self.published = [(self.key, self.kid)]
        self.fetches = 0
        ISSUERS[self.entra_tenant] = self

    def claims(self, **overrides) -> dict:
        now = int(time.time())
        claims = {"iss": f"https://sts.windows.net/{self.entra_tenant}/", "aud": CUSTOM_APP_AUDIENCE,
                  "iat": now, "nbf": now, "exp": now + 3600, "appid": "00000014-0000-0000-c000-000000000000",
                  "tid": self.entra_tenant}
        claims.update(overrides)
        return {k: v for k, v in claims.items() if v is not None}

    def token(self, key=None, kid=None, **overrides) -> str:
        return jwt.encode(self.claims(**overrides), key or self.key, algorithm="RS256", headers={"kid": kid or self.kid})


@pytest.fixture
def issuer() -> Issuer:
    return Issuer()


@pytest.fixture
def service(scim_app, issuer) -> ScimService:
    shared_service = scim_app._get_service()
    settings = dataclasses.replace(shared_service.settings, auth_cache_seconds=0)
    return ScimService(settings, shared_service.tables, entra_keys=EntraKeys(fetch_jwks, min_refresh_seconds=3600))


def call(service: ScimService, bearer: str | None, method: str = "GET", route: str = "Users", body: dict | None = None,
         headers: dict | None = None):
    hdrs = {"Content-Type": "application/scim+json", **(headers or {})}
    if bearer is not None:
        hdrs["Authorization"] = f"Bearer {bearer}"
    raw = json.dumps(body).encode() if body is not None else b""
    return service.handle(Request.build(method, f"{BASE}/{route}", hdrs, raw), route)


def assert_rejected(response) -> None:
    assert response.status == 401, response.body
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="scim", error="invalid_token"'
    assert response.body["detail"] == "a valid bearer credential is required (Authorization: Bearer <token>)"


# ---------------------------------------------------------------- tokens
@pytest.fixture
def tenant(service):
    tenant_id = service.registry.create_tenant(f"auth-{uuid.uuid4().hex[:8]}")
    token_id, token = service.registry.issue_token(tenant_id)
    return tenant_id, token_id, token


def test_a_token_authenticates_its_tenant(service, tenant):
    assert call(service, tenant[2]).status == 200


def test_tokens_are_stored_as_an_id_and_a_hash_only(service, tenant):
    tenant_id, token_id, token = tenant
    row = service.tables.table("tenants").get_entity(TOKEN, token_id)
    assert token.startswith(token_id + ".")
    assert row["hash"] == hashlib.sha256(token.encode()).hexdigest()
    assert token not in json.dumps(dict(row)) and token.split(".", 1)[1] not in json.dumps(dict(row))


def test_a_revoked_token_fails_on_the_next_request(service, tenant):
    tenant_id, token_id, token = tenant
    assert call(service, token).status == 200
    service.registry.revoke(tenant_id, TOKEN, token_id)
    assert_rejected(call(service, token))


def test_rotation_keeps_both_tokens_working_until_the_old_one_expires(service, tenant):
    tenant_id, token_id, token = tenant
    new_id, new_token = service.registry.rotate_token(tenant_id, token_id, timedelta(hours=1))
    assert call(service, token).status == 200 and call(service, new_token).status == 200
    service.registry.rotate_token(tenant_id, token_id, timedelta(0))  # the grace period is over
    assert_rejected(call(service, token))
    assert call(service, new_token).status == 200


def test_a_disabled_tenant_is_rejected_and_can_be_enabled_again(service, tenant):
    tenant_id, _, token = tenant
    service.registry.set_disabled(tenant_id, True)
    assert_rejected(call(service, token))
    service.registry.set_disabled(tenant_id, False)
    assert call(service, token).status == 200


def test_a_tenant_without_the_token_mode_rejects_tokens(service):
    tenant_id = service.registry.create_tenant("oauth-only", modes=("oauth",))
    _, token = service.registry.issue_token(tenant_id)
    assert_rejected(call(service, token))


def test_wrong_and_missing_credentials_look_alike(service, tenant):
    unknown = call(service, "0" * 12 + "." + "x" * 43)
    assert_rejected(unknown)
    assert_rejected(call(service, tenant[2][:-1] + ("A" if tenant[2][-1] != "A" else "B")))
    missing = call(service, None)
    assert missing.status == 401 and missing.headers["WWW-Authenticate"] == 'Bearer realm="scim"'
    assert missing.body == unknown.body
    assert call(service, None, headers={"Authorization": "Basic dXNlcjpwYXNz"}).body == unknown.body
    for crafted in ("a/b#c?d\\e\x01f" + "x" * 40, "%2F" * 15):  # characters a RowKey may not hold
        assert_rejected(call(service, crafted))


# ------------------------------------------------------- Entra-issued JWTs
@pytest.fixture
def entra_tenant(service, issuer):
    return service.registry.create_tenant("entra", modes=("entra",), entra_tenant=issuer.entra_tenant)


def test_a_valid_entra_jwt_authenticates_the_bound_tenant(service, issuer, entra_tenant):
    response = call(service, issuer.token(), "POST", "Users", {"schemas": [USER], "userName": "via-entra"})
    assert response.status == 201
    entry = service.audit.recent(entra_tenant, 1)[0]
    assert entry.actor == f"entra:00000014-0000-0000-c000-000000000000@{issuer.entra_tenant}"


@pytest.mark.parametrize("claims", [
    {"exp": int(time.time()) - 3600, "nbf": int(time.time()) - 7200},        # expired
    {"nbf": int(time.time()) + 3600, "exp": int(time.time()) + 7200},        # not yet valid
    {"aud": "00000003-0000-0000-c000-000000000000"},                          # wrong audience
    {"iss": "https://sts.windows.net/11111111-2222-3333-4444-555555555555/"},  # an Entra tenant not bound here
    {"iss": "https://login.example.com/evil/"},                                # not Entra at all
    {"exp": None},                                                              # no expiry
], ids=["expired", "not-yet-valid", "wrong-audience", "wrong-issuer", "foreign-issuer", "no-exp"])
def test_entra_jwts_with_bad_claims_are_rejected(service, issuer, entra_tenant, claims):
    assert_rejected(call(service, issuer.token(**claims)))


def test_an_issuer_tenant_mismatch_is_rejected(service, issuer, entra_tenant):
    """``iss`` picks the keys and the tenant: a token for one Entra tenant
    cannot be replayed as another's even when both are bound here."""
    other = Issuer()
    service.registry.create_tenant("entra-2", modes=("entra",), entra_tenant=other.entra_tenant)
    forged = issuer.token(iss=f"https://sts.windows.net/{other.entra_tenant}/")
    assert_rejected(call(service, forged))  # signed with issuer's key, checked against other's JWKS


def test_a_token_signed_with_a_key_not_published_by_the_issuer_is_rejected(service, issuer, entra_tenant):
    assert_rejected(call(service, issuer.token(key=_rsa())))


def test_alg_none_is_rejected(service, issuer, entra_tenant):
    unsigned = jwt.encode(issuer.claims(), None, algorithm="none", headers={"kid": issuer.kid})
    assert_rejected(call(service, unsigned))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_hs256_signed_with_the_public_key_is_rejected(service, issuer, entra_tenant):
    """The classic algorithm confusion: an HMAC keyed with the RSA public key."""
    public_pem = issuer.key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    signing_input = f"{_b64(json.dumps({'alg': 'HS256', 'typ': 'JWT', 'kid': issuer.kid}).encode())}.{_b64(json.dumps(issuer.claims()).encode())}"
    mac = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    assert_rejected(call(service, f"{signing_input}.{_b64(mac)}"))


def test_an_unknown_kid_refreshes_the_keys_once(service, issuer, entra_tenant):
    assert call(service, issuer.token()).status == 200
    assert call(service, issuer.token()).status == 200
    assert issuer.fetches == 1  # cached
    rolled, rolled_kid = _rsa(), "key-2"
    issuer.published.append((rolled, rolled_kid))  # Entra rolls its keys
    assert call(service, issuer.token(key=rolled, kid=rolled_kid)).status == 200
    assert issuer.fetches == 2  # one refresh for the unknown kid
    assert_rejected(call(service, issuer.token(kid="made-up")))  # within the refresh interval: no new fetch
    assert_rejected(call(service, issuer.token(kid="made-up-2")))
    assert issuer.fetches == 2


def test_a_disabled_entra_tenant_is_rejected(service, issuer, entra_tenant):
    service.registry.set_disabled(entra_tenant, True)
    assert_rejected(call(service, issuer.token()))


def test_extra_audiences_are_accepted_per_tenant(service):
    gallery = Issuer()
    app_id = str(uuid.uuid4())
    service.registry.create_tenant("gallery", modes=("entra",), entra_tenant=gallery.entra_tenant, audiences=(app_id,))
    assert call(service, gallery.token(aud=app_id)).status == 200


# --------------------------------------------------- OAuth client credentials
@pytest.fixture
def client(service):
    tenant_id = service.registry.create_tenant(f"oauth-{uuid.uuid4().hex[:8]}", modes=("oauth",))
    client_id, secret = service.registry.issue_client(tenant_id)
    return tenant_id, client_id, secret


def token_request(service, form: str | None, basic: tuple[str, str] | None = None, method: str = "POST",
                  content_type: str = "application/x-www-form-urlencoded"):
    headers = {"Content-Type": content_type}
    if basic is not None:
        headers["Authorization"] = "Basic " + base64.b64encode(f"{basic[0]}:{basic[1]}".encode()).decode()
    return service.handle(Request.build(method, f"{BASE}/oauth/token", headers, (form or "").encode()), "oauth/token")


def test_client_secret_basic_issues_a_bearer_token_that_works(service, client):
    tenant_id, client_id, secret = client
    response = token_request(service, "grant_type=client_credentials", basic=(client_id, secret))
    assert response.status == 200, response.body
    assert response.headers["Cache-Control"] == "no-store" and response.headers["Content-Type"].startswith("application/json")
    assert response.body["token_type"] == "Bearer" and response.body["expires_in"] == 3600
    access = response.body["access_token"]
    assert jwt.get_unverified_header(access)["alg"] == "RS256"
    created = call(service, access, "POST", "Users", {"schemas": [USER], "userName": "via-oauth"})
    assert created.status == 201
    assert service.audit.recent(tenant_id, 1)[0].actor == f"oauth:{client_id}"


def test_client_secret_post_issues_a_token(service, client):
    _, client_id, secret = client
    response = token_request(service, f"grant_type=client_credentials&client_id={client_id}&client_secret={secret}")
    assert response.status == 200 and call(service, response.body["access_token"]).status == 200


@pytest.mark.parametrize("form,basic,status,error", [
    ("grant_type=client_credentials", ("nobody", "nothing"), 401, "invalid_client"),
    ("grant_type=client_credentials&client_id=x&client_secret=y", None, 401, "invalid_client"),
    ("client_id={id}&client_secret={secret}", None, 400, "invalid_request"),
    ("grant_type=password&client_id={id}&client_secret={secret}", None, 400, "unsupported_grant_type"),
    ("grant_type=client_credentials&client_secret={secret}", ("{id}", "{secret}"), 400, "invalid_request"),
    ("grant_type=client_credentials&grant_type=client_credentials&client_id={id}&client_secret={secret}", None, 400, "invalid_request"),
    ("grant_type=client_credentials&client_id=a%2Fb&client_secret=x", None, 401, "invalid_client"),
    ("grant_type=client_credentials", ("a/b#c?d\\e", "x"), 401, "invalid_client"),
], ids=["unknown-client", "wrong-secret-post", "no-grant-type", "wrong-grant", "two-auth-methods", "repeated-parameter",
        "slash-in-client-id", "row-key-characters-in-basic"])
def test_token_endpoint_errors_follow_rfc6749_5_2(service, client, form, basic, status, error):
    _, client_id, secret = client
    form = form.format(id=client_id, secret=secret)
    basic = tuple(part.format(id=client_id, secret=secret) for part in basic) if basic else None
    response = token_request(service, form, basic)
    assert (response.status, response.body["error"]) == (status, error)
    assert response.headers["Cache-Control"] == "no-store"
    if basic and status == 401:
        assert response.headers["WWW-Authenticate"] == 'Basic realm="scim"'


def test_token_endpoint_wants_a_form_post(service, client):
    _, client_id, secret = client
    assert token_request(service, None, (client_id, secret), method="GET").status == 405
    as_json = token_request(service, '{"grant_type": "client_credentials"}', (client_id, secret), content_type="application/json")
    assert (as_json.status, as_json.body["error"]) == (400, "invalid_request")


def test_a_revoked_client_loses_its_outstanding_tokens(service, client):
    tenant_id, client_id, secret = client
    access = token_request(service, "grant_type=client_credentials", basic=(client_id, secret)).body["access_token"]
    service.registry.revoke(tenant_id, CLIENT, client_id)
    assert_rejected(call(service, access))
    assert token_request(service, "grant_type=client_credentials", basic=(client_id, secret)).status == 401


def test_expired_and_foreign_oauth_tokens_are_rejected(service, client):
    tenant_id, client_id, _ = client
    key = serialization.load_pem_private_key(service.settings.token_signing_key.encode(), None)
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": client_id, "tid": tenant_id, "iat": now - 7200, "exp": now - 3600}
    assert_rejected(call(service, jwt.encode(claims, key, algorithm="RS256")))
    fresh = {**claims, "exp": now + 600}
    assert call(service, jwt.encode(fresh, key, algorithm="RS256")).status == 200
    assert_rejected(call(service, jwt.encode(fresh, _rsa(), algorithm="RS256")))  # not our key
    assert_rejected(call(service, jwt.encode({**fresh, "tid": uuid.uuid4().hex}, key, algorithm="RS256")))  # another tenant


def test_token_lifetime_is_bounded_to_60_to_360_minutes(service):
    pem = service.settings.token_signing_key
    assert TokenSigner(pem, 360).lifetime_seconds == 21600
    for minutes in (59, 361):
        with pytest.raises(ValueError):
            TokenSigner(pem, minutes)


def test_oauth_is_off_without_a_signing_key(scim_app):
    shared_service = scim_app._get_service()
    service = ScimService(dataclasses.replace(shared_service.settings, token_signing_key=None), shared_service.tables)
    response = token_request(service, "grant_type=client_credentials", basic=("a", "b"))
    assert (response.status, response.body["error"]) == (400, "unauthorized_client")


def test_a_disabled_tenant_loses_its_oauth_tokens_and_gets_no_new_ones(service, client):
    tenant_id, client_id, secret = client
    access = token_request(service, "grant_type=client_credentials", basic=(client_id, secret)).body["access_token"]
    service.registry.set_disabled(tenant_id, True)
    assert_rejected(call(service, access))
    assert token_request(service, "grant_type=client_credentials", basic=(client_id, secret)).status == 401
