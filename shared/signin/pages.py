"""The pages a person sees when sign-in cannot go on: why, in words an
employee understands, and (when the application is known) a link back to
it that tells it ``access_denied`` (RFC 6749 §4.1.2.1).

Plain HTML, no script, no external resource: the page's Content Security
Policy allows nothing but its own inline style.  Every value shown is
escaped.
"""

from __future__ import annotations

from html import escape

from ..scim.http import Response

PAGE_HEADERS = {
    "Content-Type": "text/html; charset=utf-8",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; form-action 'none'",
}

NOT_PROVISIONED = ("Your account has not been provisioned for this application",
                   "Your organisation has not given you access to this application yet. "
                   "Ask your administrator to assign it to you.")
DEACTIVATED = ("Your account has been deactivated",
               "Your organisation has turned off your access to this application. "
               "If you think this is a mistake, ask your administrator.")
TENANT_DISABLED = ("Sign-in is turned off for your organisation",
                   "Your organisation's access to this application is currently turned off. Ask your administrator.")
WRONG_ORGANISATION = ("You signed in with an account of another organisation",
                      "Sign in again with your work account of the organisation this application was set up for.")
UPSTREAM_FAILED = ("Sign-in with your organisation did not complete",
                   "Your organisation's sign-in service did not confirm who you are. Go back and try again; "
                   "if it keeps happening, tell your administrator.")
EXPIRED = ("This sign-in has expired",
           "The sign-in took too long or was started in another browser window. "
           "Go back to the application and sign in again.")
BAD_REQUEST = ("The application sent an invalid sign-in request",
               "This is a problem with the application, not with your account. Tell the application's support.")


def page(status: int, message: tuple[str, str], back_to: str | None = None, detail: str | None = None) -> Response:
    """An HTML page with ``message`` (title, explanation), optionally a link
    back to the application and a technical detail for support."""
    title, text = message
    link = f'<p><a id="back" href="{escape(back_to, quote=True)}">Back to the application</a></p>' if back_to else ""
    extra = f'<p class="detail">Detail for support: {escape(detail)}</p>' if detail else ""
    html = (
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        f"<title>{escape(title)}</title><style>body{{font-family:system-ui,sans-serif;max-width:36em;margin:4em auto;"
        "padding:0 1em;line-height:1.5}.detail{color:#666;font-size:.85em}</style></head><body>"
        f"<h1>{escape(title)}</h1><p>{escape(text)}</p>{link}{extra}</body></html>"
    )
    return Response(status, None, dict(PAGE_HEADERS), text=html)
