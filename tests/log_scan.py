"""The log scan: every log line of a test run, checked for secrets and personal data.

What is kept.  Every record logged in the test process at INFO or above, from
any logger -- the app's ``scim`` loggers, the dev host's, and the Azure SDK's
too: the scan does not quiet ``azure``, so if the app stopped quieting the
SDK's request logging (:mod:`shared.logs`) the storage URLs it logs at INFO
would be scanned.  Plus the stderr (and stdout, less what a program prints
for its user on purpose) of the subprocesses tests start, fed in with
:meth:`LogCapture.feed` / :meth:`LogCapture.follow`.

What is looked for, at the end of the session (``tests/conftest.py``), in
every kept line:

* the **secrets** fixtures registered (tenant tokens, client secrets, access
  tokens, the test password) and anything shaped like a credential
  (:data:`SECRET_SHAPES`);
* the **personal values** the tests sent (:meth:`LogCapture.register_sent`,
  :meth:`LogCapture.register_query`, :meth:`LogCapture.register_personal`):
  userNames, emails, externalIds, display names, nickNames, name parts,
  members' ``display``, the string literals of filters and PATCH paths, and
  the tenants' names and ids.  ``tests/integration/conftest.py`` registers what
  its ``ScimClient`` sends and, with a tap on the dev host's request objects,
  everything any client (conformance suites, fuzzer, raw sockets) sends to the
  in-process dev host; ``tests/integration/entra_cycle.py`` what a cycle sends
  through any transport.

A hit fails the run.

The personal-value rule, to avoid false positives:

* a value is registered only if, stripped, it has at least
  :data:`MIN_PERSONAL_LENGTH` (6) characters and at least one distinctive
  word: a run of 3 or more letters and digits that is not all digits
  (numbers, dates and counters collide with the ms, ports and counts of
  ordinary log lines) and not one of :data:`COMMON_WORDS` (the words of the
  app's own log lines, HTTP methods, route and attribute names:
  ``request``, ``status``, ``options``, ``members`` ...).  So ``Person 12``
  and ``bjensen@example.com`` are registered; ``bob``, ``id-1234``,
  ``.search``, ``ms=0.1`` and ``2024-01-01`` are not;
* nor is a value that is a string constant of the service's own code
  (:func:`code_constants`): Hypothesis draws such constants from the
  modules it sees, so a fuzzed ``userName`` may be ``seconds``, a word the
  app's own log lines hold (``retry_in_seconds=60``);
* the comparison ignores case, and each line is also compared URL-decoded
  (twice: row keys are %-escaped, then the URL is), with ``+`` read as a
  space and OData's doubled quotes as one -- the forms a value takes in a
  request URL or a ``$filter``;
* a value matches only as whole words: where it begins or ends with a
  letter or digit, the text must not go on with one (``alice1`` is not in
  ``malice12``).

Cost: the lines (each with its decoded forms) are joined once and the set of
their words built once; a value or secret is looked for in the joined text
(``str.find``) only when every word of it is in that set, which almost no
unleaked value is.  So the scan is linear in the text plus the number of
values, not their product: about 0.3 s for 13,000 lines and 1,300 values,
about 2 s for 60,000 lines and 300,000 values (``pytest_sessionfinish``
prints lines, values and seconds).
"""

from __future__ import annotations

import ast
import bisect
import functools
import json
import logging
import re
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import IO
from urllib.parse import parse_qsl, unquote, urlsplit

SECRET_SHAPES = {
    "bearer token": re.compile(r"\b[0-9a-f]{12}\.[A-Za-z0-9_-]{43}\b"),
    "JWT": re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]+"),
    "Authorization value": re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9+/=._-]{16,}"),
    "private key": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    "client secret": re.compile(r"(?i)client_secret=[^&\s]+"),
}
TEST_PASSWORDS = ("t1meMa$heen",)

MIN_PERSONAL_LENGTH = 6
MAX_DEPTH = 32  # of a request body walked for values
#: Words too common in log lines, tracebacks and SCIM messages to make a value distinctive:
#: the words of the app's own log lines (``request= method= route= status= storage_calls= ms=``,
#: ``auth_failed reason= failures_in_process=``...), HTTP methods, route and attribute names.
COMMON_WORDS = frozenset("""
    access account active address api application attribute attributes audit auth azure azurite
    basic bearer boolean calls client complex connection content core created default delete deleted
    description details devhost devstoreaccount1 display displayname emails employeenumber enterprise
    entity error errors example exception externalid extension failed failures false familyname file
    filter formatted function get givenname group groups head header headers http https incident
    integer internal json line manager member members message method middlename missing module name
    nickname none null oauth openapi operation operations options params partitionkey password patch
    post primary process put reason rejected remove replace request requests resource resources
    resourcetypes response retention retry return returned route rowkey schema schemas scim search seconds service
    serviceproviderconfig shared status storage string tables tenant tenants test timeout title token
    tokens traceback transaction true type unavailable unknown url user username users value values
    warning work
""".split())

