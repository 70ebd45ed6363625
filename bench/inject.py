"""Deliberate regressions for testing the benchmark's own gate (test-only).

``python -m bench.run --inject extra-read`` serves the app from
``bench.inject:app`` instead of ``function_app:app``: the same app, except
that every SCIM request's storage handle first makes one extra point read
in the tenant's partition (of the tenant's guard row), as a careless change
to the request path would.  ``tests/bench/test_regression_guard.py`` runs
the bench that way and asserts that the storage-call gate fails; nothing
else uses this module.
"""

from __future__ import annotations

import os

from azure.core.exceptions import ResourceNotFoundError

from shared.storage import keys
from shared.web import service
from shared.storage.table_store import TenantStore
from shared.storage.tables import storage_call

from .harness import INJECT_ENV, INJECTIONS


class ExtraReadStore(TenantStore):
    """A :class:`TenantStore` that costs one more storage read per request."""

    def __init__(self, table, tenant_id: str, events=None) -> None:
        super().__init__(table, tenant_id, events)
        try:
            storage_call(table.get_entity, tenant_id, keys.TENANT_KEY, select=["RowKey"])
        except ResourceNotFoundError:
            pass


def _apply(name: str) -> None:
    if name == "extra-read":
        service.TenantStore = ExtraReadStore  # the name the service builds its per-request store with
    else:
        raise SystemExit(f"bench.inject serves the app for `bench.run --inject` only: {INJECT_ENV}={name!r} "
                         f"is not one of {', '.join(INJECTIONS)}")


_apply(os.environ.get(INJECT_ENV, ""))

from function_app import app  # noqa: E402  (after the patch, though the service reads the name per request)

__all__ = ["app"]
