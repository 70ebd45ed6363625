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
* **Route templates** in ASP.NET Core syntax, the part the app uses: literals,
  ``{name}`` and a final catch-all ``{*name}``.  A route without a template is
  served at the function's name, as the host does.  Anything else (optional
  or default values, constraints) fails at start-up rather than being routed
  otherwise than by the host.
  (https://learn.microsoft.com/azure/azure-functions/functions-bindings-http-webhook-trigger#customize-the-http-endpoint)
* **Precedence**: the most specific template wins, compared segment by segment
  from the left: literal before parameter before catch-all, so ``{*path}``
  never shadows ``Users/{id}`` and ``Users/.search`` beats ``Users/{id}``.
  Literals match case-insensitively; parameter values are the URL-decoded
  path segments, the path being split on ``/`` before decoding (``%2F`` stays
  inside its segment).
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
  generic JSON body; the traceback goes to the log only.

Not reproduced: function keys (Core Tools does not enforce them locally
either), non-HTTP triggers, bindings other than the request, the reserved
``/admin`` and ``/runtime`` paths.

On werkzeug (a dependency of azure-functions):

* **Routing** is a ``werkzeug.routing.Map``, one ``Rule`` per trigger under the
  prefix, ``{name}`` werkzeug's default converter and ``{*name}`` ``_Rest``.
  Its matcher tries a segment's static parts, then the converters by
  ``weight`` (100, 200), backtracking when a branch fails or refuses the
  method: the precedence above.  Static parts match case-sensitively, so the
  rules hold the literals lower-cased, the lower-cased path is matched and
  the parameters are cut from the path as received, by segment position (a
  case-insensitive regex converter per literal made matching four times as
  slow: 9 against 2 microseconds).
  The raw path is matched, so that ``%2F`` cannot split a segment, once the
  escapes of unreserved characters are decoded (RFC 3986 section 6.2.2.2):
  the only characters a literal may hold.  Each rule gets its trigger's
  methods back (werkzeug adds ``HEAD`` to ``GET``; the host does not).
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
* **The app side** is :meth:`Router.__call__`, a WSGI application on
  werkzeug's ``Request``; its own 404, 405 and 500 are werkzeug ``Response``
  objects, a function's answer goes to ``start_response`` as it is (a
  ``Response`` for it added 17 % to what a request costs the dev host
  process in instructions, the app's own work included).

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

``azure.functions`` is imported only when a router is built.
"""

from __future__ import annotations

import argparse
import functools
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
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable
from urllib.parse import unquote, urlsplit

from werkzeug.exceptions import ClientDisconnected, MethodNotAllowed, NotFound
from werkzeug.http import HTTP_STATUS_CODES, http_date
from werkzeug.routing import BaseConverter, Map, Rule
from werkzeug.serving import ThreadedWSGIServer, WSGIRequestHandler
from werkzeug.wrappers import Request, Response

from shared.logs import quiet_sdk_loggers

__all__ = ["DevHostServer", "Route", "Router", "build_router", "load_app", "main", "read_route_prefix", "serve",
           "start_in_thread"]

log = logging.getLogger("scripts.devhost")  # also when run as __main__

DEFAULT_ROUTE_PREFIX = "api"
DEFAULT_MAX_BODY_BYTES = 1024 * 1024
#: The host refuses bodies larger than this multiple of the app's limit.
HARD_LIMIT_FACTOR = 4
#: Seconds an idle keep-alive connection is kept open.
IDLE_TIMEOUT_SECONDS = 120
#: Where the router leaves the matched template in the WSGI environ, for the access log.
ROUTE_TEMPLATE_KEY = "scripts.devhost.route_template"

# --------------------------------------------------------------------------
# Routes
# --------------------------------------------------------------------------

_UNRESERVED = re.compile(r"[A-Za-z0-9._~-]+")  # RFC 3986 unreserved characters: what a literal may hold
_ESCAPED_UNRESERVED = re.compile(r"%(2[DEde]|3[0-9]|[46][1-9A-Fa-f]|[57][0-9Aa]|5[Ff]|7[Ee])")
_PARAMETER = re.compile(r"\{(\*?)([A-Za-z_][A-Za-z0-9_]*)\}")


class _Rest(BaseConverter):
    """``{*name}``: the rest of the path, slashes and empty segments included."""

    regex = ".+"
    part_isolating = False
    weight = 200  # after the default converter's 100


@dataclass(frozen=True, eq=False)
class Route:
    """One HTTP trigger: its template, the methods it accepts, its function."""

    name: str
    template: str
    rule_parts: tuple[str, ...]  # werkzeug rule text per segment, literals lower-cased
    parameters: tuple[tuple[str, int, bool], ...]  # name, segment index, catch-all
    precedence: tuple[int, ...]  # per segment: literal 0, parameter 1, catch-all 2
    methods: frozenset[str] | None  # None: every method
    function: Callable[..., Any]
    arg_name: str
    is_async: bool


class Router:
    """The app's HTTP routes under one prefix, and the WSGI application serving them."""

    def __init__(self, routes: list[Route], route_prefix: str) -> None:
        self.route_prefix = route_prefix.strip("/")
        prefix = tuple(self.route_prefix.split("/")) if self.route_prefix else ()
        if not all(map(_UNRESERVED.fullmatch, prefix)):
            raise ValueError(f"route prefix {self.route_prefix!r} is not supported by the dev host")
        self._offset = 1 + len(prefix)  # a template's first segment in "/prefix/...".split("/")
        self.routes = tuple(sorted(routes, key=lambda r: r.precedence))  # stable: as registered among equals
        rules, empty_catch_alls = [], []
        for route in routes:  # registration order, which the map keeps among equal rules
            parts = [*(segment.lower() for segment in prefix), *route.rule_parts]
            rules.append(Rule("/" + "/".join(parts), endpoint=route, methods=route.methods))
            if route.parameters and route.parameters[-1][2]:  # the catch-all taking no segment: least specific
                empty_catch_alls.append(Rule("/" + "/".join(parts[:-1]), endpoint=route, methods=route.methods))
        url_map = Map(converters={"rest": _Rest}, merge_slashes=False, redirect_defaults=False)
        for rule in rules + empty_catch_alls:
            rule.methods = rule.endpoint.methods  # without the HEAD werkzeug adds to GET
            url_map.add(rule)
        self.adapter = url_map.bind("")  # once; matching is read-only, shared by every thread
        from azure.functions import HttpRequest  # the router is what needs azure.functions

        self.request_class = HttpRequest

    def resolve(self, method: str, raw_path: str) -> tuple[Route, dict[str, str]]:
        """The route and parameters for a method and a raw (%-encoded) path; one trailing slash is ignored.

        Raises werkzeug's ``NotFound``, or ``MethodNotAllowed`` whose
        ``valid_methods`` are those of the templates that match the path.
        """
        path = "/" + raw_path.lstrip("/")  # as werkzeug's MapAdapter.match has it
        if len(path) > 1 and path.endswith("/"):
            path = path[:-1]
        if "%" in path:
            path = _ESCAPED_UNRESERVED.sub(lambda m: chr(int(m[1], 16)), path)
        route, _ = self.adapter.match(path.lower(), method)  # values from the lower-cased path: cut them here
        segments = path.split("/")
        params = {}
        for name, index, catch_all in route.parameters:
            index += self._offset
            value = "/".join(segments[index:]) if catch_all else segments[index]
            if value:  # else an empty catch-all
                params[name] = unquote(value, errors="surrogateescape")  # lone surrogates: refused by name
        return route, params

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        request = Request(environ, populate_request=False)  # no reference cycle through the environ
        target = environ["RAW_URI"]  # as received; PATH_INFO is decoded
        if target.startswith(("http://", "https://")):  # absolute-form request target
            parts = urlsplit(target)
            target = parts.path + (f"?{parts.query}" if parts.query else "")
        try:
            route, params = self.resolve(request.method, target.partition("?")[0])
        except MethodNotAllowed as refusal:
            response = _text(405, "Method Not Allowed", Allow=", ".join(sorted(refusal.valid_methods or ())))
        except NotFound:
            response = _text(404, "Not Found")
        else:
            environ[ROUTE_TEMPLATE_KEY] = route.template
            response = self._serve(route, params, request, target)
            if isinstance(response, tuple):  # the function's answer
                status, headers, body = response
                start_response(f"{status} {HTTP_STATUS_CODES.get(status, 'UNKNOWN')}", headers)
                return [body]
        return response(environ, start_response)

    def _serve(self, route: Route, params: dict[str, str], request: Request, target: str) -> Any:
        environ = request.environ
        host = environ.get("HTTP_HOST", "")
        if not _SAFE_HOST.match(host):
            host = "%s:%s" % (environ["SERVER_NAME"], environ["SERVER_PORT"])
        try:
            body = request.get_data() if environ.get("CONTENT_LENGTH", "0") != "0" else b""
        except ClientDisconnected:  # the client went away mid-body
            return _text(400, "Incomplete body.")
        function_request = self.request_class(
            request.method,
            f"http://{host}{target}",
            headers=_headers(environ),
            params=dict(request.args.items(multi=True)) if environ.get("QUERY_STRING") else {},  # last value wins
            route_params=params,
            body=body,
        )
        try:
            return _encode(_invoke(route, function_request))
        except Exception:
            incident = uuid.uuid4().hex[:12]
            log.exception("function %r failed on %s %s (incident %s)", route.name, request.method, route.template,
                          incident)
            return Response(_INTERNAL_ERROR_BODY, 500,
                            [("Content-Type", "application/json"), ("X-Devhost-Incident", incident)])


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


def _route(name: str, template: str, methods: frozenset[str] | None, function: Callable[..., Any],
           arg_name: str) -> Route:
    """A :class:`Route`; ``ValueError`` for a template the dev host would not route as the host does."""
    segments = template.split("/") if template else []
    parts, parameters, precedence = [], [], []
    for index, segment in enumerate(segments):
        parameter = _PARAMETER.fullmatch(segment)
        if parameter is None:
            if not _UNRESERVED.fullmatch(segment):
                raise ValueError(f"route template {template!r}: segment {segment!r} is not supported by the dev "
                                 "host (literals of letters, digits and . _ ~ -, {name}, a final {*name})")
            parts.append(segment.lower())
            precedence.append(0)
            continue
        catch_all = bool(parameter[1])
        if catch_all and index != len(segments) - 1:
            raise ValueError(f"route template {template!r}: a catch-all must be the last segment")
        parts.append(f"<rest:{parameter[2]}>" if catch_all else f"<{parameter[2]}>")
        parameters.append((parameter[2], index, catch_all))
        precedence.append(2 if catch_all else 1)
    return Route(name, template, tuple(parts), tuple(parameters), tuple(precedence), methods, function, arg_name,
                 inspect.iscoroutinefunction(function))


def build_router(app: Any, route_prefix: str) -> Router:
    """A :class:`Router` over every HTTP trigger registered on ``app``.

    ``app`` is a ``func.FunctionApp`` (anything with ``get_functions()``).
    Raises ``ValueError`` for templates the dev host cannot serve, so that a
    route it would get wrong fails at start-up rather than at request time.
    """
    routes = []
    for function in registered_functions(app):
        if function.is_http_function():
            trigger = function.get_trigger()
            name = function.get_function_name()
            methods = None if trigger.methods is None else frozenset(map(_method_name, trigger.methods))
            routes.append(_route(name, (trigger.route if trigger.route is not None else name).strip("/"), methods,
                                 function.get_user_function(), trigger.name))
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


_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})
_HOP_BY_HOP = frozenset({"connection", "keep-alive", "transfer-encoding", "content-length", "upgrade",
                         "proxy-connection", "te", "trailer"})
