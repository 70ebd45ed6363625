"""The service's signing keys: SETs and access tokens signed with the current
key, verified with either key during a rotation, both published (RFC 7517)."""

from __future__ import annotations

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from shared.auth.signing_keys import SigningKeys


def _pem(bits: int = 2048) -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def _public_pem(private_pem: str) -> str:
    key = serialization.load_pem_private_key(private_pem.encode(), None)
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def test_a_rotation_lists_both_keys_and_verifies_what_either_signed():
    old_pem, new_pem = _pem(), _pem()
    before = SigningKeys(old_pem)
    during = SigningKeys(new_pem, (_public_pem(old_pem),))
    old_token, new_token = before.sign({"a": 1}, typ="secevent+jwt"), during.sign({"a": 2})
    assert jwt.get_unverified_header(old_token) == {"alg": "RS256", "typ": "secevent+jwt", "kid": before.key_id}
    listed = during.jwks()["keys"]
    assert [k["kid"] for k in listed] == [during.key_id, before.key_id]
    assert all(k["kty"] == "RSA" and k["use"] == "sig" and k["alg"] == "RS256" and "d" not in k for k in listed)
    for token, claim in ((old_token, 1), (new_token, 2)):
        key = during.public_key(token)
        assert jwt.decode(token, key, algorithms=["RS256"])["a"] == claim
        published = next(jwt.PyJWK(k) for k in listed if k["kid"] == jwt.get_unverified_header(token)["kid"])
        assert jwt.decode(token, published, algorithms=["RS256"])["a"] == claim
    assert SigningKeys(_pem()).public_key(old_token) is None  # an unknown kid


def test_the_kid_is_the_same_on_every_instance_and_small_keys_are_refused():
    pem = _pem()
    assert SigningKeys(pem).key_id == SigningKeys(pem.replace("\n", "\\n")).key_id
    with pytest.raises(ValueError):
        SigningKeys(_pem(1024))
