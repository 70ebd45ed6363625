"""A small local host for the app's HTTP triggers, for machines without Core Tools.

``python -m scripts.devhost [--host 127.0.0.1] [--port 7071] [--app function_app:app]``
serves every HTTP trigger registered on a ``func.FunctionApp`` over a real
HTTP server, the way the Functions host would, so that ``make run``, the
integration tests and the conformance suites all drive the app through the
same path, with or without Azure Functions Core Tools (``func start`` still
works where they are installed).  Core Tools' real host cannot be installed
offline: its npm package only downloads the actual binary at install time.

What it reproduces of the Functions host:

* **Route prefix** from ``host.json`` ``extensions.http.routePrefix`` next to
  the app module: ``api`` when absent, ``""`` for none.  The Python code never
  sees the prefix.
  (https://learn.microsoft.com/azure/azure-functions/functions-host-json#http)
* **Route templates** in ASP.NET Core syntax: literals, ``{name}``,
  ``{name?}``, ``{name=default}``, ``{name:int}`` (a few common constraints),
  catch-all ``{*name}``.  A route without a template is served at the
  function's name, as the host does.
  (https://learn.microsoft.com/azure/azure-functions/functions-bindings-http-webhook-trigger#customize-the-http-endpoint)
* **Precedence**: the most specific template wins, compared segment by segment
  from the left: literal before constrained parameter before parameter before
  catch-all, so ``{*path}`` never shadows ``Users/{id}`` and ``Users/.search``
  beats ``Users/{id}``.  Literals match case-insensitively; parameter values
  are the URL-decoded path segments.
  (https://learn.microsoft.com/aspnet/core/fundamentals/routing#route-template-precedence-reference)
* **Methods**: a template whose trigger does not accept the method is skipped,
  so a less specific one may still take the request; when none accepts it the
  answer is 405 with ``Allow``.  (The Functions host answers 404 there; a 405
  is more useful while developing and no client should rely on either.)
* **The request object**: ``func.HttpRequest`` with the absolute URL exactly as
  received (raw query string kept), lower-cased headers, the query as a dict
  (last value wins), route parameters and the body bytes.  ``async`` functions
  run on one shared event loop, as the Python worker runs them on its loop.
* **The response**: status, headers, and ``Content-Type`` built from
  ``mimetype``/``charset`` when the function set none, as the worker's
  ``HttpResponseConverter`` does.  An exception in a function is a 500 with a
  generic JSON body; the traceback goes to stderr only.

Not reproduced: function keys (Core Tools does not enforce them locally
either), non-HTTP triggers, bindings other than the request, the reserved
``/admin`` and ``/runtime`` paths.

Serving choices, measured on loopback: a
keep-alive ``http.server`` answers ~215 requests/s when Nagle's algorithm
meets delayed ACKs, ~1,900 with ``TCP_NODELAY``.  So the server speaks
HTTP/1.1 keep-alive, sets ``TCP_NODELAY`` on every accepted socket, always
sends ``Content-Length`` and writes each response with one ``sendall``.
Request logging is off unless ``--access-log`` is given.

Nothing the dev host logs names a request's path, query or body: an access
log line and a failed function's log line give the method and the matched
route template (``Users/{id}``), a malformed request only its status, since
paths and queries carry resource ids and filter values (``userName eq
"..."``).  :func:`serve` and :func:`main` quiet the Azure SDK's request
logging (:func:`shared.logs.quiet_sdk_loggers`), which would otherwise log
every storage URL at INFO under :func:`main`'s ``basicConfig``.

Request bodies are read by ``Content-Length`` only (chunked bodies get 411).
The app enforces its own limit (``SCIM_MAX_BODY_BYTES``, 1 MiB by default)
with a proper SCIM 413, so the host passes bodies up to four times that limit
through to it and only refuses, without reading, what is larger: that bounds
the memory a client can make the host buffer while keeping the app's own
error format for ordinary oversize requests.  ``Expect: 100-continue`` is
answered with ``100 Continue`` only once the route, method and length are
known to be acceptable.

``azure.functions`` is imported only when a router is built, so importing this
module stays cheap.
"""

