"""Delivery of a tenant's change events to the channels it uses.

The events wait in the outbox (:mod:`shared.storage.outbox`), oldest first.
One delivery run of a tenant (:meth:`Dispatcher.deliver`) reads them and:

1. with ``SCIM_EVENTS_QUEUE``, puts each not yet queued on the deployment's
   Storage Queue (:mod:`shared.storage.event_queue`);
2. with a push endpoint (``scimctl events push set``), POSTs them in order
   (:mod:`shared.delivery.push`, RFC 8935), stopping at the first failure so
   the receiver sees one resource's events in order.  A failed event is
   retried after 1, 2, 4 ... seconds (at most 5 minutes apart) for
   ``SCIM_EVENTS_PUSH_RETRY_SECONDS`` (one day) from its first failure, then
   parked: it is not pushed again (``scimctl events status`` shows it,
   ``scimctl events replay`` sends it again) and the next ones go ahead;
3. ends the sign-in sessions of every user an event deactivates or deletes
   and sends the back-channel logouts due (:mod:`shared.delivery.backchannel`);
4. moves every event that all the tenant's channels have -- the poll feed
   (when the tenant has an ``events`` credential) has answered it, the push
   endpoint accepted it, the queue holds it, its sessions are ended -- out
   of the pending range (:meth:`~shared.storage.outbox.Outbox.settle`).

A run reads every pending event, so one channel's lag (a poll recipient
that stopped) never holds another back; each channel sends at most
:data:`MAX_SENDS_PER_RUN` events a run, and a run that stops there asks for
the next one at once.

Delivery is at least once on every channel: a run that dies between a send
and its mark sends that event again next time; consumers deduplicate by
``jti``.  Runs are started after each commit in the committing process
(:mod:`shared.delivery.worker`, best effort) and by the app's timer every
minute for every tenant (:meth:`Dispatcher.deliver_all`, also
``scimctl events deliver``), so a crash between a commit and its delivery
delays the event, never loses it.  Events are the audit trail of the
changes too (:mod:`shared.storage.audit`): they are kept, delivered or not,
for ``SCIM_AUDIT_RETENTION_DAYS`` (90), then deleted by the daily timer
(:meth:`Dispatcher.enforce_retention`).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass

from ..auth.signing_keys import SigningKeys
from ..auth.tenants import Tenant, TenantRegistry
from ..config import Settings
from ..storage.event_queue import MAX_MESSAGE_CHARS, EventQueue
from ..storage.event_rows import StoredEvent
from ..storage.outbox import Outbox
from ..storage.outcomes import StorageUnavailable
from ..storage.tables import RESOURCES, Tables
from ..scim.events import ends_sessions
from ..signin.apps import AppRegistry
from ..storage.signin_rows import ASSERTIONS, SignInRows
from .backchannel import LogoutReport, deliver_logouts, end_sessions_of
from .push import Pusher, backoff_seconds, endpoint_problem
from .sets import sign_set

log = logging.getLogger("scim.events")
MAX_SENDS_PER_RUN = 5000  # per channel; a run that stops there asks for the next one at once


@dataclass
class DeliveryReport:
    """What delivery runs did."""

    queued: int = 0
    pushed: int = 0
    push_failures: int = 0
    parked: int = 0
    settled: int = 0
    logouts_sent: int = 0
    logout_failures: int = 0
    next_attempt: float | None = None  # when a push or a logout is due again (epoch seconds), if one failed

    def add(self, other: "DeliveryReport") -> None:
        for name in ("queued", "pushed", "push_failures", "parked", "settled", "logouts_sent", "logout_failures"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


def _notice_form(event: StoredEvent) -> StoredEvent:
    return dataclasses.replace(event, change=dataclasses.replace(event.change, data=None))


class Dispatcher:
    """Delivery runs over the outboxes of every tenant."""

    def __init__(self, settings: Settings, tables: Tables, registry: TenantRegistry, keys: SigningKeys | None,
                 queue: EventQueue | None) -> None:
        self.settings = settings
        self.tables = tables
        self.registry = registry
        self.keys = keys
        self.queue = queue
        self.signin_rows = SignInRows(tables)
        self.apps = AppRegistry(tables)
        self._logouts_waiting: set[str] = set()  # tenants whose logouts this process left due

    def _outbox(self, tenant_id: str) -> Outbox:
        return Outbox(self.tables.table(RESOURCES), tenant_id)

    def deliver(self, tenant_id: str, now: float | None = None, sweep: bool = False) -> DeliveryReport:
        """One delivery run of a tenant's pending events (the module docstring);
        ``sweep``: the timer's run, which also looks for logouts left due by
        another process (:meth:`_log_out`)."""
        report = DeliveryReport()
        tenant = self.registry.tenant(tenant_id)
        if tenant is None:
            return report
        now = time.time() if now is None else now
        outbox = self._outbox(tenant_id)
        events = list(outbox.pending())  # all of them: a channel that lags must not hold back another
        marks: dict[str, dict] = {event.jti: {} for event in events}
        if self.keys is not None:
            self._queue_all(tenant, events, marks, report)
            self._push_in_order(tenant, events, marks, report, now)
        self._log_out(tenant_id, events, marks, report, now, sweep)
        done = [(e, marks[e.jti]) for e in events if self._delivered(tenant, e)]
        settled = outbox.settle(done)
        outbox.mark({jti: props for jti, props in marks.items() if props and jti not in settled})
        report.settled = len(settled)
        return report

    def _delivered(self, tenant: Tenant, event: StoredEvent) -> bool:
        return ((event.poll_answered or not tenant.events.poll)
                and (event.push == "ok" or not tenant.events.push_url)
                and (event.queued or self.queue is None)
                and (event.logged_out or not ends_sessions(event.change)))

    def _log_out(self, tenant_id: str, events: list[StoredEvent], marks: dict, report: DeliveryReport, now: float,
                 sweep: bool) -> None:
        """End the sessions the events deprovision and send the logouts due
        (:mod:`shared.delivery.backchannel`).  The sessions are read for due
        logouts only when this run ended some, when this process left some
        due (a failed send, :attr:`_logouts_waiting`), or on the timer's
        sweep (another process's), so a run after an ordinary change costs no
        extra storage call.  A storage failure here does not stop the other
        channels: the events stay pending, a run is asked for in a second."""
        logouts = LogoutReport()
        try:
            end_sessions_of(self.signin_rows, tenant_id, events, marks, logouts)
            if self.keys is not None and (sweep or logouts.ended or tenant_id in self._logouts_waiting):
                deliver_logouts(self.signin_rows, self.apps, self.keys, tenant_id, logouts, now=now,
                                timeout=self.settings.events_push_timeout_seconds,
                                retry_seconds=self.settings.events_push_retry_seconds)
                if logouts.next_attempt is None:
                    self._logouts_waiting.discard(tenant_id)
                else:
                    self._logouts_waiting.add(tenant_id)
        except StorageUnavailable:
            log.warning("backchannel_logout_unavailable: storage failed; the next run ends the sessions")
            logouts.later(now + 1)
        report.logouts_sent += logouts.sent
        report.logout_failures += logouts.failures
        if logouts.next_attempt is not None:
            report.next_attempt = min(report.next_attempt or logouts.next_attempt, logouts.next_attempt)

    def _queue_all(self, tenant: Tenant, events: list[StoredEvent], marks: dict, report: DeliveryReport) -> None:
        if self.queue is None:
            return
        for event in events:
            if event.queued:
                continue
            if report.queued == MAX_SENDS_PER_RUN:
                report.next_attempt = time.time()
                return
            message = sign_set(event, tenant.event_audience, self.keys)
            if len(message) > MAX_MESSAGE_CHARS:
                message = sign_set(_notice_form(event), tenant.event_audience, self.keys)
            try:
                self.queue.put(message)
            except StorageUnavailable:
                log.warning("event_queue_unavailable queue=%s", self.queue.name)
                return
            event.queued = True
            marks[event.jti]["qu"] = True
            report.queued += 1

    def _push_in_order(self, tenant: Tenant, events: list[StoredEvent], marks: dict, report: DeliveryReport,
                       now: float) -> None:
        url, authorization = tenant.events.push_url, tenant.events.push_authorization
        if not url or endpoint_problem(url):
            return
        window = self.settings.events_push_retry_seconds
        pusher = Pusher(self.settings.events_push_timeout_seconds)
        try:
            failing = False
            for event in events:
                if event.push:
                    continue
                if failing:  # the endpoint just failed: park what is past its window, try nothing more
                    if event.push_failing_since and now - event.push_failing_since >= window:
                        self._park(event, marks, report, "not attempted: the endpoint was failing")
                    continue
                if event.push_next > now:
                    report.next_attempt = event.push_next
                    break
                if report.pushed == MAX_SENDS_PER_RUN:
                    report.next_attempt = now
                    break
                error = pusher.push(url, authorization, sign_set(event, tenant.event_audience, self.keys))
                if error is None:
                    event.push = "ok"
                    marks[event.jti].update(pu="ok")
                    report.pushed += 1
                    continue
                report.push_failures += 1
                attempts = event.push_attempts + 1
                since = event.push_failing_since or now
                log.warning("event_push_failed jti=%s attempt=%d error=%s", event.jti, attempts, error)
                if now - since >= window:
                    self._park(event, marks, report, error, attempts)
                    failing = True
                    continue
                next_attempt = now + backoff_seconds(attempts)
                marks[event.jti].update(pn=attempts, pt=next_attempt, pe=error, pf=since)
                report.next_attempt = next_attempt
                break
        finally:
            pusher.close()

    @staticmethod
    def _park(event: StoredEvent, marks: dict, report: DeliveryReport, error: str, attempts: int | None = None) -> None:
        event.push = "parked"
        marks[event.jti].update(pu="parked", pe=error, **({"pn": attempts} if attempts else {}))
        report.parked += 1
        log.warning("event_push_parked jti=%s error=%s", event.jti, error)

    def deliver_all(self) -> DeliveryReport:
        """A delivery run of every enabled tenant (the timer's sweep)."""
        total = DeliveryReport()
        for tenant in self.registry.tenants():
            if tenant.disabled:
                continue
            try:
                total.add(self.deliver(tenant.id, sweep=True))
            except StorageUnavailable:
                log.warning("event_delivery_unavailable: storage failed during a tenant's delivery run")
            except Exception:  # noqa: BLE001 - one tenant's failure must not stop the others' delivery
                log.exception("event_delivery_failed: a tenant's delivery run failed; the next run retries")
        return total

    def enforce_retention(self, days: int | None = None) -> int:
        """Delete every tenant's events older than ``days`` (default
        ``SCIM_AUDIT_RETENTION_DAYS``); returns how many."""
        cutoff = int((time.time() - (days or self.settings.audit_retention_days) * 86400) * 1_000_000)
        deleted = 0
        for tenant in self.registry.tenants():
            try:
                deleted += self._outbox(tenant.id).prune(cutoff)
            except Exception:  # noqa: BLE001 - one tenant's failure must not stop the others' retention
                log.exception("event_retention_failed: a tenant's expired events stay until the next run")
        return deleted

    def prune_signin_rows(self) -> int:
        """Delete every tenant's expired sign-in rows (pending authorizations,
        codes, sessions: :meth:`~shared.storage.signin_rows.SignInRows.prune`)
        and the expired records of client assertions."""
        deleted = 0
        for partition in [ASSERTIONS, *(tenant.id for tenant in self.registry.tenants())]:
            try:
                deleted += self.signin_rows.prune(partition)
            except Exception:  # noqa: BLE001 - one tenant's failure must not stop the others' retention
                log.exception("signin_retention_failed: a tenant's expired sign-in rows stay until the next run")
        return deleted

    def status(self, tenant_id: str) -> dict:
        """What waits for delivery: counts per channel, parked pushes, the oldest event and the last push error."""
        tenant = self.registry.require_tenant(tenant_id)
        counts = {"pending": 0, "poll_pending": 0, "push_pending": 0, "parked": 0, "queue_pending": 0}
        oldest, last_error = None, ""
        for event in self._outbox(tenant_id).pending():
            counts["pending"] += 1
            counts["poll_pending"] += tenant.events.poll and not event.poll_answered
            counts["push_pending"] += bool(tenant.events.push_url) and not event.push
            counts["parked"] += event.push == "parked"
            counts["queue_pending"] += self.queue is not None and not event.queued
            oldest = event.iat if oldest is None else min(oldest, event.iat)
            last_error = event.push_error or last_error
        return {"tenant_id": tenant_id, **counts, "oldest_iat": oldest, "last_push_error": last_error,
                "poll": tenant.events.poll, "push_url": tenant.events.push_url, "queue": self.queue.name if self.queue else ""}
