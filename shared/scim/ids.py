"""Resource ids: UUIDs written as 32 hex digits whose version nibble says the type.

Version 4 for Users, version 8 (RFC 9562 §5.8, "custom") for Groups, so a
membership edge can name a member without a lookup of what kind of
resource it is (RFC 7643 §3.1: ``id`` is assigned by the service provider,
unique, stable and never reassigned).
"""

from __future__ import annotations

import re
import uuid

USER = "U"
GROUP = "G"

_ID_RE = re.compile(r"[0-9a-f]{12}[48][0-9a-f]{3}[89ab][0-9a-f]{15}")
_VERSION = {USER: "4", GROUP: "8"}
_KIND_OF_VERSION = {"4": USER, "8": GROUP}


def new_id(kind: str) -> str:
    """A fresh resource id whose UUID version nibble encodes ``kind``."""
    raw = uuid.uuid4().hex
    return raw[:12] + _VERSION[kind] + raw[13:]


def kind_of(resource_id: str) -> str | None:
    """``USER``/``GROUP`` for a well-formed id, None for anything else."""
    if not isinstance(resource_id, str) or not _ID_RE.fullmatch(resource_id):
        return None
    return _KIND_OF_VERSION[resource_id[12]]
