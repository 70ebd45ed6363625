"""The application side of the sign-in tests: a small Flask web app that
signs its users in through this service with an off-the-shelf OpenID
Connect client, Authlib's Flask client
(https://docs.authlib.org/en/latest/client/flask.html), configured only
from our discovery document, exactly as an application team would.

Routes:

* ``GET /login?tenant=…&login_hint=…``: starts the sign-in (authorization
  code flow, PKCE S256, ``client_secret_basic``); extra parameters go into
  the authorization request;
* ``GET /callback``: finishes it: Authlib redeems the code and validates
  the ID token (signature from our JWKS, ``iss``, ``aud``, ``nonce``,
  ``exp``); answers JSON ``{"claims", "access_token"}``, or ``{"error"}``
  when we sent the user back with an error;
* ``POST /backchannel-logout``: records each ``logout_token`` it receives
  (OpenID Connect Back-Channel Logout 1.0 §2.5) and answers 200.

It runs in a thread on a loopback port (werkzeug's server) for one test
module.
"""

from __future__ import annotations

import secrets
import threading
import time

from werkzeug.serving import WSGIRequestHandler, make_server


class _QuietHandler(WSGIRequestHandler):
    """No access log: its lines would hold the login_hint (an email) of every sign-in."""

    def log_request(self, *args, **kwargs) -> None:
        pass


class SignInApp:
    """The Flask app, its server thread and what it received."""

    def __init__(self) -> None:
        from authlib.integrations.flask_client import OAuth
        from flask import Flask, jsonify, request, url_for

        self.logout_tokens: list[tuple[float, str]] = []
        self.logout_status = 200
        app = Flask("signin-test-app")
        app.secret_key = secrets.token_hex(16)
        app.config["SESSION_COOKIE_NAME"] = "app_session"
        self.flask = app
        self.oauth = OAuth(app)
        self._server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_QuietHandler)
        self.url = f"http://127.0.0.1:{self._server.server_port}"

        @app.get("/login")
        def login():
            extra = {k: v for k, v in request.args.items()}
            return self.oauth.scim.authorize_redirect(url_for("callback", _external=True), **extra)

        @app.get("/callback")
        def callback():
            if "error" in request.args:
                return jsonify(error=request.args["error"], description=request.args.get("error_description"))
            token = self.oauth.scim.authorize_access_token()
            return jsonify(claims=dict(token["userinfo"]), access_token=token["access_token"], id_token=token["id_token"])

        @app.post("/backchannel-logout")
        def backchannel_logout():
            self.logout_tokens.append((time.monotonic(), request.form.get("logout_token", "")))
            return "", self.logout_status

    def register_with(self, issuer: str, client_id: str, client_secret: str) -> None:
        """Point the OIDC client at our discovery document."""
        self.oauth.register(
            "scim", client_id=client_id, client_secret=client_secret,
            server_metadata_url=f"{issuer}/.well-known/openid-configuration",
            client_kwargs={"scope": "openid profile email", "code_challenge_method": "S256",
                           "token_endpoint_auth_method": "client_secret_basic"},
        )

    @property
    def redirect_uri(self) -> str:
        return f"{self.url}/callback"

    @property
    def backchannel_logout_uri(self) -> str:
        return f"{self.url}/backchannel-logout"

    def start(self) -> "SignInApp":
        threading.Thread(target=self._server.serve_forever, name="signin-test-app", daemon=True).start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
