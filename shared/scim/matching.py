"""Evaluating a parsed filter against a resource (RFC 7644 §3.4.2.2).

A filter is first compiled against the attribute definitions, so every
error (an unknown attribute, an operator the attribute's type does not
support, a value of the wrong type) is raised whatever the resource holds;
then the compiled test is applied to the resource.

The resource is SCIM JSON with extension attributes under their schema URN.
Keys are looked up case-insensitively (RFC 7643 §2.1); the ``attribute_for``
callback decides types and ``caseExact``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timezone

from .attribute import Attribute
from .filter import And, AttrPath, Comparison, Filter, FilterError, Not, Or, Present, ValuePath
from .schemas import CORE_SCHEMAS

AttributeFor = Callable[[str | None, str, str | None], Attribute | None]
Test = Callable[[dict], bool]

_ORDERING = frozenset({"gt", "ge", "lt", "le"})
_SUBSTRING = frozenset({"co", "sw", "ew"})
_STRING_TYPES = frozenset({"string", "reference"})
_NUMBER_TYPES = frozenset({"integer", "decimal"})
_BOOLEANS = {"true": True, "false": False}

_OPERATORS: dict[str, Callable[[object, object], bool]] = {
    "eq": lambda a, b: a == b,
    "co": lambda a, b: b in a,
    "sw": lambda a, b: a.startswith(b),
    "ew": lambda a, b: a.endswith(b),
    "gt": lambda a, b: a > b,
    "ge": lambda a, b: a >= b,
    "lt": lambda a, b: a < b,
    "le": lambda a, b: a <= b,
}


def matches(f: Filter, resource: dict, attribute_for: AttributeFor) -> bool:
    """Whether ``resource`` satisfies ``f`` (RFC 7644 §3.4.2.2); raises
    :class:`FilterError` for a filter the attribute definitions reject."""
    return _compile(f, attribute_for)(resource)


def compile_filter(f: Filter, attribute_for: AttributeFor) -> Test:
    """Check ``f`` against the attribute definitions once and return the test
    to run on each resource; raises :class:`FilterError` whatever the data."""
    return _compile(f, attribute_for)


def _compile(f: Filter, attribute_for: AttributeFor) -> Test:
    """A test for one node; logical operators as in RFC 7644 §3.4.2.2, Table 4."""
    if isinstance(f, And):
        left, right = _compile(f.left, attribute_for), _compile(f.right, attribute_for)
        return lambda res: left(res) and right(res)
    if isinstance(f, Or):
        left, right = _compile(f.left, attribute_for), _compile(f.right, attribute_for)
        return lambda res: left(res) or right(res)
    if isinstance(f, Not):
        inner = _compile(f.inner, attribute_for)
        return lambda res: not inner(res)
    if isinstance(f, Present):
        return _compile_present(f.path, attribute_for)
    if isinstance(f, Comparison):
        return _compile_comparison(f, attribute_for)
    return _compile_value_path(f, attribute_for)


# ---------------------------------------------------------------------------
# Reading values
# ---------------------------------------------------------------------------


def _get(node: object, name: str) -> object:
    """``node[name]`` with the key matched case-insensitively (RFC 7643 §2.1)."""
    if not isinstance(node, dict):
        return None
    if name in node:
        return node[name]
    lowered = name.lower()
    return next((v for k, v in node.items() if k.lower() == lowered), None)


def _as_list(value: object) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _top(resource: dict, path: AttrPath) -> object:
    """The attribute's raw value: an extension's under its schema URN key
    (RFC 7644 §3.10), absent when the resource has no such extension; a core
    schema's, URN-qualified or not, at the top level."""
    container = resource
    if path.schema is not None and not path.schema.lower().startswith(CORE_SCHEMAS):
        container = _get(resource, path.schema)
        if not isinstance(container, dict):
            return None
    return _get(container, path.attr)


def _raw(resource: dict, path: AttrPath) -> list:
    """Every value the path addresses; sub-attributes of every element."""
    top = _as_list(_top(resource, path))
    if path.sub is None:
        return top
    return [v for element in top for v in _as_list(_get(element, path.sub))]


def _resolve(path: AttrPath, attribute_for: AttributeFor) -> Attribute:
    """The definition a filter path names; an attribute never returned
    (``returned: never``, RFC 7643 §7) cannot be filtered on, since which
    resources match would disclose its value."""
    found = attribute_for(path.schema, path.attr, path.sub)
    if found is None:
        raise FilterError(f'unknown attribute "{path}" in filter')
    top = attribute_for(path.schema, path.attr, None) if path.sub else found
    if found.returned == "never" or (top is not None and top.returned == "never"):
        raise FilterError(f'"{path}" cannot be filtered on: it is never returned')
    return found


# ---------------------------------------------------------------------------
# "pr" and value filters
# ---------------------------------------------------------------------------


def _is_present(value: object) -> bool:
    """Non-empty value, or a complex node with a non-empty value (RFC 7644 §3.4.2.2, "pr")."""
    if isinstance(value, list):
        return any(_is_present(v) for v in value)
    if isinstance(value, dict):
        return any(_is_present(v) for v in value.values())
    return value is not None and value != ""


def _compile_present(path: AttrPath, attribute_for: AttributeFor) -> Test:
    _resolve(path, attribute_for)
    return lambda res: any(_is_present(v) for v in _raw(res, path))


