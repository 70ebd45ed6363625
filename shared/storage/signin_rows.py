"""Sign-in state rows (table ``signin``): what the OpenID Provider of
:mod:`shared.signin` must remember between two requests, which may reach
two different instances.

One partition per tenant, three kinds of row:

=====================  ============================================================
RowKey                 What it holds
=====================  ============================================================
``A:{sha256(state)}``  a pending authorization: the application's request, the
                       ``state``/``nonce``/PKCE verifier sent to the customer's
                       Entra, and the SHA-256 of the browser binding kept in the
                       sign-in cookie (RFC 6749 §10.12); read and deleted, with
                       its ETag, by the callback: used at most once
``C:{sha256(code)}``   an authorization code (RFC 6749 §4.1.2): the grant it
                       stands for; claimed once with its ETag (``used``), so a
                       second redemption is recognised and revokes the session
                       the first one opened (§4.1.2, §10.5)
``S:{user}:{sid}``     a session: the user, the application (``client_id``), when
                       it began; ``revoked`` after a replayed code; ``logout``
                       once the user was deactivated or deleted and the
                       application's back-channel logout is due (OpenID Connect
                       Back-Channel Logout 1.0), with its retry state
=====================  ============================================================

One more partition, ``assertions``: ``{client id}:{sha256(jti)}`` for each
``private_key_jwt`` client assertion accepted, until it expires, so that
none is accepted twice (RFC 7523 §3, item 7).

Only hashes of ``state`` and codes are keys: a leaked table does not hold a
usable code.  Rows carry their expiry; expired ones are refused when read
and deleted by :meth:`SignInRows.prune` (the daily retention timer).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass, field

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import UpdateMode

from . import keys
from .queries import each_row
from .tables import SIGNIN, Tables, storage_call

PENDING, CODE, SESSION = "A:", "C:", "S:"
ASSERTIONS = "assertions"
_RANGE = "PartitionKey eq @pk and RowKey ge @lo and RowKey lt @hi"


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class Pending:
    """A sign-in waiting for the customer's Entra to answer."""

    tenant_id: str
    request: dict  # the application's authorization request parameters
    upstream: dict  # state, nonce and code verifier sent to Entra


@dataclass(frozen=True, slots=True)
class CodeGrant:
    """What an authorization code stands for."""

    tenant_id: str
    user_id: str
    sid: str
    client_id: str
    redirect_uri: str
    scope: str
    nonce: str
    code_challenge: str
    code_challenge_method: str
    auth_time: int


@dataclass(slots=True)
class Session:
    """One application session of one user."""

    tenant_id: str
    user_id: str
    sid: str
    client_id: str
    created: int
    expires: int
    issuer: str = ""
    revoked: bool = False
    logout: bool = False
    attempts: int = 0
    next_attempt: float = 0.0
    failing_since: float = 0.0
    error: str = ""
    etag: str | None = field(default=None, repr=False)


def _session(entity) -> Session:
    user_id, sid = entity["RowKey"][len(SESSION):].rsplit(":", 1)  # user ids are ours: UUIDs, nothing escaped
    return Session(
        tenant_id=entity["PartitionKey"], user_id=user_id, sid=sid, client_id=entity.get("client_id", ""),
        created=int(entity.get("created", 0)), expires=int(entity.get("expires", 0)), issuer=entity.get("iss", ""),
        revoked=bool(entity.get("revoked")), logout=bool(entity.get("logout")),
        attempts=int(entity.get("attempts", 0)), next_attempt=float(entity.get("next_attempt", 0.0)),
        failing_since=float(entity.get("failing_since", 0.0)), error=entity.get("error", ""),
        etag=entity.metadata.get("etag"),
    )


def session_key(user_id: str, sid: str) -> str:
    return f"{SESSION}{user_id}:{sid}"


