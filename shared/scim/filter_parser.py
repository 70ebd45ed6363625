"""The SCIM filter language: parsing (RFC 7644 §3.4.2.2).

``parse_filter`` turns the text of a ``filter`` query parameter (or of a
PATCH path's ``[...]``) into the small immutable tree of
:mod:`shared.scim.filter`, whose ``render_filter`` writes a tree back in
canonical form, so ``parse_filter(render_filter(f)) == f``.

The grammar is the ABNF of RFC 7644 §3.4.2.2, Figure 1, with precedence
``not`` > ``and`` > ``or``, both binary operators left-associative, and
operators and logical words case-insensitive.  Two forms of Microsoft Entra
ID's documented dialect are accepted as well:

* an unquoted value that is neither a number nor ``true``/``false``/``null``
  is a string (``externalId eq jyoung``); it runs until whitespace, ``)`` or
  ``]``;
* a value filter followed by a sub-attribute and a test
  (``emails[type eq "work"].value eq "x@y"``) is read as the value filter
  ``emails[type eq "work" and value eq "x@y"]``.

Errors are :class:`~shared.scim.filter.FilterError` with a precise message;
positions are character offsets from 0 in the text as given.  No input
string makes the parser raise anything else: the text is limited to
:data:`MAX_FILTER_LENGTH` characters and the tree to
:data:`MAX_FILTER_DEPTH` levels.
"""

from __future__ import annotations

import json
import math
import re

from .filter import And, AttrPath, Comparison, Filter, FilterError, Not, Or, Present, ValuePath
from .storable_text import refused_character

MAX_FILTER_LENGTH = 4096
"""Longest filter accepted, in characters."""

MAX_FILTER_DEPTH = 32
"""Deepest filter accepted: levels of ``(``, ``not (``, ``[`` and of
``and``/``or`` nodes (a chain ``a or b or c`` is two levels)."""

COMPARISON_OPERATORS = frozenset({"eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le"})

_SPACE = " \t\r\n"
_WORD_END = _SPACE + '()[]"'  # what ends an attribute path or a keyword
_VALUE_END = _SPACE + ")]"  # what ends an unquoted value (Entra's dialect)
_NAME_START = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
_NAME_CHARS = _NAME_START | frozenset("0123456789-_")
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
#: One decoder for every string literal (``json.loads`` with an option builds a new one per call).
_STRINGS = json.JSONDecoder(strict=False)
_LITERALS = {"true": True, "false": False, "null": None}


# ---------------------------------------------------------------------------
# Attribute paths
# ---------------------------------------------------------------------------


def _is_name(text: str) -> bool:
    """ATTRNAME = ALPHA *(nameChar), plus ``$ref`` (RFC 7643 §2.1, §7)."""
    if text == "$ref":
        return True
    return bool(text) and text[0] in _NAME_START and all(c in _NAME_CHARS for c in text)


def _is_urn(text: str) -> bool:
    return bool(text) and text[0] in _NAME_START and not any(c in _WORD_END for c in text)


def _attr_path(token: str, at: int) -> AttrPath:
    """Split ``[URN ":"] attr ["." sub]`` at the last ``:`` (URNs contain dots)."""
    schema, colon, rest = token.rpartition(":")
    if colon and not _is_urn(schema):
        raise FilterError(f'invalid schema URN in "{token}" at position {at}')
    attr, dot, sub = rest.partition(".")
    if not _is_name(attr) or (dot and not _is_name(sub)):
        raise FilterError(f'invalid attribute path "{token}" at position {at}')
    return AttrPath(schema or None, attr, sub if dot else None)


def parse_attr_path(text: str) -> AttrPath:
    """Parse a bare attrPath (RFC 7644 §3.4.2.2), as used by ``sortBy``
    (§3.4.2.3) and ``attributes``/``excludedAttributes`` (§3.4.2.5)."""
    if not isinstance(text, str) or not text:
        raise FilterError("attribute path is empty")
    if len(text) > MAX_FILTER_LENGTH:
        raise FilterError(f"attribute path is longer than {MAX_FILTER_LENGTH} characters")
    return _attr_path(text, 0)


# ---------------------------------------------------------------------------
# The parser
# ---------------------------------------------------------------------------