def _compile_value_path(f: ValuePath, attribute_for: AttributeFor) -> Test:
    """``attr[valFilter]``: some value of ``attr`` satisfies the filter
    (RFC 7644 §3.4.2.2, valuePath); its paths are sub-attributes of ``attr``."""
    attr = _resolve(f.path, attribute_for)
    if attr.type != "complex":
        raise FilterError(f'"{f.path}" is not a complex attribute, so it cannot take a value filter')

    def sub_attribute(_schema: str | None, name: str, sub: str | None) -> Attribute | None:
        return attribute_for(f.path.schema, f.path.attr, name) if sub is None else None

    inner = _compile(f.filter, sub_attribute)
    return lambda res: any(isinstance(e, dict) and inner(e) for e in _as_list(_top(res, f.path)))


# ---------------------------------------------------------------------------
# Comparisons
# ---------------------------------------------------------------------------


def _compile_comparison(f: Comparison, attribute_for: AttributeFor) -> Test:
    """``attrPath op value`` (RFC 7644 §3.4.2.2, Table 3): true when any
    value matches; ``ne`` when none equals (or the attribute is absent)."""
    attr = _resolve(f.path, attribute_for)
    if f.value is None:
        return _compile_null(f)
    path = f.path
    if attr.type == "complex" and path.sub is None:  # compare its "value"
        attr = _value_sub_attribute(attr, path)
        path = AttrPath(path.schema, path.attr, attr.name)
    test = _value_test(attr, f)
    if f.op == "ne":
        return lambda res: not any(test(v) for v in _raw(res, path) if v is not None)
    return lambda res: any(test(v) for v in _raw(res, path) if v is not None)


def _value_sub_attribute(attr: Attribute, path: AttrPath) -> Attribute:
    value = attr.sub("value")
    if value is None:
        raise FilterError(f'"{path}" is complex and has no "value"; name one of its sub-attributes')
    return value


def _compile_null(f: Comparison) -> Test:
    """``eq null`` matches an absent attribute, ``ne null`` a present one."""
    if f.op not in ("eq", "ne"):
        raise FilterError(f'"{f.op}" cannot compare "{f.path}" with null')
    wanted = f.op == "ne"
    return lambda res: any(_is_present(v) for v in _raw(res, f.path)) is wanted


def _value_test(attr: Attribute, f: Comparison) -> Callable[[object], bool]:
    """A test of one resource value, checked against the attribute's type."""
    if attr.type in _STRING_TYPES:
        return _string_test(attr, f)
    if f.op in _SUBSTRING:
        raise FilterError(f'"{f.op}" is not supported for {attr.type} attribute "{f.path}"')
    if attr.type == "boolean":
        return _boolean_test(f)
    if attr.type in _NUMBER_TYPES:
        return _number_test(f, attr.type)
    if attr.type == "dateTime":
        return _datetime_test(attr, f)
    return _binary_test(attr, f)


def _operator(op: str) -> Callable[[object, object], bool]:
    """The test for ``op``; ``ne`` is ``eq`` negated across all values."""
    return _OPERATORS["eq" if op == "ne" else op]


def _text(value: object) -> str:
    """A value as text: strings as they are, anything else as JSON."""
    return value if isinstance(value, str) else json.dumps(value, default=str)


def _fold(text: str, case_exact: bool) -> str:
    return text if case_exact else text.lower()


def _string_test(attr: Attribute, f: Comparison) -> Callable[[object], bool]:
    """Strings compare case-insensitively unless caseExact; gt/ge/lt/le are
    lexicographic (RFC 7644 §3.4.2.2)."""
    compare = _operator(f.op)
    wanted = _fold(_text(f.value), attr.case_exact)
    return lambda v: compare(_fold(_text(v), attr.case_exact), wanted)


def _binary_test(attr: Attribute, f: Comparison) -> Callable[[object], bool]:
    if f.op in _ORDERING:
        raise FilterError(f'"{f.op}" is not supported for binary attribute "{f.path}"')
    return _string_test(attr, f)


def _as_boolean(value: object) -> bool | None:
    """JSON true/false, or Entra's "True"/"false" strings."""
    if isinstance(value, bool):
        return value
    return _BOOLEANS.get(value.lower()) if isinstance(value, str) else None


def _boolean_test(f: Comparison) -> Callable[[object], bool]:
    if f.op in _ORDERING:
        raise FilterError(f'"{f.op}" is not supported for boolean attribute "{f.path}"')
    wanted = _as_boolean(f.value)
    if wanted is None:
        raise FilterError(f'"{f.path}" is boolean: compare it with true or false, not {_text(f.value)}')
    return lambda v: _as_boolean(v) is wanted


def _as_number(value: object) -> int | float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return value
    try:
        return float(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _number_test(f: Comparison, kind: str) -> Callable[[object], bool]:
    compare = _operator(f.op)
    wanted = _as_number(f.value)
    if wanted is None:
        raise FilterError(f'"{f.path}" is {kind}: compare it with a number, not {_text(f.value)}')

    def test(v: object) -> bool:
        number = _as_number(v)
        return number is not None and compare(number, wanted)

    return test


def _as_datetime(value: object) -> datetime | None:
    """An xsd:dateTime (RFC 7643 §2.3.5); "Z" is UTC and so is no offset."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    if text[-1:] in ("Z", "z"):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)  # Python 3.11 reads .NET's 7-digit fractions
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _datetime_test(attr: Attribute, f: Comparison) -> Callable[[object], bool]:
    """Chronological when both sides parse, else as strings."""
    compare = _operator(f.op)
    wanted = _as_datetime(f.value)
    as_string = _string_test(attr, f)

    def test(v: object) -> bool:
        moment = _as_datetime(v)
        if moment is None or wanted is None:
            return as_string(v)
        return compare(moment, wanted)

    return test


__all__ = ["AttributeFor", "matches"]
