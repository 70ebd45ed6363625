"""Plain request and response objects between the Functions triggers and the service.

The SCIM core never sees ``azure.functions`` types: ``function_app.py``
copies what it needs into a :class:`Request` and writes the
:class:`Response` back.  RFC 7644 §3.1 and §8.1 set the media type.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlsplit

SCIM_MEDIA_TYPE = "application/scim+json"
ACCEPTED_MEDIA_TYPES = ("application/scim+json", "application/json")
# On every response: identities must not be cached, sniffed, framed or referred
# (OWASP Secure Headers for APIs); HSTS keeps clients on HTTPS once they saw it.
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
    "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
}


@dataclass
class Request:
    """One HTTP request: method, the raw query, lower-cased headers, the body."""

    method: str
    url: str
    headers: dict[str, str]
    body: bytes = b""
    query: dict[str, str] = field(default_factory=dict)

    @classmethod
    def build(cls, method: str, url: str, headers, body: bytes | None) -> "Request":
        """Parse the query string from the URL: ``+`` and ``%20`` both mean a space.
        Percent-escapes that are not UTF-8 become lone surrogates
        (``surrogateescape``), which the service refuses with a 400 naming
        the parameter (:mod:`shared.scim.storable_text`) instead of silently
        reading them as U+FFFD."""
        query: dict[str, str] = {}
        for key, value in parse_qsl(urlsplit(url).query, keep_blank_values=True, errors="surrogateescape"):
            query[key.lower()] = value
        return cls(method.upper(), url, {k.lower(): v for k, v in dict(headers).items()}, body or b"", query)

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass
class Response:
    """Status, JSON body (or none) and headers; ``text``, when set, is sent
    instead of a JSON body (the sign-in pages), with its own ``Content-Type``."""

    status: int
    body: dict | None = None
    headers: dict[str, str] = field(default_factory=dict)
    text: str | None = None

    def payload(self) -> bytes:
        """The body as UTF-8 JSON.  A value stored before lone surrogates were
        refused cannot be UTF-8 encoded: such a body is sent with every
        non-ASCII character escaped (``\\ud800``, valid JSON, RFC 8259 §7),
        so the resource stays readable and repairable instead of failing."""
        if self.text is not None:
            return self.text.encode("utf-8")
        if self.body is None:
            return b""
        text = json.dumps(self.body, ensure_ascii=False, separators=(",", ":"))
        try:
            return text.encode("utf-8")
        except UnicodeEncodeError:
            return json.dumps(self.body, separators=(",", ":")).encode("ascii")

    def all_headers(self) -> dict[str, str]:
        """The response's headers with the media type and :data:`SECURITY_HEADERS`."""
        headers = {"Content-Type": f"{SCIM_MEDIA_TYPE}; charset=utf-8", **SECURITY_HEADERS}
        headers.update(self.headers)
        return headers