#: Attributes whose string values are personal (compared lower-case, URN prefix removed).
PERSONAL_ATTRIBUTES = frozenset({
    "username", "displayname", "externalid", "nickname", "display", "employeenumber",
    "givenname", "familyname", "middlename", "formatted", "honorificprefix", "honorificsuffix",
})
#: Multi-valued attributes whose ``value`` sub-attribute is personal.
PERSONAL_MULTI_VALUED = frozenset({"emails", "phonenumbers", "ims"})

_WORD = re.compile(r"[^\W_]+")
_LITERAL = re.compile(r'"((?:[^"\\]|\\.)*)"')
_BRACKETS = re.compile(r"\[[^\]]*\]")


#: The service's own code, whose string constants are not personal values.
SERVICE_SOURCES = ("shared", "scripts", "function_app.py")


@functools.cache
def code_constants() -> frozenset[str]:
    """Every string constant of :data:`SERVICE_SOURCES`, stripped and lower-case."""
    root = Path(__file__).resolve().parent.parent
    files = [path for source in SERVICE_SOURCES
             for path in ((root / source).rglob("*.py") if (root / source).is_dir() else [root / source])]
    return frozenset(node.value.strip().lower() for path in files for node in ast.walk(ast.parse(path.read_text()))
                     if isinstance(node, ast.Constant) and isinstance(node.value, str))


def _attribute(key: str) -> str:
    """``urn:...:User:userName`` or ``userName`` -> ``username``."""
    return key.rsplit(":", 1)[-1].lower() if key.lower().startswith("urn:") else key.lower()


def _path_is_personal(path: str) -> bool:
    """A PATCH path naming a personal attribute (``name.givenName``, ``emails[type eq "work"].value``)."""
    names = _attribute(_BRACKETS.sub("", path)).split(".")
    return any(n in PERSONAL_ATTRIBUTES or n in PERSONAL_MULTI_VALUED for n in names)


def _forms(line: str) -> str:
    """The line as the scan compares it: itself, URL-decoded (twice), ``+`` as a space, ``''`` as ``'``."""
    forms = [line]
    decoded = unquote(unquote(line)) if "%" in line else line
    if decoded != line:
        forms.append(decoded)
    if "+" in decoded:
        forms.append(decoded.replace("+", " "))
    if "''" in decoded:
        forms.append(decoded.replace("''", "'"))
    return "\n".join(forms)


class _Text:
    """Lines joined into one text, with a map from offsets back to lines."""

    SEPARATOR = "\x00"  # not a space, not a word character: no match runs from one line into the next

    def __init__(self, texts: list[str]) -> None:
        self.text = self.SEPARATOR.join(texts)
        self.starts = []
        offset = 0
        for text in texts:
            self.starts.append(offset)
            offset += len(text) + len(self.SEPARATOR)

    def line_of(self, offset: int) -> int:
        return bisect.bisect_right(self.starts, offset) - 1


