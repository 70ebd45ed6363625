"""The service's signing keys: RS256 keys that sign its OAuth access tokens
(:mod:`shared.auth.oauth`) and its Security Event Tokens (:mod:`shared.scim.events`),
and the JWK Set (RFC 7517 §5) that publishes their public halves.

``SCIM_TOKEN_SIGNING_KEY`` (PEM, RSA >= 2048 bits) is the current key: it
signs.  During a rotation the key it replaces is set as
``SCIM_TOKEN_SIGNING_KEY_PREVIOUS`` (PEM, private or public): it no longer
signs, but tokens and SETs signed with it still verify and its public key
stays in the JWK Set, so a consumer that cached the set before the rotation
keeps verifying.  Rotating: move the current key to ``..._PREVIOUS``, set a
new current key, and drop the previous one once no token or undelivered
event signed with it is left (OAuth tokens live at most 6 h; the event
retention is in :mod:`shared.storage.outbox`).

A key's ``kid`` is the first 16 hex digits of the SHA-256 of its public key
(DER SubjectPublicKeyInfo): stable, and the same on every instance.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass

import jwt
from cryptography.hazmat.primitives import serialization
from jwt.algorithms import RSAAlgorithm

ALGORITHM = "RS256"
MIN_BITS = 2048


@dataclass(frozen=True, slots=True)
class _Key:
    kid: str
    public: object
    private: object | None


def _load(pem_text: str, *, private: bool) -> _Key:
    pem = pem_text.replace("\\n", "\n").strip().encode()
    private_key = None
    if private or b"PRIVATE KEY" in pem:
        private_key = serialization.load_pem_private_key(pem, password=None)
        public_key = private_key.public_key()
    else:
        public_key = serialization.load_pem_public_key(pem)
    if getattr(public_key, "key_size", 0) < MIN_BITS:
        raise ValueError(f"a signing key must be an RSA key of at least {MIN_BITS} bits")
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return _Key(hashlib.sha256(der).hexdigest()[:16], public_key, private_key)


class SigningKeys:
    """The current signing key and the ones that still verify (a rotation's previous key)."""

    def __init__(self, current_pem: str, previous_pems: tuple[str, ...] = ()) -> None:
        self.current = _load(current_pem, private=True)
        self._keys = {self.current.kid: self.current}
        for pem in previous_pems:
            key = _load(pem, private=False)
            self._keys.setdefault(key.kid, key)

    @property
    def key_id(self) -> str:
        return self.current.kid

    def sign(self, claims: dict, typ: str | None = None) -> str:
        """A compact JWS (RFC 7515) of ``claims``, RS256 with the current key."""
        headers = {"kid": self.current.kid}
        if typ:
            headers["typ"] = typ
        return jwt.encode(claims, self.current.private, algorithm=ALGORITHM, headers=headers)

    def public_key(self, token: str):
        """The public key a token's ``kid`` names (the current key when it
        names none), or None (an unknown ``kid``, an unreadable header)."""
        try:
            kid = jwt.get_unverified_header(token).get("kid")
        except jwt.PyJWTError:
            return None
        if kid is None:
            return self.current.public
        key = self._keys.get(kid) if isinstance(kid, str) else None
        return key.public if key else None

    def derived_secret(self, purpose: str) -> bytes:
        """A 32-byte secret for ``purpose`` (an HMAC key), derived from the
        current private key: the same on every instance, unknown to anyone
        without the key, and changed by a rotation."""
        der = self.current.private.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                                 serialization.NoEncryption())
        return hmac.new(hashlib.sha256(der).digest(), purpose.encode(), hashlib.sha256).digest()

    def jwks(self) -> dict:
        """The JWK Set (RFC 7517 §5) of every key that verifies, current first."""
        keys = []
        for key in self._keys.values():
            jwk = json.loads(RSAAlgorithm.to_jwk(key.public))
            keys.append({**jwk, "kid": key.kid, "use": "sig", "alg": ALGORITHM})
        return {"keys": keys}