class SignInRows:
    """Reads and writes of the ``signin`` table."""

    def __init__(self, tables: Tables) -> None:
        self._tables = tables

    @property
    def _table(self):
        return self._tables.table(SIGNIN)

    def _get(self, tenant_id: str, row_key: str):
        try:
            return storage_call(self._table.get_entity, tenant_id, row_key)
        except ResourceNotFoundError:
            return None

    def _delete_if_unchanged(self, entity) -> bool:
        """Delete a row read before, unless another request changed or deleted it since."""
        try:
            storage_call(self._table.delete_entity, entity["PartitionKey"], entity["RowKey"],
                         etag=entity.metadata["etag"], match_condition=MatchConditions.IfNotModified)
        except (ResourceModifiedError, ResourceNotFoundError):
            return False
        return True

    # ------------------------------------------------ pending authorizations
    def begin(self, tenant_id: str, request: dict, upstream: dict, lifetime_seconds: int) -> tuple[str, str]:
        """Store a pending authorization; returns (``state`` for Entra, the
        browser binding for the sign-in cookie)."""
        state, binding = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        storage_call(self._table.create_entity, {
            "PartitionKey": tenant_id, "RowKey": PENDING + _digest(state), "binding": _digest(binding),
            "request": json.dumps(request), "upstream": json.dumps(upstream),
            "expires": int(time.time()) + lifetime_seconds,
        })
        return state, binding

    def take(self, tenant_id: str, state: str, binding: str) -> Pending | None:
        """The pending authorization ``state`` names, if the browser holds its
        binding and it has not expired; it is deleted: a ``state`` works once."""
        entity = self._get(tenant_id, PENDING + _digest(state))
        if entity is None or not hmac.compare_digest(entity.get("binding", ""), _digest(binding)):
            return None
        if not self._delete_if_unchanged(entity) or int(entity.get("expires", 0)) < time.time():
            return None
        return Pending(tenant_id, json.loads(entity["request"]), json.loads(entity["upstream"]))

    # ----------------------------------------------------- authorization codes
    def save_code(self, code: str, grant: CodeGrant, lifetime_seconds: int) -> None:
        storage_call(self._table.create_entity, {
            "PartitionKey": grant.tenant_id, "RowKey": CODE + _digest(code), "used": False,
            "grant": json.dumps({k: getattr(grant, k) for k in grant.__slots__}),
            "expires": int(time.time()) + lifetime_seconds,
        })

    def redeem(self, tenant_id: str, code: str) -> tuple[CodeGrant | None, bool]:
        """Claim a code: (its grant, False) the first time; (its grant, True)
        when it was claimed before (a replay); (None, False) when unknown or
        expired.  The claim is a conditional merge, so of two concurrent
        redemptions one wins and the other is a replay."""
        entity = self._get(tenant_id, CODE + _digest(code))
        if entity is None:
            return None, False
        grant = CodeGrant(**json.loads(entity["grant"]))
        if entity.get("used"):
            return grant, True
        if int(entity.get("expires", 0)) < time.time():
            return None, False
        try:
            storage_call(self._table.update_entity, {"PartitionKey": tenant_id, "RowKey": entity["RowKey"], "used": True},
                         mode=UpdateMode.MERGE, etag=entity.metadata["etag"], match_condition=MatchConditions.IfNotModified)
        except (ResourceModifiedError, ResourceNotFoundError):
            return grant, True
        return grant, False

    # ---------------------------------------------------------------- sessions
    def open_session(self, tenant_id: str, user_id: str, client_id: str, issuer: str, lifetime_seconds: int) -> Session:
        """A new session of ``user_id`` at the application ``client_id``,
        whose tokens name ``issuer`` (its logout token will too)."""
        now = int(time.time())
        session = Session(tenant_id, user_id, secrets.token_hex(16), client_id, now, now + lifetime_seconds, issuer)
        storage_call(self._table.create_entity, {
            "PartitionKey": tenant_id, "RowKey": session_key(user_id, session.sid), "client_id": client_id,
            "created": session.created, "expires": session.expires, "iss": issuer, "revoked": False, "logout": False,
        })
        return session

    def session(self, tenant_id: str, user_id: str, sid: str) -> Session | None:
        entity = self._get(tenant_id, session_key(user_id, sid))
        return _session(entity) if entity is not None else None

    def revoke(self, tenant_id: str, user_id: str, sid: str) -> None:
        """Refuse the session's tokens from now on (a replayed code)."""
        try:
            storage_call(self._table.update_entity, {"PartitionKey": tenant_id, "RowKey": session_key(user_id, sid),
                                                     "revoked": True}, mode=UpdateMode.MERGE)
        except ResourceNotFoundError:
            pass

    def sessions_of(self, tenant_id: str, user_id: str) -> list[Session]:
        """A user's sessions (one range read)."""
        prefix = f"{SESSION}{user_id}:"
        rows = storage_call(self._table.query_entities, _RANGE,
                            parameters={"pk": tenant_id, "lo": prefix, "hi": keys.prefix_end(prefix)})
        return [_session(entity) for entity in each_row(rows)]

    def sessions(self, tenant_id: str) -> list[Session]:
        """Every session of a tenant (status and the logout run; one range read)."""
        rows = storage_call(self._table.query_entities, _RANGE,
                            parameters={"pk": tenant_id, "lo": SESSION, "hi": keys.prefix_end(SESSION)})
        return [_session(entity) for entity in each_row(rows)]

    def end_sessions(self, tenant_id: str, user_id: str) -> list[Session]:
        """Mark every session of a user as ended, its back-channel logout due."""
        ended = []
        for session in self.sessions_of(tenant_id, user_id):
            if not session.logout:
                self.update_session(session, logout=True, revoked=True)
                session.logout = session.revoked = True
            ended.append(session)
        return ended

    def update_session(self, session: Session, **changes) -> None:
        try:
            storage_call(self._table.update_entity, {"PartitionKey": session.tenant_id,
                                                     "RowKey": session_key(session.user_id, session.sid), **changes},
                         mode=UpdateMode.MERGE)
        except ResourceNotFoundError:
            pass

    def delete_session(self, session: Session) -> None:
        try:
            storage_call(self._table.delete_entity, session.tenant_id, session_key(session.user_id, session.sid))
        except ResourceNotFoundError:
            pass

    # ------------------------------------------------------ client assertions
    def claim_assertion(self, client_id: str, jti: str, expires: int) -> bool:
        """Record a client assertion's ``jti``; False when it was seen before (a replay)."""
        try:
            storage_call(self._table.create_entity, {"PartitionKey": ASSERTIONS,
                                                     "RowKey": f"{client_id}:{_digest(jti)}", "expires": int(expires)})
        except ResourceExistsError:
            return False
        return True

    # --------------------------------------------------------------- retention
    def prune(self, tenant_id: str, now: float | None = None) -> int:
        """Delete the tenant's expired pending authorizations, codes and
        sessions (a session whose logout is still due stays); with
        :data:`ASSERTIONS` for ``tenant_id``, the expired assertion records."""
        now = time.time() if now is None else now
        rows = storage_call(self._table.query_entities, "PartitionKey eq @p", parameters={"p": tenant_id},
                            select=["RowKey", "expires", "logout"])
        deleted = 0
        for entity in each_row(rows):
            if entity.get("logout") or int(entity.get("expires", 0)) >= now:
                continue
            try:
                storage_call(self._table.delete_entity, tenant_id, entity["RowKey"])
                deleted += 1
            except ResourceNotFoundError:
                pass
        return deleted
