"""Evaluating filters against resources (RFC 7644 §3.4.2.2 semantics)."""

from __future__ import annotations

import pytest

from shared.scim.attribute import Attribute, Schema
from shared.scim.filter import FilterError
from shared.scim.filter_parser import parse_filter
from shared.scim.matching import matches

CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
ENT = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"

USER = Schema(
    id=CORE,
    name="User",
    description="",
    attributes=(
        Attribute("userName"),
        Attribute("externalId", case_exact=True),
        Attribute("title"),
        Attribute("active", "boolean"),
        Attribute("loginCount", "integer"),
        Attribute("score", "decimal"),
        Attribute("photo", "binary", case_exact=True),
        Attribute("nickName"),
        Attribute(
            "name", "complex", sub_attributes=(Attribute("givenName"), Attribute("familyName"))
        ),
        Attribute(
            "emails",
            "complex",
            multi_valued=True,
            sub_attributes=(Attribute("value"), Attribute("type"), Attribute("primary", "boolean")),
        ),
        Attribute("nicknames", multi_valued=True),
        Attribute("meta", "complex", sub_attributes=(Attribute("lastModified", "dateTime"),)),
    ),
)
ENTERPRISE = Schema(
    id=ENT,
    name="EnterpriseUser",
    description="",
    attributes=(
        Attribute("employeeNumber"),
        Attribute("manager", "complex", sub_attributes=(Attribute("value", "reference"), Attribute("displayName"))),
    ),
)


def attribute_for(schema, name, sub):
    owner = ENTERPRISE if schema is not None and schema.lower() == ENT.lower() else USER
    attr = owner.attr(name)
    return attr if attr is None or sub is None else attr.sub(sub)


BJENSEN = {
    "schemas": [CORE, ENT],
    "userName": "bjensen@Example.com",
    "externalId": "Bjensen",
    "title": "",
    "active": True,
    "loginCount": 42,
    "score": 3.5,
    "photo": "QUJD",
    "name": {"givenName": "Barbara", "familyName": "O'Malley"},
    "emails": [
        {"value": "bjensen@example.com", "type": "work", "primary": True},
        {"value": "babs@jensen.org", "type": "home"},
    ],
    "nicknames": [],
    "meta": {"lastModified": "2011-05-13T04:42:34Z"},
    ENT: {"employeeNumber": "701984", "manager": {"value": "2819", "displayName": "John"}},
}


def m(text, resource=BJENSEN):
    return matches(parse_filter(text), resource, attribute_for)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('userName eq "bjensen@example.com"', True),
        ('userName eq "BJENSEN@EXAMPLE.COM"', True),
        ('userName ne "bjensen@example.com"', False),
        ('userName ne "other"', True),
        ('userName co "EXAMPLE"', True),
        ('userName co "nope"', False),
        ('userName sw "BJ"', True),
        ('userName sw "example"', False),
        ('userName ew ".COM"', True),
        ('userName ew "bjensen"', False),
        ('userName gt "a"', True),
        ('userName gt "C"', False),
        ('userName ge "bjensen@example.com"', True),
        ('userName lt "C"', True),
        ('userName le "B"', False),
        ('USERNAME eq "bjensen@example.com"', True),
    ],
)
def test_string_operators_are_case_insensitive(text, expected):
    assert m(text) is expected


def test_case_exact_attribute():
    assert m('externalId eq "Bjensen"')
    assert not m('externalId eq "bjensen"')
    assert not m('externalId sw "bj"')
    assert m("externalId eq Bjensen")  # Entra's unquoted value


def test_unquoted_number_compares_as_text_on_a_string_attribute():
    assert m(f"{ENT}:employeeNumber eq 701984")


def test_keys_are_found_case_insensitively():
    assert m('username eq "bjensen@example.com"', {"USERNAME": "bjensen@example.com"})
    assert m('name.FAMILYNAME co "malley"')


def test_sub_attribute_of_complex():
    assert m('name.familyName co "O\'Malley"')
    assert m('name.givenName sw "bar"')
    assert not m('name.givenName eq "Babs"')


def test_multi_valued_matches_any_value():
    assert m('emails.value eq "babs@jensen.org"')
    assert m('emails.type eq "work"')
    assert not m('emails.value eq "x@y.z"')


