"""Event rows: how a change event is stored (key layout: :mod:`shared.storage.keys`).

Every transaction that changes a resource also writes one event row
(``E:{jti}``) in the tenant's partition -- the same entity-group
transaction, so there is no change without its event and no event without
its change, whatever fails in between (the transactional outbox).  The row
holds the :class:`~shared.scim.events.Change` and what the SET needs besides
it: the request's id (``txn``), the issuer (the public SCIM base URL), the
commit time (``iat``) and who made the change (``who``, as in the audit
trail).  Delivery signs the SET from the row when it sends it
(:mod:`shared.delivery.sets`).

The ``jti`` is the version the change wrote followed by 48 random bits, so
the rows sort in version order: the order of their commits for the events
of one resource (:mod:`shared.scim.records`).  Delivery state is kept on
the row too (:mod:`shared.storage.outbox`).
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from . import keys
from .chunks import joined_chunks, json_chunks
from .keys import ROW_EVENT
from .outcomes import TooLarge
from ..scim.events import Change
from ..scim.extensions import BUILT_IN, TenantSchemas

JTI_CHARS = 32
MAX_EXTERNAL_ID_CHARS = 1024  # a longer externalId is left out of sub_id (RFC 9967 §2.1: "if known")


@dataclass(frozen=True, slots=True)
class EventContext:
    """What every event of one request records besides its change;
    ``ignored``: the names of the unregistered extension attributes the
    request carried and the service dropped (for the audit trail, never
    in the SET); ``schemas``: the tenant's schemas (built-in plus its
    extensions), which decide what a ``:full`` event's data shows."""

    txn: str
    actor: str
    issuer: str
    full: bool = False
    ignored: tuple[str, ...] = ()
    schemas: TenantSchemas = BUILT_IN  # the tenant's resource types, for what ``:full`` data may show


@dataclass(slots=True)
class StoredEvent:
    """An event row read back: its change, the SET's other claims and where
    its delivery stands (:mod:`shared.storage.outbox`)."""

    jti: str
    change: Change
    txn: str
    issuer: str
    iat: int
    actor: str
    poll_answered: bool = False
    push: str = ""  # "" (due), "ok" (a 202) or "parked" (given up, RFC 8935 §4)
    push_attempts: int = 0
    push_next: float = 0.0
    push_error: str = ""
    push_failing_since: float = 0.0
    queued: bool = False
    logged_out: bool = False  # its sessions ended (shared.delivery.backchannel)
    ignored: tuple[str, ...] = ()  # attribute names the request carried and the service dropped
    row: dict = field(default_factory=dict, repr=False, compare=False)


def new_jti(version: str) -> str:
    """A fresh ``jti`` (RFC 8417 §2.2) that sorts with ``version``."""
    return version + secrets.token_hex(6)


def is_jti(value) -> bool:
    return isinstance(value, str) and len(value) == JTI_CHARS and all(c in "0123456789abcdef" for c in value)


def _sub_external_id(external_id: str | None) -> str:
    """The ``externalId`` kept for ``sub_id``: none when longer than :data:`MAX_EXTERNAL_ID_CHARS`."""
    return external_id if external_id and len(external_id) <= MAX_EXTERNAL_ID_CHARS else ""


def _json_list(values: Iterable[str]) -> str:
    return json.dumps(list(values), separators=(",", ":"))


def event_row(tenant_id: str, change: Change, context: EventContext) -> dict:
    """The event row of ``change``, to commit in the change's own transaction."""
    jti = new_jti(change.version)
    row = {
        "PartitionKey": tenant_id, "RowKey": keys.event_key(jti), "k": ROW_EVENT,
        "op": change.verb, "rk": change.kind, "rid": change.resource_id, "v": change.version,
        "at": _json_list(change.attributes), "add": _json_list(change.added), "rem": _json_list(change.removed),
        "act": "" if change.active is None else ("1" if change.active else "0"),
        "ext": _sub_external_id(change.external_id), "txn": context.txn, "iss": context.issuer, "who": context.actor,
        "iat": int(time.time()), "pa": False, "pu": "", "qu": False,
    }
    if context.ignored:
        row["ig"] = _json_list(context.ignored)
    if change.data is not None:
        try:
            row.update(json_chunks(change.data, "the event's data"))
        except TooLarge:  # the full form does not fit beside the change: the notice form (attributes) goes instead
            pass
    return row


def stored_event(entity) -> StoredEvent:
    """The :class:`StoredEvent` of an event row."""
    text = joined_chunks(entity)
    active = entity.get("act") or ""
    change = Change(
        verb=entity["op"], kind=entity["rk"], resource_id=entity["rid"], version=entity["v"],
        attributes=tuple(json.loads(entity.get("at") or "[]")), added=tuple(json.loads(entity.get("add") or "[]")),
        removed=tuple(json.loads(entity.get("rem") or "[]")), active=None if not active else active == "1",
        external_id=entity.get("ext") or None, data=json.loads(text) if text else None,
    )
    return StoredEvent(
        entity["RowKey"].split(":", 1)[1], change, entity.get("txn", ""), entity.get("iss", ""),
        int(entity.get("iat") or 0), entity.get("who", ""), bool(entity.get("pa")), entity.get("pu") or "",
        int(entity.get("pn") or 0), float(entity.get("pt") or 0), entity.get("pe") or "",
        float(entity.get("pf") or 0), bool(entity.get("qu")), bool(entity.get("lo")),
        tuple(json.loads(entity.get("ig") or "[]")), entity,
    )
