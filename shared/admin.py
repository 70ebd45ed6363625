"""``scimctl``: administer tenants, their credentials, change events, sign-in and audit trail.

Installed as the ``scimctl`` command (``pip install .``, done by ``make
install``); ``python -m shared.admin`` is the same program.  Storage comes
from ``--connection-string`` (Azurite) or ``--table-endpoint`` (Azure, with
``DefaultAzureCredential``: ``az login`` locally, a managed identity in
Azure), else from ``SCIM_STORAGE_CONNECTION_STRING`` /
``SCIM_STORAGE_TABLE_ENDPOINT``.

Secrets (tokens, client secrets) are printed once, when issued; only their
SHA-256 is stored.  ``--json`` prints one JSON object, for scripts.  Every
change is written to the tenant's audit trail with the actor
``cli:<user name>``.
"""

from __future__ import annotations

import argparse
import dataclasses
import getpass
import json
import sys
from datetime import timedelta
from pathlib import Path

from azure.core.exceptions import AzureError

from .storage.audit import AuditEntry, AuditLog, enforce_retention
from .config import Settings
from .logs import quiet_sdk_loggers
from .scim.records import now_iso
from .storage.outcomes import StorageUnavailable
from .storage.store_check import check_tenant
from .storage.tables import RESOURCES, Tables
from .auth.credentials import SCIM_SCOPE, SCOPES, parse_time
from .auth.signing_keys import SigningKeys
from .delivery.dispatch import Dispatcher
from .delivery.push import authorization_problem, endpoint_problem, shown_url
from .storage.event_queue import EventQueue
from .storage.outbox import Outbox
from .auth.tenants import CLIENT, EVENT_FORMS, MODES, SIGNIN_LINKS, TOKEN, RegistryError, TenantRegistry
from .auth.signin_directory import DirectoryError, SignInDirectory
from .scim.ids import GROUP
from .signin.apps import AppError, AppRegistry
from .storage.table_store import TenantStore


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="scimctl", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--connection-string", help="storage connection string (Azurite)")
    parser.add_argument("--table-endpoint", help="https://<account>.table.core.windows.net (Azure identity)")
    parser.add_argument("--table-prefix", help="table name prefix (default: SCIM_TABLE_PREFIX or scim)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    groups = parser.add_subparsers(dest="group", required=True, metavar="COMMAND")

    tenant = groups.add_parser("tenant", help="create, list, show, disable, enable, delete tenants")
    tenant_cmd = tenant.add_subparsers(dest="action", required=True)
    create = tenant_cmd.add_parser("create", help="create a tenant (and its first token)")
    create.add_argument("--name", required=True)
    create.add_argument("--auth", default="token,oauth", help=f"enabled modes, comma-separated, of {', '.join(MODES)}")
    create.add_argument("--entra-tenant-id", help="accept JWTs Entra issues for this Entra tenant (mode entra)")
    create.add_argument("--audience", action="append", default=[], help="extra accepted aud of Entra JWTs (gallery app id)")
    create.add_argument("--no-token", action="store_true", help="do not issue a first bearer token")
    tenant_cmd.add_parser("list", help="every tenant")
    for action, text in (("show", "one tenant with its credentials"), ("disable", "reject its requests"),
                         ("enable", "accept its requests again")):
        tenant_cmd.add_parser(action, help=text).add_argument("tenant")
    delete = tenant_cmd.add_parser("delete", help="delete a tenant, its credentials and all its identities")
    delete.add_argument("tenant")
    delete.add_argument("--yes", action="store_true", help="confirm")
    domains = tenant_cmd.add_parser("domains", help="the email domains that route a sign-in's login_hint to the tenant")
    domains_cmd = domains.add_subparsers(dest="domains_action", required=True)
    for action in ("add", "remove"):
        domain_cmd = domains_cmd.add_parser(action, help=f"{action} a domain (like contoso.com)")
        domain_cmd.add_argument("tenant")
        domain_cmd.add_argument("domain")
    domains_cmd.add_parser("list", help="the tenant's domains").add_argument("tenant")

    app = groups.add_parser("app", help="applications that sign their users in here (OpenID Connect clients)")
    app_cmd = app.add_subparsers(dest="action", required=True)
    register = app_cmd.add_parser("register", help="a new application; its client secret is shown once")
    register.add_argument("--name", required=True)
    register.add_argument("--redirect-uri", action="append", required=True,
                          help="where sign-in answers (exact match; repeat for several)")
    register.add_argument("--backchannel-logout-uri", help="where deprovisioning logs sessions out (OIDC Back-Channel Logout)")
    register.add_argument("--jwks", type=Path, help="a file with the application's public JWK Set: it authenticates with "
                                                   "private_key_jwt (signed assertions) and gets no secret")
    app_cmd.add_parser("list", help="registered applications, never secrets")
    app_cmd.add_parser("remove", help="remove an application").add_argument("client_id")

    signin = groups.add_parser("signin", help="a tenant's sign-in: its Entra tenant, how users are linked")
    signin_cmd = signin.add_subparsers(dest="action", required=True)
    configure_signin = signin_cmd.add_parser("configure", help="bind the tenant's Entra tenant id, choose the link")
    configure_signin.add_argument("tenant")
    configure_signin.add_argument("--entra-tenant-id", help="the customer's Entra tenant id (a GUID)")
    configure_signin.add_argument("--link", choices=SIGNIN_LINKS,
                                  help="oid (default): externalId = the token's oid, with Entra's mapping externalId <- objectId; "
                                       "userName: userName = preferred_username")

    roles = groups.add_parser("roles", help="application roles of a tenant's groups")
    roles_cmd = roles.add_subparsers(dest="action", required=True)
    for action, text in (("map", "give a group's members a role"), ("unmap", "take a role (default: all) from a group")):
        role_cmd = roles_cmd.add_parser(action, help=text)
        role_cmd.add_argument("tenant")
        role_cmd.add_argument("--group", dest="group_ref", required=True, help="the group's displayName or id")
        role_cmd.add_argument("--role", required=action == "map")
    roles_cmd.add_parser("list", help="the tenant's role map").add_argument("tenant")

    for kind, text in ((TOKEN, "bearer tokens (Entra's Secret Token)"), (CLIENT, "OAuth clients (client credentials)")):
        group = groups.add_parser(kind, help=text)
        cmd = group.add_subparsers(dest="action", required=True)
        issue = cmd.add_parser("issue", help=f"a new {kind}, its secret shown once")
        issue.add_argument("tenant")
        issue.add_argument("--scope", choices=SCOPES, default=SCIM_SCOPE,
                           help="scim: the SCIM routes (Entra's credential, the default); "
                                "events: the change-event feed (POST /Events) for the application")
        cmd.add_parser("list", help="ids and dates, never secrets").add_argument("tenant")
        revoke = cmd.add_parser("revoke", help=f"revoke a {kind} (refused everywhere within SCIM_AUTH_CACHE_SECONDS)")
        revoke.add_argument("tenant")
        revoke.add_argument("id")
        if kind == TOKEN:
            rotate = cmd.add_parser("rotate", help="issue a new token; the old one expires after --grace-hours")
            rotate.add_argument("tenant")
            rotate.add_argument("id")
            rotate.add_argument("--grace-hours", type=float, default=24.0,
                                help="how long the old token keeps working (at least SCIM_AUTH_CACHE_SECONDS; default 24)")

    events = groups.add_parser("events", help="a tenant's change events (RFC 9967 SETs)")
    events_cmd = events.add_subparsers(dest="action", required=True)
    configure = events_cmd.add_parser("configure", help="how its SETs look: notice or full form, audience")
    configure.add_argument("tenant")
    configure.add_argument("--form", choices=EVENT_FORMS, help="notice: changed attribute names (default); "
                                                                "full: the data as stored, never a password")
    configure.add_argument("--audience", help="the SETs' aud (default: the tenant id); '' resets it")
    push = events_cmd.add_parser("push", help="the RFC 8935 push endpoint").add_subparsers(dest="push_action", required=True)
    push_set = push.add_parser("set", help="POST each SET to URL")
    push_set.add_argument("tenant")
    push_set.add_argument("--url", required=True, help="https://... (http:// only on the loopback interface)")
    push_set.add_argument("--auth-header", default="",
                          help="the Authorization value the receiver expects (a secret); '-' reads it from standard input, "
                               "which keeps it out of the process list and the shell history")
    push.add_parser("clear", help="stop pushing").add_argument("tenant")
    events_cmd.add_parser("status", help="what waits for delivery, parked pushes, the last push error").add_argument("tenant")
    deliver = events_cmd.add_parser("deliver", help="deliver pending events now (what the app's timer does every minute)")
    deliver.add_argument("tenant", nargs="?", help="default: every tenant")
    replay = events_cmd.add_parser("replay", help="deliver again the events since a time, for a consumer that lost its state")
    replay.add_argument("tenant")
    replay.add_argument("--since", required=True, help="ISO 8601 time, e.g. 2026-12-01T00:00:00Z")

    audit = groups.add_parser("audit", help="read or prune audit entries")
    audit_cmd = audit.add_subparsers(dest="action", required=True)
    show = audit_cmd.add_parser("show", help="a tenant's newest entries")
    show.add_argument("tenant")
    show.add_argument("--limit", type=int, default=20)
    prune = audit_cmd.add_parser("prune", help="delete entries older than the retention period")
    prune.add_argument("--days", type=int, help="default: SCIM_AUDIT_RETENTION_DAYS or 90")

    check = groups.add_parser("check-store", help="check a tenant's rows for broken invariants (shared/storage/store_check.py)")
    check.add_argument("tenant")
    check.add_argument("--repair", action="store_true", help="fix what can be fixed")

    ensure = groups.add_parser("ensure-tenant", help="for scripts: create tenant NAME if missing, register the token in FILE")
    ensure.add_argument("--name", required=True)
    ensure.add_argument("--token-file", required=True, type=Path)
    return parser


class Admin:
    """The commands, over one registry and audit log."""

    def __init__(self, settings: Settings, as_json: bool) -> None:
        self.settings = settings
        tables = Tables(settings)
        self.tables = tables
        self.registry = TenantRegistry(tables, cache_seconds=0, instances_cache_seconds=settings.auth_cache_seconds)
        self.bound = settings.auth_cache_seconds  # when a change reaches every app instance
        self.audit = AuditLog(tables)
        self.as_json = as_json
        self.actor = f"cli:{_user()}"

    def _out(self, data: dict, text: str) -> None:
        print(json.dumps(data) if self.as_json else text)

    def _audit(self, tenant_id: str, operation: str, kind: str, item_id: str, attributes: str = "") -> None:
        self.audit.append(AuditEntry(now_iso(), tenant_id, self.actor, operation, kind, item_id, attributes, "ok", ""))

    def tenant_create(self, args) -> None:
        modes = tuple(m.strip() for m in args.auth.split(",") if m.strip())
        if args.entra_tenant_id and "entra" not in modes:
            modes += ("entra",)
        tenant_id = self.registry.create_tenant(args.name, modes, args.entra_tenant_id, tuple(args.audience))
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
        rows = [{"tenant_id": t.id, "name": t.name, "created": t.created, "disabled": t.disabled, "auth": list(t.modes),
                 "entra_tenant": t.entra_tenant} for t in tenants]
        lines = [f"{t.id}  {t.created}  {'disabled' if t.disabled else 'enabled '}  {','.join(t.modes):18} {t.name}" for t in tenants]
        self._out({"tenants": rows}, "\n".join(lines) or "no tenants")

    def tenant_show(self, args) -> None:
        t = self.registry.require_tenant(args.tenant)
        creds = {kind: [dataclasses.asdict(c) for c in self.registry.credentials(t.id, kind)] for kind in (TOKEN, CLIENT)}
        data = {"tenant_id": t.id, "name": t.name, "created": t.created, "disabled": t.disabled, "auth": list(t.modes),
                "entra_tenant": t.entra_tenant, "audiences": list(t.audiences), **{k + "s": v for k, v in creds.items()}}
        lines = [f"tenant {t.id} {t.name!r}, created {t.created}, {'disabled' if t.disabled else 'enabled'}, auth {','.join(t.modes)}"]
        if t.entra_tenant:
            lines.append(f"  Entra tenant {t.entra_tenant}; extra audiences: {', '.join(t.audiences) or '-'}")
        for kind, items in creds.items():
            for c in items:
                state = "revoked " + c["revoked"] if c["revoked"] else ("expires " + c["expires"] if c["expires"] else "active")
                lines.append(f"  {kind:6} {c['id']}  created {c['created']}  {state}")
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
        rows = [{"client_id": a.client_id, "name": a.name, "created": a.created, "redirect_uris": list(a.redirect_uris),
                 "backchannel_logout_uri": a.backchannel_logout_uri} for a in apps]
        lines = [f"{a.client_id}  {a.created}  {a.name}  {' '.join(a.redirect_uris)}" for a in apps]
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
        since = parse_time(args.since)
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
        items = self.registry.credentials(args.tenant, kind)
        lines = [f"{c.id}  created {c.created}  " + ("revoked " + c.revoked if c.revoked else "expires " + c.expires if c.expires else "active")
                 for c in items]
        self._out({kind + "s": [dataclasses.asdict(c) for c in items]}, "\n".join(lines) or f"no {kind}s")

    def token_list(self, args) -> None:
        self._list(args, TOKEN)

    def client_list(self, args) -> None:
        self._list(args, CLIENT)

    def _revoke(self, args, kind: str) -> None:
        self.registry.revoke(args.tenant, kind, args.id)
        self._audit(args.tenant, f"{kind}.revoke", kind.capitalize(), args.id)
        self._out({"tenant_id": args.tenant, f"{kind}_id": args.id, "revoked": True, "refused_within_seconds": self.bound},
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
        entries = self.audit.recent(args.tenant, args.limit)
        lines = [f"{e.time}  {e.actor:40} {e.operation:14} {e.resource_type:8} {e.resource_id:32} {e.outcome:4} {e.attributes}"
                 for e in entries]
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
        token = args.token_file.read_text(encoding="utf-8").strip()
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


def _settings(args) -> Settings:
    settings = Settings.from_env()
    if args.connection_string:
        settings = dataclasses.replace(settings, connection_string=args.connection_string, table_endpoint=None)
    elif args.table_endpoint:
        settings = dataclasses.replace(settings, connection_string=None, table_endpoint=args.table_endpoint)
    if args.table_prefix:
        settings = dataclasses.replace(settings, table_prefix=args.table_prefix)
    return settings


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    quiet_sdk_loggers()  # the SDK would log each storage URL (tenant ids, names) at INFO
    command = args.group.replace("-", "_") if args.group in ("ensure-tenant", "check-store") else f"{args.group}_{args.action}"
    try:
        admin = Admin(_settings(args), args.json)
        status = getattr(admin, command)(args)
    except (RegistryError, AppError, DirectoryError) as error:
        print(f"scimctl: {error}", file=sys.stderr)
        return 1
    except (RuntimeError, StorageUnavailable, AzureError) as error:  # no storage configured, or unreachable
        print(f"scimctl: storage: {error}", file=sys.stderr)
        return 2
    return status or 0


if __name__ == "__main__":
    sys.exit(main())
