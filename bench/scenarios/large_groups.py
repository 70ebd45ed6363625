"""Group operations on a 10-member group against a large one (``groups``)."""

from __future__ import annotations

import time

from .. import budgets
from ..harness import Recorder, RssSampler, median, ratio
from .common import patch, rounded


def run_large_groups(client, groups: dict[str, tuple[str, str]], spares: list[str], repetitions: int,
                     pid: int, deadline: float) -> dict:
    """Latency of four group probes on each seeded group, interleaved by size.

    ``groups`` maps a label ("10", "20000") to (group id, displayName).  Per
    repetition and group: PATCH add one member (a user not in any group),
    PATCH remove that member again, GET by id excluding members, and a
    displayName filter excluding members -- one client, sequential, so the
    latency is that of the request alone.  The figure is the ratio of the
    medians largest / smallest group per probe (flat = 1).
    """
    recorders = {label: Recorder() for label in groups}
    done = 0
    started = time.perf_counter()
    with RssSampler(pid) as rss:
        for rep in range(repetitions):
            if time.monotonic() > deadline:
                break
            for label, (gid, name) in groups.items():
                member = spares[rep % len(spares)]
                rec = recorders[label]
                client.call(rec, "PATCH add 1 member", "PATCH", f"/Groups/{gid}",
                            patch({"op": "Add", "path": "members", "value": [{"value": member}]}),
                            budget=budgets.add_members(1))
                client.call(rec, "PATCH remove 1 member", "PATCH", f"/Groups/{gid}",
                            patch({"op": "Remove", "path": "members", "value": [{"value": member}]}),
                            budget=budgets.remove_members(1))
                client.call(rec, "GET /Groups/{id}?excludedAttributes=members", "GET", f"/Groups/{gid}",
                            params={"excludedAttributes": "members"}, budget=budgets.GET_GROUP_WITHOUT_MEMBERS)
                client.call(rec, "GET /Groups?filter=displayName&excludedAttributes=members", "GET", "/Groups",
                            params={"filter": f'displayName eq "{name}"', "excludedAttributes": "members"},
                            budget=budgets.FILTER_HIT)
            done += 1
    labels = sorted(groups, key=int)
    small, large = labels[0], labels[-1]
    probes = {}
    for op in recorders[small].ops:
        per_size = {label: recorders[label].ops[op].summary() for label in labels if op in recorders[label].ops}
        med_small = median(recorders[small].ops[op].latencies)
        med_large = median(recorders[large].ops[op].latencies) if op in recorders[large].ops else None
        probes[op] = {"by_members": per_size, "ratio_of_medians": rounded(ratio(med_large, med_small), 2)}
    return {"repetitions": done, "sizes": labels, "probes": probes,
            "errors": sum(r.errors() for r in recorders.values()), "seconds": round(time.perf_counter() - started, 2),
            "memory": rss.summary()}
