"""Long text in a Table entity: split over string properties ``d0``, ``d1`` ...

A string property holds at most 32 K UTF-16 code units (64 KiB); text that
is ASCII-only JSON (``json.dumps`` escapes everything else) has one code
unit per character, so chunks of :data:`CHUNK_CHARS` always fit.  An entity
holds at most 1 MiB, so :data:`MAX_CHUNKED_CHARS` keeps a row of chunks and
its other properties well inside it.
"""

from __future__ import annotations

import json

from .outcomes import TooLarge

CHUNK_CHARS = 30_000
MAX_CHUNKED_CHARS = 8 * CHUNK_CHARS
_MAX_CHUNKS = 64


def json_chunks(value, what: str) -> dict[str, str]:
    """``value`` as compact ASCII JSON in chunk properties; :class:`TooLarge` above the limit."""
    text = json.dumps(value, separators=(",", ":"))
    if len(text) > MAX_CHUNKED_CHARS:
        raise TooLarge(f"{what} is {len(text)} characters; the limit is {MAX_CHUNKED_CHARS}")
    return {f"d{i}": text[o : o + CHUNK_CHARS] for i, o in enumerate(range(0, len(text) or 1, CHUNK_CHARS))}


def joined_chunks(entity) -> str:
    """The text the chunk properties of ``entity`` hold ('' when none)."""
    return "".join(entity[f"d{i}"] for i in range(_MAX_CHUNKS) if f"d{i}" in entity)
