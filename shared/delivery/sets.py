"""Security Event Tokens signed from stored events (RFC 8417, RFC 9967).

A SET is signed when it is delivered, not when its change commits: the
request that made the change pays nothing for it.  Its claims come from
the event row (:mod:`shared.storage.event_rows`) -- the same ``jti``,
``iat`` and ``txn`` on every delivery -- and the tenant's audience at
delivery time; the JWS header names the key (``kid``, published at
``/.well-known/jwks.json``) and the type ``secevent+jwt`` (RFC 8417 §2.3).
"""

from __future__ import annotations

from ..auth.signing_keys import SigningKeys
from ..scim.events import SET_TYPE, set_claims
from ..storage.event_rows import StoredEvent


def sign_set(event: StoredEvent, audience: str, keys: SigningKeys) -> str:
    """The compact JWS of ``event``'s SET for ``audience``."""
    claims = set_claims(event.change, jti=event.jti, iss=event.issuer, aud=audience, iat=event.iat, txn=event.txn)
    return keys.sign(claims, typ=SET_TYPE)
