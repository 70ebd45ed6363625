"""Cursors of cursor-based pagination (RFC 9865).

A client asks for cursor pagination with ``cursor`` (empty for the first
page, RFC 9865 §2) and ``count``; each page answers ``nextCursor`` unless it
is the last, and ``previousCursor`` unless it is the first (§2).  A cursor
here is opaque, tamper-proof and stateless: it carries the position it
stands for (:class:`Position`: just after, or just before, one result in
the query's order) and an expiry, and is sealed with an HMAC-SHA256 over
the position and the *binding* -- the tenant, the resource types, the
filter and the sort of the query that issued it (:func:`binding`).  So any
instance holding the key serves the next page without remembering
anything, and a cursor altered, issued to another tenant, or presented with
another query fails the seal: 400 ``invalidCursor`` (§2.4); one older than
``cursorTimeout`` is 400 ``expiredCursor`` (§2.4).

Text form: ``base64url(payload) "." base64url(mac)`` without padding, so a
cursor holds only unreserved characters (RFC 3986 §2.3), as §2 requires.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import time
from dataclasses import dataclass

from .errors import bad_request

MAC_BYTES = 16
_UNRESERVED = re.compile(r"[A-Za-z0-9\-._~]*")
_MAX_CHARS = 2048


@dataclass(frozen=True, slots=True)
class Position:
    """Where a page starts: just after (``backward`` False) or just before
    (``backward`` True) one result, named by its resource type's place in
    the query (``type_index``), its id and, for a sorted query, its sort key."""

    type_index: int
    id: str
    sort_key: tuple | None = None
    backward: bool = False


def invalid_cursor(detail: str):
    """400 ``invalidCursor`` (RFC 9865 §2.4)."""
    return bad_request(f"{detail}; send an empty cursor for the first page, then the nextCursor or "
                       "previousCursor of a previous response", "invalidCursor")


def binding(tenant_id: str, type_names: list[str], filter_text: str | None, sort_by, descending: bool) -> bytes:
    """What a cursor is bound to: the tenant and the query's resource types,
    filter and sort.  ``attributes``, ``excludedAttributes`` and ``count``
    may change from page to page: they do not change which results follow."""
    text = json.dumps([tenant_id, type_names, filter_text or "", list(sort_by) if sort_by else None, descending],
                      separators=(",", ":"))
    return hashlib.sha256(text.encode()).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class CursorCodec:
    """Issues and opens cursors with one secret (the same on every instance)."""

    def __init__(self, secret: bytes, timeout_seconds: int) -> None:
        self._secret = secret
        self.timeout_seconds = timeout_seconds

    def _mac(self, payload: bytes, bound_to: bytes) -> bytes:
        return hmac.new(self._secret, bound_to + payload, hashlib.sha256).digest()[:MAC_BYTES]

    def issue(self, position: Position, bound_to: bytes, now: float | None = None) -> str:
        """The cursor of ``position`` for the query ``bound_to`` names."""
        expires = int((now if now is not None else time.time()) + self.timeout_seconds)
        fields = [position.type_index, position.id, list(position.sort_key) if position.sort_key else None,
                  int(position.backward), expires]
        payload = json.dumps(fields, separators=(",", ":")).encode()
        return f"{_b64(payload)}.{_b64(self._mac(payload, bound_to))}"

    def open(self, text: str, bound_to: bytes, now: float | None = None) -> Position:
        """The position of a cursor this codec issued for the same query;
        400 ``invalidCursor`` or ``expiredCursor`` otherwise (RFC 9865 §2.4)."""
        if len(text) > _MAX_CHARS or not _UNRESERVED.fullmatch(text):
            raise invalid_cursor("the cursor is not one this service issued")
        payload_text, _, mac_text = text.partition(".")
        try:
            payload, mac = _unb64(payload_text), _unb64(mac_text)
        except (binascii.Error, ValueError):
            raise invalid_cursor("the cursor is not one this service issued") from None
        if not hmac.compare_digest(mac, self._mac(payload, bound_to)):
            raise invalid_cursor("the cursor was not issued for this query")
        try:
            type_index, rid, sort_key, backward, expires = json.loads(payload)
            position = Position(int(type_index), str(rid), tuple(sort_key) if sort_key is not None else None,
                                bool(backward))
            expired = (now if now is not None else time.time()) > float(expires)
        except (ValueError, TypeError):  # sealed, so ours: only a change of this code's format gets here
            raise invalid_cursor("the cursor is not one this service issued") from None
        if expired:
            raise bad_request(f"the cursor has expired: a cursor is valid for {self.timeout_seconds} s; "
                              "start again with an empty cursor", "expiredCursor")
        return position


__all__ = ["CursorCodec", "Position", "binding", "invalid_cursor"]
