"""Filter parser properties (RFC 7644 §3.4.2.2): it never crashes, and
parse → render → parse is stable; compiled against the real schemas, a
filter either is rejected with FilterError or evaluates on any valid User."""

from __future__ import annotations

import copy
import json

from hypothesis import given
from hypothesis import strategies as st

from shared.scim.filter import FilterError, render_filter
from shared.scim.filter_parser import MAX_FILTER_LENGTH, parse_filter
from shared.scim.matching import compile_filter
from shared.scim.resource import parse_resource
from shared.scim.schemas import GROUP_TYPE, USER_TYPE
from shared.storage.search import qualify
from tests.property.strategies import ODD_TEXT, filter_texts, fuzz_settings, resources

SETTINGS = fuzz_settings(400)


def _stable(tree) -> None:
    text = render_filter(tree)
    again = parse_filter(text)
    assert again == tree
    assert render_filter(again) == text


@SETTINGS
@given(filter_texts())
def test_grammar_text_parses_and_round_trips(text):
    _stable(parse_filter(text))


@SETTINGS
@given(st.text(alphabet=st.sampled_from(list('aeqnotrpdsw ()[]".:\\$0-1\t')) | st.characters(), max_size=300)
       | filter_texts().flatmap(lambda t: st.integers(0, len(t)).map(lambda cut: t[:cut] + t[cut + 1:])))
def test_any_text_raises_only_filter_error_and_what_parses_is_stable(text):
    try:
        tree = parse_filter(text)
    except FilterError:
        return
    _stable(tree)


@fuzz_settings(50)
@given(st.sampled_from(["(", "not (", "emails[", "x pr and "]), st.integers(1, MAX_FILTER_LENGTH))
def test_limits_are_filter_errors(opener, repeat):
    text = (opener * repeat)[: MAX_FILTER_LENGTH + 5]
    try:
        parse_filter(text)
    except FilterError:
        pass


def _document(data: dict) -> dict:
    return {**data, "id": "0123", "meta": {"resourceType": "User", "created": "2025-01-01T00:00:00Z",
                                           "lastModified": "2025-01-02T00:00:00Z"}}


@SETTINGS
@given(filter_texts(), resources(USER_TYPE), st.sampled_from([USER_TYPE, GROUP_TYPE]))
def test_compiled_filters_evaluate_or_are_rejected(text, body, rt):
    try:
        tree = qualify(rt, parse_filter(text))
        test = compile_filter(tree, rt.attribute)
    except FilterError:
        return
    doc = _document(parse_resource(USER_TYPE, body))
    before = copy.deepcopy(doc)
    assert test(doc) in (True, False)
    assert doc == before


@SETTINGS
@given(ODD_TEXT, st.sampled_from(["eq", "co", "sw", "ew", "gt", "lt"]))
def test_any_string_value_round_trips(value, op):
    """compValue is a JSON string (RFC 8259 §7): every escape survives rendering."""
    tree = parse_filter(f"userName {op} {json.dumps(value, ensure_ascii=False)}")
    assert tree.value == value
    _stable(tree)
