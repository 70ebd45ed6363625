"""The Entra provisioning plan both drivers run: the SCIM cycle
(:mod:`.entra_cycle`) and the storage floor (:mod:`.storage_floor`)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

USER_URN = "urn:ietf:params:scim:schemas:core:2.0:User"
ENT_URN = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
GROUP_URN = "urn:ietf:params:scim:schemas:core:2.0:Group"
MANAGER_PATH = ENT_URN + ":manager"
MEMBERS_PER_PATCH = 50


@dataclass
class EntraPlan:
    """The operations of one initial and one incremental cycle, by index.

    Users and groups are referred to by their position; each driver (SCIM or
    storage floor) maps positions to the ids it got, so both run exactly the
    same sequence.
    """

    users: list[str]                      # userName per user
    groups: list[str]                     # displayName per group
    group_members: list[list[int]]        # user positions per group
    managers: list[tuple[int, int]]       # (user, manager)
    updates: list[int] = field(default_factory=list)
    disables: list[int] = field(default_factory=list)
    removals: list[tuple[int, int]] = field(default_factory=list)  # (group, user)
    reads: list[int] = field(default_factory=list)


def entra_plan(users: int, groups: int, members_per_group: int, seed: int = 7) -> EntraPlan:
    """A reproducible plan: group sizes vary around ``members_per_group``;
    85% of users get a manager; the incremental cycle updates 10% of users,
    disables 5%, removes one member from every group that has one (plus more
    up to 2% of memberships) and reads 10% of users by id."""
    rnd = random.Random(seed)
    names = [f"bench.user{i:06d}@example.com" for i in range(users)]
    gnames = [f"Bench Group {i:05d}" for i in range(groups)]
    members = []
    for _ in range(groups):
        size = min(users, max(1, int(rnd.uniform(0.25, 1.75) * members_per_group)))
        members.append(sorted(rnd.sample(range(users), size)))
    managers = [(u, rnd.randrange(users)) for u in range(users) if rnd.random() < 0.85]
    managers = [(u, m) for u, m in managers if u != m]
    plan = EntraPlan(names, gnames, members, managers)
    plan.updates = rnd.sample(range(users), max(1, users // 10))
    plan.disables = rnd.sample(range(users), max(1, users // 20))
    total_memberships = sum(len(m) for m in members)
    removals = [(g, rnd.choice(m)) for g, m in enumerate(members) if m]
    extra = max(0, total_memberships // 50 - len(removals))
    for _ in range(extra):
        g = rnd.randrange(groups)
        if members[g]:
            removals.append((g, rnd.choice(members[g])))
    plan.removals = list(dict.fromkeys(removals))
    plan.reads = rnd.sample(range(users), max(1, users // 10))
    return plan


def phase_tasks(plan: EntraPlan, create_user, create_group, set_manager, update_user, disable_user, remove_member,
                read_user) -> list[tuple[str, list]]:
    """The plan's phases in order, as (name, tasks); each task is what the
    matching factory returns for one step (``create_user(i)``,
    ``remove_member(g, u)``, ...), so each driver builds its own kind of task.

    ``initial.users``, ``initial.groups``, ``initial.managers``, then
    ``incremental``: user updates, disables, member removals and reads by id,
    shuffled the same way for every driver.
    """
    incremental = ([update_user(u) for u in plan.updates] + [disable_user(u) for u in plan.disables]
                   + [remove_member(g, u) for g, u in plan.removals] + [read_user(u) for u in plan.reads])
    random.Random(11).shuffle(incremental)
    return [
        ("initial.users", [create_user(i) for i in range(len(plan.users))]),
        ("initial.groups", [create_group(g) for g in range(len(plan.groups))]),
        ("initial.managers", [set_manager(u, m) for u, m in plan.managers]),
        ("incremental", incremental),
    ]


def user_body(plan: EntraPlan, i: int) -> dict:
    """Entra's U1 create body (Microsoft's SCIM tutorial corpus) for user ``i``."""
    name = plan.users[i]
    return {
        "schemas": [USER_URN, ENT_URN],
        "externalId": f"ext-{i:06d}",
        "userName": name,
        "active": True,
        "emails": [{"primary": True, "type": "work", "value": name}],
        "meta": {"resourceType": "User"},
        "name": {"formatted": f"Given{i} Family{i}", "familyName": f"Family{i}", "givenName": f"Given{i}"},
        "roles": [],
    }


def group_body(plan: EntraPlan, g: int) -> dict:
    return {"schemas": [GROUP_URN, "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
            "externalId": f"gext-{g:05d}", "displayName": plan.groups[g], "meta": {"resourceType": "Group"}}
