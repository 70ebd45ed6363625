"""The Entra provisioning cycle over HTTP (the ``entra`` scenario)."""

from __future__ import annotations

from contextlib import nullcontext

from .. import budgets
from ..cpu import AppCpu
from ..harness import ClientPool, Recorder, percentile
from .common import chunks, patch, rounded
from .entra_plan import MANAGER_PATH, MEMBERS_PER_PATCH, EntraPlan, group_body, phase_tasks, user_body


def run_entra_cycle(pool: ClientPool, plan: EntraPlan, deadline: float, app_pid: int | None = None,
                    storage_pid: int | None = None) -> dict:
    """Drive the plan over HTTP with ``pool.threads`` concurrent clients.

    Phases (each waits for the previous one, as Entra's cycle does):
    ``initial.users`` (filter by userName, then POST), ``initial.groups``
    (filter by displayName excluding members, POST, member-add PATCHes of up
    to 50), ``initial.managers`` (manager PATCHes), ``incremental`` (user
    updates, disables, member removals and GETs by id, shuffled).
    Returns figures per phase and per operation type; with ``app_pid``, the
    app process's CPU per request of each phase and of the whole cycle (its
    own counters, :mod:`bench.cpu`); with ``storage_pid`` (Azurite), the
    storage process's CPU per phase beside it, which tells which of the two
    a phase waited for.
    """
    recorder = Recorder()
    user_ids: list[str | None] = [None] * len(plan.users)
    group_ids: list[str | None] = [None] * len(plan.groups)
    phases = {}

    def create_user(i):
        def task(client):
            name = plan.users[i]
            found = client.call(recorder, "GET /Users?filter=userName", "GET", "/Users",
                                params={"filter": f'userName eq "{name}"'}, budget=budgets.FILTER_MISS)
            if found is not None and found.status_code == 200 and found.json().get("totalResults"):
                user_ids[i] = found.json()["Resources"][0]["id"]
                return
            created = client.call(recorder, "POST /Users", "POST", "/Users", user_body(plan, i), budget=budgets.CREATE)
            if created is not None and created.status_code == 201:
                user_ids[i] = created.json()["id"]
        return task

    def create_group(g):
        def task(client):
            name = plan.groups[g]
            client.call(recorder, "GET /Groups?filter=displayName", "GET", "/Groups",
                        params={"excludedAttributes": "members", "filter": f'displayName eq "{name}"'},
                        budget=budgets.FILTER_MISS)
            created = client.call(recorder, "POST /Groups", "POST", "/Groups", group_body(plan, g), budget=budgets.CREATE)
            if created is None or created.status_code != 201:
                return
            gid = group_ids[g] = created.json()["id"]
            ids = [user_ids[u] for u in plan.group_members[g] if user_ids[u]]
            for chunk in chunks(ids, MEMBERS_PER_PATCH):
                client.call(recorder, "PATCH /Groups add members", "PATCH", f"/Groups/{gid}",
                            patch({"op": "Add", "path": "members", "value": [{"value": x} for x in chunk]}),
                            budget=budgets.add_members(len(chunk)))
        return task

    def set_manager(u, m):
        def task(client):
            if user_ids[u] and user_ids[m]:
                client.call(recorder, "PATCH /Users manager", "PATCH", f"/Users/{user_ids[u]}",
                            patch({"op": "Add", "path": MANAGER_PATH, "value": user_ids[m]}), budget=budgets.USER_PATCH)
        return task

    def update_user(u):
        def task(client):
            if user_ids[u]:
                client.call(recorder, "PATCH /Users update", "PATCH", f"/Users/{user_ids[u]}", patch(
                    {"op": "Replace", "path": "displayName", "value": f"Updated {u}"},
                    {"op": "Replace", "path": 'emails[type eq "work"].value', "value": f"moved.{u}@example.com"},
                    {"op": "Replace", "path": "name.givenName", "value": f"NewGiven{u}"}), budget=budgets.USER_PATCH)
        return task

    def disable_user(u):
        def task(client):
            if user_ids[u]:
                client.call(recorder, "PATCH /Users disable", "PATCH", f"/Users/{user_ids[u]}",
                            patch({"op": "Replace", "path": "active", "value": "False"}), budget=budgets.USER_PATCH)
        return task

    def remove_member(g, u):
        def task(client):
            if group_ids[g] and user_ids[u]:
                client.call(recorder, "PATCH /Groups remove member", "PATCH", f"/Groups/{group_ids[g]}",
                            patch({"op": "Remove", "path": "members", "value": [{"value": user_ids[u]}]}),
                            budget=budgets.remove_members(1))
        return task

    def read_user(u):
        def task(client):
            if user_ids[u]:
                client.call(recorder, "GET /Users/{id}", "GET", f"/Users/{user_ids[u]}", budget=budgets.GET_USER)
        return task

    steps = phase_tasks(plan, create_user, create_group, set_manager, update_user, disable_user, remove_member,
                        read_user)
    total_wall = 0.0
    total_cpu = total_storage_cpu = 0.0
    for name, tasks in steps:
        before, errors_before = recorder.total(), recorder.errors()
        with AppCpu(app_pid) if app_pid else nullcontext() as cpu, \
                AppCpu(storage_pid) if storage_pid else nullcontext() as storage_cpu:
            wall, skipped = pool.run(tasks, deadline)
        total_wall += wall
        done = recorder.total() - before
        phases[name] = {"requests": done, "seconds": round(wall, 2), "requests_per_s": round(done / wall, 1) if wall else None,
                        "errors": recorder.errors() - errors_before, "tasks_skipped_by_time_limit": skipped}
        if cpu is not None and cpu.seconds is not None:
            total_cpu += cpu.seconds
            phases[name].update(app_cpu_seconds=round(cpu.seconds, 3), app_cpu_ms_per_request=cpu.per_request_ms(done))
        if storage_cpu is not None and storage_cpu.seconds is not None:
            total_storage_cpu += storage_cpu.seconds
            phases[name].update(storage_cpu_seconds=round(storage_cpu.seconds, 3))
    latencies = [x * 1000 for x in recorder.all_latencies()]
    return {
        "threads": pool.threads,
        "phases": phases,
        "operations": {op: s.summary() for op, s in sorted(recorder.ops.items())},
        "total": {"requests": recorder.total(), "seconds": round(total_wall, 2),
                  "requests_per_s": round(recorder.total() / total_wall, 1) if total_wall else None,
                  "errors": recorder.errors(),
                  "p50_ms": rounded(percentile(latencies, 50)), "p95_ms": rounded(percentile(latencies, 95)),
                  "p99_ms": rounded(percentile(latencies, 99))},
        "complete": all(p["tasks_skipped_by_time_limit"] == 0 for p in phases.values()),
        **({"app_cpu": {"seconds": round(total_cpu, 3), "wall_seconds": round(total_wall, 2),
                        "ms_per_request": round(total_cpu / recorder.total() * 1000, 3) if recorder.total() else None}}
           if app_pid else {}),
        **({"storage_cpu": {"seconds": round(total_storage_cpu, 3), "wall_seconds": round(total_wall, 2)}}
           if storage_pid else {}),
    }