from __future__ import annotations

import argparse
import email.utils
import http
import http.server
import importlib
import inspect
import json
import logging
import os
import re
import signal
import socket
import socketserver
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable
from urllib.parse import parse_qsl, unquote, urlsplit

from shared.logs import quiet_sdk_loggers

__all__ = [
    "DevHostServer",
    "Resolution",
    "Route",
    "Router",
    "build_router",
    "load_app",
    "main",
    "read_route_prefix",
    "serve",
    "start_in_thread",
]

log = logging.getLogger("scripts.devhost")  # also when run as __main__

DEFAULT_ROUTE_PREFIX = "api"
DEFAULT_MAX_BODY_BYTES = 1024 * 1024
#: The host refuses bodies larger than this multiple of the app's limit.
HARD_LIMIT_FACTOR = 4
#: Seconds an idle keep-alive connection is kept open.
IDLE_TIMEOUT_SECONDS = 120

# --------------------------------------------------------------------------
# Route templates
# --------------------------------------------------------------------------

# Inbound precedence digits of ASP.NET Core's RoutePrecedence: lower wins.
_LITERAL, _COMPLEX, _CONSTRAINED, _PARAMETER, _CATCH_ALL = 1, 2, 3, 4, 5

_GUID = re.compile(r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$")
_INTEGER = re.compile(r"^-?[0-9]+$")
_DECIMAL = re.compile(r"^-?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?$")
_ALPHA = re.compile(r"^[A-Za-z]+$")

#: Route constraints the dev host understands (a subset of ASP.NET Core's).
_CONSTRAINTS: dict[str, Callable[[str], bool]] = {
    "int": lambda v: bool(_INTEGER.match(v)) and -(2**31) <= int(v) < 2**31,
    "long": lambda v: bool(_INTEGER.match(v)) and -(2**63) <= int(v) < 2**63,
    "bool": lambda v: v.lower() in ("true", "false"),
    "guid": lambda v: bool(_GUID.match(v)),
    "alpha": lambda v: bool(_ALPHA.match(v)),
    "decimal": lambda v: bool(_DECIMAL.match(v)),
    "double": lambda v: bool(_DECIMAL.match(v)),
    "float": lambda v: bool(_DECIMAL.match(v)),
}


@dataclass(frozen=True, slots=True)
class _Segment:
    rank: int
    text: str  # the literal, lower-cased, or the parameter's name
    optional: bool = False
    default: str | None = None
    checks: tuple[Callable[[str], bool], ...] = ()


def _parse_segment(template: str, raw: str) -> _Segment:
    """One ``/``-separated piece of a route template."""
    if "{" not in raw and "}" not in raw:
        if not raw:
            raise ValueError(f"route template {template!r} has an empty segment")
        return _Segment(_LITERAL, raw.lower())
    if not (raw.startswith("{") and raw.endswith("}")) or raw.count("{") != 1 or raw.count("}") != 1:
        raise ValueError(f"route template {template!r}: segment {raw!r} mixes literals and parameters,"
                         " which the dev host does not support")
    inner = raw[1:-1]
    catch_all = inner.startswith("*")
    inner = inner.lstrip("*")
    default = None
    if "=" in inner:
        inner, default = inner.split("=", 1)
    optional = default is not None or inner.endswith("?")
    inner = inner.rstrip("?")
    name, *constraints = inner.split(":")
    if not name:
        raise ValueError(f"route template {template!r}: parameter without a name in {raw!r}")
    checks = []
    for constraint in constraints:
        check = _CONSTRAINTS.get(constraint.lower())
        if check is None:
            raise ValueError(f"route template {template!r}: constraint {constraint!r} is not supported by "
                             f"the dev host (supported: {', '.join(sorted(_CONSTRAINTS))})")
        checks.append(check)
    if catch_all:
        return _Segment(_CATCH_ALL, name, True, default, tuple(checks))
    return _Segment(_CONSTRAINED if checks else _PARAMETER, name, optional, default, tuple(checks))


def _split_path(raw_path: str) -> list[str]:
    """Raw path to URL-decoded segments; one trailing slash is ignored.

    The path is split on literal ``/`` before decoding, so ``%2F`` stays inside
    its segment, as in ASP.NET Core.  Escapes that are not UTF-8 decode to
    lone surrogates (``surrogateescape``) for the service to refuse by name.
    """
    parts = raw_path.split("/")
    if parts and parts[0] == "":
        parts = parts[1:]
    if parts and parts[-1] == "":
        parts = parts[:-1]
    return [unquote(part, errors="surrogateescape") for part in parts]


@dataclass(frozen=True, slots=True)
class Route:
    """One HTTP trigger: its template, the methods it accepts, its function."""

    name: str
    template: str
    segments: tuple[_Segment, ...]
    methods: frozenset[str] | None  # None: every method
    function: Callable[..., Any]
    arg_name: str
    is_async: bool

    @property
    def precedence(self) -> tuple[int, ...]:
        return tuple(segment.rank for segment in self.segments)

    def accepts(self, method: str) -> bool:
        return self.methods is None or method in self.methods

    def match(self, segments: list[str]) -> dict[str, str] | None:
        """Route parameters if the decoded path ``segments`` fit this template."""
        params: dict[str, str] = {}
        count = len(segments)
        for index, segment in enumerate(self.segments):
            if segment.rank == _CATCH_ALL:
                value = "/".join(segments[index:]) or segment.default or ""
                if value:
                    if not all(check(value) for check in segment.checks):
                        return None
                    params[segment.text] = value
                return params
            if index >= count:
                if not segment.optional:
                    return None
                if segment.default is not None:
                    params[segment.text] = segment.default
                continue
            value = segments[index]
            if segment.rank == _LITERAL:
                if value.lower() != segment.text:
                    return None
                continue
            if not value or not all(check(value) for check in segment.checks):
                return None
            params[segment.text] = value
        return params if count <= len(self.segments) else None


@dataclass(frozen=True, slots=True)
class Resolution:
    """What the router made of a request: a route and its parameters, or 404/405."""

    status: int  # 200: route found; 404; 405
    route: Route | None = None
    params: dict[str, str] = field(default_factory=dict)
    allow: tuple[str, ...] = ()


_NOT_FOUND = Resolution(404)


class Router:
    """The app's HTTP routes under one prefix, most specific first."""

    def __init__(self, routes: list[Route], route_prefix: str) -> None:
        # sorted() is stable: equal templates keep registration order.
        self.routes = tuple(sorted(routes, key=lambda r: r.precedence))
        self.route_prefix = route_prefix.strip("/")
        self.prefix = tuple(part.lower() for part in _split_path(self.route_prefix))
        from azure.functions import HttpRequest  # the router is what needs azure.functions

        self.request_class = HttpRequest

    def resolve(self, method: str, raw_path: str) -> Resolution:
        """Match a request method and raw (still %-encoded) path."""
        segments = _split_path(raw_path)
        size = len(self.prefix)
        if len(segments) < size or tuple(s.lower() for s in segments[:size]) != self.prefix:
            return _NOT_FOUND
        segments = segments[size:]
        allowed: set[str] = set()
        for route in self.routes:
            params = route.match(segments)
            if params is None:
                continue
            if route.accepts(method):
                return Resolution(200, route, params)
            allowed.update(route.methods or ())
        if allowed:
            return Resolution(405, allow=tuple(sorted(allowed)))
        return _NOT_FOUND


def _method_name(method: Any) -> str:
    """``func.HttpMethod.GET`` or ``"get"`` -> ``"GET"``."""
    return str(getattr(method, "value", method)).upper()


def registered_functions(app: Any) -> list[Any]:
    """``app.get_functions()``, callable more than once.

    azure-functions 1.x records every name it has seen in
    ``app.functions_bindings`` and so reports each function as a duplicate on
    a second call.  The record is cleared and the call retried once; a real
    duplicate still fails the second time.
    """
    try:
        return app.get_functions()
    except ValueError:
        if not getattr(app, "functions_bindings", None):
            raise
        app.functions_bindings = {}
        return app.get_functions()


def build_router(app: Any, route_prefix: str) -> Router:
    """A :class:`Router` over every HTTP trigger registered on ``app``.

    ``app`` is a ``func.FunctionApp`` (anything with ``get_functions()``).
    Raises ``ValueError`` for templates the dev host cannot serve, so that a
    route it would get wrong fails at start-up rather than at request time.
    """
    routes: list[Route] = []
    for function in registered_functions(app):
        if not function.is_http_function():
            continue
        trigger = function.get_trigger()
        name = function.get_function_name()
        template = (trigger.route if trigger.route is not None else name).strip("/")
        segments = tuple(_parse_segment(template, raw) for raw in template.split("/")) if template else ()
        for index, segment in enumerate(segments[:-1]):
            if segment.rank == _CATCH_ALL:
                raise ValueError(f"route template {template!r}: a catch-all must be the last segment")
            if segment.optional and not segments[index + 1].optional:
                raise ValueError(f"route template {template!r}: only trailing parameters can be optional")
        methods = None if trigger.methods is None else frozenset(_method_name(m) for m in trigger.methods)
        user_function = function.get_user_function()
        routes.append(Route(
            name=name,
            template=template,
            segments=segments,
            methods=methods,
            function=user_function,
            arg_name=trigger.name,
            is_async=inspect.iscoroutinefunction(user_function),
        ))
    return Router(routes, route_prefix)


# --------------------------------------------------------------------------
# host.json and the app object
# --------------------------------------------------------------------------


def read_route_prefix(host_json: Path) -> str:
    """``extensions.http.routePrefix`` from ``host.json``: ``api`` when unset."""
    try:
        config = json.loads(host_json.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return DEFAULT_ROUTE_PREFIX
    prefix = config.get("extensions", {}).get("http", {}).get("routePrefix")
    return DEFAULT_ROUTE_PREFIX if prefix is None else str(prefix).strip("/")


def load_app(spec: str) -> tuple[Any, Path]:
    """Import ``module:attribute`` and return the object and the module's directory."""
    module_name, _, attribute = spec.partition(":")
    module = importlib.import_module(module_name)
    target: Any = module
    for part in (attribute or "app").split("."):
        target = getattr(target, part)
    return target, Path(module.__file__).resolve().parent


def _app_directory(app: Any) -> Path | None:
    """Directory of the module that registered ``app``'s functions, if known."""
    for function in registered_functions(app):
        module = sys.modules.get(getattr(function.get_user_function(), "__module__", ""))
        if module is not None and getattr(module, "__file__", None):
            return Path(module.__file__).resolve().parent
    return None


# --------------------------------------------------------------------------
# Running user functions
# --------------------------------------------------------------------------


class _EventLoopThread:
    """One event loop in a daemon thread for every ``async`` function."""

    def __init__(self) -> None:
        self._loop: Any = None
        self._lock = threading.Lock()

    def run(self, coroutine: Any) -> Any:
        import asyncio  # only apps with async functions pay for importing it

        with self._lock:
            if self._loop is None:
                self._loop = asyncio.new_event_loop()
                threading.Thread(target=self._loop.run_forever, name="devhost-asyncio", daemon=True).start()
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()


_event_loop = _EventLoopThread()


def _invoke(route: Route, request: Any) -> Any:
    result = route.function(**{route.arg_name: request})
    if inspect.isawaitable(result):
        result = _event_loop.run(result)
    return result


# --------------------------------------------------------------------------
# HTTP
# --------------------------------------------------------------------------

_HOP_BY_HOP = frozenset({"connection", "keep-alive", "transfer-encoding", "content-length", "upgrade",
                         "proxy-connection", "te", "trailer"})
_SAFE_HOST = re.compile(r"^[A-Za-z0-9.\-]+(?::[0-9]{1,5})?$|^\[[0-9A-Fa-f:.]+\](?::[0-9]{1,5})?$")
_CONTROL = re.compile(r"[\r\n\x00]")
_INTERNAL_ERROR_BODY = json.dumps({
    "status": "500",
    "detail": "The function raised an exception; the dev host's log has the details.",
}).encode()


class _Date:
    """The ``Date`` header value, formatted at most once per second."""

    __slots__ = ("second", "value")

    def __init__(self) -> None:
        self.second = -1
        self.value = ""

    def now(self) -> str:
        second = int(time.time())
        if second != self.second:
            self.value = email.utils.formatdate(second, usegmt=True)
            self.second = second
        return self.value


_date = _Date()


def _reason(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return ""


class _Handler(http.server.BaseHTTPRequestHandler):
    """One connection; :meth:`_dispatch` serves each request on it."""

    protocol_version = "HTTP/1.1"
    server_version = "scim-devhost"
    timeout = IDLE_TIMEOUT_SECONDS
    server: "DevHostServer"

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server._track(self.connection, True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server._track(self.connection, False)

    def handle_expect_100(self) -> bool:
        # Decided in _dispatch, once route, method and length are known to be fine.
        return True

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - base class signature
        if self.server.access_log:
            sys.stderr.write(f"{self.client_address[0]} - {format % args}\n")

    def log_request(self, code: Any = "-", size: Any = "-") -> None:
        # Only send_error (a malformed request) gets here; the base class would log the request line.
        if self.server.access_log:
            sys.stderr.write(f'{self.client_address[0]} "-" {code}\n')

    def log_error(self, format: str, *args: Any) -> None:  # noqa: A002
        if format.startswith("Request timed out"):  # idle keep-alive connections
            return
        # send_error's message may quote the request line (path and query): the status only.
        code = args[0] if args and isinstance(args[0], int) else None
        what = f"code {code} {_reason(code)}" if code is not None else format.split("%", 1)[0].strip(" :(")
        sys.stderr.write(f"devhost: {self.client_address[0]}: {what}\n")

    # -- dispatch ----------------------------------------------------------

    def _dispatch(self) -> None:
        started = time.perf_counter()
        self._route: Route | None = None
        status = self._serve_one()
        if self.server.access_log:
            elapsed = (time.perf_counter() - started) * 1000
            template = self._route.template if self._route is not None else "-"  # never the path or query
            sys.stderr.write(f'{self.client_address[0]} "{self.command} {template}" {status} {elapsed:.1f}ms\n')

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _dispatch

    def _serve_one(self) -> int:
        """Serve the request whose head has just been parsed; return its status."""
        target = self.path
        if target.startswith(("http://", "https://")):  # absolute-form request target
            parts = urlsplit(target)
            target = parts.path + (f"?{parts.query}" if parts.query else "")
        raw_path, _, query = target.partition("?")
        headers = self.headers

        if headers.get("Transfer-Encoding", "identity").lower() != "identity":
            return self._simple(411, "Chunked request bodies are not supported; send Content-Length.", close=True)
        lengths = headers.get_all("Content-Length") or ["0"]
        if len(set(lengths)) != 1 or not lengths[0].strip().isdigit():
            return self._simple(400, "Invalid Content-Length.", close=True)
        length = int(lengths[0])
        if length > self.server.hard_body_limit:
            return self._simple(413, f"Request body over {self.server.hard_body_limit} bytes.", close=True)

        resolution = self.server.router.resolve(self.command, raw_path)
        expects_continue = (headers.get("Expect", "").lower() == "100-continue"
                            and self.request_version >= "HTTP/1.1")
        if resolution.status != 200:
            if length and expects_continue:
                close = True  # the client has not sent the body and will not
            else:
                close = not self._discard(length)
            if resolution.status == 405:
                return self._simple(405, "Method Not Allowed", close=close,
                                    extra=(("Allow", ", ".join(resolution.allow)),))
            return self._simple(404, "Not Found", close=close)

        if length and expects_continue:
            self.connection.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        body = self.rfile.read(length) if length else b""
        if len(body) != length:  # the client went away mid-body
            self.close_connection = True
            return 400

        host = headers.get("Host", "")
        if not _SAFE_HOST.match(host):
            host = "%s:%d" % self.server.server_address[:2]
        header_map: dict[str, str] = {}
        for name, value in headers.items():
            key = name.lower()
            header_map[key] = f"{header_map[key]}, {value}" if key in header_map else value
        request = self.server.router.request_class(
            self.command,
            f"http://{host}{target}",
            headers=header_map,
            params=dict(parse_qsl(query, keep_blank_values=True)),
            route_params=resolution.params,
            body=body,
        )
        route = resolution.route
        assert route is not None
        self._route = route
        try:
            response = _invoke(route, request)
            payload = self._encode(response)
        except Exception:
            incident = uuid.uuid4().hex[:12]
            log.exception("function %r failed on %s %s (incident %s)", route.name, self.command, route.template,
                          incident)
            return self._write(500, (("Content-Type", "application/json"), ("X-Devhost-Incident", incident)),
                               _INTERNAL_ERROR_BODY)
        return self._write(*payload)

    def _discard(self, length: int) -> bool:
        """Read and drop an unwanted body, so the connection can carry on."""
        remaining = length
        while remaining > 0:
            chunk = self.rfile.read(min(remaining, 65536))
            if not chunk:
                return False
            remaining -= len(chunk)
        return True

    @staticmethod
    def _encode(response: Any) -> tuple[int, tuple[tuple[str, str], ...], bytes]:
        """A function's return value to status, headers and body."""
        if isinstance(response, (str, bytes)):
            body = response.encode("utf-8") if isinstance(response, str) else response
            return 200, (("Content-Type", "text/plain; charset=utf-8"),), body
        if not hasattr(response, "get_body") or not hasattr(response, "status_code"):
            raise TypeError(f"an HTTP function must return func.HttpResponse or str, not {type(response).__name__}")
        headers = []
        has_type = False
        for name, value in response.headers.items():
            lowered = name.lower()
            if lowered in _HOP_BY_HOP:
                continue
            has_type = has_type or lowered == "content-type"
            name, value = str(name), str(value)
            if _CONTROL.search(name) or _CONTROL.search(value):
                raise ValueError(f"control character in response header {name!r}")
            (name + value).encode("latin-1")  # HTTP/1.1 header bytes; raises on anything else
            headers.append((name, value))
        if not has_type:
            mimetype = response.mimetype or "text/plain"
            content_type = f"{mimetype}; charset={response.charset}" if mimetype.startswith("text/") else mimetype
            headers.append(("Content-Type", content_type))
        return int(response.status_code), tuple(headers), response.get_body() or b""

    def _simple(self, status: int, text: str, *, close: bool = False,
                extra: tuple[tuple[str, str], ...] = ()) -> int:
        if close:
            self.close_connection = True
        return self._write(status, (("Content-Type", "text/plain; charset=utf-8"), *extra), text.encode())

    def _write(self, status: int, headers: tuple[tuple[str, str], ...], body: bytes) -> int:
        """Status line, headers and body in one ``sendall``."""
        lines = [f"HTTP/1.1 {status} {_reason(status)}", f"Date: {_date.now()}", f"Server: {self.server_version}"]
        lines.extend(f"{name}: {value}" for name, value in headers)
        no_body = status < 200 or status in (204, 304)
        if not no_body:
            lines.append(f"Content-Length: {len(body)}")
        if self.close_connection:
            lines.append("Connection: close")
        elif self.request_version == "HTTP/1.0":
            lines.append("Connection: keep-alive")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        try:
            self.connection.sendall(head if no_body or self.command == "HEAD" else head + body)
        except OSError:  # the client went away
            self.close_connection = True
        return status


class DevHostServer(http.server.ThreadingHTTPServer):
    """Threaded HTTP/1.1 server bound to one router; see the module docstring."""

    daemon_threads = True
    request_queue_size = 128

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
        super().__init__(address, _Handler)

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
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return
        log.exception("error on the connection from %s", client_address[0])

    def _track(self, connection: socket.socket, active: bool) -> None:
        with self._lock:
            if active:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)

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
        directory = _app_directory(app)
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
