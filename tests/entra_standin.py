"""A stand-in for Microsoft Entra ID's sign-in endpoints, for the sign-in tests.

The service brokers sign-in to each customer's Entra tenant: it sends the
browser to the tenant's v2.0 authorization endpoint and redeems the code at
its token endpoint, then checks the ID token.  In the tests that tenant is
this stand-in: ``tests/entra_standin.mjs``, an OpenID Provider built on the
npm package ``oidc-provider`` (pinned in ``package.json``, installed by
``npm ci``), started here as a node process on 127.0.0.1 and driven over
plain HTTP::

    with EntraStandIn.start([TID], [{"client_id": CID, "client_secret": SECRET,
                                     "redirect_uris": [CALLBACK]}]) as entra:
        entra.set_account(TID, "ada@contoso.example", oid=OID, name="Ada Lovelace",
                          preferred_username="ada@contoso.example")
        issuer = entra.issuer(TID)          # discovery: issuer + /.well-known/openid-configuration

What it resembles, and where it differs from Entra:

* One OpenID Provider per tenant, with the v2.0 issuer shape
  ``{authority}/{tid}/v2.0`` (Entra: ``https://login.microsoftonline.com/{tid}/v2.0``),
  and its discovery document at ``{issuer}/.well-known/openid-configuration``
  (Entra: the same, ``https://login.microsoftonline.com/{tid}/v2.0/.well-known/openid-configuration``).
  Endpoints keep Entra's path names, but below the issuer path:
  ``{issuer}/oauth2/v2.0/authorize``, ``{issuer}/oauth2/v2.0/token``,
  ``{issuer}/discovery/v2.0/keys``, ``{issuer}/oauth2/v2.0/logout`` (Entra:
  ``https://login.microsoftonline.com/{tid}/oauth2/v2.0/authorize`` and so
  on, one level up), so code must take them from discovery, as it should
  anyway.  Endpoint reference:
  https://learn.microsoft.com/entra/identity-platform/v2-protocols-oidc
  and https://learn.microsoft.com/entra/identity-platform/v2-oauth2-auth-code-flow
* Each tenant has its own RS256 signing key, published at its ``jwks_uri``.
  Every configured client (app registration) is known to every tenant, as a
  multi-tenant app is.  Authorization code flow only; PKCE (S256) accepted
  and checked when sent; client authentication ``client_secret_post`` or
  ``client_secret_basic``; scopes ``openid profile email``.
* The ID token carries the claims of an Entra v2.0 ID token
  (https://learn.microsoft.com/entra/identity-platform/id-token-claims-reference):
  ``iss``, ``aud`` (the client id), ``sub`` (pairwise: base64url SHA-256 of
  oid + client id, so it differs per app and never equals ``oid``), ``tid``,
  ``ver`` ("2.0"), ``iat``, ``exp``, ``nonce`` (when sent); with the
  ``profile`` scope ``oid``, ``name``, ``preferred_username``; with the
  ``email`` scope ``email`` when the account has one.  ``tid_claim`` in
  :meth:`EntraStandIn.set_account` overrides ``tid`` (a token that claims
  another tenant than the issuer's).  Not sent: ``nbf``, ``aio``, ``rh``,
  ``uti``, ``idp`` and other Entra-internal claims.
* Sign-in: an authorization request whose ``login_hint`` names an account of
  that tenant (its login, or its ``preferred_username``, case-insensitively)
  signs it in at once; otherwise the browser gets an HTML form (text input
  ``login``, submit button ``#sign-in``) that posts back and signs in the
  account named, or shows "unknown account".  Consent is never asked.  No
  session is remembered: every authorization signs in afresh, so tests with
  different users do not interfere.  The flow uses cookies (scoped to the
  tenant's path), so a client must keep cookies across its redirects.

Requires node (found on PATH) and ``node_modules`` (``npm ci``).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "tests" / "entra_standin.mjs"
HOST = "127.0.0.1"
START_TIMEOUT_SECONDS = 20.0
STOP_TIMEOUT_SECONDS = 5.0
CONTROL_TIMEOUT_SECONDS = 10.0

# Control requests go straight to 127.0.0.1, never through an HTTP(S)_PROXY.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class EntraStandInError(RuntimeError):
    """The stand-in could not be started, or refused a control request."""


class EntraStandIn:
    """A running ``tests/entra_standin.mjs``: Microsoft Entra ID's v2.0
    sign-in endpoints (OpenID Connect, authorization code flow) for the
    tenants and app registrations it was started with.

    Start one with :meth:`start`; use it as a context manager or call
    :meth:`stop`.  Issuers have Entra's v2.0 shape ``{authority}/{tid}/v2.0``;
    ID tokens carry the v2.0 claims described in the module docstring
    (https://learn.microsoft.com/entra/identity-platform/id-token-claims-reference).
    Accounts are added and removed per tenant with :meth:`set_account` and
    :meth:`remove_account` while it runs.
    """

    def __init__(self) -> None:
        self.process: subprocess.Popen | None = None
        self.port: int | None = None
        self.tenants: list[str] = []
        self.clients: list[dict] = []
        self._config_path: str | None = None
        self._stdout = None
        self._stderr = None
        self._lock = threading.Lock()

    # ------------------------------------------------------------ lifecycle

    @classmethod
    def start(cls, tenants: list[str], clients: list[dict], *,
              timeout: float = START_TIMEOUT_SECONDS) -> "EntraStandIn":
        """Launch the stand-in on a free port of 127.0.0.1 and wait until it
        reports ``READY <port>``.

        ``tenants`` are Entra tenant ids (GUIDs); ``clients`` are app
        registrations, each ``{"client_id", "client_secret", "redirect_uris"}``
        (optionally ``"post_logout_redirect_uris"``).  Raises
        :class:`EntraStandInError`, with node's stderr, when node or
        ``node_modules`` is missing, or when the process exits or is not ready
        within ``timeout`` seconds.
        """
        node = shutil.which("node")
        if node is None:
            raise EntraStandInError("node is not on PATH: the Entra stand-in runs on Node.js")
        if not (ROOT / "node_modules" / "oidc-provider").is_dir():
            raise EntraStandInError("node_modules/oidc-provider is missing: run `npm ci` (or `make install`) first")

        self = cls()
        self.tenants = list(tenants)
        self.clients = [dict(client) for client in clients]
        fd, self._config_path = tempfile.mkstemp(prefix="entra-standin-", suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as config:
            json.dump({"tenants": self.tenants, "clients": self.clients}, config)
        self._stdout = tempfile.TemporaryFile(prefix="entra-standin-out-")
        self._stderr = tempfile.TemporaryFile(prefix="entra-standin-err-")
        try:
            self.process = subprocess.Popen(
                [node, str(SCRIPT), "--port", "0", "--config", self._config_path],
                cwd=ROOT, stdin=subprocess.DEVNULL, stdout=self._stdout, stderr=self._stderr,
            )
            self.port = self._wait_ready(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        while True:
            for line in self._read(self._stdout).splitlines():
                if line.startswith("READY "):
                    return int(line.split()[1])
            if self.process.poll() is not None:
                raise EntraStandInError(
                    f"the Entra stand-in exited with code {self.process.returncode} before it was ready; "
                    f"stderr:\n{self.stderr()}")
            if time.monotonic() >= deadline:
                raise EntraStandInError(
                    f"the Entra stand-in was not ready within {timeout:g} s; stderr:\n{self.stderr()}")
            time.sleep(0.02)

    @staticmethod
    def _read(stream) -> str:
        try:
            stream.seek(0)
            return stream.read().decode("utf-8", "replace")
        except (AttributeError, OSError, ValueError):
            return ""

    def stderr(self) -> str:
        """What the stand-in wrote to stderr so far (errors only)."""
        return self._read(self._stderr)

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout: float = STOP_TIMEOUT_SECONDS) -> None:
        """SIGTERM to the PID started here; SIGKILL if it has not exited
        after ``timeout`` seconds.  Removes the config file.  Idempotent."""
        with self._lock:
            process = self.process
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            for stream in (self._stdout, self._stderr):
                if stream is not None:
                    try:
                        stream.close()
                    except OSError:
                        pass
            if self._config_path is not None:
                try:
                    os.unlink(self._config_path)
                except OSError:
                    pass
                self._config_path = None

    def __enter__(self) -> "EntraStandIn":
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def __repr__(self) -> str:
        pid = self.process.pid if self.process is not None else None
        return f"<EntraStandIn pid={pid} port={self.port} running={self.running()}>"

    # ------------------------------------------------------------ addresses

    @property
    def authority(self) -> str:
        """``http://127.0.0.1:<port>``: the stand-in's counterpart of
        ``https://login.microsoftonline.com``, the base before ``/{tid}/...``."""
        if self.port is None:
            raise EntraStandInError("the Entra stand-in is not started")
        return f"http://{HOST}:{self.port}"

    def issuer(self, tid: str) -> str:
        """The tenant's v2.0 issuer, ``{authority}/{tid}/v2.0`` (the ``iss`` of its ID tokens)."""
        return f"{self.authority}/{tid}/v2.0"

    def discovery_url(self, tid: str) -> str:
        """The tenant's OpenID Connect discovery document."""
        return f"{self.issuer(tid)}/.well-known/openid-configuration"

    # ------------------------------------------------------------ accounts

    def set_account(self, tid: str, login: str, *, oid: str, name: str, preferred_username: str,
                    email: str | None = None, tid_claim: str | None = None) -> None:
        """Create or replace the account ``login`` of tenant ``tid``.

        ``login`` is what a ``login_hint`` or the sign-in form names (compared
        case-insensitively, as is ``preferred_username``).  ``oid`` is the
        object id (the ``oid`` claim; ``sub`` is derived from it);
        ``tid_claim`` replaces the ID token's ``tid`` (default: ``tid``).
        """
        body: dict[str, str] = {"oid": oid, "name": name, "preferred_username": preferred_username}
        if email is not None:
            body["email"] = email
        if tid_claim is not None:
            body["tid"] = tid_claim
        self._control("PUT", self._account_path(tid, login), body)

    def remove_account(self, tid: str, login: str) -> None:
        """Remove the account ``login`` of tenant ``tid`` (no error if there is none)."""
        self._control("DELETE", self._account_path(tid, login))

    @staticmethod
    def _account_path(tid: str, login: str) -> str:
        return f"/_accounts/{urllib.parse.quote(tid, safe='')}/{urllib.parse.quote(login, safe='')}"

    def _control(self, method: str, path: str, body: dict | None = None) -> None:
        data = None if body is None else json.dumps(body).encode("utf-8")
        request = urllib.request.Request(f"{self.authority}{path}", data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        try:
            with _OPENER.open(request, timeout=CONTROL_TIMEOUT_SECONDS) as response:
                response.read()
        except urllib.error.HTTPError as error:
            detail = error.read().decode("utf-8", "replace")
            raise EntraStandInError(f"{method} {path}: HTTP {error.code}: {detail}") from None
