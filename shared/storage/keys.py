"""Table Storage key layout (resource ids: :mod:`shared.scim.ids`).

Everything of one tenant lives in one partition (PartitionKey = tenant id),
so a resource, its index entities and its membership edges can be written in
one entity-group transaction.  RowKeys sort so that the rows a read needs
are adjacent:

====================================  =========================================
RowKey                                what the row is
====================================  =========================================
``U:{id}``                            a User
``U:{id}:g:{groupId}``                reverse edge: the user is a member of a group
``G:{id}``                            a Group
``G:{id}:m:{memberId}``               forward edge: a member of the group
``G:{id}:g:{groupId}``                reverse edge: the group is a member of a group
``X:{index}:{value}``                 unique index (userName, group displayName)
``I:{index}:{value}:{id}``            non-unique index (externalId, work email)
``{kind}!{shard}``                    one shard of the count of a resource type
                                      (``!`` sorts before ``:``, so the shards
                                      come just before the first resource)
``!tenant``                           the tenant's write guard: exists while the
                                      tenant may write; every transaction
                                      MERGEs it (``If-Match: *``), so once it is
                                      gone no write of the tenant commits
``E:{jti}``                           a change event not yet delivered everywhere
                                      (:mod:`shared.storage.outbox`); the ``jti``
                                      starts with the version the change wrote,
                                      so events sort in the order of their versions
``D:{jti}``                           a change event delivered everywhere, kept
                                      for replay until the event retention ends
====================================  =========================================

Every row but the guard also names its kind in a ``k`` property
(:data:`ROW_RESOURCE`, :data:`ROW_EDGE`, :data:`ROW_REVERSE`,
:data:`ROW_INDEX`, :data:`ROW_COUNTER`, :data:`ROW_EVENT`).

So ``GET /Users/{id}`` (the user and its ``groups``) is one range query,
``GET /Groups/{id}?excludedAttributes=members`` one point read, and a
group's members one range query.

The kind of a member id is read off the id itself (:mod:`shared.scim.ids`),
so a membership edge can be written for a member id without first looking
up what kind of resource it names.

Table keys may not contain ``/ \\ # ?`` or control characters and are at most
1 KiB; user values are escaped (:func:`escape`) and long values replaced by
their SHA-256 (:func:`index_value`).
"""

from __future__ import annotations

import hashlib

from ..scim.ids import GROUP, USER, kind_of, new_id  # noqa: F401 - the id scheme, used with the layout

# Characters Table Storage forbids in keys, plus our own separator and escape.
_ESCAPED = frozenset("%:/\\#?") | frozenset(map(chr, range(0x20))) | frozenset(
    map(chr, range(0x7F, 0xA0))
)
MAX_INDEXED_CHARS = 256


def escape(value: str) -> str:
    """Percent-escape the characters a RowKey may not hold (and ``%``, ``:``)."""
    if not any(ch in _ESCAPED for ch in value):
        return value
    return "".join(f"%{ord(ch):02X}" if ch in _ESCAPED else ch for ch in value)


HASHED = "%H"  # "%" followed by a non-hex letter: never produced by escape(), so no escaped value looks hashed


def index_value(value: str, case_exact: bool) -> str:
    """The key form of an indexed value: folded if case-insensitive, escaped,
    hashed when longer than :data:`MAX_INDEXED_CHARS` (:data:`HASHED` and the
    SHA-256 in hex: only characters a RowKey may hold)."""
    folded = value if case_exact else value.lower()
    escaped = escape(folded)
    if len(escaped) > MAX_INDEXED_CHARS:
        return HASHED + hashlib.sha256(folded.encode()).hexdigest()
    return escaped


def resource_key(kind: str, resource_id: str) -> str:
    return f"{kind}:{resource_id}"


def member_edge_key(group_id: str, member_id: str) -> str:
    return f"{GROUP}:{group_id}:m:{member_id}"


def member_prefix(group_id: str) -> str:
    return f"{GROUP}:{group_id}:m:"


def reverse_edge_key(member_id: str, group_id: str) -> str:
    kind = kind_of(member_id)
    return f"{kind}:{member_id}:g:{group_id}"


def unique_key(index: str, value: str) -> str:
    return f"X:{index}:{value}"


def index_key(index: str, value: str, resource_id: str) -> str:
    return f"I:{index}:{value}:{resource_id}"


def index_prefix(index: str, value: str) -> str:
    return f"I:{index}:{value}:"


def after_resource(kind: str, resource_id: str) -> str:
    """The smallest key after a resource row and all its edge rows."""
    return prefix_end(f"{kind}:{resource_id}:")


TENANT_KEY = "!tenant"

# The ``k`` property of each kind of row: what range reads and the store
# checker tell the rows of a partition apart by.
ROW_RESOURCE = "R"
ROW_EDGE = "M"
ROW_REVERSE = "B"
ROW_INDEX = "I"
ROW_COUNTER = "C"
ROW_EVENT = "E"
EVENT_PREFIX = "E:"
DELIVERED_PREFIX = "D:"


def event_key(jti: str) -> str:
    return EVENT_PREFIX + jti


def delivered_key(jti: str) -> str:
    return DELIVERED_PREFIX + jti


def counter_key(kind: str, shard: int) -> str:
    return f"{kind}!{shard:02d}"


def counter_prefix(kind: str) -> str:
    return f"{kind}!"


def prefix_end(prefix: str) -> str:
    """The smallest key greater than every key starting with ``prefix``."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)
