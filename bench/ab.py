"""``python -m bench.ab --base REV``: the app's CPU per request, this tree
against another revision, measured side by side.

On a machine whose speed drifts between runs (docs/performance.md, "why the
same code reads 11 to 20"), two benchmark runs of two versions compare two
moments as much as two versions.  This runs both at once: one Azurite, two
dev hosts (this tree, and ``REV`` checked out in a temporary git worktree,
each serving from its own code with this tree's virtualenv), a tenant
each, and sends the Entra cycle's ten request types
(:func:`bench.scenarios.cpu_probes.run_cpu_probes`) to one and then the
other, ``--rounds`` times, the order alternating.  Each app's CPU comes from
its own process counters (:func:`bench.cpu.cpu_seconds`).  It prints, after
every round, both apps' CPU per request so far and their ratio (this tree
over ``REV``: below 1 is less CPU), then the ratio per request type.

It measures CPU, not throughput, and sequential requests, not the cycle's
eight clients: what a change to the code costs or saves, with the machine's
drift shared by both sides.  The worktree is removed afterwards.
"""

from __future__ import annotations

import argparse
import secrets
import subprocess
import sys
import tempfile
from pathlib import Path

from scripts.app_process import AppProcess
from scripts.azurite import free_port, start as start_azurite

from .cpu import cpu_seconds
from .harness import HOST, ROOT, SCIM_BASE, Client, app_env, ensure_tenant, scratch_dir
from .scenarios.cpu_probes import run_cpu_probes

SIDES = ("base", "this")


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m bench.ab", description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", required=True, help="the revision to compare this tree with (e.g. HEAD~1)")
    parser.add_argument("--rounds", type=int, default=8, help="rounds per side (8)")
    parser.add_argument("--per-type", type=int, default=30, help="requests of each of the ten types per round (30)")
    return parser.parse_args(argv)


def compare(trees: dict[str, Path], rounds: int, per_type: int, report=print) -> dict:
    """Both trees' CPU per request, side by side (the module docstring):
    ``{"ms_per_request": {side: ms}, "ratio": this/base, "per_type": {type: ratio}}``."""
    azurite = start_azurite(in_memory=True)
    work = scratch_dir()
    apps: dict[str, AppProcess] = {}
    try:
        env = app_env(azurite.connection_string)
        env.setdefault("SCIM_TOKEN_SIGNING_KEY", secrets.token_urlsafe(48))
        clients = {}
        for side in SIDES:
            token = secrets.token_urlsafe(32)
            ensure_tenant(env, f"ab-{side}", token, work)
            port = free_port()
            with open(work / f"{side}.log", "wb") as log:
                apps[side] = AppProcess([sys.executable, "-m", "scripts.devhost", "--host", HOST, "--port", str(port)],
                                        env, stdout=log, stderr=subprocess.STDOUT, cwd=trees[side])
            base = f"http://{HOST}:{port}/{SCIM_BASE}"
            apps[side].wait_up(f"{base}/ServiceProviderConfig")
            clients[side] = Client(base, token)
        cpu = {side: 0.0 for side in SIDES}
        requests = {side: 0 for side in SIDES}
        type_ms: dict[str, dict[str, float]] = {side: {} for side in SIDES}  # summed over rounds
        for number in range(rounds):
            for side in (SIDES if number % 2 == 0 else SIDES[::-1]):
                start = cpu_seconds(apps[side].pid)
                figures = run_cpu_probes(clients[side], apps[side].pid, per_type)
                cpu[side] += cpu_seconds(apps[side].pid) - start
                requests[side] += per_type * len(figures)
                for op, figure in figures.items():
                    type_ms[side][op] = type_ms[side].get(op, 0.0) + figure["app_cpu_ms_per_request"]
            ms = {side: cpu[side] / requests[side] * 1000 for side in SIDES}
            ratio = f"{ms['this'] / ms['base']:.3f}" if ms["base"] else "n/a (under a tick of CPU)"
            report(f"round {number + 1}/{rounds}: base {ms['base']:.3f} ms/request, this {ms['this']:.3f}, "
                   f"this/base {ratio}")
        for client in clients.values():
            client.close()
        ratios = {op: round(type_ms["this"][op] / type_ms["base"][op], 2) if type_ms["base"][op] else None
                  for op in type_ms["base"]}
        for op, value in ratios.items():  # None: fewer requests than the counters' 10 ms tick resolves
            report(f"  {op:34} this/base {value if value is not None else 'n/a (under a tick of CPU)'}")
        return {"ms_per_request": {side: round(value, 3) for side, value in ms.items()},
                "ratio": round(ms["this"] / ms["base"], 3) if ms["base"] else None, "per_type": ratios}
    finally:
        for app in apps.values():
            app.stop()
        azurite.stop()


def main(argv=None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-ab-") as folder:
        base_tree = Path(folder) / "base"
        subprocess.run(["git", "worktree", "add", "--detach", str(base_tree), args.base], cwd=ROOT, check=True,
                       stdout=subprocess.DEVNULL)
        try:
            compare({"base": base_tree, "this": ROOT}, args.rounds, args.per_type)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(base_tree)], cwd=ROOT, check=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