class LogCapture(logging.Handler):
    """Keeps every formatted record; :meth:`leaks` scans them."""

    def __init__(self) -> None:
        super().__init__(level=logging.INFO)
        self.lines: list[str] = []
        self.secrets: set[str] = set(TEST_PASSWORDS)
        self.personal: set[str] = set()  # lower-case
        self._lock = threading.Lock()

    def install(self) -> None:
        root = logging.getLogger()
        if self not in root.handlers:
            root.addHandler(self)
            root.setLevel(min(root.level or logging.WARNING, logging.INFO))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()
        except Exception:  # noqa: BLE001 - a malformed record is still kept
            text = str(record.msg)
        if record.exc_info:
            text += "\n" + logging.Formatter().formatException(record.exc_info)
        self.lines.append(text)

    # -- other processes' output -------------------------------------------

    def feed(self, output: str | bytes | Iterable[str], source: str) -> list[str]:
        """Keep a subprocess's output, one line per line, tagged ``[source]``; returns the kept lines."""
        if isinstance(output, bytes):
            output = output.decode("utf-8", "replace")
        lines = output.splitlines() if isinstance(output, str) else list(output)
        kept = [f"[{source}] {line.rstrip()}" for line in lines if line.strip()]
        with self._lock:
            self.lines.extend(kept)
        return kept

    def follow(self, stream: IO, source: str) -> "Follower":
        """Read ``stream`` (a subprocess's pipe) to its end in a thread, feeding each line."""
        return Follower(self, stream, source)

    # -- what the tests sent -----------------------------------------------

    def register_personal(self, value: object) -> None:
        """Register one value the tests sent, if it can stand for a person (module docstring)."""
        if not isinstance(value, str):
            return
        value = value.strip().lower()
        if len(value) >= MIN_PERSONAL_LENGTH and value not in code_constants() and any(
                len(word) >= 3 and not word.isdigit() and word not in COMMON_WORDS for word in _WORD.findall(value)):
            self.personal.add(value)

    def register_filter(self, text: object) -> None:
        """The string literals of a filter or a PATCH path (``userName eq "..."``)."""
        if not isinstance(text, str) or '"' not in text:
            return
        for literal in _LITERAL.findall(text):
            try:
                self.register_personal(json.loads(f'"{literal}"'))
            except ValueError:
                self.register_personal(literal)

    def register_query(self, url: str) -> None:
        """The filter of a URL or path's query string."""
        query = urlsplit(url).query
        if "filter" in query.lower():
            for name, value in parse_qsl(query, keep_blank_values=True):
                if name.lower() == "filter":
                    self.register_filter(value)

    def register_sent(self, body: object, _depth: int = 0) -> None:
        """The personal values in a request body: a resource, a PATCH, a search request."""
        if _depth > MAX_DEPTH:  # hostile bodies nest deeper than any resource
            return
        if isinstance(body, list):
            for item in body:
                self.register_sent(item, _depth + 1)
            return
        if not isinstance(body, dict):
            return
        path = body.get("path") if isinstance(body.get("path"), str) else None
        for key, value in body.items():
            if not isinstance(key, str):
                continue
            name = _attribute(key)
            if name in ("filter", "path"):
                self.register_filter(value)
            elif name in PERSONAL_ATTRIBUTES:
                self.register_personal(value)
            elif name == "value" and path is not None and _path_is_personal(path):
                self._register_strings(value, _depth + 1)
            elif name in PERSONAL_MULTI_VALUED and isinstance(value, list):
                for item in value:
                    if isinstance(item, dict):
                        self.register_personal(item.get("value"))
                    else:
                        self.register_personal(item)
            elif ("." in key or "[" in key) and _path_is_personal(key):  # a PATCH value keyed by path
                self.register_filter(key)
                self._register_strings(value, _depth + 1)
            else:
                self.register_sent(value, _depth + 1)

    def _register_strings(self, value: object, depth: int) -> None:
        if depth > MAX_DEPTH:
            return
        if isinstance(value, dict):
            for item in value.values():
                self._register_strings(item, depth + 1)
        elif isinstance(value, list):
            for item in value:
                self._register_strings(item, depth + 1)
        else:
            self.register_personal(value)

    # -- the scan ------------------------------------------------------------

    def leaks(self, lines: list[str] | None = None) -> list[str]:
        """One finding per (line, what was found there): registered secrets, secret shapes, personal values."""
        lines = list(self.lines if lines is None else lines)
        forms = [_forms(line) for line in lines]
        raw = _Text(forms)
        lowered = _Text([form.lower() for form in forms])
        words = set(_WORD.findall(lowered.text))
        found: dict[tuple[int, str], None] = {}

        for secret in self.secrets:
            if all(word in words for word in _WORD.findall(secret.lower())):
                start = raw.text.find(secret)
                while start >= 0:
                    found[(raw.line_of(start), "registered secret")] = None
                    start = raw.text.find(secret, start + len(secret))
        for name, shape in SECRET_SHAPES.items():
            for match in shape.finditer(raw.text):
                found[(raw.line_of(match.start()), name)] = None
        text = lowered.text
        for value in self.personal:
            value_words = _WORD.findall(value)
            if not value_words or not all(word in words for word in value_words):
                continue
            starts_word, ends_word = value[0].isalnum(), value[-1].isalnum()
            start = text.find(value)
            while start >= 0:
                end = start + len(value)
                if not (starts_word and start and text[start - 1].isalnum()) and not (
                        ends_word and end < len(text) and text[end].isalnum()):
                    found[(lowered.line_of(start), f"personal value {value!r}")] = None
                start = text.find(value, start + 1)
        return [f"{what} in: {lines[index][:200]}" for index, what in sorted(found)]


class Follower:
    """A thread feeding a stream's lines to a :class:`LogCapture` as they come."""

    def __init__(self, capture: LogCapture, stream: IO, source: str) -> None:
        self.capture, self.stream, self.source = capture, stream, source
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._run, name=f"log-follow-{source}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        for line in self.stream:
            text = line.decode("utf-8", "replace") if isinstance(line, bytes) else line
            self.lines += self.capture.feed([text], self.source)

    def join(self, timeout: float = 30) -> list[str]:
        """Wait for the end of the stream (the process has exited); the lines fed."""
        self._thread.join(timeout)
        return self.lines


LOG_CAPTURE = LogCapture()
