"""The storage floor scenario (``floor``): the Entra plan's storage
operations through :class:`bench.floor.FloorStore`, phase by phase."""

from __future__ import annotations

import functools
import time
from concurrent.futures import ThreadPoolExecutor

from azure.data.tables import TableClient

from shared.storage import keys
from shared.storage.calls import counting

from ..floor import FloorStore
from ..harness import Recorder
from .common import chunks
from .entra_plan import ENT_URN, MEMBERS_PER_PATCH, EntraPlan, group_body, phase_tasks, user_body


def _deferred(step):
    """``step`` as a factory of zero-argument tasks (what :func:`phase_tasks` takes)."""
    return lambda *args: functools.partial(step, *args)


def run_storage_floor(table: TableClient, partition: str, plan: EntraPlan, threads: int, deadline: float) -> dict:
    """Run the plan's storage operations with ``threads`` threads, phase by phase.

    ``table`` should be built like the app's client (:class:`shared.storage.tables.Tables`)
    so that its storage-call hook counts the calls each operation issues.

    One logical operation per SCIM request of
    :func:`bench.scenarios.entra_cycle.run_entra_cycle`, so
    operations/s here compares directly with the SCIM requests/s.
    """
    store = FloorStore(table, partition)
    store.create_partition()
    recorder = Recorder()
    user_ids: list[str | None] = [None] * len(plan.users)
    group_ids: list[str | None] = [None] * len(plan.groups)

    def timed(op, fn, *args):
        started = time.perf_counter()
        error = None
        with counting() as box:  # the same counter the app's X-Storage-Calls comes from
            try:
                fn(*args)
            except Exception as exc:  # recorded, not fatal: the floor must not stop the run
                error = f"{type(exc).__name__}: {str(exc)[:160]}"
        recorder.add(op, time.perf_counter() - started, error, box[0])

    def create_user(i):
        name = plan.users[i]
        un = keys.unique_key("un", keys.index_value(name, False))
        timed("filter userName", store.point_miss, un)
        ix = [un, keys.index_key("ue", keys.index_value(f"ext-{i:06d}", True), "{id}"),
              keys.index_key("uw", keys.index_value(name, False), "{id}")]

        def make():
            user_ids[i] = store.create(keys.USER, user_body(plan, i), ix)
        timed("POST /Users", make)

    def create_group(g):
        name = plan.groups[g]
        gn = keys.unique_key("gn", keys.index_value(name, False))
        timed("filter displayName", store.point_miss, gn)

        def make():
            group_ids[g] = store.create(keys.GROUP, group_body(plan, g),
                                        [gn, keys.index_key("ge", keys.index_value(f"gext-{g:05d}", True), "{id}")])
        timed("POST /Groups", make)
        if group_ids[g]:
            ids = [user_ids[u] for u in plan.group_members[g] if user_ids[u]]
            for chunk in chunks(ids, MEMBERS_PER_PATCH):
                timed("PATCH add members", store.add_members, group_ids[g], chunk)

    def set_manager(u, m):
        if user_ids[u] and user_ids[m]:
            timed("PATCH manager", store.patch_user, user_ids[u],
                  lambda d: d.setdefault(ENT_URN, {}).update(manager={"value": user_ids[m]}))

    def update_user(u):
        if user_ids[u]:
            old = keys.index_key("uw", keys.index_value(plan.users[u], False), user_ids[u])
            new = keys.index_key("uw", keys.index_value(f"moved.{u}@example.com", False), user_ids[u])

            def change(d):
                d["displayName"] = f"Updated {u}"
                d["emails"][0]["value"] = f"moved.{u}@example.com"
                d["name"]["givenName"] = f"NewGiven{u}"
            timed("PATCH update", store.patch_user, user_ids[u], change, ([old], [new]))

    def disable_user(u):
        if user_ids[u]:
            timed("PATCH disable", store.patch_user, user_ids[u], lambda d: d.update(active=False))

    def remove_member(g, u):
        if group_ids[g] and user_ids[u]:
            timed("PATCH remove member", store.remove_members, group_ids[g], [user_ids[u]])

    def read_user(u):
        if user_ids[u]:
            timed("GET by id", store.read_user, user_ids[u])

    steps = phase_tasks(plan, *map(_deferred, (create_user, create_group, set_manager, update_user, disable_user,
                                               remove_member, read_user)))
    phases = {}
    total_wall = 0.0
    skipped_total = 0
    with ThreadPoolExecutor(threads, thread_name_prefix="bench-floor") as pool:
        for name, tasks in steps:
            before = recorder.total()
            skipped = [0]

            def wrap(task):
                if time.monotonic() > deadline:
                    skipped[0] += 1
                    return
                task()
            started = time.perf_counter()
            for future in [pool.submit(wrap, t) for t in tasks]:
                future.result()
            wall = time.perf_counter() - started
            total_wall += wall
            skipped_total += skipped[0]
            done = recorder.total() - before
            phases[name] = {"operations": done, "seconds": round(wall, 2),
                            "operations_per_s": round(done / wall, 1) if wall else None}
    return {
        "threads": threads,
        "phases": phases,
        "operations": {op: s.summary() for op, s in sorted(recorder.ops.items())},
        "total": {"operations": recorder.total(), "seconds": round(total_wall, 2),
                  "operations_per_s": round(recorder.total() / total_wall, 1) if total_wall else None,
                  "errors": recorder.errors()},
        "complete": skipped_total == 0,
    }