def test_complex_without_sub_attribute_compares_value():
    assert m('emails co "jensen.org"')
    assert m('emails eq "BJENSEN@example.com"')
    assert m(f'{ENT}:manager eq "2819"')
    assert not m(f'{ENT}:manager eq "2820"')


def test_complex_without_value_sub_attribute_is_an_error():
    with pytest.raises(FilterError, match='"name" is complex and has no "value"'):
        m('name eq "x"')


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("userName pr", True),
        ("title pr", False),  # ""
        ("nicknames pr", False),  # []
        ("nickName pr", False),  # absent
        ("name pr", True),
        ("emails pr", True),
        ("emails.primary pr", True),
        (f"{ENT}:manager pr", True),
        (f"{ENT}:manager.displayName pr", True),
    ],
)
def test_present(text, expected):
    assert m(text) is expected


def test_present_on_empty_complex():
    assert not m("name pr", {"name": {}})
    assert not m("name pr", {"name": {"givenName": ""}})
    assert not m("emails pr", {"emails": [{}]})


def test_ne_on_absent_attribute_is_true():
    assert m('nickName ne "x"')
    assert not m('nickName eq "x"')
    assert m('emails.value ne "x@y.z"')
    assert not m('emails.value ne "babs@jensen.org"')  # one value equals


def test_null():
    assert m("nickName eq null")
    assert not m("userName eq null")
    assert m("userName ne null")
    assert m("title eq null")
    assert m("name eq null", {})
    with pytest.raises(FilterError, match='"gt" cannot compare "userName" with null'):
        m("userName gt null")


def test_logical_operators():
    assert m('userName sw "bj" and active eq true')
    assert not m('userName sw "bj" and active eq false')
    assert m('userName sw "x" or active eq true')
    assert m('not (userName sw "x")')
    assert not m('not (userName sw "bj")')
    assert m('userName sw "x" or not (emails co "example.com" and title pr)')


def test_value_path():
    assert m('emails[type eq "work" and value co "@example.com"]')
    assert not m('emails[type eq "home" and value co "@example.com"]')
    assert m('emails[TYPE eq "WORK" and primary eq true]')
    assert not m('emails[type eq "home" and primary eq true]')
    assert m('emails[not (type eq "work")]')
    assert m('emails[type eq "work"].value eq "bjensen@example.com"')
    assert not m('emails[type eq "home"].value eq "bjensen@example.com"')
    assert not m('emails[type eq "work"]', {"userName": "x"})


def test_value_path_errors_do_not_depend_on_data():
    with pytest.raises(FilterError, match='unknown attribute "colour"'):
        m('emails[colour eq "red"]', {})
    with pytest.raises(FilterError, match='"userName" is not a complex attribute'):
        m('userName[value eq "x"]')


def test_extension_paths():
    assert m(f'{ENT}:employeeNumber eq "701984"')
    assert m(f'{ENT.upper()}:EMPLOYEENUMBER eq "701984"')
    assert m(f'{ENT}:manager.value eq "2819"')
    assert not m(f'{ENT}:manager.value eq "2819"', {"userName": "x"})
    assert m(f"{ENT}:employeeNumber pr")


def test_core_urn_prefix_reads_the_top_level():
    assert m(f'{CORE}:userName sw "BJ"')
    assert m(f'{CORE}:name.givenName eq "barbara"')


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('meta.lastModified eq "2011-05-13T04:42:34Z"', True),
        ('meta.lastModified eq "2011-05-13T04:42:34.000+00:00"', True),
        ('meta.lastModified gt "2011-05-13T04:42:33Z"', True),
        ('meta.lastModified gt "2011-05-13T04:42:34Z"', False),
        ('meta.lastModified ge "2011-05-13T04:42:34Z"', True),
        ('meta.lastModified lt "2011-05-13T05:42:34+01:00"', False),  # same instant
        ('meta.lastModified le "2011-05-13T05:42:34+01:00"', True),
        ('meta.lastModified lt "2011-05-12T23:42:34.1-05:00"', True),  # 04:42:34.1Z
        ("meta.lastModified gt 2011-05-13T04:42:33.9999999Z", True),  # 7-digit fraction, unquoted
        ("meta.lastModified eq 2011-05-12T21:42:34.0000001-07:00", True),  # truncated to microseconds
        ('meta.lastModified gt "2011-05-13T04:42:33"', True),  # no offset: UTC
        ('meta.lastModified ne "2011-05-13T04:42:34Z"', False),
    ],
)
def test_datetime_compares_chronologically(text, expected):
    assert m(text) is expected


