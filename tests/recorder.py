"""A loopback HTTP server that records requests and plays back answers, for
the tests that hold the lean storage paths to the Tables SDK
(``tests/integration/test_changesets.py``, ``test_entity_reads.py``): both
paths send to it, the test compares what it recorded and what each path
made of the same answer.  :class:`WireRecorder` does the same a level
lower, in raw bytes, for the transport (``test_transport.py``).

Its address is 127.0.0.1 on a port the kernel picks; nothing else is ever
reached.
"""

from __future__ import annotations

import http.server
import re
import socketserver
import threading
from contextlib import contextmanager
from unittest import mock

#: An answer: (status, headers in order, body).  A ``Content-Length``
#: among the headers is sent as given (a body cut short), and the
#: connection is then closed; otherwise the body's length is sent.
Answer = tuple[int, list[tuple[str, str]], bytes]


class Recorder(http.server.ThreadingHTTPServer):
    """Records each request (method, path, headers in order, body) and
    answers with the next of ``self.answers`` while there are any, then
    with ``self.answer``."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _RecordingHandler)
        self.requests: list[tuple] = []
        self.answer: Answer = (500, [], b"")
        self.answers: list[Answer] = []
        self._lock = threading.Lock()

    def next_answer(self) -> Answer:
        with self._lock:
            return self.answers.pop(0) if self.answers else self.answer


class _RecordingHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Buffered, so an answer's head and body leave in one write: in two, the
    # client's delayed ACK holds the body back some 40 ms (Nagle's algorithm).
    wbufsize = -1

    def log_message(self, *args) -> None:  # quiet
        pass

    def _record_and_answer(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.requests.append((self.command, self.path, list(self.headers.items()), body))
        status, headers, content = self.server.next_answer()
        self.send_response_only(status)
        if not any(name.lower() == "date" for name, _ in headers):  # an answer's own Date stands alone
            self.send_header("Date", self.date_time_string())
        for name, value in headers:
            self.send_header(name, value)
        if not any(name.lower() == "content-length" for name, _ in headers):
            self.send_header("Content-Length", str(len(content)))
        else:
            self.close_connection = True
        self.end_headers()
        self.wfile.write(content)

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET = _record_and_answer


@contextmanager
def serving(server: socketserver.BaseServer):
    """``server`` serving on its own thread until the block ends."""
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def running_recorder():
    """A :class:`Recorder` serving on its own thread until the block ends."""
    return serving(Recorder())


def each_against(server, calls, answers, outcome, sent=lambda request: request) -> list[tuple]:
    """For each of ``calls``, run with the same clock against the same
    ``answers`` of ``server`` (a :class:`Recorder` or :class:`WireRecorder`):
    ``outcome(call)`` and what it sent (each recorded request through ``sent``)."""
    runs = []
    for call in calls:
        server.requests.clear()
        server.answers = list(answers)
        with same_clock():
            result = outcome(call)
        runs.append((result, [sent(request) for request in server.requests]))
    return runs


def table_on(recorder: Recorder, name: str = "t", **options):
    """A ``TableClient`` of table ``name`` on the recorder, Shared Key signed
    with Azurite's development account, no retries unless ``options`` say."""
    from azure.data.tables import TableClient

    from scripts.azurite import connection_string

    return TableClient.from_connection_string(connection_string(recorder.server_address[1]), name,
                                              **{"retry_total": 0, **options})


def same_clock():
    """Both paths read the same clock (the ``x-ms-date`` and ``Date`` the
    SDK's header policy writes, and so the Shared Key signature)."""
    return mock.patch("time.time", lambda: 1_800_000_000.0)


def without_request_id(sent: tuple | None) -> tuple | None:
    """A recorded request less its ``x-ms-client-request-id``, a fresh id
    per request by design."""
    if sent is None:
        return None
    method, target, headers, body = sent
    return method, target, [(k, v) for k, v in headers if k.lower() != "x-ms-client-request-id"], body


def outcome(call):
    """What a call returned, or what it raised, as comparable data."""
    try:
        return ("returned", call())
    except Exception as exc:  # noqa: BLE001 - the exception is the outcome
        return raised(exc)


def raised(exc: Exception) -> tuple:
    """An exception as comparable data: its type, text and the attributes
    of the SDK's storage errors."""
    return ("raised", type(exc), str(exc), getattr(exc, "status_code", None), getattr(exc, "reason", None),
            getattr(exc, "error_code", None), getattr(exc, "index", None), getattr(exc, "message", None),
            getattr(exc, "additional_info", None))


class WireRecorder(socketserver.ThreadingTCPServer):
    """Records each request exactly as it arrived, head and body bytes, and
    answers with raw bytes: the next of ``self.answers`` while there are
    any, then ``self.answer``.  An answer is ``(bytes, close)``: the bytes
    are written as they are (a status line that is not HTTP, a body cut
    short), and with ``close`` the connection is closed after them.  For
    tests of what reaches the wire, below any HTTP library's parsing
    (``tests/integration/test_transport.py``)."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _WireHandler)
        self.requests: list[bytes] = []
        self.answer: tuple[bytes, bool] = (b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n", False)
        self.answers: list[tuple[bytes, bool]] = []
        self._lock = threading.Lock()

    def record_and_answer(self, request: bytes) -> tuple[bytes, bool]:
        with self._lock:
            self.requests.append(request)
            return self.answers.pop(0) if self.answers else self.answer


class _WireHandler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        while True:
            head = b""
            while not head.endswith(b"\r\n\r\n"):
                line = self.rfile.readline(65537)
                if not line:
                    return
                head += line
            length = re.search(rb"(?im)^content-length:\s*(\d+)\s*$", head)
            body = self.rfile.read(int(length.group(1))) if length else b""
            answer, close = self.server.record_and_answer(head + body)
            if answer:
                self.wfile.write(answer)
                self.wfile.flush()
            if close:
                return


def running_wire_recorder():
    """A :class:`WireRecorder` serving on its own thread until the block ends."""
    return serving(WireRecorder())
