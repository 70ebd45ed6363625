"""The commands of scimctl: one method of :class:`Admin` per command, over one
registry and audit log; the times and credentials as they are printed."""

from __future__ import annotations

import dataclasses
import getpass
import json
import sys
from datetime import timedelta


from ..storage.audit import AuditEntry, AuditLog, enforce_retention
from ..config import Settings
from ..scim.records import now_iso
from ..storage.store_check import check_tenant
from ..storage.tables import RESOURCES, Tables
from ..auth.credentials import Credential, format_time, parse_time
from ..auth.signing_keys import SigningKeys
from ..delivery.dispatch import Dispatcher
from ..delivery.push import authorization_problem, endpoint_problem, shown_url
from ..storage.event_queue import EventQueue
from ..storage.outbox import Outbox
from ..auth.tenants import CLIENT, TOKEN, RegistryError, TenantRegistry
from ..auth.signin_directory import SignInDirectory
from ..scim.ids import GROUP
from ..signin.apps import AppError, AppRegistry
from ..storage.table_store import TenantStore
from .schema_commands import SchemaCommands



class Admin(SchemaCommands):
    """The commands, over one registry and audit log (the ``schema``
    commands are :class:`~shared.admin.schema_commands.SchemaCommands`')."""

    def __init__(self, settings: Settings, as_json: bool) -> None:
        self.settings = settings
        tables = Tables(settings)
        self.tables = tables
        self.registry = TenantRegistry(tables, cache_seconds=0, instances_cache_seconds=settings.auth_cache_seconds)
        self.bound = settings.auth_cache_seconds  # when a change reaches every app instance
        self.audit = AuditLog(tables)
        self.as_json = as_json
        self.actor = f"cli:{_user()}"

    def run(self, command: str, args) -> int | None:
        """Run one command, its ``tenant`` argument (an id or a name) made an id first."""
        if getattr(args, "tenant", None):
            args.tenant = self._tenant_id(args.tenant)
        return getattr(self, command)(args)

    def _tenant_id(self, ref: str) -> str:
        """The id of the tenant ``ref`` names: ``ref`` itself when a tenant has that
        id, else the one tenant called ``ref`` (several are an error listing them).
        Otherwise ``ref`` as given: a deleted tenant's id still has audit entries,
        and any other command says there is no such tenant."""
        if self.registry.tenant(ref) is not None:
            return ref
        named = self.registry.tenants_named(ref)
        if len(named) > 1:
            raise RegistryError(f"{len(named)} tenants are named {ref!r}: {', '.join(named)}; give the id")
        return named[0] if named else ref

    def _out(self, data: dict, text: str) -> None:
        print(json.dumps(data) if self.as_json else text)

    def _audit(self, tenant_id: str, operation: str, kind: str, item_id: str, attributes: str = "") -> None:
        self.audit.append(AuditEntry(now_iso(), tenant_id, self.actor, operation, kind, item_id, attributes, "ok", ""))

    def tenant_create(self, args) -> None:
        modes = tuple(m.strip() for m in args.auth.split(",") if m.strip())
        if args.entra_tenant_id and "entra" not in modes:
            modes += ("entra",)
        tenant_id = self.registry.create_tenant(args.name, modes, args.entra_tenant_id, tuple(args.audience),
                                                unique_name=not args.allow_duplicate_name)
        self._audit(tenant_id, "tenant.create", "Tenant", tenant_id, "auth=" + ",".join(modes))
        result = {"tenant_id": tenant_id, "name": args.name, "auth": list(modes)}
        text = f"tenant {args.name} created: {tenant_id} (auth: {', '.join(modes)})"
        if "token" in modes and not args.no_token:
            token_id, token = self.registry.issue_token(tenant_id)
            self._audit(tenant_id, "token.issue", "Token", token_id)
            result.update(token_id=token_id, token=token)
            text += f"\ntoken {token_id} (shown once; Entra's Secret Token):\n{token}"
        self._out(result, text)

    def tenant_list(self, _args) -> None:
        tenants = self.registry.tenants()
        rows = [{"tenant_id": t.id, "name": t.name, "created": _time(t.created), "disabled": t.disabled,
                 "auth": list(t.modes), "entra_tenant": t.entra_tenant} for t in tenants]
        lines = [f"{t.id}  {_time(t.created)}  {'disabled' if t.disabled else 'enabled '}  {','.join(t.modes):18} {t.name}"
                 for t in tenants]
        self._out({"tenants": rows}, "\n".join(lines) or "no tenants")

    def tenant_show(self, args) -> None:
        t = self.registry.require_tenant(args.tenant)
        creds = {kind: [_credential(c) for c in self.registry.credentials(t.id, kind)] for kind in (TOKEN, CLIENT)}
        data = {"tenant_id": t.id, "name": t.name, "created": _time(t.created), "disabled": t.disabled,
                "auth": list(t.modes), "entra_tenant": t.entra_tenant, "audiences": list(t.audiences),
                **{k + "s": v for k, v in creds.items()}}
        lines = [f"tenant {t.id} {t.name!r}, created {_time(t.created)}, {'disabled' if t.disabled else 'enabled'}, "
                 f"auth {','.join(t.modes)}"]
        if t.entra_tenant:
            lines.append(f"  Entra tenant {t.entra_tenant}; extra audiences: {', '.join(t.audiences) or '-'}")
        lines += [f"  {kind:6} {_credential_line(c)}" for kind, items in creds.items() for c in items]
        self._out(data, "\n".join(lines))

    def _set_disabled(self, args, disabled: bool) -> None:
        self.registry.set_disabled(args.tenant, disabled)
        self._audit(args.tenant, "tenant.disable" if disabled else "tenant.enable", "Tenant", args.tenant)
        if disabled:
            text = (f"tenant {args.tenant} disabled: its writes are refused now; "
                    f"its reads on every instance within {self.bound} s (SCIM_AUTH_CACHE_SECONDS)")
        else:
            text = f"tenant {args.tenant} enabled"
        self._out({"tenant_id": args.tenant, "disabled": disabled, "reads_refused_within_seconds": self.bound if disabled else 0},
                  text)

    def tenant_domains(self, args) -> None:
        directory = SignInDirectory(self.tables)
        self.registry.require_tenant(args.tenant)
        if args.domains_action == "list":
            found = directory.domains(args.tenant)
            self._out({"tenant_id": args.tenant, "domains": found}, "\n".join(found) or "no domains")
            return
        if args.domains_action == "add":
            domain = directory.add_domain(args.tenant, args.domain)
        else:
            domain = directory.remove_domain(args.tenant, args.domain) or args.domain.lower()
        self._audit(args.tenant, f"domain.{args.domains_action}", "Tenant", args.tenant, f"domain={domain}")
        self._out({"tenant_id": args.tenant, "domain": domain, "action": args.domains_action},
                  f"tenant {args.tenant}: domain {domain} {'added' if args.domains_action == 'add' else 'removed'}")

    # --------------------------------------------------------------- sign-in
    def app_register(self, args) -> None:
        jwks = None
        if args.jwks is not None:
            try:
                jwks = json.loads(args.jwks.read_text(encoding="utf-8"))
            except (OSError, ValueError) as error:
                raise AppError(f"--jwks: cannot read a JSON JWK Set from {args.jwks} ({error})") from None
        app, secret = AppRegistry(self.tables).register(args.name, args.redirect_uri, args.backchannel_logout_uri, jwks)
        data = {"client_id": app.client_id, "token_endpoint_auth_method": app.auth_method,
                "redirect_uris": list(app.redirect_uris), "backchannel_logout_uri": app.backchannel_logout_uri}
        text = f"application {app.name!r} registered\nclient id: {app.client_id}\n"
        if secret is None:
            text += "it authenticates at /auth/token with private_key_jwt (assertions signed by a key of its JWK Set)"
        else:
            data["client_secret"] = secret
            text += f"client secret (shown once; client_secret_basic at /auth/token):\n{secret}"
        self._out(data, text)

    def app_list(self, _args) -> None:
        apps = AppRegistry(self.tables).apps()
        rows = [{"client_id": a.client_id, "name": a.name, "created": _time(a.created), "redirect_uris": list(a.redirect_uris),
                 "backchannel_logout_uri": a.backchannel_logout_uri} for a in apps]
        lines = [f"{a.client_id}  {_time(a.created)}  {a.name}  {' '.join(a.redirect_uris)}" for a in apps]
        self._out({"apps": rows}, "\n".join(lines) or "no applications")

    def app_remove(self, args) -> None:
        AppRegistry(self.tables).remove(args.client_id)
        self._out({"client_id": args.client_id, "removed": True},
                  f"application {args.client_id} removed (every instance within {self.bound} s)")

    def signin_configure(self, args) -> None:
        tenant = self.registry.configure_signin(args.tenant, args.entra_tenant_id, args.link)
        self._audit(tenant.id, "signin.configure", "Tenant", tenant.id, f"entra_tenant={tenant.entra_tenant} link={tenant.signin_link}")
        self._out({"tenant_id": tenant.id, "entra_tenant": tenant.entra_tenant, "link": tenant.signin_link},
                  f"tenant {tenant.id}: sign-in goes to Entra tenant {tenant.entra_tenant or '(none yet)'}, "
                  f"linked by {tenant.signin_link}")

    def _group_id(self, tenant_id: str, group: str) -> str:
        store = TenantStore(self.tables.table(RESOURCES), tenant_id)
        if store.get(GROUP, group) is not None:
            return group
        found = store.group_named(group)
        if found is None:
            raise RegistryError(f"no group {group!r} (give its displayName or id)")
        return found

    def roles_map(self, args) -> None:
        self._change_roles(args, SignInDirectory.map_role)

    def roles_unmap(self, args) -> None:
        self._change_roles(args, SignInDirectory.unmap_role)

    def _change_roles(self, args, change) -> None:
        self.registry.require_tenant(args.tenant)
        group_id = self._group_id(args.tenant, args.group_ref)
        roles = change(SignInDirectory(self.tables), args.tenant, group_id, args.role, self.actor)
        self._out({"tenant_id": args.tenant, "group": group_id, "roles": list(roles)},
                  f"group {group_id}: roles {', '.join(roles) or '(none)'}")

    def roles_list(self, args) -> None:
        self.registry.require_tenant(args.tenant)
        role_map = SignInDirectory(self.tables, cache_seconds=0).role_map(args.tenant)
        self._out({"tenant_id": args.tenant, "roles": {g: list(r) for g, r in role_map.items()}},
                  "\n".join(f"{g}  {', '.join(r)}" for g, r in role_map.items()) or "no role map")

    def tenant_disable(self, args) -> None:
        self._set_disabled(args, True)

    def tenant_enable(self, args) -> None:
        self._set_disabled(args, False)

    def tenant_delete(self, args) -> None:
        if not args.yes:
            raise RegistryError("deleting a tenant removes all its identities; add --yes to confirm")
        self.registry.require_tenant(args.tenant)
        rows = self.registry.delete_tenant(args.tenant)
        self._audit(args.tenant, "tenant.delete", "Tenant", args.tenant, f"rows={rows}")
        self._out({"tenant_id": args.tenant, "deleted_rows": rows, "requests_refused_within_seconds": self.bound},
                  f"tenant {args.tenant} deleted ({rows} data rows); no write of it can commit any more, "
                  f"and every instance answers its credentials 401 within {self.bound} s (SCIM_AUTH_CACHE_SECONDS)")

    def token_issue(self, args) -> None:
        token_id, token = self.registry.issue_token(args.tenant, args.scope)
        self._audit(args.tenant, "token.issue", "Token", token_id, f"scope={args.scope}")
        self._out({"tenant_id": args.tenant, "token_id": token_id, "token": token, "scope": args.scope},
                  f"token {token_id} (scope {args.scope}, shown once):\n{token}")

    def client_issue(self, args) -> None:
        client_id, secret = self.registry.issue_client(args.tenant, args.scope)
        self._audit(args.tenant, "client.issue", "Client", client_id, f"scope={args.scope}")
        self._out({"tenant_id": args.tenant, "client_id": client_id, "client_secret": secret, "scope": args.scope},
                  f"client id {client_id} (scope {args.scope})\nclient secret (shown once):\n{secret}")

    def _dispatcher(self) -> Dispatcher:
        keys = SigningKeys(self.settings.token_signing_key) if self.settings.token_signing_key else None
        queue = EventQueue(self.settings) if self.settings.events_queue else None
        return Dispatcher(self.settings, self.tables, self.registry, keys, queue)

    def events_push(self, args) -> None:
        if args.push_action == "clear":
            self.registry.set_event_settings(args.tenant, push_url="", push_authorization="")
            self._audit(args.tenant, "events.push.clear", "Tenant", args.tenant)
            self._out({"tenant_id": args.tenant, "push_url": ""}, f"tenant {args.tenant}: events are not pushed")
            return
        problem = endpoint_problem(args.url)
        if problem:
            raise RegistryError(f"--url: {problem}")
        authorization = sys.stdin.readline().strip() if args.auth_header == "-" else args.auth_header
        problem = authorization_problem(authorization)
        if problem:
            raise RegistryError(f"--auth-header: {problem}")
        self.registry.set_event_settings(args.tenant, push_url=args.url, push_authorization=authorization)
        self._audit(args.tenant, "events.push.set", "Tenant", args.tenant, "auth-header=" + ("yes" if authorization else "no"))
        self._out({"tenant_id": args.tenant, "push_url": shown_url(args.url), "effective_within_seconds": self.bound},
                  f"tenant {args.tenant}: each SET is POSTed to {shown_url(args.url)} (every instance within {self.bound} s)")

    def events_status(self, args) -> None:
        status = self._dispatcher().status(args.tenant)
        status["push_url"] = shown_url(status["push_url"]) if status["push_url"] else ""
        lines = [f"tenant {args.tenant}: {status['pending']} event(s) not delivered everywhere",
                 f"  poll:  {'on' if status['poll'] else 'off'}, {status['poll_pending']} not acknowledged",
                 f"  push:  {status['push_url'] or 'off'}, {status['push_pending']} pending, {status['parked']} parked"
                 + (f", last error {status['last_push_error']}" if status["last_push_error"] else ""),
                 f"  queue: {status['queue'] or 'off'}, {status['queue_pending']} pending"]
        self._out(status, "\n".join(lines))

    def events_deliver(self, args) -> None:
        dispatcher = self._dispatcher()
        if dispatcher.keys is None:
            raise RegistryError("delivering SETs needs the signing key: set SCIM_TOKEN_SIGNING_KEY as the app has it")
        report = dispatcher.deliver(args.tenant) if args.tenant else dispatcher.deliver_all()
        data = {name: getattr(report, name) for name in ("queued", "pushed", "push_failures", "parked", "settled")}
        self._out(data, ", ".join(f"{name.replace('_', ' ')} {value}" for name, value in data.items()))

    def events_replay(self, args) -> None:
        try:
            since = parse_time(args.since)
        except ValueError:
            since = None
        if since is None or since.tzinfo is None:
            raise RegistryError("--since: give an ISO 8601 time with its zone, e.g. 2026-12-01T00:00:00Z")
        self.registry.require_tenant(args.tenant)
        count = Outbox(self.tables.table(RESOURCES), args.tenant).replay(int(since.timestamp() * 1_000_000))
        self._audit(args.tenant, "events.replay", "Tenant", args.tenant, f"since={args.since},events={count}")
        self._out({"tenant_id": args.tenant, "replayed": count},
                  f"{count} event(s) since {args.since} will be delivered again on every channel")

    def events_configure(self, args) -> None:
        changes = {name: value for name, value in (("form", args.form), ("audience", args.audience)) if value is not None}
        settings = self.registry.set_event_settings(args.tenant, **changes)
        self._audit(args.tenant, "events.configure", "Tenant", args.tenant, ",".join(f"{k}={v}" for k, v in changes.items()))
        audience = settings.audience or args.tenant
        self._out({"tenant_id": args.tenant, "form": settings.form, "audience": audience, "poll": settings.poll,
                   "effective_within_seconds": self.bound},
                  f"tenant {args.tenant}: {settings.form} events for audience {audience} "
                  f"(every instance within {self.bound} s, SCIM_AUTH_CACHE_SECONDS)")

    def _list(self, args, kind: str) -> None:
        self.registry.require_tenant(args.tenant)
        items = [_credential(c) for c in self.registry.credentials(args.tenant, kind)]
        self._out({kind + "s": items}, "\n".join(map(_credential_line, items)) or f"no {kind}s")

    def token_list(self, args) -> None:
        self._list(args, TOKEN)

    def client_list(self, args) -> None:
        self._list(args, CLIENT)

    def _revoke(self, args, kind: str) -> None:
        self.registry.revoke(args.tenant, kind, args.id)
        self._audit(args.tenant, f"{kind}.revoke", kind.capitalize(), args.id)
        self._out({"tenant_id": args.tenant, f"{kind}_id": args.id, "revoked": True,
                   "requests_refused_within_seconds": self.bound},
                  f"{kind} {args.id} revoked; every instance refuses it within {self.bound} s (SCIM_AUTH_CACHE_SECONDS)")

    def token_revoke(self, args) -> None:
        self._revoke(args, TOKEN)

    def client_revoke(self, args) -> None:
        self._revoke(args, CLIENT)

    def token_rotate(self, args) -> None:
        token_id, token = self.registry.rotate_token(args.tenant, args.id, timedelta(hours=args.grace_hours))
        self._audit(args.tenant, "token.rotate", "Token", token_id, f"replaces={args.id}")
        self._out({"tenant_id": args.tenant, "token_id": token_id, "token": token, "old_token_expires_in_hours": args.grace_hours},
                  f"token {token_id} (shown once):\n{token}\nthe old token {args.id} stops working in {args.grace_hours:g} h")

    def audit_show(self, args) -> None:
        entries = [dataclasses.replace(e, time=_time(e.time)) for e in self.audit.recent(args.tenant, args.limit)]
        lines = [f"{e.time}  {e.actor:40} {e.operation:14} {e.resource_type:8} {e.resource_id:32} {e.outcome:4} {e.attributes}"
                 + (f"  ignored: {e.ignored}" if e.ignored else "") for e in entries]
        self._out({"entries": [dataclasses.asdict(e) for e in entries]}, "\n".join(lines) or "no audit entries")

    def audit_prune(self, args) -> None:
        days = args.days or self.settings.audit_retention_days
        deleted = enforce_retention(self.audit, self.registry, days)
        events = self._dispatcher().enforce_retention(days)
        self._out({"deleted": deleted, "events_deleted": events, "days": days},
                  f"{deleted} audit entries and {events} change events older than {days} days deleted")

    def check_store(self, args) -> int:
        """Report (and with ``--repair`` fix) broken invariants; 1 while any remain."""
        findings = check_tenant(self.tables.table(RESOURCES), args.tenant, args.repair)
        remaining = [f for f in findings if not f.repaired]
        if args.repair and findings:
            self._audit(args.tenant, "store.repair", "Tenant", args.tenant,
                        ",".join(sorted({f.kind for f in findings if f.repaired})))
        lines = [f"{f.kind:17} {f.row_key}  {f.detail}{'  [repaired]' if f.repaired else ''}" for f in findings]
        lines.append(f"{len(findings)} finding(s), {len(remaining)} remaining")
        self._out({"tenant": args.tenant, "findings": [dataclasses.asdict(f) for f in findings], "remaining": len(remaining)},
                  "\n".join(lines))
        return 1 if remaining else 0

    def ensure_tenant(self, args) -> None:
        try:
            token = args.token_file.read_text(encoding="utf-8").strip()
        except OSError as error:
            raise RegistryError(f"--token-file: cannot read {args.token_file} ({error.strerror})") from None
        if not token:
            raise RegistryError("the token file is empty")
        tenant_id = self.registry.find_tenant(args.name) or self.registry.create_tenant(args.name)
        token_id = self.registry.add_token(tenant_id, token)
        self._out({"tenant_id": tenant_id, "token_id": token_id}, f"tenant {args.name} ({tenant_id}) ready")


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def _time(value: str | None) -> str | None:
    """A stored time as scimctl prints every time: RFC 3339 UTC with milliseconds
    (``2026-12-02T10:18:23.123Z``, :func:`format_time`).  Older rows hold other
    ISO 8601 forms (a token's expiry was ``...23.123456+00:00``); what is empty
    or not a time is shown as stored."""
    try:
        moment = parse_time(value)
    except ValueError:
        return value
    return format_time(moment) if moment else value


def _credential(credential: Credential) -> dict:
    """A token or client as printed: its fields, its times in the one format."""
    return {**dataclasses.asdict(credential), "created": _time(credential.created),
            "expires": _time(credential.expires), "revoked": _time(credential.revoked)}


def _credential_line(c: dict) -> str:
    state = "revoked " + c["revoked"] if c["revoked"] else "expires " + c["expires"] if c["expires"] else "active"
    return f"{c['id']}  created {c['created']}  {state}"
