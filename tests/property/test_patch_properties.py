"""PATCH engine properties (RFC 7644 §3.5.2): random valid operation
sequences keep every resource schema-valid; invalid ones change nothing.

"Schema-valid" means the stored attributes are a fixed point of the POST/PUT
validation (:func:`shared.scim.resource.parse_resource`): every attribute is one
the schema defines, with the right type, required ones present, and at most
one ``primary: true`` per multi-valued attribute (RFC 7643 §2.4).
"""

from __future__ import annotations

import copy

from hypothesis import event, given
from hypothesis import strategies as st

from shared.scim.errors import ScimError
from shared.scim.patch import apply_operations, parse_patch_request
from shared.scim.resource import parse_resource
from shared.scim.schemas import GROUP_TYPE, USER_TYPE
from tests.property.strategies import fuzz_settings, hostile_operations, patch_body, patch_operations, resources

HOSTILE = hostile_operations()
SETTINGS = fuzz_settings(300)
TYPES = (USER_TYPE, GROUP_TYPE)


def cases(*parts) -> st.SearchStrategy:
    """(resource type, a valid resource of it, *parts(rt)) for each type, strategies built once."""
    return st.one_of([st.tuples(st.just(rt), resources(rt), *(part(rt) for part in parts)) for rt in TYPES])


def assert_schema_valid(rt, data: dict) -> None:
    assert parse_resource(rt, {"schemas": list(rt.all_schema_urns), **data}) == data


def _apply(rt, data: dict, operations: list) -> dict | None:
    """The patched attributes, or None when the PATCH was refused (then ``data`` is unchanged)."""
    before = copy.deepcopy(data)
    try:
        out = apply_operations(rt, data, parse_patch_request(patch_body(operations)))
    except ScimError as exc:
        assert 400 <= exc.status < 500
        assert data == before
        event(f"refused: {exc.status} {exc.scim_type}")
        return None
    assert data == before  # the engine works on a copy
    event("applied")
    return out


@SETTINGS
@given(cases(lambda rt: st.lists(st.lists(patch_operations(rt), min_size=1, max_size=4), min_size=1, max_size=4)))
def test_valid_operation_sequences_keep_resources_schema_valid(case):
    rt, body, patches = case
    data = parse_resource(rt, body)
    for operations in patches:
        out = _apply(rt, data, operations)
        if out is not None:
            assert_schema_valid(rt, out)
            data = out


@SETTINGS
@given(cases(lambda rt: st.lists(patch_operations(rt) | HOSTILE, min_size=1, max_size=5)))
def test_any_operation_list_is_all_or_nothing(case):
    rt, body, operations = case
    data = parse_resource(rt, body)
    out = _apply(rt, data, operations)
    if out is not None:
        assert_schema_valid(rt, out)


@SETTINGS
@given(cases(lambda rt: st.lists(HOSTILE, min_size=1, max_size=3), lambda rt: st.lists(patch_operations(rt), max_size=2)))
def test_an_invalid_operation_after_valid_ones_changes_nothing(case):
    """RFC 7644 §3.5.2: "the entire PATCH request SHALL be ... not applied" on an error."""
    rt, body, hostile, valid = case
    data = parse_resource(rt, body)
    operations = valid + hostile
    try:
        parsed = parse_patch_request(patch_body(operations))
    except ScimError:
        return
    before = copy.deepcopy(data)
    try:
        apply_operations(rt, data, parsed)
    except ScimError:
        pass
    assert data == before
