"""``scimctl``'s entry point: parse, choose the store, run the command, map failures to one line and an exit status."""

from __future__ import annotations

import logging

from azure.core.exceptions import (
    AzureError,
)

from ..logs import quiet_sdk_loggers
from ..storage.outcomes import StorageUnavailable
from ..auth.tenants import RegistryError
from ..auth.signin_directory import DirectoryError
from ..signin.apps import AppError
from .commands import Admin
from .parser import build_parser
from .store import StoreError, connect, say, storage_problem, choose_store



def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    quiet_sdk_loggers()  # the SDK would log each storage URL (tenant ids, names) at INFO
    # DefaultAzureCredential logs a failure as a WARNING of 15 lines; storage_problem says it in one.
    logging.getLogger("azure.identity").setLevel(logging.ERROR)
    command = args.group.replace("-", "_") if args.group in ("ensure-tenant", "check-store") else f"{args.group}_{args.action}"
    try:
        store = choose_store(args)
        if store.notice:
            say(store.notice)
        admin = Admin(store.settings, args.json)
        connect(admin.tables, store)
        return admin.run(command, args) or 0
    except StoreError as error:
        say(f"storage: {error}")
        return 2
    except (RegistryError, AppError, DirectoryError) as error:
        say(str(error))
        return 1
    except (RuntimeError, StorageUnavailable, AzureError) as error:  # a queue not configured, storage failing
        say(f"storage: {storage_problem(error, store)}")
        return 2

