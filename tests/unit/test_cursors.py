"""The cursor seal (RFC 9865 §2.4's errors), without storage."""

from __future__ import annotations

import json

import pytest

from shared.scim.cursors import CursorCodec, Position, _b64, binding
from shared.scim.errors import ScimError

BOUND = binding("tenant", ["User"], None, None, False)


def sealed(codec: CursorCodec, payload) -> str:
    """A cursor whose payload is anything, sealed with the codec's own key (as only this code could)."""
    raw = json.dumps(payload).encode()
    return f"{_b64(raw)}.{_b64(codec._mac(raw, BOUND))}"


def test_a_cursor_opens_to_its_position_for_its_query_only():
    codec = CursorCodec(b"k" * 32, 60)
    position = Position(1, "abc", (0, "x"), True)
    text = codec.issue(position, BOUND, now=1000)
    assert codec.open(text, BOUND, now=1030) == position
    with pytest.raises(ScimError) as other:
        codec.open(text, binding("other", ["User"], None, None, False), now=1030)
    with pytest.raises(ScimError) as late:
        codec.open(text, BOUND, now=1061)
    with pytest.raises(ScimError) as key:
        CursorCodec(b"j" * 32, 60).open(text, BOUND, now=1030)
    assert [e.value.scim_type for e in (other, late, key)] == ["invalidCursor", "expiredCursor", "invalidCursor"]


@pytest.mark.parametrize("payload", [[], [1, "a"], [1, "a", None, 0, 99, "extra"], {"a": 1}, ["x", "a", None, 0, 9e9],
                                     [0, "a", 5, 0, 9e9], [0, "a", None, 0, "soon"], "text", None])
def test_a_sealed_payload_of_another_shape_is_an_invalid_cursor_not_a_crash(payload):
    codec = CursorCodec(b"k" * 32, 60)
    with pytest.raises(ScimError) as refused:
        codec.open(sealed(codec, payload), BOUND, now=0)
    assert (refused.value.status, refused.value.scim_type) == (400, "invalidCursor")
