"""HTTP header blocks parsed as header fields, not as email messages: the
storage client's one change to the standard library.

``http.client`` -- under urllib3, requests and azure-core's transport, and
under ``http.server`` -- reads each header block and hands it to the
``email`` package's parser as if it were a whole message.  That costs, per
storage answer:

* the parser's general machinery (a feed parser, a line splitter, a
  generator per block): 22 us of CPU for an answer's eight fields, where
  storing the fields takes 6 us;
* for a ``multipart/mixed`` answer -- every entity-group transaction's is
  (:mod:`shared.storage.changesets`) -- a search for the parts of a body it
  was never given, which compiles a regular expression for the boundary.
  The boundary is fresh in every answer, so the pattern is never reused:
  about 130 us per transaction, 5.7 % of the app's CPU in the Entra cycle
  (docs/performance.md, "CPU per request").  It also records defects on a
  valid block, which urllib3 filters out again.  Both are known upstream:
  CPython issues #74177 and #80407 (their proposed fix, ``headersonly=True``,
  is this module's fallback), urllib3 #800.

:func:`parse_headers` reads the lines exactly as the standard library does
(``http.client._read_headers``, with its line-length and count limits).  A
block of plain field lines (``name:value``, the name printable ASCII
without a colon, CRLF or LF endings, closed by its blank line) becomes the
same ``HTTPMessage`` the parser would build -- each field stored with
``set_raw`` as the parser's compat32 policy stores it, value without its
leading blanks and line break -- and anything else (folded lines, a line
without a colon, a bare CR, a block cut short) goes to the ``email`` parser
with ``headersonly=True``.  ``tests/unit/test_header_parsing.py`` compares
the two with the standard library over generated blocks, malformed ones
included: the same fields in the same order, the same defects but those
found by looking for a multipart body's parts, the same verdict from
urllib3's header check.  (One difference: a ``multipart/mixed`` answer
without a boundary is no longer warned about by urllib3; the transaction
decoder refuses such an answer itself.)

:func:`install` makes it ``http.client.parse_headers``; the storage clients
install it when they are built (:mod:`shared.storage.tables`).  It is
process-wide and idempotent.
"""

from __future__ import annotations

import email.parser
import http.client
import re

_FIELD_LINE = re.compile(rb"[!-9;-~]+:[^\r\n]*\r?\n\Z")
_BLANK_LINES = (b"\r\n", b"\n")


def parse_headers(fp, _class=http.client.HTTPMessage):
    """``http.client.parse_headers``: the block's field lines, as the
    ``email`` parser would store them."""
    lines = http.client._read_headers(fp)  # pylint: disable=protected-access
    fields = lines[:-1]
    if lines[-1] in _BLANK_LINES and all(_FIELD_LINE.match(line) for line in fields):
        message = _class()
        for line in fields:
            name, _, value = line.decode("iso-8859-1").partition(":")
            message.set_raw(name, value.lstrip(" \t").rstrip("\r\n"))
        message.set_payload("")
        return message
    text = b"".join(lines).decode("iso-8859-1")
    return email.parser.Parser(_class=_class).parsestr(text, headersonly=True)


def install() -> None:
    """Make :func:`parse_headers` the standard library's (idempotent)."""
    http.client.parse_headers = parse_headers
