"""Entra-issued JWTs: what Entra sends when a job's Secret Token field is blank.

Validation follows the guidance of Microsoft Learn, "Tutorial: Develop and
plan provisioning for a SCIM endpoint in Microsoft Entra ID", section
"Handling endpoint authentication"
(https://learn.microsoft.com/en-us/entra/identity/app-provisioning/use-scim-to-provision-users-and-groups),
with PyJWT doing every cryptographic step:

* the algorithm is pinned to RS256 (``none``, HS* and everything else are
  refused before a key is even looked up, which also defeats the "HS256
  with the RSA public key as the secret" confusion);
* ``iss`` must be ``https://sts.windows.net/{tid}/`` for an Entra tenant
  bound to one of our tenants (``scimctl tenant create --entra-tenant-id``);
* ``aud`` must be the custom-app id ``8adf8e6e-67b2-4cf2-a259-e3dc5476c621``,
  an id from ``SCIM_ENTRA_AUDIENCES`` or one configured for the tenant;
* ``exp`` and ``nbf`` hold with :data:`LEEWAY_SECONDS` of clock skew;
* the key is the RSA signing key with the token's ``kid`` in the issuer's
  JWK Set (RFC 7517 §5; ``kid`` §4.5, ``use`` §4.2), found through the
  ``jwks_uri`` of its OpenID Provider metadata (OpenID Connect Discovery 1.0
  §3-§4, ``{AUTHORITY}/{tid}/.well-known/openid-configuration``), both
  fetched over HTTPS.  Keys embedded in the token (``jwk``, ``jku``,
  ``x5u``, ``x5c`` headers, RFC 7515 §4.1.2-§4.1.6) are never used.

Key cache (:class:`EntraKeys`), per issuer (Entra tenant):

* a token whose ``kid`` is cached is answered from memory, never waiting
  for anything but a short lock that guards the cache's state; no lock is
  held across a fetch;
* an unknown ``kid`` refetches the keys (Entra rolls its keys; OpenID
  Connect Core 1.0 §10.1.1), at most once per :data:`MIN_REFRESH_SECONDS`:
  every fetch of an issuer, successful or failed, starts when it ends an
  interval during which that issuer is not fetched again.  The one exception is the
  issuer's first fetch: when it succeeds, the next unknown ``kid`` may
  refetch at once (so a key published just after a cold start is found),
  and that refetch starts the interval;
* a failed fetch (connection error, timeout, HTTP error, a document that is
  not a usable JWK Set) is remembered: for :data:`MIN_REFRESH_SECONDS` after
  it ends, doubling with each further consecutive failure up to
  :data:`MAX_BACKOFF_SECONDS` (60, 120, 240, then every 300 s), nothing is
  fetched for that issuer and its tokens fail at once with the failure's
  reason ("signing keys unavailable (...)"), unless their ``kid`` is
  cached: keys already cached stay in use.  A successful fetch resets the
  backoff;
* single flight: at most one fetch per issuer is in progress.  Callers that
  need it (no keys yet, or an unknown ``kid`` when a refetch is due) wait
  for that fetch, at most ``wait_seconds`` (:data:`FETCH_TIMEOUT_SECONDS`
  twice, the most the default fetch can take), instead of fetching
  themselves; callers for other issuers and callers whose ``kid`` is cached
  never wait for it.

So however many requests name an issuer, and however they fail, that
issuer's endpoints see its first fetch and then at most one fetch per
:data:`MIN_REFRESH_SECONDS` (fewer while it keeps failing).  The default fetch gives up
after :data:`FETCH_TIMEOUT_SECONDS` (checked between reads; a single socket
operation is bounded by the time left when the request starts) and reads at
most :data:`MAX_DOCUMENT_BYTES` per document.

The key source is injectable: tests give :class:`EntraKeys` a function that
returns locally generated JWKS, or point :func:`fetch_issuer_jwks` at a
loopback server (plain ``http`` is accepted for loopback addresses only).
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
import urllib.request
from collections.abc import Callable
from urllib.parse import urlsplit

import jwt

log = logging.getLogger("scim.auth")

CUSTOM_APP_AUDIENCE = "8adf8e6e-67b2-4cf2-a259-e3dc5476c621"
ALGORITHMS = ["RS256"]
LEEWAY_SECONDS = 120
MIN_REFRESH_SECONDS = 60
"""The least time between two fetches of one issuer's keys (first fetch aside), and the first failure backoff."""
MAX_BACKOFF_SECONDS = 300
"""The cap of the failure backoff: a failing issuer is still tried every five minutes."""
AUTHORITY = "https://login.microsoftonline.com"
FETCH_TIMEOUT_SECONDS = 5
"""The time budget of one fetch (metadata and JWKS together)."""
MAX_DOCUMENT_BYTES = 1 << 20
_TID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_ISSUER = re.compile(rf"^https://sts\.windows\.net/({_TID})/$")
_ENTRA_TENANT = re.compile(_TID)
_LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})
_UNAVAILABLE = "signing keys unavailable"