class _Parser:
    """Recursive descent over RFC 7644 §3.4.2.2, Figure 1.

    Every ``parse_*`` method returns ``(node, height)`` so the depth limit
    is checked as the tree grows; ``level`` counts open groups so deeply
    nested text fails before the recursion gets deep.
    """

    __slots__ = ("text", "pos", "level", "bracket")

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.level = 0
        self.bracket: tuple[AttrPath, int] | None = None  # open "[": its attribute, position

    # -- scanning ----------------------------------------------------------

    def skip_space(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in _SPACE:
            self.pos += 1

    def at_end(self) -> bool:
        return self.pos >= len(self.text)

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def read_until(self, stop: str) -> str:
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos] not in stop:
            self.pos += 1
        return self.text[start : self.pos]

    def peek_word(self) -> str:
        start = self.pos
        word = self.read_until(_WORD_END)
        self.pos = start
        return word

    def found(self) -> str:
        """The token at ``pos``, for error messages."""
        char = self.peek()
        if char == '"':
            end = self.text.find('"', self.pos + 1)
            token = self.text[self.pos : end + 1 if end > 0 else len(self.text)]
            return "string " + _clip(token)
        return '"' + (char if char in "()[]" else _clip(self.peek_word())) + '"'

    def expected(self, what: str) -> FilterError:
        if self.at_end():
            return FilterError(f"expected {what} at the end of the filter")
        return FilterError(f"expected {what} at position {self.pos}, found {self.found()}")

    def check_height(self, height: int, at: int) -> None:
        if height > MAX_FILTER_DEPTH:
            raise FilterError(f"filter is nested deeper than {MAX_FILTER_DEPTH} levels at position {at}")

    def open_group(self) -> None:
        self.check_height(self.level + 1, self.pos)
        self.level += 1

    def close(self, char: str, opened_at: int) -> None:
        self.skip_space()
        if self.peek() == char:
            self.pos += 1
            self.level -= 1
            return
        opener = "(" if char == ")" else "["
        if self.at_end():
            raise FilterError(f'missing "{char}" to close "{opener}" at position {opened_at}')
        raise FilterError(
            f'expected "{char}" to close "{opener}" at position {opened_at}, '
            f"found {self.found()} at position {self.pos}"
        )

    # -- grammar -------------------------------------------------------------

    def parse_or(self, after: str) -> tuple[Filter, int]:
        return self.parse_chain(after, "or", self.parse_and, Or)

    def parse_and(self, after: str) -> tuple[Filter, int]:
        return self.parse_chain(after, "and", self.parse_unary, And)

    def parse_chain(self, after: str, keyword: str, operand, node_type) -> tuple[Filter, int]:
        """``operand *(keyword operand)``, left-associative (RFC 7644 §3.4.2.2)."""
        node, height = operand(after)
        while self.next_keyword(keyword):
            at = self.pos - len(keyword)
            right, right_height = operand(f'"{keyword}"')
            height = max(height, right_height) + 1
            self.check_height(height, at)
            node = node_type(node, right)
        return node, height

    def next_keyword(self, keyword: str) -> bool:
        """Consume ``keyword`` if it is the next word; otherwise move nothing."""
        start = self.pos
        self.skip_space()
        if self.peek_word().lower() == keyword:
            self.pos += len(keyword)
            return True
        self.pos = start
        return False

    def parse_unary(self, after: str) -> tuple[Filter, int]:
        self.skip_space()
        start = self.pos
        if self.peek() == "(":
            self.open_group()
            self.pos += 1
            node, height = self.parse_or('"("')
            self.close(")", start)
            return node, height
        word = self.peek_word()
        lowered = word.lower()
        if lowered == "not":
            return self.parse_not()
        if not word or lowered in ("and", "or"):
            suffix = f" after {after}" if after else ""
            raise self.expected(f'an attribute path, "not" or "("{suffix}')
        self.pos += len(word)
        return self.parse_attr_expression(word, start)

    def parse_not(self) -> tuple[Filter, int]:
        self.pos += 3
        self.skip_space()
        if self.peek() != "(":
            raise self.expected('"(" after "not"')
        start = self.pos
        self.open_group()
        self.pos += 1
        inner, height = self.parse_or('"not ("')
        self.close(")", start)
        return Not(inner), height + 1

    def parse_attr_expression(self, token: str, start: int) -> tuple[Filter, int]:
        path = _attr_path(token, start)
        if self.bracket is not None:
            self.check_sub_attribute(path, token, start)
        if self.peek() == "[":
            return self.parse_value_path(path, start)
        return self.parse_test(path, token), 0

    def check_sub_attribute(self, path: AttrPath, token: str, start: int) -> None:
        parent, opened_at = self.bracket
        if path.schema is not None or path.sub is not None:
            raise FilterError(
                f'"{token}" at position {start} must be a sub-attribute name of "{parent}" '
                f'(inside "[" at position {opened_at})'
            )
        if self.peek() == "[":
            raise FilterError(
                f'unexpected "[" at position {self.pos}: value filters cannot be nested '
                f'(inside "[" at position {opened_at})'
            )

    def parse_value_path(self, path: AttrPath, start: int) -> tuple[Filter, int]:
        if path.sub is not None:
            raise FilterError(
                f'"[" at position {self.pos} must follow an attribute, not the sub-attribute "{path}"'
            )
        opened_at = self.pos
        self.open_group()
        self.pos += 1
        self.bracket = (path, opened_at)
        inner, height = self.parse_or('"["')
        self.close("]", opened_at)
        self.bracket = None
        if self.peek() == ".":  # Entra: emails[type eq "work"].value eq "x"
            inner = And(inner, self.parse_entra_tail())
            height += 1
        self.check_height(height + 1, start)
        return ValuePath(path, inner), height + 1

    def parse_entra_tail(self) -> Filter:
        self.pos += 1
        name = self.peek_word()
        if not _is_name(name):
            raise self.expected('a sub-attribute name after "]."')
        self.pos += len(name)
        return self.parse_test(AttrPath(None, name, None), name)

    def parse_test(self, path: AttrPath, token: str) -> Filter:
        """``"pr"`` or ``compareOp SP compValue`` after an attribute path."""
        self.skip_space()
        at = self.pos
        word = self.read_until(_WORD_END)
        op = word.lower()
        if not word:
            raise self.expected(f'a comparison operator after "{token}"')
        if op == "pr":
            self.reject_value_after_pr()
            return Present(path)
        if op not in COMPARISON_OPERATORS:
            raise FilterError(f'unknown operator "{_clip(word)}" at position {at}')
        return Comparison(path, op, self.parse_value(word))

    def reject_value_after_pr(self) -> None:
        start = self.pos
        self.skip_space()
        following = self.peek_word().lower()
        if not self.at_end() and self.peek() not in ")]" and following not in ("and", "or"):
            raise FilterError(f'"pr" takes no value; found {self.found()} at position {self.pos}')
        self.pos = start

    def parse_value(self, op_word: str) -> str | int | float | bool | None:
        """compValue (RFC 7644 §3.4.2.2), or Entra's unquoted string."""
        self.skip_space()
        if self.peek() == '"':
            return self.parse_string()
        start = self.pos
        word = self.read_until(_VALUE_END)
        if not word or word.lower() in ("and", "or", "not") or any(c in word for c in '(["'):
            self.pos = start
            raise self.expected(f'a value after "{op_word}"')
        lowered = word.lower()
        if lowered in _LITERALS:
            return _LITERALS[lowered]
        if _NUMBER.fullmatch(word):
            return _number(word, start)
        return word

    def parse_string(self) -> str:
        """A JSON string (RFC 8259 §7) starting at the current ``"``."""
        start = self.pos
        match = _STRING.match(self.text, start)
        if match is None:
            raise FilterError(f"unterminated string starting at position {start}")
        self.pos = match.end()
        try:
            value = _STRINGS.decode(match.group())
        except json.JSONDecodeError as exc:
            raise FilterError(
                f"invalid escape at position {start + exc.pos} in the string starting at position {start}"
            ) from None
        problem = refused_character(value)
        if problem:
            raise FilterError(f"the string starting at position {start} holds {problem}")
        return value


def _number(word: str, at: int) -> int | float:
    value = json.loads(word)
    if isinstance(value, float) and not math.isfinite(value):
        raise FilterError(f'number "{_clip(word)}" at position {at} is out of range')
    return value


def _clip(text: str, limit: int = 30) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def parse_filter(text: str) -> Filter:
    """Parse a filter expression (RFC 7644 §3.4.2.2); raises :class:`FilterError`."""
    if not isinstance(text, str):
        raise FilterError("filter must be a string")
    if len(text) > MAX_FILTER_LENGTH:
        raise FilterError(f"filter is longer than {MAX_FILTER_LENGTH} characters")
    problem = refused_character(text)
    if problem:
        raise FilterError(f"filter holds {problem}")
    parser = _Parser(text)
    parser.skip_space()
    if parser.at_end():
        raise FilterError("filter is empty")
    node, _height = parser.parse_or("")
    parser.skip_space()
    if not parser.at_end():
        raise FilterError(f"unexpected {parser.found()} at position {parser.pos}")
    return node


__all__ = [
    "COMPARISON_OPERATORS",
    "MAX_FILTER_DEPTH",
    "MAX_FILTER_LENGTH",
    "parse_attr_path",
    "parse_filter",
]
