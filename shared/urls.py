"""Which URLs the service will call: the receivers an operator or an
application registers (change-event push endpoints, redirect URIs,
back-channel logout URIs).

Only absolute ``https`` URLs, or ``http`` on the loopback interface for a
receiver on the developer's own machine and the tests (RFC 8252 §7.3 makes
the same exception for loopback redirect URIs); never a fragment (RFC 6749
§3.1.2 for redirect URIs; a fragment is never sent to a server anyway).
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit


def receiver_problem(url: str) -> str | None:
    """Why ``url`` cannot be a receiver URL, or None."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        return "it is not a URL"
    if "#" in url:
        return "it must not have a fragment"
    if parts.scheme == "https" and host:
        return None
    if parts.scheme == "http" and is_loopback(host):
        return None
    return "use an https:// URL (http:// only on the loopback interface)"


def is_loopback(host: str) -> bool:
    """``localhost`` or a loopback IP address."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