_REASONS = (
    (jwt.ExpiredSignatureError, "expired"),
    (jwt.ImmatureSignatureError, "not yet valid"),
    (jwt.InvalidAudienceError, "wrong audience"),
    (jwt.InvalidIssuerError, "wrong issuer"),
    (jwt.InvalidSignatureError, "bad signature"),
    (jwt.MissingRequiredClaimError, "missing claim"),
)


def failure_reason(exc: jwt.PyJWTError) -> str:
    """Why PyJWT refused a token, in a few fixed words (for logs: never token content)."""
    return next((text for kind, text in _REASONS if isinstance(exc, kind)), "invalid")


class InvalidJwt(Exception):
    """A JWT that must not be accepted; ``reason`` is for logs (never token content)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _fetchable(url: str, allow_loopback_http: bool) -> bool:
    """An https URL, or (for tests against a local server) http to a loopback address."""
    parts = urlsplit(url)
    if not parts.hostname:
        return False
    return parts.scheme == "https" or (allow_loopback_http and parts.scheme == "http" and parts.hostname in _LOOPBACK)


def _get_json(opener: urllib.request.OpenerDirector, url: str, deadline: float) -> dict:
    """The JSON document at ``url``, read before ``deadline`` (``time.monotonic``) and size-capped."""
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise TimeoutError("fetch deadline passed")
    with opener.open(url, timeout=remaining) as response:  # noqa: S310 - URL checked by _fetchable
        body = bytearray()
        while chunk := response.read(64 * 1024):
            body += chunk
            if len(body) > MAX_DOCUMENT_BYTES:
                raise ValueError("document too large")
            if time.monotonic() > deadline:
                raise TimeoutError("fetch deadline passed")
    return json.loads(bytes(body))


def metadata_url(entra_tenant: str, authority: str = AUTHORITY, v2: bool = False) -> str:
    """Where an Entra tenant's OpenID Provider metadata is (OpenID Connect
    Discovery 1.0 §4): the v1.0 issuer's (``https://sts.windows.net/{tid}/``,
    the tokens Entra provisions with) or the v2.0 issuer's
    (``{authority}/{tid}/v2.0``, the ID tokens of sign-in)."""
    return f"{authority.rstrip('/')}/{entra_tenant}/{'v2.0/' if v2 else ''}.well-known/openid-configuration"


def fetch_metadata(entra_tenant: str, *, authority: str = AUTHORITY, v2: bool = False,
                   opener: urllib.request.OpenerDirector | None = None, timeout: float = FETCH_TIMEOUT_SECONDS,
                   deadline: float | None = None) -> tuple[dict, bool]:
    """An Entra tenant's OpenID Provider metadata, and whether plain http is
    acceptable for the URLs it lists (a loopback authority: tests).

    ``authority`` must be https; plain http is accepted only for a loopback
    authority.  ``timeout`` (or ``deadline``, ``time.monotonic``) bounds the fetch."""
    if not _ENTRA_TENANT.fullmatch(entra_tenant):
        raise InvalidJwt(f"{_UNAVAILABLE} (not an Entra tenant id)")
    authority = authority.rstrip("/")
    loopback_http = _fetchable(authority, True) and not _fetchable(authority, False)
    if not _fetchable(authority, loopback_http):
        raise ValueError("the authority must be an https URL")
    deadline = time.monotonic() + timeout if deadline is None else deadline
    metadata = _get_json(opener or urllib.request.build_opener(), metadata_url(entra_tenant, authority, v2), deadline)
    if not isinstance(metadata, dict):
        raise InvalidJwt("issuer metadata is not a JSON object")
    return metadata, loopback_http


def fetchable(url, loopback_http: bool) -> bool:
    """Whether a URL from an issuer's metadata may be fetched: https, or http
    to a loopback address when the authority itself is one (tests)."""
    return isinstance(url, str) and _fetchable(url, loopback_http)


def fetch_issuer_jwks(entra_tenant: str, *, authority: str = AUTHORITY, opener: urllib.request.OpenerDirector | None = None,
                      timeout: float = FETCH_TIMEOUT_SECONDS, v2: bool = False) -> dict:
    """The JWKS an Entra tenant publishes, found through its OpenID metadata
    (:func:`fetch_metadata`; ``v2``: the v2.0 issuer's).  ``timeout`` bounds
    the whole fetch (both documents)."""
    opener = opener or urllib.request.build_opener()
    deadline = time.monotonic() + timeout
    metadata, loopback_http = fetch_metadata(entra_tenant, authority=authority, v2=v2, opener=opener, deadline=deadline)
    jwks_uri = metadata.get("jwks_uri", "")
    if not fetchable(jwks_uri, loopback_http):
        raise InvalidJwt("issuer metadata without an https jwks_uri")
    return _get_json(opener, jwks_uri, deadline)


def _signing_keys(document: dict) -> dict[str, jwt.PyJWK]:
    """The RSA signing keys of a JWK Set, by ``kid`` (keys without one cannot be picked)."""
    jwks = jwt.PyJWKSet.from_dict(document)
    return {k.key_id: k for k in jwks.keys if k.key_id and k.key_type == "RSA" and k.public_key_use in (None, "sig")}


class _Issuer:
    """What :class:`EntraKeys` knows about one issuer; read and written under its lock only."""

    __slots__ = ("keys", "fetches", "failures", "next_fetch_at", "error", "in_flight")

    def __init__(self) -> None:
        self.keys: dict[str, jwt.PyJWK] | None = None  # None until a fetch succeeds
        self.fetches = 0  # fetches finished, successful or not
        self.failures = 0  # consecutive failed fetches
        self.next_fetch_at = float("-inf")  # on the clock: no fetch starts before this
        self.error = _UNAVAILABLE  # the reason of the last failure
        self.in_flight: threading.Event | None = None  # set when the fetch in progress is over


class EntraKeys:
    """Signing keys per Entra tenant: cached, refetched on an unknown ``kid``, one fetch at a time, failures backed off.

    ``fetch`` returns an issuer's JWK Set (a dict) or raises; ``clock`` (seconds,
    monotonic) times the refresh interval and the backoff; ``wait_seconds``
    bounds how long a caller waits for another caller's fetch.
    """

    def __init__(self, fetch: Callable[[str], dict] = fetch_issuer_jwks, min_refresh_seconds: float = MIN_REFRESH_SECONDS,
                 *, max_backoff_seconds: float = MAX_BACKOFF_SECONDS, wait_seconds: float = 2 * FETCH_TIMEOUT_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._fetch = fetch
        self._min_refresh = min_refresh_seconds
        self._max_backoff = max(max_backoff_seconds, min_refresh_seconds)
        self._wait = wait_seconds
        self._clock = clock
        self._issuers: dict[str, _Issuer] = {}
        self._lock = threading.Lock()  # guards the _Issuer states; never held across a fetch or a wait

    def key(self, entra_tenant: str, kid: str):
        """The public key ``kid`` of the issuer, or None; :class:`InvalidJwt` when its keys cannot be had."""
        with self._lock:
            issuer = self._issuers.get(entra_tenant)
            if issuer is None:
                issuer = self._issuers[entra_tenant] = _Issuer()
            if issuer.keys is not None and kid in issuer.keys:
                return issuer.keys[kid].key
            flight = issuer.in_flight
            leading = flight is None
            if leading:
                if self._clock() < issuer.next_fetch_at:
                    return self._answer(issuer, kid)  # within the interval or the backoff: no fetch
                flight = issuer.in_flight = threading.Event()
        if leading:
            self._run_fetch(entra_tenant, issuer, flight)
        elif not flight.wait(self._wait):
            raise InvalidJwt(f"{_UNAVAILABLE} (fetch in progress)")
        with self._lock:
            return self._answer(issuer, kid)

    @staticmethod
    def _answer(issuer: _Issuer, kid: str):
        """From the cached state only (lock held): the key, None for an unknown kid, or the last failure."""
        if issuer.keys is None:
            raise InvalidJwt(issuer.error)
        found = issuer.keys.get(kid)
        return found.key if found is not None else None

    def _backoff(self, failures: int) -> float:
        return min(self._min_refresh * 2.0 ** min(failures - 1, 32), self._max_backoff)

    def _run_fetch(self, entra_tenant: str, issuer: _Issuer, flight: threading.Event) -> None:
        """The one fetch for ``issuer`` (no lock held while it runs), then its outcome recorded and waiters woken."""
        keys, error = None, f"{_UNAVAILABLE} (fetch interrupted)"
        try:
            keys, error = _signing_keys(self._fetch(entra_tenant)), None
        except InvalidJwt as exc:
            error = exc.reason
        except Exception as exc:  # noqa: BLE001 - any failure of the key source is a failed fetch, backed off
            error = f"{_UNAVAILABLE} ({type(exc).__name__})"
        finally:
            with self._lock:
                now = self._clock()
                issuer.fetches += 1
                if error is None:
                    issuer.keys, issuer.failures = keys, 0
                    issuer.next_fetch_at = now + self._min_refresh if issuer.fetches > 1 else float("-inf")
                else:
                    issuer.failures += 1
                    issuer.error = error
                    failures, retry_in = issuer.failures, self._backoff(issuer.failures)
                    issuer.next_fetch_at = now + retry_in
                issuer.in_flight = None
            flight.set()
        if error is not None:
            # At most one line per issuer per backoff; no id (the request log's rule), only the fixed reason.
            log.warning("entra_keys_fetch_failed reason=%s consecutive_failures=%d retry_in_seconds=%g",
                        error.replace(" ", "_"), failures, retry_in)


def unverified_entra_tenant(token: str) -> str:
    """The Entra tenant id in ``iss`` (not yet verified: it picks the keys)."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise InvalidJwt("malformed") from exc
    match = _ISSUER.match(str(claims.get("iss", "")))
    if not match:
        raise InvalidJwt("not issued by Entra ID")
    return match.group(1)


def verify_entra_jwt(token: str, entra_tenant: str, keys: EntraKeys, audiences: list[str]) -> dict:
    """The verified claims of an Entra-issued token for ``entra_tenant``."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise InvalidJwt("malformed") from exc
    if header.get("alg") not in ALGORITHMS:
        raise InvalidJwt("algorithm not allowed")
    key = keys.key(entra_tenant, str(header.get("kid", "")))
    if key is None:
        raise InvalidJwt("unknown signing key")
    try:
        return jwt.decode(
            token, key=key, algorithms=ALGORITHMS, audience=audiences,
            issuer=f"https://sts.windows.net/{entra_tenant}/", leeway=LEEWAY_SECONDS,
            options={"require": ["exp", "iss", "aud"]},
        )
    except jwt.PyJWTError as exc:
        raise InvalidJwt(failure_reason(exc)) from exc
