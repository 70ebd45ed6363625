"""A small local host for the app's HTTP triggers, for machines without Core Tools.

``python -m scripts.devhost [--host 127.0.0.1] [--port 7071] [--app function_app:app]``
serves every HTTP trigger registered on a ``func.FunctionApp`` over a real
HTTP server, the way the Functions host would, so that ``make run``, the
integration tests and the conformance suites all drive the app through the
same path, with or without Azure Functions Core Tools (``func start`` still
works where they are installed).  Core Tools' real host cannot be installed
offline: its npm package only downloads the actual binary at install time.

What it reproduces of the Functions host: its routing and its invocation of a
trigger (:mod:`scripts.devhost_routing`), and its HTTP serving (here).

Not reproduced: function keys (Core Tools does not enforce them locally
either), non-HTTP triggers, bindings other than the request, the reserved
``/admin`` and ``/runtime`` paths.

Serving on werkzeug (a dependency of azure-functions), as the routing is:

* **Serving** is ``werkzeug.serving.ThreadedWSGIServer`` (``make_server(...,
  threaded=True)``) and a ``WSGIRequestHandler`` subclass.  werkzeug's
  ``run_wsgi`` closes every connection since 2.1.2, as ``http.server`` does
  not drain a body the application left unread
  (https://github.com/pallets/werkzeug/issues/2397); this one keeps it,
  draining what the app left unread (at most the hard limit below) or closing
  when the client still waits for ``100 Continue``, which goes out at the
  app's first read of ``wsgi.input``: once route, method and length are known
  to be acceptable.  On loopback a keep-alive ``http.server`` answers ~215
  requests/s when Nagle's algorithm meets delayed ACKs, ~1,900 with
  ``TCP_NODELAY``: it is set on every accepted socket, and a response (with
  its ``Content-Length``) is buffered to leave in one write.
Request bodies are read by ``Content-Length`` only (chunked bodies get 411).
The app enforces its own limit (``SCIM_MAX_BODY_BYTES``, 1 MiB by default)
with a proper SCIM 413, so the host passes bodies up to four times that limit
through to it and refuses, without reading, what is larger: that bounds the
memory a client can make the host buffer while keeping the app's own error
format for ordinary oversize requests.

Nothing the dev host logs names a request's path, query or body: an access
log line (``--access-log``) and a failed function's log line give the method
and the matched template (``Users/{id}``), a malformed request only its
status, since paths and queries carry resource ids and filter values.
:func:`serve` and :func:`main` quiet the Azure SDK's request logging
(:func:`shared.logs.quiet_sdk_loggers`), which would otherwise log every
storage URL at INFO under :func:`main`'s ``basicConfig``.
"""

from __future__ import annotations

import argparse
import functools
import logging
import os
import signal
import socket
import socketserver
import sys
import threading
import time
from typing import Any

from werkzeug.http import http_date
from werkzeug.serving import ThreadedWSGIServer, WSGIRequestHandler

from scripts.devhost_routing import (DEFAULT_ROUTE_PREFIX, ROUTE_TEMPLATE_KEY, Router, app_directory,
                                     build_router, load_app, read_route_prefix)
from shared.logs import quiet_sdk_loggers

__all__ = ["DevHostServer", "main", "serve", "start_in_thread"]

log = logging.getLogger("scripts.devhost")  # also when run as __main__

DEFAULT_MAX_BODY_BYTES = 1024 * 1024
#: The host refuses bodies larger than this multiple of the app's limit.
HARD_LIMIT_FACTOR = 4
#: Seconds an idle keep-alive connection is kept open.
IDLE_TIMEOUT_SECONDS = 120
_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})

# --------------------------------------------------------------------------
# HTTP
# --------------------------------------------------------------------------

_http_date = functools.lru_cache(maxsize=1)(http_date)  # the Date header, formatted once a second


class _Body:
    """``wsgi.input``: the request body, ``100 Continue`` sent first if the client waits for it."""

    def __init__(self, handler: "_Handler", awaiting_continue: bool) -> None:
        self.handler, self.awaiting_continue, self.consumed = handler, awaiting_continue, 0

    def read(self, size: int = -1) -> bytes:
        if self.awaiting_continue:
            self.awaiting_continue = False
            self.handler.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            self.handler.wfile.flush()
        data = self.handler.rfile.read(size)
        self.consumed += len(data)
        return data


