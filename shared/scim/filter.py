"""The SCIM filter tree: its nodes, rendering and walking (RFC 7644 §3.4.2.2).

A filter is a small immutable tree of the nodes below, one per production
of the grammar.  :func:`shared.scim.filter_parser.parse_filter` builds one
from text; :func:`render_filter` writes a tree back in canonical form, so
``parse_filter(render_filter(f)) == f``; :mod:`shared.scim.matching`
evaluates one against a resource.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass


class FilterError(ValueError):
    """An invalid filter or attribute path; ``str()`` says what and where."""


@dataclass(frozen=True, slots=True)
class AttrPath:
    """``[URI ":"] ATTRNAME ["." subAttr]`` (RFC 7644 §3.4.2.2, attrPath)."""

    schema: str | None
    attr: str
    sub: str | None

    def __str__(self) -> str:
        head = f"{self.schema}:{self.attr}" if self.schema else self.attr
        return f"{head}.{self.sub}" if self.sub else head


@dataclass(frozen=True, slots=True)
class Comparison:
    """``attrPath compareOp compValue`` (RFC 7644 §3.4.2.2, attrExp)."""

    path: AttrPath
    op: str
    value: str | int | float | bool | None


@dataclass(frozen=True, slots=True)
class Present:
    """``attrPath "pr"`` (RFC 7644 §3.4.2.2, attrExp)."""

    path: AttrPath


@dataclass(frozen=True, slots=True)
class And:
    """``filter "and" filter`` (RFC 7644 §3.4.2.2, logExp)."""

    left: Filter
    right: Filter


@dataclass(frozen=True, slots=True)
class Or:
    """``filter "or" filter`` (RFC 7644 §3.4.2.2, logExp)."""

    left: Filter
    right: Filter


@dataclass(frozen=True, slots=True)
class Not:
    """``"not" "(" filter ")"`` (RFC 7644 §3.4.2.2)."""

    inner: Filter


@dataclass(frozen=True, slots=True)
class ValuePath:
    """``attrPath "[" valFilter "]"`` (RFC 7644 §3.4.2.2, valuePath).

    ``filter``'s paths name sub-attributes of ``path`` (no schema, no sub).
    """

    path: AttrPath
    filter: Filter


Filter = Comparison | Present | And | Or | Not | ValuePath


# ---------------------------------------------------------------------------
# Rendering and walking
# ---------------------------------------------------------------------------


def _render_value(value: str | int | float | bool | None) -> str:
    return json.dumps(value, ensure_ascii=False)


def _grouped(node: Filter, wrap: bool) -> str:
    text = render_filter(node)
    return f"({text})" if wrap else text


def render_filter(f: Filter) -> str:
    """Canonical text of a filter (RFC 7644 §3.4.2.2): lower-case operators,
    JSON values, parentheses only where precedence needs them."""
    if isinstance(f, Comparison):
        return f"{f.path} {f.op} {_render_value(f.value)}"
    if isinstance(f, Present):
        return f"{f.path} pr"
    if isinstance(f, And):
        left = _grouped(f.left, isinstance(f.left, Or))
        return f"{left} and {_grouped(f.right, isinstance(f.right, (And, Or)))}"
    if isinstance(f, Or):
        return f"{render_filter(f.left)} or {_grouped(f.right, isinstance(f.right, Or))}"
    if isinstance(f, Not):
        return f"not ({render_filter(f.inner)})"
    if isinstance(f, ValuePath):
        return f"{f.path}[{render_filter(f.filter)}]"
    raise TypeError(f"not a filter: {f!r}")


def filter_paths(f: Filter) -> Iterator[AttrPath]:
    """Every attribute path a filter tests, left to right (RFC 7644
    §3.4.2.2); for a value filter its attribute, not the sub-attributes."""
    stack: list[Filter] = [f]
    while stack:
        node = stack.pop()
        if isinstance(node, (And, Or)):
            stack += (node.right, node.left)
        elif isinstance(node, Not):
            stack.append(node.inner)
        else:
            yield node.path


__all__ = [
    "And",
    "AttrPath",
    "Comparison",
    "Filter",
    "FilterError",
    "Not",
    "Or",
    "Present",
    "ValuePath",
    "filter_paths",
    "render_filter",
]
