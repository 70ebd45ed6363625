"""scimctl's command line: every command, its arguments and examples (``--help``)."""

from __future__ import annotations

import argparse
from pathlib import Path


from ..auth.credentials import SCIM_SCOPE, SCOPES
from ..auth.tenants import CLIENT, EVENT_FORMS, MODES, SIGNIN_LINKS, TOKEN

STORE_CHOICE = """storage, the first given of:
  --connection-string, --table-endpoint,
  SCIM_STORAGE_CONNECTION_STRING, SCIM_STORAGE_TABLE_ENDPOINT,
  make run's Azurite, when its folder ($SCIM_RUN_DIR, default .local in
  the repository) holds azurite/ (scimctl then says so on stderr)"""


def _command(commands, name: str, text: str, *examples: str) -> argparse.ArgumentParser:
    """A (sub)command of ``commands``: ``text`` in its parent's list and atop its
    ``--help``, ``examples`` (command lines after ``scimctl``) below its arguments."""
    return commands.add_parser(name, help=text, description=text, formatter_class=argparse.RawDescriptionHelpFormatter,
                               epilog="examples:\n" + "\n".join(f"  scimctl {example}" for example in examples))


def _tenant(parser: argparse.ArgumentParser, text: str = "the tenant's id or name (scimctl tenant list)",
            nargs: str | None = None) -> None:
    """The positional ``tenant``: an id or a name (:meth:`Admin._tenant_id`)."""
    parser.add_argument("tenant", help=text, nargs=nargs)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="scimctl", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=f"{STORE_CHOICE}\n\nexamples:\n  scimctl tenant create --name contoso\n"
                                            "  scimctl --json tenant show contoso\n"
                                            "  scimctl --table-endpoint https://myaccount.table.core.windows.net tenant list")
    parser.add_argument("--connection-string", help="storage connection string (Azurite); it holds the account key")
    parser.add_argument("--table-endpoint", help="https://<account>.table.core.windows.net (Azure identity: az login)")
    parser.add_argument("--table-prefix", help="table name prefix (default: SCIM_TABLE_PREFIX or scim)")
    parser.add_argument("--json", action="store_true", help="print one JSON object (on stdout; notes go to stderr)")
    groups = parser.add_subparsers(dest="group", required=True, metavar="COMMAND")

    tenant = _command(groups, "tenant", "create, list, show, disable, enable, delete tenants",
                      "tenant list", "tenant show contoso")
    tenant_cmd = tenant.add_subparsers(dest="action", required=True)
    create = _command(tenant_cmd, "create", "create a tenant (and its first token, shown once)",
                      "tenant create --name contoso",
                      "tenant create --name fabrikam --entra-tenant-id 72f988bf-86f1-41af-91ab-2d7cd011db47")
    create.add_argument("--name", required=True, help="the tenant's name, unique unless --allow-duplicate-name")
    create.add_argument("--allow-duplicate-name", action="store_true", help="create it even if another tenant has the name")
    create.add_argument("--auth", default="token,oauth", help=f"enabled modes, comma-separated, of {', '.join(MODES)}")
    create.add_argument("--entra-tenant-id", help="accept JWTs Entra issues for this Entra tenant (mode entra)")
    create.add_argument("--audience", action="append", default=[], help="extra accepted aud of Entra JWTs (gallery app id)")
    create.add_argument("--no-token", action="store_true", help="do not issue a first bearer token")
    _command(tenant_cmd, "list", "every tenant, oldest first", "tenant list", "--json tenant list")
    for action, text in (("show", "one tenant with its credentials (ids and dates, never secrets)"),
                         ("disable", "reject its requests"), ("enable", "accept its requests again")):
        _tenant(_command(tenant_cmd, action, text, f"tenant {action} contoso"))
    delete = _command(tenant_cmd, "delete", "delete a tenant, its credentials and all its identities",
                      "tenant delete contoso --yes")
    _tenant(delete)
    delete.add_argument("--yes", action="store_true", help="confirm")
    domains = _command(tenant_cmd, "domains", "the email domains that route a sign-in's login_hint to the tenant",
                       "tenant domains add contoso contoso.com", "tenant domains list contoso")
    domains_cmd = domains.add_subparsers(dest="domains_action", required=True)
    for action in ("add", "remove"):
        domain_cmd = _command(domains_cmd, action, f"{action} a domain (like contoso.com)",
                              f"tenant domains {action} contoso contoso.com")
        _tenant(domain_cmd)
        domain_cmd.add_argument("domain", help="an email domain, like contoso.com")
    _tenant(_command(domains_cmd, "list", "the tenant's domains", "tenant domains list contoso"))

    app = _command(groups, "app", "applications that sign their users in here (OpenID Connect clients)",
                   "app list")
    app_cmd = app.add_subparsers(dest="action", required=True)
    register = _command(app_cmd, "register", "a new application; its client secret is shown once",
                        "app register --name Analytics --redirect-uri https://analytics.example/callback",
                        "app register --name Batch --redirect-uri https://batch.example/cb --jwks batch-jwks.json")
    register.add_argument("--name", required=True, help="the application's name (printable, for people)")
    register.add_argument("--redirect-uri", action="append", required=True,
                          help="where sign-in answers (exact match; repeat for several)")
    register.add_argument("--backchannel-logout-uri", help="where deprovisioning logs sessions out (OIDC Back-Channel Logout)")
    register.add_argument("--jwks", type=Path, help="a file with the application's public JWK Set: it authenticates with "
                                                   "private_key_jwt (signed assertions) and gets no secret")
    _command(app_cmd, "list", "registered applications, never secrets", "app list")
    _command(app_cmd, "remove", "remove an application", "app remove 0f8fad5bd9cb469fa16570867728950e").add_argument(
        "client_id", help="the application's client id (scimctl app list)")

    signin = _command(groups, "signin", "a tenant's sign-in: its Entra tenant, how users are linked",
                      "signin configure contoso --entra-tenant-id 72f988bf-86f1-41af-91ab-2d7cd011db47")
    signin_cmd = signin.add_subparsers(dest="action", required=True)
    configure_signin = _command(signin_cmd, "configure", "bind the tenant's Entra tenant id, choose the link",
                                "signin configure contoso --entra-tenant-id 72f988bf-86f1-41af-91ab-2d7cd011db47",
                                "signin configure contoso --link userName")
    _tenant(configure_signin)
    configure_signin.add_argument("--entra-tenant-id", help="the customer's Entra tenant id (a GUID)")
    configure_signin.add_argument("--link", choices=SIGNIN_LINKS,
                                  help="oid (default): externalId = the token's oid, with Entra's mapping externalId <- objectId; "
                                       "userName: userName = preferred_username")

    roles = _command(groups, "roles", "application roles of a tenant's groups", "roles list contoso")
    roles_cmd = roles.add_subparsers(dest="action", required=True)
    for action, text, role_help in (("map", "give a group's members a role", "the role to give, like admin"),
                                    ("unmap", "take a role (default: all) from a group", "the role to take (default: all)")):
        role_cmd = _command(roles_cmd, action, text, f'roles {action} contoso --group "Finance Admins" --role admin')
        _tenant(role_cmd)
        role_cmd.add_argument("--group", dest="group_ref", required=True, help="the group's displayName or id")
        role_cmd.add_argument("--role", required=action == "map", help=role_help)
    _tenant(_command(roles_cmd, "list", "the tenant's role map", "roles list contoso"))

    for kind, text, example_id in ((TOKEN, "bearer tokens (Entra's Secret Token)", "3f2a9c1b7d4e"),
                                   (CLIENT, "OAuth clients (client credentials)", "0f8fad5bd9cb469fa16570867728950e")):
        id_help = ("the token's id: its first 12 characters (scimctl token list)" if kind == TOKEN
                   else "the client id (scimctl client list)")
        group = _command(groups, kind, text, f"{kind} issue contoso", f"{kind} list contoso")
        cmd = group.add_subparsers(dest="action", required=True)
        issue = _command(cmd, "issue", f"a new {kind}, its secret shown once",
                         f"{kind} issue contoso", f"{kind} issue contoso --scope events")
        _tenant(issue)
        issue.add_argument("--scope", choices=SCOPES, default=SCIM_SCOPE,
                           help="scim: the SCIM routes (Entra's credential, the default); "
                                "events: the change-event feed (POST /Events) for the application")
        _tenant(_command(cmd, "list", "ids and dates, never secrets", f"{kind} list contoso"))
        revoke = _command(cmd, "revoke", f"revoke a {kind} (refused everywhere within SCIM_AUTH_CACHE_SECONDS)",
                          f"{kind} revoke contoso {example_id}")
        _tenant(revoke)
        revoke.add_argument("id", help=id_help)
        if kind == TOKEN:
            rotate = _command(cmd, "rotate", "issue a new token; the old one expires after --grace-hours",
                              f"token rotate contoso {example_id} --grace-hours 48")
            _tenant(rotate)
            rotate.add_argument("id", help=id_help)
            rotate.add_argument("--grace-hours", type=float, default=24.0,
                                help="how long the old token keeps working (at least SCIM_AUTH_CACHE_SECONDS; default 24)")

    events = _command(groups, "events", "a tenant's change events (RFC 9967 SETs)", "events status contoso")
    events_cmd = events.add_subparsers(dest="action", required=True)
    configure = _command(events_cmd, "configure", "how its SETs look: notice or full form, audience",
                         "events configure contoso --form full --audience https://analytics.example")
    _tenant(configure)
    configure.add_argument("--form", choices=EVENT_FORMS, help="notice: changed attribute names (default); "
                                                                "full: the data as stored, never a password")
    configure.add_argument("--audience", help="the SETs' aud (default: the tenant id); '' resets it")
    push = _command(events_cmd, "push", "the RFC 8935 push endpoint",
                    "events push set contoso --url https://receiver.example/events --auth-header - < header.txt",
                    "events push clear contoso").add_subparsers(dest="push_action", required=True)
    push_set = _command(push, "set", "POST each SET to URL",
                        "events push set contoso --url https://receiver.example/events --auth-header - < header.txt")
    _tenant(push_set)
    push_set.add_argument("--url", required=True, help="https://... (http:// only on the loopback interface)")
    push_set.add_argument("--auth-header", default="",
                          help="the Authorization value the receiver expects (a secret); '-' reads it from standard input, "
                               "which keeps it out of the process list and the shell history")
    _tenant(_command(push, "clear", "stop pushing", "events push clear contoso"))
    _tenant(_command(events_cmd, "status", "what waits for delivery, parked pushes, the last push error",
                     "events status contoso"))
    deliver = _command(events_cmd, "deliver", "deliver pending events now (what the app's timer does every minute)",
                       "events deliver", "events deliver contoso")
    _tenant(deliver, "the tenant's id or name (default: every tenant)", nargs="?")
    replay = _command(events_cmd, "replay", "deliver again the events since a time, for a consumer that lost its state",
                      "events replay contoso --since 2026-12-01T00:00:00Z")
    _tenant(replay)
    replay.add_argument("--since", required=True, help="ISO 8601 time, e.g. 2026-12-01T00:00:00Z")

    schema = _command(groups, "schema", "a tenant's extension schemas (RFC 7643 §7): custom attributes Entra maps to",
                      "schema add contoso --file contoso-user.json", "schema list contoso")
    schema_cmd = schema.add_subparsers(dest="action", required=True)
    add = _command(schema_cmd, "add", "register an extension schema (an RFC 7643 §7 schema definition in a JSON file)",
                   "schema add contoso --file contoso-user.json",
                   "schema add contoso --file team.json --resource-type Group --required")
    _tenant(add)
    add.add_argument("--file", type=Path, required=True, help="the schema definition: id (a URN), name, attributes")
    add.add_argument("--resource-type", choices=("User", "Group"),
                     help="the resource type it extends (default: from the URN's last segment, :User or :Group)")
    add.add_argument("--required", action="store_true",
                     help="every resource of that type must carry the extension (RFC 7643 §6 schemaExtensions)")
    _tenant(_command(schema_cmd, "list", "the tenant's extension schemas", "schema list contoso"))
    for action, text, example in (
            ("show", "one extension schema as registered", "schema show contoso {urn}"),
            ("remove", "remove an extension schema; refused while resources hold values under it, unless --force",
             "schema remove contoso {urn} --force")):
        urn = "urn:ietf:params:scim:schemas:extension:Contoso:2.0:User"
        cmd = _command(schema_cmd, action, text, example.format(urn=urn))
        _tenant(cmd)
        cmd.add_argument("urn", help="the schema's id (scimctl schema list)")
    schema_cmd.choices["remove"].add_argument("--force", action="store_true",
                                              help="remove it even so, and drop those values from the resources")
    schema_cmd.choices["remove"].add_argument(
        "--base-url", help="the SCIM base URL (https://host/scim/v2): the issuer of the change events --force writes "
                           "(default: SCIM_PUBLIC_BASE_URL)")

    audit = _command(groups, "audit", "read or prune audit entries", "audit show contoso")
    audit_cmd = audit.add_subparsers(dest="action", required=True)
    show = _command(audit_cmd, "show", "a tenant's newest entries (a deleted tenant's too, by its id)",
                    "audit show contoso --limit 50")
    _tenant(show)
    show.add_argument("--limit", type=int, default=20, help="how many entries, newest first (default 20)")
    prune = _command(audit_cmd, "prune", "delete entries older than the retention period", "audit prune --days 30")
    prune.add_argument("--days", type=int, help="default: SCIM_AUDIT_RETENTION_DAYS or 90")

    check = _command(groups, "check-store", "check a tenant's rows for broken invariants (shared/storage/store_check.py)",
                     "check-store contoso", "check-store contoso --repair")
    _tenant(check)
    check.add_argument("--repair", action="store_true", help="fix what can be fixed")

    ensure = _command(groups, "ensure-tenant", "for scripts: create tenant NAME if missing, register the token in FILE",
                      "ensure-tenant --name local --token-file .local/dev-token")
    ensure.add_argument("--name", required=True, help="the tenant's name (the oldest tenant of that name is used)")
    ensure.add_argument("--token-file", required=True, type=Path,
                        help="a file holding the bearer token (so that it never shows in a process list)")
    return parser
