"""Small helpers the scenarios share."""

from __future__ import annotations

PATCH_URN = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def patch(*operations) -> dict:
    """A SCIM PatchOp body of ``operations``."""
    return {"schemas": [PATCH_URN], "Operations": list(operations)}


def chunks(items, size):
    """``items`` in consecutive lists of at most ``size``."""
    return [items[i:i + size] for i in range(0, len(items), size)]


def rounded(x, d=1):
    """``round(x, d)``, None staying None."""
    return None if x is None else round(x, d)
