"""Header parsing (shared/storage/header_parsing.py) reads every header
block as the standard library does, on its fast path and its fallback: the same headers in the
same order, the same defects but those found by looking for the parts of a
multipart body that is not there, and, those left aside, the same verdict
from urllib3's header check.  (So a ``multipart/mixed`` answer without a
boundary no longer gets urllib3's "Failed to parse headers" warning; the
transaction decoder refuses such an answer itself, with a DecodeError.)"""

from __future__ import annotations

import email.parser
import http.client
import io

from email.errors import (
    CloseBoundaryNotFoundDefect,
    MultipartInvariantViolationDefect,
    NoBoundaryInMultipartDefect,
    StartBoundaryNotFoundDefect,
)
from hypothesis import given
from hypothesis import strategies as st
from urllib3.exceptions import HeaderParsingError
from urllib3.util.response import assert_header_parsing

from shared.storage import header_parsing
from tests.property.strategies import fuzz_settings

#: Found by looking for a multipart body's parts, which a header block has not.
MULTIPART_DEFECTS = (StartBoundaryNotFoundDefect, MultipartInvariantViolationDefect, NoBoundaryInMultipartDefect,
                     CloseBoundaryNotFoundDefect)


def standard(block: bytes) -> http.client.HTTPMessage:
    """What the standard library's ``http.client.parse_headers`` returns:
    the header lines parsed as a whole message."""
    lines = http.client._read_headers(io.BytesIO(block))  # the same reading, then the full parse
    return email.parser.Parser(_class=http.client.HTTPMessage).parsestr(b"".join(lines).decode("iso-8859-1"))


def urllib3_verdict(message) -> str:
    try:
        assert_header_parsing(message)
    except HeaderParsingError as exc:
        return f"refused: {exc}"
    return "accepted"


NAMES = st.sampled_from(["Content-Type", "content-type", "ETag", "x-ms-request-id", "Set-Cookie", "Date", "X-Odd_1"])
VALUES = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"), max_size=30)
CONTENT_TYPES = st.sampled_from(["application/json", "multipart/mixed; boundary=batchresponse_1",
                                 'multipart/mixed; boundary="quoted x"', "multipart/mixed", "text/plain; charset=utf-8"])


@st.composite
def header_blocks(draw) -> bytes:
    """Mostly plain field lines, sometimes one of every form the fast path
    leaves to the email parser."""
    lines = [f"Content-Type: {draw(CONTENT_TYPES)}"] if draw(st.integers(0, 5)) else []
    for _ in range(draw(st.integers(0, 6))):
        form = draw(st.integers(0, 14))
        if form == 0:
            lines.append(draw(st.sampled_from([" ", "\t"])) + "continued " + draw(VALUES))  # obsolete line folding
        elif form == 1:
            lines.append(draw(st.sampled_from(["no colon here", ": no name", "Name With Space: v", "From someone",
                                               "bare\rcr: v", "Name\t: v", "X:a\rb"])))
        else:
            lines.append(f"{draw(NAMES)}:{draw(st.sampled_from(['', ' ', chr(9), '  '+chr(9)]))}{draw(VALUES)}"
                         f"{draw(st.sampled_from(['', ' ', chr(9)]))}")
    break_ = draw(st.sampled_from(["\r\n", "\n"]))
    ending = draw(st.sampled_from([break_ + break_, break_ + break_, break_]))  # the last: cut before its blank line
    tail = draw(st.sampled_from(["", "body that is not read"]))
    return (break_.join(lines) + ending + tail).encode("latin-1") if lines else (break_ + tail).encode("latin-1")


@given(header_blocks())
@fuzz_settings(400)
def test_every_header_block_reads_as_the_standard_library_reads_it(block):
    ours, theirs = header_parsing.parse_headers(io.BytesIO(block)), standard(block)
    assert ours.items() == theirs.items() and ours.get_payload() == theirs.get_payload()
    assert ours.get_unixfrom() == theirs.get_unixfrom()
    theirs.defects = [d for d in theirs.defects if not isinstance(d, MULTIPART_DEFECTS)]
    assert [type(d) for d in ours.defects] == [type(d) for d in theirs.defects]
    assert urllib3_verdict(ours) == urllib3_verdict(theirs)


def test_a_multipart_answer_carries_no_multipart_defects():
    block = b"Content-Type: multipart/mixed; boundary=batchresponse_0f\r\nContent-Length: 10\r\n\r\n"
    assert [type(d) for d in standard(block).defects] == [StartBoundaryNotFoundDefect, MultipartInvariantViolationDefect]
    assert header_parsing.parse_headers(io.BytesIO(block)).defects == []


def test_the_standard_librarys_limits_still_hold():
    many = b"".join(b"X-%d: v\r\n" % n for n in range(http.client._MAXHEADERS + 1)) + b"\r\n"
    try:
        header_parsing.parse_headers(io.BytesIO(many))
    except http.client.HTTPException as exc:
        assert "got more than" in str(exc)
    else:
        raise AssertionError("more than _MAXHEADERS headers were read")


def test_plain_fields_take_the_fast_path():
    """A storage answer's block is built without the email parser."""
    block = (b"HTTP-ish: no\r\nContent-Type: multipart/mixed; boundary=batchresponse_1\r\n"
             b"ETag: W/\"datetime'2026'\"\r\nx-ms-request-id:  r \r\n\r\n")
    original = email.parser.Parser.parsestr
    email.parser.Parser.parsestr = None  # the fallback would fail
    try:
        message = header_parsing.parse_headers(io.BytesIO(block))
    finally:
        email.parser.Parser.parsestr = original
    assert message.items() == standard(block).items()
    assert message["x-ms-request-id"] == "r "


def test_install_makes_it_the_standard_librarys_and_is_idempotent():
    header_parsing.install()
    header_parsing.install()
    assert http.client.parse_headers is header_parsing.parse_headers