_SAFE_HOST = re.compile(r"^[A-Za-z0-9.\-]+(?::[0-9]{1,5})?$|^\[[0-9A-Fa-f:.]+\](?::[0-9]{1,5})?$")
_CONTROL = re.compile(r"[\r\n\x00]")
_INTERNAL_ERROR_BODY = json.dumps({
    "status": "500",
    "detail": "The function raised an exception; the dev host's log has the details.",
}).encode()


def _headers(environ: dict[str, Any]) -> dict[str, str]:
    """The request headers by lower-cased name: what werkzeug's ``EnvironHeaders`` gives, at half the cost."""
    headers = {key[5:].replace("_", "-").lower(): value for key, value in environ.items() if key[:5] == "HTTP_"}
    for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        if environ.get(key):
            headers[key.replace("_", "-").lower()] = environ[key]
    return headers


def _text(status: int, text: str, **headers: str) -> Response:
    return Response(text, status, headers, content_type="text/plain; charset=utf-8")


def _encode(result: Any) -> tuple[int, list[tuple[str, str]], bytes]:
    """A function's return value as status, headers and body (the server adds ``Content-Length``)."""
    if isinstance(result, (str, bytes)):
        body = result.encode("utf-8") if isinstance(result, str) else result
        return 200, [("Content-Type", "text/plain; charset=utf-8")], body
    if not hasattr(result, "get_body") or not hasattr(result, "status_code"):
        raise TypeError(f"an HTTP function must return func.HttpResponse or str, not {type(result).__name__}")
    headers = [(str(name), str(value)) for name, value in result.headers.items()]
    names = {name.lower() for name, _ in headers}
    if not names.isdisjoint(_HOP_BY_HOP):  # the server's to set
        headers = [(name, value) for name, value in headers if name.lower() not in _HOP_BY_HOP]
    text = "".join(map("".join, headers))
    if _CONTROL.search(text):
        raise ValueError("control character in a response header")
    text.encode("latin-1")  # HTTP/1.1 header bytes; raises on anything else
    if "content-type" not in names:
        mimetype = result.mimetype or "text/plain"
        headers.append(("Content-Type", f"{mimetype}; charset={result.charset}" if mimetype.startswith("text/")
                        else mimetype))
    return int(result.status_code), headers, result.get_body() or b""


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
