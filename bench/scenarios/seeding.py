"""Fast seeding through the project's storage layer
(:class:`shared.storage.table_store.TenantStore`) for the large-group and
paging scenarios; seeding is not measured."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

from shared.scim.records import Member, StoredResource, now_iso
from shared.storage import keys
from shared.storage.outcomes import AlreadyExists, StorageUnavailable
from shared.storage.table_store import TenantStore

from ..budgets import ONE_TRANSACTION_MEMBERS
from .common import chunks


def seed_users(store: TenantStore, count: int, threads: int = 8, prefix: str = "seed") -> list[str]:
    """Create ``count`` users (with their userName index row and the counter)
    through :meth:`TenantStore.create_batch`, ``threads`` batches at a time.
    Not timed as a figure: it only prepares the large-group and paging
    scenarios."""
    def make(i) -> StoredResource:
        now = now_iso()
        name = f"{prefix}{i:07d}@example.com"
        data = {"userName": name, "active": True, "emails": [{"type": "work", "value": name, "primary": True}]}
        return StoredResource(keys.USER, keys.new_id(keys.USER), data, now, now, "v1",
                              (keys.unique_key("un", keys.index_value(name, False)),))

    resources = [make(i) for i in range(count)]
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(lambda part: _create_once(store, part), chunks(resources, SEED_BATCH)))
    return [r.id for r in resources]


SEED_BATCH = 49  # two rows per user and the counter: one transaction of at most 99 operations


def _create_once(store: TenantStore, resources: list[StoredResource], attempts: int = 5) -> None:
    """``store.create_batch`` retried on a dropped connection (Azurite closes
    idle keep-alive connections; a transaction is a POST, which the SDK does
    not retry).  The ids are fresh, so finding the first row already there
    means an earlier attempt committed."""
    first = keys.resource_key(resources[0].kind, resources[0].id)
    for attempt in range(attempts):
        try:
            store.create_batch(resources)
            return
        except AlreadyExists as exc:
            if exc.row_key == first:
                return
            raise
        except StorageUnavailable:
            if attempt == attempts - 1:
                raise
            time.sleep(0.2 * (attempt + 1))


def seed_group(store: TenantStore, name: str, member_ids: list[str]) -> str:
    """A group created through :meth:`TenantStore.create`, its members added
    through :meth:`TenantStore.add_members` in single-transaction chunks,
    one after another (concurrent adds to one group would only retry on its ETag)."""
    gid = keys.new_id(keys.GROUP)
    now = now_iso()
    store.create(StoredResource(keys.GROUP, gid, {"displayName": name}, now, now, "v1",
                                (keys.unique_key("gn", keys.index_value(name, False)),)))
    for part in chunks(member_ids, ONE_TRANSACTION_MEMBERS):
        store.add_members(gid, [Member(m) for m in part])
    return gid
