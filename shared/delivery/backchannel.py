"""Delivery of back-channel logouts (OpenID Connect Back-Channel Logout 1.0):
deprovisioning ends the application's sessions.

A delivery run (:mod:`shared.delivery.dispatch`) hands every pending event
that deactivates or deletes a user (``prov:deactivate``, ``prov:delete``)
to :func:`end_sessions_of`, which ends that user's sessions at once (their
tokens are refused from then on) and marks the event done for this channel
(``lo``), so the event settles only once its logouts are due.  Then
:func:`deliver_logouts` POSTs a logout token (:func:`shared.signin.logout.logout_token`)
for each ended session whose application registered a
``backchannel_logout_uri``: as ``logout_token`` in an
``application/x-www-form-urlencoded`` body (§2.5); 200 or 204 means done
(§2.8) and the session row goes.  Anything else, or no answer within
``SCIM_EVENTS_PUSH_TIMEOUT_SECONDS``, is retried like a change-event push
(after 1, 2, 4 ... seconds, at most 5 minutes apart) for
``SCIM_EVENTS_PUSH_RETRY_SECONDS`` from the first failure, then given up
and logged.  Redirects are not followed.

How soon: the committing instance starts a run right after the commit, so
the application normally hears within a second; if that instance dies, the
minute timer's run sends it (at most about a minute later).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import requests

from ..auth.signing_keys import SigningKeys
from ..scim.events import ends_sessions
from ..signin.apps import AppRegistry
from ..signin.logout import logout_token
from ..storage.event_rows import StoredEvent
from ..storage.signin_rows import SignInRows
from .push import CONNECT_TIMEOUT, backoff_seconds

log = logging.getLogger("scim.signin")


@dataclass(slots=True)
class LogoutReport:
    ended: int = 0
    sent: int = 0
    failures: int = 0
    given_up: int = 0
    next_attempt: float | None = None

    def later(self, when: float) -> None:
        self.next_attempt = when if self.next_attempt is None else min(self.next_attempt, when)


def end_sessions_of(rows: SignInRows, tenant_id: str, events: list[StoredEvent], marks: dict, report: LogoutReport) -> None:
    """End the sessions of every user a pending event deactivates or deletes; mark those events."""
    for event in events:
        if event.logged_out or not ends_sessions(event.change):
            continue
        report.ended += len(rows.end_sessions(tenant_id, event.change.resource_id))
        event.logged_out = True
        marks[event.jti]["lo"] = True


def send_logout(http: requests.Session, uri: str, token: str, timeout: float) -> str | None:
    """POST one logout token (§2.5); None when the application took it (§2.8), else why not."""
    try:
        answer = http.post(uri, data={"logout_token": token}, timeout=(min(CONNECT_TIMEOUT, timeout), timeout),
                           allow_redirects=False)
    except requests.RequestException as exc:
        return type(exc).__name__
    return None if answer.status_code in (200, 204) else f"HTTP {answer.status_code}"


def deliver_logouts(rows: SignInRows, apps: AppRegistry, keys: SigningKeys, tenant_id: str, report: LogoutReport, *,
                    timeout: float, retry_seconds: int, now: float | None = None) -> None:
    """Send every due back-channel logout of a tenant's ended sessions."""
    now = time.time() if now is None else now
    due = [s for s in rows.sessions(tenant_id) if s.logout]
    if not due:
        return
    with requests.Session() as http:
        http.trust_env = False
        for session in due:
            if session.next_attempt > now:
                report.later(session.next_attempt)
                continue
            app = apps.get(session.client_id)
            if app is None or not app.backchannel_logout_uri:
                rows.delete_session(session)
                continue
            error = send_logout(http, app.backchannel_logout_uri, logout_token(keys, session), timeout)
            if error is None:
                rows.delete_session(session)
                report.sent += 1
                continue
            report.failures += 1
            attempts, since = session.attempts + 1, session.failing_since or now
            log.warning("backchannel_logout_failed client=%s attempt=%d error=%s", session.client_id, attempts, error)
            if now - since >= retry_seconds:
                rows.delete_session(session)
                report.given_up += 1
                log.warning("backchannel_logout_given_up client=%s attempts=%d", session.client_id, attempts)
                continue
            next_attempt = now + backoff_seconds(attempts)
            rows.update_session(session, attempts=attempts, next_attempt=next_attempt, failing_since=since,
                                error=error[:200])
            report.later(next_attempt)
