"""How the dev host (:mod:`scripts.devhost`) routes a request to an HTTP trigger and
invokes it, as the Functions host does.

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
* **The app side** is :meth:`Router.__call__`, a WSGI application on
  werkzeug's ``Request``; its own 404, 405 and 500 are werkzeug ``Response``
  objects, a function's answer goes to ``start_response`` as it is (a
  ``Response`` for it added 17 % to what a request costs the dev host
  process in instructions, the app's own work included).

``azure.functions`` is imported only when a router is built.
"""

from __future__ import annotations

import importlib
import inspect
import json
import logging
import re
import sys
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable
from urllib.parse import unquote, urlsplit

from werkzeug.exceptions import ClientDisconnected, MethodNotAllowed, NotFound
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.routing import BaseConverter, Map, Rule
from werkzeug.wrappers import Request, Response

log = logging.getLogger("scripts.devhost")  # one logger for the whole dev host

DEFAULT_ROUTE_PREFIX = "api"
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


def app_directory(app: Any) -> Path | None:
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
