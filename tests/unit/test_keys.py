"""Resource ids and Table Storage keys (shared/storage/keys.py)."""

from __future__ import annotations

import re

import pytest

from shared.storage import keys

FORBIDDEN = re.compile(r"[/\\#?\x00-\x1f\x7f-\x9f]")


def test_ids_encode_their_resource_type():
    for kind in (keys.USER, keys.GROUP):
        rid = keys.new_id(kind)
        assert len(rid) == 32 and keys.kind_of(rid) == kind


#: A well-formed user id, fixed so that every pytest-xdist worker collects the same parameters.
A_USER_ID = "d370aabec6014d24bddcc7fa1247b3f5"


def test_the_fixed_id_is_a_user_id():
    assert keys.kind_of(A_USER_ID) == keys.USER


@pytest.mark.parametrize("bad", ["", "abc", "../x", "a/b", "a%2Fb", "a#b", "a?b", "\x01" * 32, "Z" * 32, A_USER_ID.upper(), 5, None])
def test_malformed_ids_have_no_kind(bad):
    assert keys.kind_of(bad) is None


@pytest.mark.parametrize("value", ["a/b", "a\\b", "a#b", "a?b", "a:b", "100%", "tab\there", "nul\x00", "c1\x85", "O'Malley", 'quo"te', "ünïcödé"])
def test_escaped_values_are_legal_reversible_and_separator_free(value):
    escaped = keys.escape(value)
    assert not FORBIDDEN.search(escaped) and ":" not in escaped
    assert re.sub(r"%([0-9A-F]{2})", lambda m: chr(int(m.group(1), 16)), escaped) == value


def test_index_values_fold_case_unless_case_exact():
    assert keys.index_value("Ada@Example.com", False) == keys.index_value("ada@example.COM", False)
    assert keys.index_value("Ada", True) != keys.index_value("ada", True)


def test_long_values_are_hashed_to_a_bounded_key():
    value = "x" * 5000
    key = keys.unique_key("un", keys.index_value(value, False))
    assert len(key) < 100 and key != keys.unique_key("un", keys.index_value(value + "y", False))
    assert not FORBIDDEN.search(key)  # it was "#" + the hash: Table Storage refused the row (413)
    assert keys.index_value("%H" + "0" * 64, True) != keys.index_value("x" * 300, True)  # no literal looks hashed


def test_prefix_of_one_value_never_covers_another():
    """``I:ue:a:`` must not be a prefix of the rows of value ``a:b`` (':' is escaped)."""
    rid = keys.new_id(keys.USER)
    row_of_a_colon_b = keys.index_key("ue", keys.index_value("a:b", True), rid)
    assert not row_of_a_colon_b.startswith(keys.index_prefix("ue", keys.index_value("a", True)))
