"""``python -m bench.run [--quick] [--users N] ...``: the benchmark's command line.

Order of a run (each scenario is optional, each has a time budget and a
failure in one is recorded and does not stop the others):

1. cold start: fresh interpreters importing the app vs its dependencies
   (before anything else runs, so nothing competes for the CPU);
2. Azurite (in memory) and the app in the dev host, started as ``make run``
   starts them, with ``SCIM_EXPOSE_STORAGE_CALLS=1`` -- or, when
   ``BENCH_STORAGE_CONNECTION_STRING`` names a real storage account, that
   account, in tables of the run's own (``bench<random>...``, deleted at the
   end), to measure against Azure Table Storage itself; tenants are created
   with ``python -m shared.admin ensure-tenant``; the dev host's time from
   process start to first answer is recorded;
3. the dev host's loopback throughput on a request that costs no storage
   (``devhost``), then the storage floor, then the Entra cycle over HTTP
   (floor first, so the SCIM run sees the larger table: any bias is against
   the SCIM figure);
4. seeding of a second tenant through the storage layer, then large groups
   and deep paging over HTTP;
5. change-event delivery from a backlog, by poll, push and queue, and the
   delay from a commit to its poll (``events``, :mod:`bench.scenarios.event_delivery`);
6. PASS/FAIL per target (storage calls per request against
   :mod:`bench.budgets` among them), ``bench-results/<timestamp>/report.{md,json}``.

``--inject extra-read`` (test-only) serves the app from :mod:`bench.inject`,
which adds one storage read to every SCIM request: the regression the
storage-call targets must catch.

The dev host and Azurite are stopped by their PIDs at the end, also on
errors and Ctrl-C.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import secrets
import shlex
import sys
import time
import traceback
from datetime import datetime, timezone
from pathlib import Path

from .harness import INJECT_ENV, INJECTIONS, ROOT, Client, ClientPool, DevHost, RssSampler, app_env, ensure_tenant, scratch_dir
from . import report
from .scenarios.cold_start import run_cold_start
from .scenarios.devhost_throughput import run_devhost_throughput
from .cpu import Profile, combined_round_trips, paced_round_trips, raw_round_trip_cpu, sdk_call_cpu, summarise
from .scenarios.cpu_probes import run_cpu_probes
from .scenarios.entra_cycle import run_entra_cycle
from .scenarios.entra_plan import entra_plan
from .scenarios.event_delivery import run_event_delivery
from .scenarios.large_groups import run_large_groups
from .scenarios.paging import run_paging
from .scenarios.seeding import seed_group, seed_users
from .scenarios.storage_floor import run_storage_floor

SCENARIOS = ("cold", "devhost", "entra", "events", "floor", "groups", "paging")
NORMAL = dict(users=5000, groups=200, members_per_group=60, threads=8, large_members=20000, paging_users=50000,
              repetitions=30, cold_runs=7, scenario_seconds=300, walks=1, devhost_rounds=7, devhost_requests=3000,
              event_backlog=10000, event_probes=200, cpu_probes=100)
QUICK = dict(users=300, groups=24, members_per_group=40, threads=8, large_members=2000, paging_users=5000,
             repetitions=15, cold_runs=7, scenario_seconds=90, walks=3, devhost_rounds=5, devhost_requests=1000,
             event_backlog=2000, event_probes=50, cpu_probes=30)


EXTERNAL_STORAGE = "BENCH_STORAGE_CONNECTION_STRING"


def _drop_bench_tables(connection_string: str, prefix: str) -> None:
    """Delete the tables a run against external storage created (all start with ``prefix``)."""
    from azure.data.tables import TableServiceClient

    service = TableServiceClient.from_connection_string(connection_string)
    for table in service.query_tables("TableName ge @lo and TableName lt @hi", parameters={"lo": prefix, "hi": prefix + "~"}):
        service.delete_table(table.name)


def _loadavg() -> list[float] | None:
    """The 1, 5 and 15 minute load averages (what else the machine was running), None where unknown."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def profiled_cycle(devhost: DevHost, token: str, args, path: Path) -> dict:
    """A second Entra cycle, in a tenant of its own, with py-spy sampling the
    app (:class:`bench.cpu.Profile`), after the measured one: the profile of
    the cycle.  py-spy reads the app's memory 250 times a second and shares
    the two cores with it, so no CPU figure of the run is taken while it
    samples: they come from the unprofiled cycle.  This pass reports its own
    CPU per request beside the profile.
    At most the quick sizes: the shape of the cycle, not its scale."""
    plan = entra_plan(min(args.users, QUICK["users"]), min(args.groups, QUICK["groups"]),
                      min(args.members_per_group, QUICK["members_per_group"]))
    pool = ClientPool(devhost.base, token, args.threads)
    try:
        with Profile(devhost.pid, path) as profile:
            cycle = run_entra_cycle(pool, plan, time.monotonic() + args.scenario_seconds, devhost.pid)
    finally:
        pool.close()
    if profile.error:
        return {"error": profile.error}
    return {"file": path.name, "rate_per_s": Profile.RATE, "users": len(plan.users), "groups": len(plan.groups),
            "app_cpu_ms_per_request": (cycle.get("app_cpu") or {}).get("ms_per_request"),
            "errors": cycle.get("total", {}).get("errors"), **summarise(path)}


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes (~1-2 minutes), for CI")
    parser.add_argument("--users", type=int, help=f"Entra cycle users ({NORMAL['users']}; quick {QUICK['users']})")
    parser.add_argument("--groups", type=int, help=f"Entra cycle groups ({NORMAL['groups']}; quick {QUICK['groups']})")
    parser.add_argument("--members-per-group", type=int,
                        help=f"average members per Entra group ({NORMAL['members_per_group']}; quick {QUICK['members_per_group']})")
    parser.add_argument("--threads", type=int, help=f"concurrent clients ({NORMAL['threads']})")
    parser.add_argument("--large-members", type=int,
                        help=f"members of the large group ({NORMAL['large_members']}; quick {QUICK['large_members']})")
    parser.add_argument("--paging-users", type=int,
                        help=f"users of the paging tenant ({NORMAL['paging_users']}; quick {QUICK['paging_users']})")
    parser.add_argument("--repetitions", type=int, help=f"large-group probe repetitions ({NORMAL['repetitions']}; quick {QUICK['repetitions']})")
    parser.add_argument("--walks", type=int, help=f"full paging walks, median taken ({NORMAL['walks']}; quick {QUICK['walks']})")
    parser.add_argument("--devhost-rounds", type=int,
                        help=f"timed rounds of the dev host throughput, median taken ({NORMAL['devhost_rounds']}; quick {QUICK['devhost_rounds']})")
    parser.add_argument("--devhost-requests", type=int,
                        help=f"requests per dev host throughput round ({NORMAL['devhost_requests']}; quick {QUICK['devhost_requests']})")
    parser.add_argument("--event-backlog", type=int,
                        help=f"events in the delivery backlog ({NORMAL['event_backlog']}; quick {QUICK['event_backlog']})")
    parser.add_argument("--event-probes", type=int,
                        help=f"commits timed to their poll ({NORMAL['event_probes']}; quick {QUICK['event_probes']})")
    parser.add_argument("--cpu-probes", type=int,
                        help=f"requests of each type timed alone for the app's CPU per type ({NORMAL['cpu_probes']}; "
                             f"quick {QUICK['cpu_probes']})")
    parser.add_argument("--no-profile", action="store_true", help="no profiled second Entra cycle (py-spy)")
    parser.add_argument("--cold-runs", type=int, help=f"fresh interpreters per import variant ({NORMAL['cold_runs']})")
    parser.add_argument("--scenario-seconds", type=int,
                        help=f"time budget per scenario; work not started by then is skipped ({NORMAL['scenario_seconds']}; quick {QUICK['scenario_seconds']})")
    parser.add_argument("--only", default=",".join(SCENARIOS), help="comma-separated subset of: " + ", ".join(SCENARIOS))
    parser.add_argument("--port", type=int, default=0, help="dev host port (0: a free one)")
    parser.add_argument("--inject", choices=INJECTIONS, default=None,
                        help="test-only: serve the app with a deliberate regression (bench/inject.py): "
                             "extra-read = one more storage read per SCIM request")
    parser.add_argument("--out", type=Path, default=ROOT / "bench-results", help="results folder")
    args = parser.parse_args(argv)
    defaults = QUICK if args.quick else NORMAL
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    wanted = {s.strip() for s in args.only.split(",") if s.strip()}
    unknown = wanted - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenarios: {', '.join(sorted(unknown))}")
    args.only = wanted
    return args