def test_datetime_falls_back_to_strings():
    resource = {"meta": {"lastModified": "not a date"}}
    assert m('meta.lastModified eq "NOT A DATE"', resource)
    assert m('meta.lastModified gt "2011"', resource)
    assert m('meta.lastModified lt "next week"')  # "2011…" < "next week"


def test_datetime_rejects_substring_operators():
    with pytest.raises(FilterError, match='"sw" is not supported for dateTime attribute "meta.lastModified"'):
        m('meta.lastModified sw "2011"')


def test_boolean():
    assert m("active eq true")
    assert not m("active eq false")
    assert m('active eq "True"')  # Entra writes booleans as strings
    assert m('emails[primary eq "TRUE"]')
    assert m("active ne false")
    assert m('active eq "true"', {"active": "True"})
    assert not m("active eq true", {})
    assert m("active ne true", {})


@pytest.mark.parametrize("op", ["gt", "ge", "lt", "le"])
def test_ordering_a_boolean_is_an_error(op):
    with pytest.raises(FilterError, match=f'"{op}" is not supported for boolean attribute "active"'):
        m(f"active {op} true")
    with pytest.raises(FilterError, match="not supported for boolean"):
        m(f"active {op} true", {})


def test_boolean_needs_a_boolean_value():
    with pytest.raises(FilterError, match='"active" is boolean'):
        m('active eq "yes"')
    with pytest.raises(FilterError, match='"co" is not supported for boolean attribute "active"'):
        m('active co "t"')


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("loginCount eq 42", True),
        ('loginCount eq "42"', True),
        ("loginCount eq 42.0", True),
        ("loginCount ne 42", False),
        ("loginCount gt 41", True),
        ("loginCount gt 42", False),
        ("loginCount ge 42", True),
        ("loginCount lt 1e2", True),
        ("loginCount le -1", False),
        ("score gt 3.25", True),
        ("score lt 3.25", False),
        ('score eq "3.5"', True),
    ],
)
def test_numbers_compare_numerically(text, expected):
    assert m(text) is expected


def test_numbers_reject_text():
    with pytest.raises(FilterError, match='"loginCount" is integer: compare it with a number, not abc'):
        m("loginCount eq abc")
    with pytest.raises(FilterError, match='"co" is not supported for integer attribute "loginCount"'):
        m("loginCount co 4")
    with pytest.raises(FilterError):
        m("loginCount eq true")


def test_binary():
    assert m('photo eq "QUJD"')
    assert not m('photo eq "qujd"')
    with pytest.raises(FilterError, match='"gt" is not supported for binary attribute "photo"'):
        m('photo gt "A"')
    with pytest.raises(FilterError, match="not supported for binary"):
        m('photo sw "Q"')


def test_unknown_attribute_is_an_error_whatever_the_data():
    with pytest.raises(FilterError, match='unknown attribute "shoeSize" in filter'):
        m('shoeSize eq "9"')
    with pytest.raises(FilterError, match='unknown attribute "name.middle" in filter'):
        m('userName eq "nobody" and name.middle pr')
    with pytest.raises(FilterError, match=f'unknown attribute "{ENT}:shoeSize"'):
        m(f"{ENT}:shoeSize pr")


def test_inner_filter_on_a_plain_element():
    """How the PATCH engine uses it: a valFilter evaluated on one element."""
    emails = USER.attr("emails")

    def sub_of(_schema, name, sub):
        return emails.sub(name) if sub is None else None

    flt = parse_filter('type eq "work" and primary eq true')
    assert matches(flt, {"value": "a@b", "type": "Work", "primary": True}, sub_of)
    assert not matches(flt, {"value": "a@b", "type": "home"}, sub_of)
