"""Text and numbers the service accepts: what Table Storage can hold, as I-JSON.

Every string that reaches storage or a response must be valid Unicode text
that Azure Table Storage can store and every client can read.  A JSON
string may spell an unpaired UTF-16 surrogate as an escape (``"\\ud800"``),
which is no Unicode scalar value: Python keeps it as a lone surrogate, it
cannot be encoded as UTF-8, and Azurite, once it has stored two of them,
refuses every later write of the whole service.  So request bodies are
held to I-JSON (RFC 7493), the interoperable profile of JSON:

* §2.1: no surrogate that is not half of a pair and no noncharacter
  (U+FFFE, U+FFFF, U+FDD0-U+FDEF and the last two code points of every
  plane, Unicode §23.7);
* §2.2: numbers within IEEE 754 binary64 -- no ``NaN``/``Infinity``
  (which are not JSON at all, RFC 8259 §6), no float that overflows to
  infinity, and integers within ±(2**53 - 1), the range every JSON
  implementation reads exactly (an integer of thousands of digits also
  costs quadratic time to convert).

Control characters.  The service's policy, for every stored string (values
and keys at any depth, filters, query parameters, path ids): C0 controls
other than TAB, LF and CR (U+0000-U+0008, U+000B, U+000C, U+000E-U+001F),
DEL (U+007F) and the C1 controls (U+0080-U+009F) are refused.  They are
not characters of XML 1.0 (§2.2, the heritage of Table Storage's wire
format) or are "discouraged" there, no identity attribute needs them, and a
C1 control in practice means text decoded with the wrong code page; TAB,
LF and CR stay because multi-line values such as ``addresses.formatted``
(RFC 7643 §4.1.2) carry them.  Refusing, rather than dropping, makes the
bad value show as a failed operation in Entra's provisioning logs instead
of a silent change.

Invalid UTF-8 in a URL's query or path is decoded with ``surrogateescape``
at the web edge (:mod:`shared.scim.http`), so it arrives here as lone surrogates
and is refused by the same rule.
"""

from __future__ import annotations

import json
import re

MAX_SAFE_INTEGER = 2**53 - 1
_MAX_INTEGER_DIGITS = len(str(MAX_SAFE_INTEGER))
_PLANE_ENDS = "".join(chr((plane << 16) | low) for plane in range(17) for low in (0xFFFE, 0xFFFF))
_REFUSED = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufdd0-\ufdef" + re.escape(_PLANE_ENDS) + "]"
)


def refused_character(text: str) -> str | None:
    """Why ``text`` cannot be stored (its first refused character and where), or None."""
    match = _REFUSED.search(text)
    if match is None:
        return None
    return f"{describe_character(match.group())} at character {match.start() + 1}"


def describe_character(char: str) -> str:
    """``U+D800 (an unpaired surrogate)`` and the like, for error messages."""
    point = ord(char)
    if 0xD800 <= point <= 0xDFFF:
        kind = "an unpaired surrogate"
    elif point < 0x20 or point == 0x7F:
        kind = "a control character"
    elif point <= 0x9F:
        kind = "a C1 control character"
    else:
        kind = "a noncharacter"
    return f"U+{point:04X} ({kind})"


class Unrepresentable:
    """A JSON number outside I-JSON's range, kept as its text so that the
    walk of :func:`first_refused` can name where it stood."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def describe(self) -> str:
        shown = self.text if len(self.text) <= 24 else f"{self.text[:12]}...({len(self.text)} characters)"
        return f"the number {shown} is outside the range this service can represent (RFC 7493 §2.2)"


def _parse_int(text: str) -> int | Unrepresentable:
    digits = text.lstrip("-")
    if len(digits) > _MAX_INTEGER_DIGITS:
        return Unrepresentable(text)
    value = int(text)
    return value if abs(value) <= MAX_SAFE_INTEGER else Unrepresentable(text)


def _parse_float(text: str) -> float | Unrepresentable:
    value = float(text)
    return value if value not in (float("inf"), float("-inf")) else Unrepresentable(text)


class NotJson(ValueError):
    """A token that is not JSON (``NaN``, ``Infinity``, ``-Infinity``)."""


def _refuse_constant(name: str):
    raise NotJson(f"{name} is not a JSON number (RFC 8259 §6)")


MAX_NESTING = 64
"""The deepest JSON nesting parsed; SCIM documents need about five levels."""
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.S)
_JSON_BRACKET = re.compile(r"[\[\]{}]")


class TooDeep(ValueError):
    """A JSON text nested more than :data:`MAX_NESTING` levels."""


def nests_deeper_than(text: str, limit: int = MAX_NESTING) -> bool:
    """Whether ``text`` nests its arrays and objects (outside strings) more
    than ``limit`` levels deep.  The parser recurses once per level: refusing
    depth first keeps it far from the interpreter's recursion limit, where a
    garbage collection that runs Python code (a finalizer, a callback) ends
    the process with "Cannot recover from stack overflow" instead of raising
    RecursionError."""
    if text.count("[") + text.count("{") <= limit:  # C-speed: the common case costs two scans
        return False
    depth = 0
    for bracket in _JSON_BRACKET.findall(_JSON_STRING.sub("", text)):
        depth += 1 if bracket in "[{" else -1
        if depth > limit:
            return True
    return False


def loads(text: str):
    """``json.loads`` under the number rules above.  Out-of-range numbers come
    back as :class:`Unrepresentable` for :func:`first_refused` to report;
    raises :class:`NotJson` for ``NaN``/``Infinity``, :class:`TooDeep` beyond
    :data:`MAX_NESTING` levels and ``json.JSONDecodeError`` for malformed text."""
    if nests_deeper_than(text):
        raise TooDeep(f"it nests more than {MAX_NESTING} levels deep")
    return json.loads(text, parse_int=_parse_int, parse_float=_parse_float, parse_constant=_refuse_constant)


def first_refused(value, where: str = "") -> str | None:
    """The first string (value or object key) or number in a parsed JSON
    value that the service refuses, described with its location in the
    document (``emails[0].value``, ``Operations[1].path``), or None."""
    stack = [(value, where)]
    while stack:
        item, path = stack.pop()
        if isinstance(item, str):
            problem = refused_character(item)
            if problem:
                return f"{path or 'the value'} holds {problem}"
        elif isinstance(item, dict):
            children = []
            for key, child in item.items():
                problem = refused_character(key)
                if problem:
                    return f"a key in {path or 'the top-level object'} holds {problem}"
                children.append((child, f"{path}.{key}" if path else key))
            stack.extend(reversed(children))
        elif isinstance(item, list):
            stack.extend(reversed([(child, f"{path}[{i}]") for i, child in enumerate(item)]))
        elif isinstance(item, Unrepresentable):
            return f"{path or 'the value'}: {item.describe()}"
    return None