def _signing_key() -> str:
    """A fresh RSA key for the run's SETs (nothing leaves the run)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    run_started = time.perf_counter()
    sys.path.insert(0, str(ROOT))
    from scripts.azurite import free_port, start as start_azurite

    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    sizes = {k: getattr(args, k) for k in NORMAL}
    results: dict = {"meta": {
        "command": " ".join(["python -m bench.run", *map(shlex.quote, sys.argv[1:] if argv is None else argv)]),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "cpu_count": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
        "mode": "quick" if args.quick else "normal", "sizes": sizes, "scenarios": sorted(args.only),
        "injected_regression": args.inject, "loadavg_start": _loadavg()}}
    failures: dict[str, str] = {}
    folder = args.out / stamp  # the report's folder (the profile is written there too)

    def attempt(name, fn):
        print(f"== {name}", flush=True)
        t0 = time.perf_counter()
        try:
            results[name] = fn()
        except Exception as exc:  # one scenario's failure must not lose the others
            failures[name] = f"{type(exc).__name__}: {exc}"
            traceback.print_exc()
        print(f"   ({time.perf_counter() - t0:.1f} s)", flush=True)

    if "cold" in args.only:
        attempt("cold_start", lambda: run_cold_start(args.cold_runs))

    work = scratch_dir()
    azurite = devhost = None
    external = os.environ.get(EXTERNAL_STORAGE)
    try:
        if external:  # a real storage account: tables of their own, deleted afterwards
            connection_string = external
            os.environ["SCIM_TABLE_PREFIX"] = "bench" + secrets.token_hex(4)
        else:
            azurite = start_azurite(in_memory=True, queue=True)
            connection_string = azurite.connection_string
        results["meta"]["storage"] = "external (BENCH_STORAGE_CONNECTION_STRING)" if external else "Azurite, in memory"
        env = app_env(connection_string)
        env.setdefault("SCIM_TOKEN_SIGNING_KEY", _signing_key())  # the SETs' key (and OAuth's)
        os.environ["SCIM_TOKEN_SIGNING_KEY"] = env["SCIM_TOKEN_SIGNING_KEY"]
        if args.inject:
            env[INJECT_ENV] = args.inject
        os.environ["SCIM_STORAGE_CONNECTION_STRING"] = connection_string  # for this process's storage layer
        token, large_token = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        ensure_tenant(env, "bench", token, work)
        large_tenant = ensure_tenant(env, "bench-large", large_token, work)
        profiled_token = secrets.token_urlsafe(32)
        if "entra" in args.only and not args.no_profile:
            ensure_tenant(env, "bench-profiled", profiled_token, work)
        devhost = DevHost(env, args.port or free_port(), work / "devhost.log",
                          app="bench.inject:app" if args.inject else None)
        results["meta"]["devhost_cold_start_ms"] = round(devhost.cold_start_s * 1000, 1)
        print(f"{'external storage' if external else f'Azurite pid {azurite.pid}'}, dev host pid {devhost.pid} on {devhost.base} "
              f"(cold start {devhost.cold_start_s * 1000:.0f} ms)", flush=True)

        from shared.config import Settings
        from shared.storage.table_store import TenantStore
        from shared.storage.tables import RESOURCES, Tables

        settings = Settings.from_env()
        tables = Tables(settings)
        table = tables.table(RESOURCES)  # the app's client options: one pool, no proxy lookups

        if "devhost" in args.only:
            def devhost_throughput():
                pool = ClientPool(devhost.base, token, args.threads)
                try:
                    return run_devhost_throughput(pool, devhost.pid, args.devhost_rounds, args.devhost_requests,
                                                  time.monotonic() + args.scenario_seconds)
                finally:
                    pool.close()
            attempt("devhost_throughput", devhost_throughput)

        plan = entra_plan(args.users, args.groups, args.members_per_group)
        if "floor" in args.only:
            partition = "floor-" + secrets.token_hex(8)
            attempt("storage_floor", lambda: run_storage_floor(
                table, partition, plan, args.threads, time.monotonic() + args.scenario_seconds))
        if "entra" in args.only:
            def entra():
                raw_before = raw_round_trip_cpu(table.url)
                pool = ClientPool(devhost.base, token, args.threads)
                try:
                    with RssSampler(devhost.pid) as rss:
                        figures = run_entra_cycle(pool, plan, time.monotonic() + args.scenario_seconds, devhost.pid,
                                                  azurite.pid if azurite is not None else None)
                    figures["memory"] = rss.summary()
                finally:
                    pool.close()
                client = Client(devhost.base, token)
                try:
                    figures["cpu_per_operation"] = run_cpu_probes(client, devhost.pid, args.cpu_probes)
                finally:
                    client.close()
                figures["raw_round_trip"] = combined_round_trips(raw_before, raw_round_trip_cpu(table.url))
                figures["paced_round_trips"] = paced_round_trips(table.url, figures["raw_round_trip"]["cpu_us_per_round_trip"])
                figures["sdk_calls"] = sdk_call_cpu(table)
                app_ms = (figures.get("app_cpu") or {}).get("ms_per_request")
                raw_us = figures["raw_round_trip"]["cpu_us_per_round_trip"]
                figures["app_cpu_over_round_trip"] = round(app_ms * 1000 / raw_us, 1) if app_ms and raw_us else None
                if not args.no_profile:
                    folder.mkdir(parents=True, exist_ok=True)
                    figures["profile"] = profiled_cycle(devhost, profiled_token, args, folder / "profile.txt")
                return figures
            attempt("entra_cycle", entra)
        floor, entra_fig = results.get("storage_floor"), results.get("entra_cycle")
        if floor and entra_fig:
            floor["scim_over_floor"] = round(entra_fig["total"]["requests_per_s"] / floor["total"]["operations_per_s"], 2)

        if {"groups", "paging"} & args.only:
            store = TenantStore(table, large_tenant)
            reps = args.repetitions
            count = max(args.paging_users, args.large_members + reps + 10)
            print(f"== seeding {count} users through the storage layer", flush=True)
            t0 = time.perf_counter()
            users = seed_users(store, count)
            results["meta"]["seed_users"] = {"count": count, "seconds": round(time.perf_counter() - t0, 1)}
            print(f"   ({time.perf_counter() - t0:.1f} s)", flush=True)
            client = Client(devhost.base, large_token)
            try:
                client.call(None, "warm", "GET", "/Users", params={"count": 1})
                if "groups" in args.only:
                    def groups():
                        t0 = time.perf_counter()
                        spares = users[-reps:]
                        small = seed_group(store, "bench small group", users[-reps - 10:-reps])
                        large = seed_group(store, "bench large group", users[:args.large_members])
                        seeded = round(time.perf_counter() - t0, 1)
                        print(f"   seeded groups in {seeded} s", flush=True)
                        figures = run_large_groups(
                            client, {"10": (small, "bench small group"), str(args.large_members): (large, "bench large group")},
                            spares, reps, devhost.pid, time.monotonic() + args.scenario_seconds)
                        figures["seed_seconds"] = seeded
                        return figures
                    attempt("large_groups", groups)
                if "paging" in args.only:
                    attempt("paging", lambda: run_paging(
                        client, table, large_tenant, count, devhost.pid, time.monotonic() + args.scenario_seconds,
                        walks=args.walks))
            finally:
                client.close()
        if "events" in args.only:
            def events():
                from shared.auth.signing_keys import SigningKeys
                from shared.auth.tenants import TenantRegistry
                from shared.storage.event_queue import EventQueue

                registry = TenantRegistry(tables)
                events_tenant = ensure_tenant(env, "bench-events", events_scim_token, work)
                _, events_token = registry.issue_token(events_tenant, "events")
                queued = dataclasses.replace(settings, events_queue="bench-events-" + secrets.token_hex(4))
                return run_event_delivery(devhost.base, events_scim_token, events_token, events_tenant, tables, registry,
                                          SigningKeys(settings.token_signing_key), EventQueue(queued), settings,
                                          args.event_backlog, args.event_probes, time.monotonic() + args.scenario_seconds)
            events_scim_token = secrets.token_urlsafe(32)
            attempt("event_delivery", events)
        if not devhost.running():
            failures["devhost"] = f"the dev host exited with status {devhost.process.returncode}"
    except KeyboardInterrupt:
        failures["run"] = "interrupted"
    except Exception as exc:
        failures["run"] = f"{type(exc).__name__}: {exc}"
        traceback.print_exc()
    finally:
        if devhost is not None:
            devhost.stop()
        if azurite is not None:
            azurite.stop()
        if external:
            _drop_bench_tables(external, os.environ["SCIM_TABLE_PREFIX"])

    results["meta"]["run_seconds"] = round(time.perf_counter() - run_started, 1)
    results["meta"]["loadavg_end"] = _loadavg()
    if failures:
        results["failures"] = failures
    checks = report.evaluate(results)
    report.write(results, checks, folder)
    print("\nTargets:")
    report.print_checks(checks)
    print(f"\nReport: {folder / 'report.md'} (and report.json)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
