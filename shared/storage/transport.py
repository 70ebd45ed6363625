"""How the storage clients send: azure-core's ``RequestsTransport`` on a
``requests`` session that hands the common request straight to its mounted
adapter, and the lean paths' way into a table client's pipeline.

azure-core's ``RequestsTransport.send`` gives every storage call to
``requests.Session.request``, which builds a ``Request``, merges the
session's cookie jar, authentication, parameters, hooks and environment
settings into it, prepares cookies and authentication, then in
``Session.send`` dispatches hooks, stores cookies and looks for a redirect
to offer as ``Response.next``.  For a call to Table Storage none of that has
an effect: azure-core's own policies sign the request, follow redirects
(the transport always passes ``allow_redirects=False``) and retry; the
storage sets no cookies; the transport ignores the environment
(``use_env_settings=False``).  It cost a fifth of the CPU of a point read
against Azurite (in-process, the same calls alternating: 0.80-0.83 of the
stock transport's CPU for point reads and 2-entity transactions,
docs/performance.md).

:class:`LeanSession` keeps what has an effect, and requests' own code for
it: ``PreparedRequest.prepare_method``, ``prepare_url`` and
``prepare_body``, the session's default headers merged under the request's
as ``merge_setting`` merges them, every header checked by requests'
``check_header_validity`` in that merged order, and the mounted
``HTTPAdapter`` (azure-core's own, mounted by ``RequestsTransport``: its
urllib3 connection pool, urllib3's retries disabled, the timeouts,
certificate verification).  A cookie an answer sets is stored in the
session's jar as ``Session.send`` stores it (the next request, its jar no
longer empty, then takes requests' own path and carries it), and a redirect
is offered as ``Response.next`` by requests' own ``resolve_redirects``.
Every request it does not recognise as the common case -- files, proxies,
redirects to follow, parameters, cookies, hooks or authentication of its
own, a body that is neither bytes nor text, a URL with user information
(requests makes basic authentication of it), a header without a value or
whose name is not a string, or a session with cookies, hooks,
authentication, parameters, proxies or environment settings -- takes
``requests.Session.request`` unchanged.

Held to requests' own path by ``tests/integration/test_transport.py``: the
same bytes on the wire, the same responses and the same exceptions.
"""

from __future__ import annotations

from datetime import timedelta
from functools import lru_cache
from time import perf_counter

import requests
from azure.core.pipeline.transport import RequestsTransport
from requests.cookies import RequestsCookieJar, extract_cookies_to_jar
from requests.hooks import default_hooks
from requests.models import PreparedRequest
from requests.structures import CaseInsensitiveDict
from requests.utils import check_header_validity


class LeanSession(requests.Session):
    """A ``requests.Session`` whose ``request`` prepares and sends the
    common case without the session machinery that has no effect on it
    (this module's docstring); anything else is ``Session.request``'s."""

    def request(self, method, url, params=None, data=None, headers=None, cookies=None, files=None, auth=None,
                timeout=None, allow_redirects=True, proxies=None, hooks=None, stream=None, verify=None, cert=None,
                json=None):
        """``requests.Session.request``, the same signature; the common case
        prepared and sent here, step by step as requests does it."""
        lean = not (params or cookies or files or auth or allow_redirects or proxies or hooks or json is not None
                    or (data is not None and type(data) not in (bytes, str)) or "@" in url or self._adds_to_requests())
        prepared = self._prepared(method, url, data, headers) if lean else None
        if prepared is None:
            return super().request(method, url, params=params, data=data, headers=headers, cookies=cookies,
                                   files=files, auth=auth, timeout=timeout, allow_redirects=allow_redirects,
                                   proxies=proxies, hooks=hooks, stream=stream, verify=verify, cert=cert, json=json)
        settings = {"stream": self.stream if stream is None else stream, "timeout": timeout,
                    "verify": self.verify if verify is None else verify, "cert": self.cert if cert is None else cert,
                    "proxies": {}}
        adapter = self.get_adapter(url=prepared.url)
        start = perf_counter()
        response = adapter.send(prepared, **settings)
        response.elapsed = timedelta(seconds=perf_counter() - start)
        if "set-cookie" in response.headers:  # as Session.send stores them (the storage sets none)
            extract_cookies_to_jar(self.cookies, prepared, response.raw)
        if response.is_redirect:  # as Session.send offers it as Response.next, reading and releasing the answer
            prepared._cookies = RequestsCookieJar()  # pylint: disable=protected-access
            response._next = next(self.resolve_redirects(response, prepared, yield_requests=True, **settings), None)  # pylint: disable=protected-access
        if not settings["stream"]:
            response.content  # pylint: disable=pointless-statement  # read now, as Session.send does
        return response

    def _adds_to_requests(self) -> bool:
        """Whether this session adds more to a request than its default headers."""
        return bool(self.cookies or self.auth or self.params or self.proxies or self.trust_env
                    or any(self.hooks.values()))

    def _prepared(self, method, url, data, headers) -> PreparedRequest | None:
        """The ``PreparedRequest`` ``Session.prepare_request`` makes of a
        request with nothing but a method, a URL, headers and a body of
        bytes or text, from this session with nothing but default headers; ``None``
        when a header has a name that is not a string or no value (merged
        away by ``merge_setting``), left to requests' own path."""
        prepared = PreparedRequest()
        prepared.prepare_method(method)
        prepared.prepare_url(url, None)
        merged = CaseInsensitiveDict(self.headers)  # merge_setting: the session's, then the request's over them
        for name, value in (headers or {}).items():
            if type(name) is not str or value is None:
                return None
            merged[name] = value
        for header in merged.items():  # in the merged order, as prepare_headers checks them
            check_header_validity(header)
        prepared.headers = merged
        prepared._cookies = None  # pylint: disable=protected-access  # an empty jar makes no Cookie header
        prepared.prepare_body(data or {}, None, None)
        prepared.hooks = default_hooks()
        return prepared


class LeanRequestsTransport(RequestsTransport):
    """azure-core's ``RequestsTransport`` on a :class:`LeanSession`, set up as
    the transport sets up the session it makes for itself."""

    def open(self) -> None:
        if self.session is None and not self._has_been_opened:
            self.session = LeanSession()
            self._init_session(self.session)
        super().open()


def send_request(table, request, **options):
    """``request`` (an ``azure.core.rest.HttpRequest`` whose URL is a path
    under the account's endpoint) through ``table``'s pipeline: what the
    generated client's ``AzureTable.send_request`` does, without its deep
    copy of the request (the lean paths build a fresh one per call) and with
    the endpoint's URL serialised once per endpoint instead of per call:
    0.92 of the CPU of a point read sent through ``AzureTable.send_request``
    (in-process, the two alternating over Azurite).  The URL is still joined
    by azure-core's own ``PipelineClient.format_url``, and the lean paths'
    tests hold the requests to the SDK's byte for byte."""
    generated = table._client  # pylint: disable=protected-access
    pipeline_client = generated._client  # pylint: disable=protected-access
    endpoint = _endpoint_url(generated._serialize, generated._config.url)  # pylint: disable=protected-access
    request.url = pipeline_client.format_url(request.url, url=endpoint)
    return pipeline_client.send_request(request, **options)


@lru_cache(maxsize=64)
def _endpoint_url(serializer, url: str) -> str:
    """The endpoint as ``AzureTable.send_request`` serialises it (braces quoted)."""
    return serializer.url("self._config.url", url, "str", skip_quote=True)
