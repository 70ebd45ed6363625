"""Deprovisioning ends sessions: OpenID Connect Back-Channel Logout 1.0.

When a user is deactivated or deleted, the change's event (``prov:deactivate``,
``prov:delete``, :mod:`shared.scim.events`) reaches the delivery run
(:mod:`shared.delivery.dispatch`), which ends every session of that user at
once (:meth:`~shared.storage.signin_rows.SignInRows.end_sessions`: their
tokens are refused from then on, as they already are for an inactive user)
and then, for each session whose application registered a
``backchannel_logout_uri``, POSTs a logout token there.

The logout token (§2.4) is a JWT signed like the ID tokens, ``typ``
``logout+jwt`` (§2.4, recommended), with ``iss`` (the issuer the session's
ID token had), ``aud`` (the application's client id), ``iat``, ``exp``
(:data:`LOGOUT_TOKEN_SECONDS` later), ``jti``, ``sub`` (the SCIM user id),
``sid`` (the session) and ``events`` holding
``http://schemas.openid.net/event/backchannel-logout``; never a ``nonce``.
Its delivery is :mod:`shared.delivery.backchannel`.
"""

from __future__ import annotations

import time
import uuid

from ..auth.signing_keys import SigningKeys
from ..storage.signin_rows import Session

BACKCHANNEL_LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"
LOGOUT_TOKEN_TYPE = "logout+jwt"
LOGOUT_TOKEN_SECONDS = 120


def logout_token(keys: SigningKeys, session: Session) -> str:
    """The logout token of one session (§2.4)."""
    now = int(time.time())
    return keys.sign({
        "iss": session.issuer, "aud": session.client_id, "iat": now, "exp": now + LOGOUT_TOKEN_SECONDS,
        "jti": uuid.uuid4().hex, "sub": session.user_id, "sid": session.sid,
        "events": {BACKCHANNEL_LOGOUT_EVENT: {}},
    }, typ=LOGOUT_TOKEN_TYPE)
