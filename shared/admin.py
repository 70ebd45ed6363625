"""Minimal tenant administration (``python -m shared.admin``).

``ensure-tenant --name NAME --token-file FILE`` creates the tenant NAME if it
does not exist and registers the token read from FILE for it (the token is
read from a file so it never shows in a process list).  ``create-tenant
--name NAME`` creates a tenant and prints a new token once.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .config import Settings
from .tables import Tables
from .tenants import TenantRegistry, new_token


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m shared.admin", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    ensure = sub.add_parser("ensure-tenant", help="create a tenant if missing and register a token for it")
    ensure.add_argument("--name", required=True)
    ensure.add_argument("--token-file", required=True, type=Path)
    create = sub.add_parser("create-tenant", help="create a tenant and print a new token")
    create.add_argument("--name", required=True)
    args = parser.parse_args(argv)

    registry = TenantRegistry(Tables(Settings.from_env()))
    if args.command == "ensure-tenant":
        token = args.token_file.read_text(encoding="utf-8").strip()
        if not token:
            parser.error("the token file is empty")
        tenant_id = registry.find_tenant(args.name) or registry.create_tenant(args.name)
        registry.add_token(tenant_id, token)
        print(f"tenant {args.name} ({tenant_id}) ready")
    else:
        tenant_id = registry.create_tenant(args.name)
        token = new_token()
        registry.add_token(tenant_id, token)
        print(f"tenant {args.name} ({tenant_id}) created; bearer token (shown once):\n{token}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
