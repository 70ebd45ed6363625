"""The filter parser and renderer: RFC 7644 §3.4.2.2, Entra's dialect, limits."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.scim.filter import (
    And,
    AttrPath,
    Comparison,
    FilterError,
    Not,
    Or,
    Present,
    ValuePath,
    filter_paths,
    render_filter,
)
from shared.scim.filter_parser import MAX_FILTER_DEPTH, MAX_FILTER_LENGTH, parse_attr_path, parse_filter
from shared.scim.storable_text import refused_character

CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def p(attr, sub=None, schema=None):
    return AttrPath(schema, attr, sub)


def eq(attr, value, sub=None):
    return Comparison(p(attr, sub), "eq", value)


# RFC 7644 §3.4.2.2, the filter examples after Table 4
RFC7644_3_4_2_2_EXAMPLES = [
    'userName eq "bjensen"',
    'name.familyName co "O\'Malley"',
    'userName sw "J"',
    f'{CORE_USER}:userName sw "J"',
    "title pr",
    'meta.lastModified gt "2011-05-13T04:42:34Z"',
    'meta.lastModified ge "2011-05-13T04:42:34Z"',
    'meta.lastModified lt "2011-05-13T04:42:34Z"',
    'meta.lastModified le "2011-05-13T04:42:34Z"',
    'title pr and userType eq "Employee"',
    'title pr or userType eq "Intern"',
    'schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"',
    'userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")',
    'userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")',
    'userType eq "Employee" and (emails.type eq "work")',
    'userType eq "Employee" and emails[type eq "work" and value co "@example.com"]',
    'emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]',
]

# Microsoft Entra ID's documented requests (learn.microsoft.com, "SCIM endpoint" tutorial and validator)
ENTRA_EXAMPLES = [
    'emails[type eq "work"].value eq "a@b"',
    "externalId eq jyoung",
    'DisplayName eq "x"',
    "name.FamilyName eq Employee and (emails.Value co example.com or emails.Value co example.org)",
    'id eq "54D3" and manager eq "2819"',
    'displayName eq "uhyywkurutzs"',
    'addresses[type eq "work"].locality pr',
    "meta.created gt 2015-10-10T14:38:21.8617979-07:00",
    f'{ENTERPRISE}:manager.value eq "2819"',
]


@pytest.mark.parametrize("text", RFC7644_3_4_2_2_EXAMPLES + ENTRA_EXAMPLES)
def test_examples_round_trip(text):
    parsed = parse_filter(text)
    rendered = render_filter(parsed)
    assert parse_filter(rendered) == parsed
    assert render_filter(parse_filter(rendered)) == rendered


def test_rfc7644_3_4_2_2_simple_comparison():
    assert parse_filter('userName eq "bjensen"') == eq("userName", "bjensen")


def test_rfc7644_3_4_2_2_sub_attribute_and_quote():
    assert parse_filter('name.familyName co "O\'Malley"') == Comparison(p("name", "familyName"), "co", "O'Malley")


def test_rfc7644_3_4_2_2_urn_prefixed_path_splits_at_last_colon():
    assert parse_filter(f'{CORE_USER}:userName sw "J"') == Comparison(p("userName", schema=CORE_USER), "sw", "J")
    got = parse_filter(f'{CORE_USER}:name.givenName eq "B"')
    assert got.path == AttrPath(CORE_USER, "name", "givenName")
    assert str(got.path) == f"{CORE_USER}:name.givenName"
    assert parse_filter(f'{ENTERPRISE}:manager.value eq "x"').path == AttrPath(ENTERPRISE, "manager", "value")


def test_rfc7644_3_4_2_2_present():
    assert parse_filter("title pr") == Present(p("title"))


def test_rfc7644_3_4_2_2_not_and_grouping():
    got = parse_filter('userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")')
    assert got == And(
        Comparison(p("userType"), "ne", "Employee"),
        Not(Or(Comparison(p("emails"), "co", "example.com"), Comparison(p("emails", "value"), "co", "example.org"))),
    )


def test_rfc7644_3_4_2_2_value_paths():
    got = parse_filter('emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]')
    assert got == Or(
        ValuePath(p("emails"), And(eq("type", "work"), Comparison(p("value"), "co", "@example.com"))),
        ValuePath(p("ims"), And(eq("type", "xmpp"), Comparison(p("value"), "co", "@foo.com"))),
    )


def test_entra_value_path_with_sub_attribute_is_normalised():
    assert parse_filter('emails[type eq "work"].value eq "a@b"') == ValuePath(
        p("emails"), And(eq("type", "work"), eq("value", "a@b"))
    )
    assert parse_filter('addresses[type eq "work"].locality pr') == ValuePath(
        p("addresses"), And(eq("type", "work"), Present(p("locality")))
    )


def test_entra_unquoted_values_are_strings():
    assert parse_filter("externalId eq jyoung") == eq("externalId", "jyoung")
    assert parse_filter("userName sw O") == Comparison(p("userName"), "sw", "O")
    got = parse_filter("meta.created gt 2015-10-10T14:38:21.8617979-07:00")
    assert got == Comparison(p("meta", "created"), "gt", "2015-10-10T14:38:21.8617979-07:00")
    got = parse_filter("name.FamilyName eq Employee and (emails.Value co example.com or emails.Value co example.org)")
    assert got == And(
        eq("name", "Employee", "FamilyName"),
        Or(Comparison(p("emails", "Value"), "co", "example.com"), Comparison(p("emails", "Value"), "co", "example.org")),
    )
    assert parse_filter("emails[value eq x@y.z]") == ValuePath(p("emails"), eq("value", "x@y.z"))


def test_names_keep_their_case_and_keywords_ignore_it():
    assert parse_filter('DisplayName EQ "x"') == eq("DisplayName", "x")
    assert parse_filter("a PR AND NOT (b Pr) Or c pr") == Or(And(Present(p("a")), Not(Present(p("b")))), Present(p("c")))


def test_entra_id_and_manager():
    assert parse_filter('id eq "54D3" and manager eq "2819"') == And(eq("id", "54D3"), eq("manager", "2819"))


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("a eq true", True),
        ("a eq FALSE", False),
        ("a eq Null", None),
        ("a eq -1", -1),
        ("a eq 3.5", 3.5),
        ("a eq 1e3", 1000.0),
        ("a eq 0", 0),
        ("a eq 007", "007"),
        (r'a eq "\u00e9\"\\"', 'é"\\'),
        ('a eq ""', ""),
        ('a eq "and"', "and"),
    ],
)
def test_comp_values(text, value):
    got = parse_filter(text)
    assert got.value == value and type(got.value) is type(value)


def test_dollar_ref_and_name_characters():
    assert parse_filter('members.$ref eq "x"').path == p("members", "$ref")
    assert parse_filter("x-y_1 pr").path == p("x-y_1")


def test_whitespace_is_flexible():
    assert parse_filter('  userName \t eq\t"x"   ') == eq("userName", "x")
    assert parse_filter("(a pr)and(b pr)") == And(Present(p("a")), Present(p("b")))
    assert parse_filter("not(a pr)") == Not(Present(p("a")))


# Precedence: not > and > or, left-associative (RFC 7644 §3.4.2.2)
def test_and_binds_tighter_than_or():
    a, b, c = Present(p("a")), Present(p("b")), Present(p("c"))
    assert parse_filter("a pr or b pr and c pr") == Or(a, And(b, c))
    assert parse_filter("a pr and b pr or c pr") == Or(And(a, b), c)
    assert parse_filter("(a pr or b pr) and c pr") == And(Or(a, b), c)


def test_left_associative():
    a, b, c = Present(p("a")), Present(p("b")), Present(p("c"))
    assert parse_filter("a pr and b pr and c pr") == And(And(a, b), c)
    assert parse_filter("a pr or b pr or c pr") == Or(Or(a, b), c)
    assert parse_filter("a pr and (b pr and c pr)") == And(a, And(b, c))


def test_not_applies_to_its_group_only():
    a, b = Present(p("a")), Present(p("b"))
    assert parse_filter("not (a pr) and b pr") == And(Not(a), b)
    assert parse_filter("not (a pr) or b pr") == Or(Not(a), b)


def test_render_is_canonical():
    assert render_filter(parse_filter("A Eq  jyoung")) == 'A eq "jyoung"'
    assert render_filter(parse_filter("((a pr) or (b pr)) and c pr")) == "(a pr or b pr) and c pr"
    assert render_filter(parse_filter("a pr or (b pr or c pr)")) == "a pr or (b pr or c pr)"
    assert render_filter(parse_filter("a pr and (b pr and c pr)")) == "a pr and (b pr and c pr)"


def test_filter_paths():
    f = parse_filter(f'userName eq "a" or (not (emails[type eq "w"]) and {ENTERPRISE}:manager.value pr)')
    assert list(filter_paths(f)) == [p("userName"), p("emails"), AttrPath(ENTERPRISE, "manager", "value")]


def test_parse_attr_path():
    assert parse_attr_path("name.givenName") == p("name", "givenName")
    assert parse_attr_path(f"{ENTERPRISE}:employeeNumber") == AttrPath(ENTERPRISE, "employeeNumber", None)
    assert parse_attr_path("meta.lastModified") == p("meta", "lastModified")
    for bad in ("", "a.b.c", "1abc", "a b", "urn:x:", ":a", "a.", "name.", "a[b]"):
        with pytest.raises(FilterError):
            parse_attr_path(bad)


# Errors: exact messages, positions counted from 0
@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "filter is empty"),
        ("   ", "filter is empty"),
        ('userName eq "bjensen', "unterminated string starting at position 12"),
        ('userName "bjensen"', 'expected a comparison operator after "userName" at position 9, found string "bjensen"'),
        ("userName", 'expected a comparison operator after "userName" at the end of the filter'),
        ('userName equals "x"', 'unknown operator "equals" at position 9'),
        ("userName eq", 'expected a value after "eq" at the end of the filter'),
        ("userName eq )", 'expected a value after "eq" at position 12, found ")"'),
        ('x eq "a" and', 'expected an attribute path, "not" or "(" after "and" at the end of the filter'),
        ('x eq "a" or or y pr', 'expected an attribute path, "not" or "(" after "or" at position 12, found "or"'),
        ('(x eq "a"', 'missing ")" to close "(" at position 0'),
        ('x eq "a")', 'unexpected ")" at position 8'),
        ('(x eq "a"]', 'expected ")" to close "(" at position 0, found "]" at position 9'),
        ('emails[type eq "work"] ]', 'unexpected "]" at position 23'),
        ('not x eq "a"', 'expected "(" after "not" at position 4, found "x"'),
        ("not", 'expected "(" after "not" at the end of the filter'),
        (
            'emails[type eq "a" and x[y pr]]',
            'unexpected "[" at position 24: value filters cannot be nested (inside "[" at position 6)',
        ),
        ('emails[type eq "a"', 'missing "]" to close "[" at position 6'),
        ('emails[name.x eq "a"]', '"name.x" at position 7 must be a sub-attribute name of "emails" (inside "[" at position 6)'),
        ('emails.value[type eq "w"]', '"[" at position 12 must follow an attribute, not the sub-attribute "emails.value"'),
        ('emails[type eq "w"].', 'expected a sub-attribute name after "]." at the end of the filter'),
        ('title pr "x"', '"pr" takes no value; found string "x" at position 9'),
        (r'a eq "\q"', "invalid escape at position 6 in the string starting at position 5"),
        ("a eq and", 'expected a value after "eq" at position 5, found "and"'),
        ("a eq 1e999", 'number "1e999" at position 5 is out of range'),
        ('1abc eq "x"', 'invalid attribute path "1abc" at position 0'),
        ('a.b.c eq "x"', 'invalid attribute path "a.b.c" at position 0'),
        (') a pr', 'expected an attribute path, "not" or "(" at position 0, found ")"'),
        ("x" * (MAX_FILTER_LENGTH - 2) + " pr", f"filter is longer than {MAX_FILTER_LENGTH} characters"),
    ],
)
def test_errors(text, message):
    with pytest.raises(FilterError) as err:
        parse_filter(text)
    assert str(err.value) == message


def test_longest_filter_is_accepted():
    text = "x" * (MAX_FILTER_LENGTH - 3) + " pr"
    assert parse_filter(text) == Present(p(text[:-3]))


def test_100_nested_parentheses_fail_cleanly():
    with pytest.raises(FilterError, match=f"nested deeper than {MAX_FILTER_DEPTH} levels at position {MAX_FILTER_DEPTH}"):
        parse_filter("(" * 100 + "a pr" + ")" * 100)


def test_chained_nots_fail_cleanly():
    with pytest.raises(FilterError, match="longer than"):
        parse_filter("not (" * 1000 + "a pr" + ")" * 1000)
    with pytest.raises(FilterError, match="nested deeper than"):
        parse_filter("not (" * 500 + "a pr" + ")" * 500)
    with pytest.raises(FilterError, match="nested deeper than"):
        parse_filter("not (" * 800)


def test_depth_limit_is_exact():
    ok = "(" * MAX_FILTER_DEPTH + "a pr" + ")" * MAX_FILTER_DEPTH
    assert parse_filter(ok) == Present(p("a"))
    with pytest.raises(FilterError):
        parse_filter("(" + ok + ")")


def test_long_and_or_chains_count_as_depth():
    assert parse_filter(" or ".join(["a pr"] * (MAX_FILTER_DEPTH + 1)))
    with pytest.raises(FilterError, match="nested deeper than"):
        parse_filter(" or ".join(["a pr"] * (MAX_FILTER_DEPTH + 2)))
    with pytest.raises(FilterError, match="nested deeper than"):
        parse_filter(" and ".join(["a pr"] * 400))


def test_non_string_input():
    with pytest.raises(FilterError):
        parse_filter(None)


# Properties
@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=st.sampled_from(list('ab eqnotrp()[]".:\\$0-1uZ\t')) | st.characters(), max_size=200))
def test_random_text_raises_only_filter_error(text):
    try:
        parse_filter(text)
    except FilterError:
        pass


_TOKENS = st.sampled_from(
    ["a", "emails", "[", "]", "(", ")", "not", "and", "or", "pr", "eq", "gt", '"x"', '"', "1e3", "true", "null",
     ".", "].value", f"{ENTERPRISE}:manager.value", "\\", "x@y", " ", "\t"]
)


@settings(max_examples=500, deadline=None)
@given(st.lists(_TOKENS, max_size=30))
def test_random_token_soup_raises_only_filter_error(tokens):
    for joiner in (" ", ""):
        try:
            parse_filter(joiner.join(tokens))
        except FilterError:
            pass


_NAMES = st.from_regex(r"\A(?:[A-Za-z][A-Za-z0-9_-]{0,6}|\$ref)\Z").filter(lambda n: n.lower() not in ("and", "or", "not"))
_SCHEMAS = st.sampled_from([None, CORE_USER, ENTERPRISE])
_VALUES = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**20), max_value=10**20)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(st.characters().filter(lambda c: refused_character(c) is None), max_size=12)  # storable text only
)
_OPS = st.sampled_from(["eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le"])


def _leaves(paths):
    return st.builds(Comparison, paths, _OPS, _VALUES) | st.builds(Present, paths)


def _trees(leaves, max_leaves):
    return st.recursive(
        leaves,
        lambda kids: st.builds(And, kids, kids) | st.builds(Or, kids, kids) | st.builds(Not, kids),
        max_leaves=max_leaves,
    )


_SUB_PATHS = st.builds(AttrPath, st.none(), _NAMES, st.none())
_PATHS = st.builds(AttrPath, _SCHEMAS, _NAMES, st.none() | _NAMES)
_VALUE_PATHS = st.builds(ValuePath, st.builds(AttrPath, _SCHEMAS, _NAMES, st.none()), _trees(_leaves(_SUB_PATHS), 4))
_FILTERS = _trees(_leaves(_PATHS) | _VALUE_PATHS, 12)


@settings(max_examples=300, deadline=None)
@given(_FILTERS)
def test_render_parse_round_trip(f):
    assert parse_filter(render_filter(f)) == f
