"""Push-based SET delivery (RFC 8935): one SET, one POST.

The SET is POSTed to the tenant's endpoint with ``Content-Type:
application/secevent+jwt`` and ``Accept: application/json`` (§2.1), and the
``Authorization`` value the receiver gave, if any (§3).  It is delivered
when the answer is 202 Accepted (§2.2); anything else -- a 400 with an
error object (§2.3, its ``err`` code kept), another status, a refused
connection, no answer within ``SCIM_EVENTS_PUSH_TIMEOUT_SECONDS`` (10) -- is a failure to retry
(:mod:`shared.delivery.dispatch`).  Redirects are not followed.

Only ``https`` endpoints are accepted, and ``http`` on the loopback
interface (a receiver on the developer's own machine, and the tests).
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import requests

from ..scim.events import SET_MEDIA_TYPE
from ..urls import receiver_problem

CONNECT_TIMEOUT = 3.0
MAX_BACKOFF_SECONDS = 300
_ERR_CODE = re.compile(r"[A-Za-z0-9_.-]{1,40}")


def backoff_seconds(attempts: int) -> float:
    """The wait before attempt ``attempts + 1`` of a push (a SET, or a
    back-channel logout): 1, 2, 4 ... seconds, at most 5 minutes."""
    return float(min(2 ** max(attempts - 1, 0), MAX_BACKOFF_SECONDS))


def endpoint_problem(url: str) -> str | None:
    """Why ``url`` cannot be a push endpoint, or None (:func:`shared.urls.receiver_problem`)."""
    return receiver_problem(url)


def authorization_problem(value: str) -> str | None:
    """Why ``value`` cannot be sent as the ``Authorization`` header, or None."""
    if value and not all(" " <= ch <= "~" for ch in value):
        return "it must be printable ASCII on one line"
    return None


def shown_url(url: str) -> str:
    """``url`` without what may be a secret (user info, query: an Azure Functions key is ``?code=``)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    if parts.port:
        netloc += f":{parts.port}"
    return f"{parts.scheme}://{netloc}{parts.path}" + ("?…" if parts.query else "")


class Pusher:
    """POSTs SETs, reusing connections (one session per delivery run)."""

    def __init__(self, timeout: float) -> None:
        self._timeout = (min(CONNECT_TIMEOUT, timeout), timeout)
        self._session = requests.Session()
        self._session.trust_env = False  # no proxy from the environment between us and the receiver

    def push(self, url: str, authorization: str, token: str) -> str | None:
        """Deliver one SET: None on 202, else what went wrong (a short code, never the receiver's text)."""
        headers = {"Content-Type": SET_MEDIA_TYPE, "Accept": "application/json"}
        if authorization:
            headers["Authorization"] = authorization
        try:
            response = self._session.post(url, data=token.encode("ascii"), headers=headers, timeout=self._timeout,
                                          allow_redirects=False)
        except requests.Timeout:
            return "timeout"
        except Exception as exc:  # noqa: BLE001 - a refused connection, TLS, anything: a failed attempt, never a dead run
            return type(exc).__name__
        if response.status_code == 202:
            return None
        error = f"HTTP {response.status_code}"
        if response.status_code == 400:
            try:
                err = response.json().get("err")
            except (ValueError, AttributeError):
                err = None
            if isinstance(err, str) and _ERR_CODE.fullmatch(err):
                error += f" {err}"
        return error

    def close(self) -> None:
        self._session.close()