class _Handler(WSGIRequestHandler):
    """One connection, kept alive: werkzeug's handler with its own ``run_wsgi``."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # TCP_NODELAY on the accepted socket
    wbufsize = 64 * 1024  # handle_one_request flushes once per response
    timeout = IDLE_TIMEOUT_SECONDS
    error_content_type = "text/plain; charset=utf-8"
    error_message_format = "%(code)d %(message)s: %(explain)s\n"
    server: "DevHostServer"

    def setup(self) -> None:
        super().setup()
        self.server._track(self.connection, True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server._track(self.connection, False)

    def handle_expect_100(self) -> bool:
        return True  # answered by _Body, if the app reads the body

    def run_wsgi(self) -> None:
        started = time.perf_counter()
        self.environ = environ = self.make_environ()
        refusal = self._refusal(environ)
        if refusal is not None:
            self.send_error(refusal[0], None, refusal[1])  # and close: the body is not read
            return
        length = int(environ.get("CONTENT_LENGTH") or 0)
        awaiting = bool(length) and self.request_version >= "HTTP/1.1" and \
            environ.get("HTTP_EXPECT", "").lower() == "100-continue"
        body = environ["wsgi.input"] = _Body(self, awaiting)
        reply: list[Any] = []

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            reply[:] = [int(status.split(None, 1)[0]), headers]
            return reply.append  # write(): appended after status and headers

        chunks = self.server.app(environ, start_response)
        try:
            payload = b"".join([*reply[2:], *chunks])
        finally:
            getattr(chunks, "close", lambda: None)()
        unread = length - body.consumed
        if unread and (body.awaiting_continue or not self._discard(unread)):
            self.close_connection = True  # the client has not sent the body and will not, or went away
        status, headers = reply[:2]
        head = [f"HTTP/1.1 {status} {self.responses.get(status, ('',))[0]}", f"Server: {self.version_string()}",
                f"Date: {_http_date(int(time.time()))}", *(f"{name}: {value}" for name, value in headers)]
        no_body = status < 200 or status in (204, 304)
        if not no_body and not any(name.lower() == "content-length" for name, _ in headers):
            head.append(f"Content-Length: {len(payload)}")
        if self.close_connection:
            head.append("Connection: close")
        elif self.request_version == "HTTP/1.0":
            head.append("Connection: keep-alive")
        self.wfile.write("\r\n".join([*head, "\r\n"]).encode("latin-1"))
        if not no_body and self.command != "HEAD":
            self.wfile.write(payload)
        if self.server.access_log:
            elapsed = (time.perf_counter() - started) * 1000
            template = environ.get(ROUTE_TEMPLATE_KEY, "-")  # never the path or query
            sys.stderr.write(f'{self.client_address[0]} "{self.command} {template}" {status} {elapsed:.1f}ms\n')

    def _refusal(self, environ: dict[str, Any]) -> tuple[int, str] | None:
        """Status and explanation for a request the host does not pass on (its body unread)."""
        if self.command not in _METHODS:  # werkzeug's handler would take any token, upper-cased
            return 501, "Unsupported method."
        if environ.get("HTTP_TRANSFER_ENCODING", "identity").lower() != "identity":
            return 411, "Chunked request bodies are not supported; send Content-Length."
        lengths = self.headers.get_all("Content-Length") or ["0"]  # the environ keeps only the last
        if len(set(lengths)) != 1 or not lengths[0].strip().isdigit():
            return 400, "Invalid Content-Length."
        if int(lengths[0]) > self.server.hard_body_limit:
            return 413, f"Request body over {self.server.hard_body_limit} bytes."
        return None

    def _discard(self, length: int) -> bool:
        """Read and drop a body the app did not read, so the connection can carry on."""
        while length > 0:
            chunk = self.rfile.read(min(length, 65536))
            if not chunk:
                return False
            length -= len(chunk)
        return True

    def log_request(self, code: Any = "-", size: Any = "-") -> None:
        # Only send_error (a malformed or refused request) gets here; the base class would log the request line.
        if self.server.access_log:
            sys.stderr.write(f'{self.client_address[0]} "-" {code}\n')

    def log_error(self, format: str, *args: Any) -> None:  # noqa: A002 - base class signature
        if format.startswith("Request timed out"):  # idle keep-alive connections
            return
        # send_error's message may quote the request line (path and query): the status only.
        code = args[0] if args and isinstance(args[0], int) else None
        what = (f"code {code} {self.responses.get(code, ('',))[0]}" if code is not None
                else format.split("%", 1)[0].strip(" :("))
        sys.stderr.write(f"devhost: {self.client_address[0]}: {what}\n")


class DevHostServer(ThreadedWSGIServer):
    """werkzeug's threaded server bound to one router; see the module docstring."""

    def __init__(self, address: tuple[str, int], router: Router, *,
                 max_body_bytes: int | None = None, access_log: bool = False) -> None:
        self.router = router
        self.access_log = access_log
        if max_body_bytes is None:
            max_body_bytes = int(os.environ.get("SCIM_MAX_BODY_BYTES") or DEFAULT_MAX_BODY_BYTES)
        self.max_body_bytes = max_body_bytes
        self.hard_body_limit = HARD_LIMIT_FACTOR * max_body_bytes
        self._connections: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stopped = False
        try:
            super().__init__(address[0], address[1], router, handler=_Handler)
        except SystemExit:  # werkzeug prints why it cannot listen and exits; a caller expects OSError
            raise OSError(f"cannot listen on {address[0]}:{address[1]}") from None

    def server_bind(self) -> None:
        # HTTPServer.server_bind calls socket.getfqdn(), a DNS lookup that can stall start-up.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    @property
    def base_url(self) -> str:
        """``http://host:port/<prefix>`` without a trailing slash."""
        host, port = self.server_address[:2]
        prefix = self.router.route_prefix
        return f"http://{host}:{port}" + (f"/{prefix}" if prefix else "")

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that resets or stalls is routine; anything else is logged."""
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            log.exception("error on the connection from %s", client_address[0])

    def _track(self, connection: socket.socket, active: bool) -> None:
        with self._lock:
            (self._connections.add if active else self._connections.discard)(connection)

    def start(self) -> "DevHostServer":
        """Serve in a daemon thread."""
        self._thread = threading.Thread(target=self.serve_forever, args=(0.1,), name="devhost", daemon=True)
        self._thread.start()
        return self

    def shutdown(self) -> None:
        """Stop accepting, let requests in flight finish, close idle connections.

        ``SHUT_RD`` wakes the threads waiting for a next request on a keep-alive
        connection (they see end-of-file) without cutting off a response being
        written.  Safe to call more than once.
        """
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
        if self._thread is not None:
            super().shutdown()
            self._thread.join()
        self.server_close()
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RD)
            except OSError:
                pass


def serve(app: Any, host: str = "127.0.0.1", port: int = 0, route_prefix: str | None = None, *,
          max_body_bytes: int | None = None, access_log: bool = False) -> DevHostServer:
    """Serve ``app``'s HTTP triggers on ``host:port`` in a background thread.

    ``route_prefix`` None reads ``host.json`` next to the module that defines the
    app's functions (``api`` when there is none).  Port 0 picks a free port;
    ``server.server_address`` tells which.  Stop with ``server.shutdown()``.
    """
    quiet_sdk_loggers()
    if route_prefix is None:
        directory = app_directory(app)
        route_prefix = read_route_prefix(directory / "host.json") if directory else DEFAULT_ROUTE_PREFIX
    router = build_router(app, route_prefix)
    return DevHostServer((host, port), router, max_body_bytes=max_body_bytes, access_log=access_log).start()


def start_in_thread(app: Any, host: str = "127.0.0.1", port: int = 0, route_prefix: str | None = None,
                    **options: Any) -> tuple[DevHostServer, str]:
    """:func:`serve`, returning the server and its base URL (prefix included)."""
    server = serve(app, host, port, route_prefix, **options)
    return server, server.base_url


# --------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m scripts.devhost",
        description="Serve a Functions app's HTTP triggers locally, without Core Tools.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=7071, help="port (default 7071; 0 picks a free one)")
    parser.add_argument("--app", default="function_app:app", help="module:attribute of the FunctionApp")
    parser.add_argument("--route-prefix", default=None, help="override host.json's extensions.http.routePrefix")
    parser.add_argument("--access-log", action="store_true", help="log one line per request to stderr")
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    quiet_sdk_loggers()
    if "" not in sys.path and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())  # `module:attr` is relative to the working directory
    app, directory = load_app(args.app)
    prefix = args.route_prefix if args.route_prefix is not None else read_route_prefix(directory / "host.json")

    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, lambda *_: stop.set())
    server = serve(app, args.host, args.port, prefix.strip("/"), access_log=args.access_log)
    print(f"Dev host listening on {server.base_url}{'' if prefix.strip('/') else '/'}", flush=True)
    while not stop.wait(1.0):
        pass
    server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
