"""What sign-in's tokens say about a user (shared/signin/claims.py), and
the upstream credential in Azure: the managed identity's federation token
as a client assertion (RFC 7523 §2.2), no secret."""

from __future__ import annotations

import json

import pytest

from shared.config import Settings
from shared.scim.records import StoredResource
from shared.signin.claims import MAX_GROUPS, attribute_roles, display_name, primary_email, user_claims
from shared.signin.upstream import EntraSignIn, UpstreamError


def _user(**data) -> StoredResource:
    return StoredResource("U", "2819c223-7f76-453a-919d-413861904646", {"userName": "ada@contoso.com", **data},
                          "2026-01-01T00:00:00.000Z", "2026-01-01T00:00:00.000Z", "v1")


def test_name_and_email_choices():
    assert display_name({"name": {"formatted": "Ada Lovelace"}, "displayName": "Ada"}) == "Ada Lovelace"
    assert display_name({"displayName": "Ada"}) == "Ada"
    assert display_name({"name": {"givenName": "Ada", "familyName": "Lovelace"}}) == "Ada Lovelace"
    assert display_name({}) is None
    emails = [{"type": "home", "value": "h@x"}, {"type": "work", "value": "w@x"}, {"value": "p@x", "primary": True}]
    assert primary_email({"emails": emails}) == "p@x"
    assert primary_email({"emails": emails[:2]}) == "w@x"
    assert primary_email({"emails": emails[:1]}) == "h@x"
    assert primary_email({}) is None


def test_roles_in_both_of_entras_shapes():
    """AppRoleAssignmentsComplex: objects with a value, or (PATCH without the
    aadOptscim062020 flag) a value that is the role's JSON text."""
    stringified = json.dumps({"id": "7d1c0f5e", "value": "Writer", "displayName": "Writer"})
    data = {"roles": [{"value": "Admin", "primary": False}, {"value": stringified}, {"value": " "}, "junk"]}
    assert attribute_roles(data) == {"Admin", "Writer"}


def test_claims_union_roles_and_bound_groups():
    user = _user(name={"formatted": "Ada Lovelace"}, emails=[{"type": "work", "value": "ada@contoso.com"}],
                 roles=[{"value": "Auditor"}])
    groups = [("g1", "Finance"), ("g2", None)]
    claims = user_claims("t1", user, groups, {"g1": ("admin",), "g2": ("reader", "admin"), "g3": ("other",)})
    assert claims == {"sub": user.id, "tenant": "t1", "preferred_username": "ada@contoso.com", "name": "Ada Lovelace",
                      "email": "ada@contoso.com", "groups": [{"id": "g1", "display": "Finance"}, {"id": "g2", "display": None}],
                      "roles": ["Auditor", "admin", "reader"]}


def test_too_many_groups_is_an_overage_not_a_huge_token():
    groups = [(f"g{i}", None) for i in range(MAX_GROUPS + 1)]
    claims = user_claims("t1", _user(), groups, {"g100": ("last",)})
    assert "groups" not in claims and claims["groups_overage"] is True
    assert claims["roles"] == ["last"]  # roles still come from every group
    assert "groups" in user_claims("t1", _user(), groups[:MAX_GROUPS], {})


def _settings(**signin) -> Settings:
    return Settings(connection_string=None, table_endpoint=None, table_prefix="t", public_base_url=None,
                    max_body_bytes=1, max_page_size=1, default_page_size=1, storage_timeout_seconds=1,
                    auth_cache_seconds=0, expose_storage_calls=False, signin_client_id="app", **signin)


def test_in_azure_the_managed_identity_is_the_credential():
    upstream = EntraSignIn(_settings(), assertion=lambda: "federation-token")
    assert upstream._client_credential() == {
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": "federation-token"}
    assert EntraSignIn(_settings(signin_client_secret="s3cret"))._client_credential() == {"client_secret": "s3cret"}


def test_a_failing_identity_endpoint_is_a_clear_refusal():
    def unavailable():
        raise OSError("IMDS unreachable")

    with pytest.raises(UpstreamError) as refused:
        EntraSignIn(_settings(), assertion=unavailable)._client_credential()
    assert refused.value.reason == "no_client_credential"
