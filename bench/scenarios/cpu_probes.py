"""The app's CPU per request of each type Entra sends (the ``entra`` scenario's
CPU figures, :mod:`bench.cpu`).

One client sends ``count`` requests of one type after another, nothing else
runs against the app, and the app process's own CPU counters before and
after give its CPU per request of that type: the cycle's concurrency mixes
types within a phase, so its counters give only the mixture.
"""

from __future__ import annotations

import uuid

from ..cpu import AppCpu
from ..harness import Client
from .common import patch
from .entra_plan import MANAGER_PATH

USER_URN = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_URN = "urn:ietf:params:scim:schemas:core:2.0:Group"


def run_cpu_probes(client: Client, app_pid: int, count: int) -> dict:
    """``{operation: {"requests", "app_cpu_ms_per_request"}}`` for each request type of the cycle."""
    tag = uuid.uuid4().hex[:8]
    users: list[str] = []
    groups: list[str] = []
    figures: dict = {}

    def probe(op: str, send) -> None:
        with AppCpu(app_pid) as cpu:
            for i in range(count):
                send(i)
        figures[op] = {"requests": count, "app_cpu_ms_per_request": cpu.per_request_ms(count)}

    def create_user(i: int) -> None:
        name = f"cpu-{tag}-{i}@example.com"
        answer = client.call(None, "POST /Users", "POST", "/Users", {
            "schemas": [USER_URN], "userName": name, "externalId": f"cpu-{tag}-{i}", "active": True,
            "displayName": f"CPU {i}", "emails": [{"type": "work", "value": name, "primary": True}],
            "name": {"givenName": "CPU", "familyName": str(i)}})
        users.append(answer.json()["id"])

    def create_group(i: int) -> None:
        answer = client.call(None, "POST /Groups", "POST", "/Groups", {"schemas": [GROUP_URN],
                                                                       "displayName": f"cpu {tag} {i}"})
        groups.append(answer.json()["id"])

    probe("GET /Users?filter=userName", lambda i: client.call(
        None, "filter", "GET", "/Users", params={"filter": f'userName eq "cpu-miss-{tag}-{i}@example.com"'}))
    probe("POST /Users", create_user)
    probe("GET /Users/{id}", lambda i: client.call(None, "get", "GET", f"/Users/{users[i]}"))
    probe("PATCH /Users update", lambda i: client.call(None, "update", "PATCH", f"/Users/{users[i]}", patch(
        {"op": "Replace", "path": "displayName", "value": f"Updated {i}"},
        {"op": "Replace", "path": 'emails[type eq "work"].value', "value": f"moved-{tag}-{i}@example.com"})))
    probe("PATCH /Users manager", lambda i: client.call(None, "manager", "PATCH", f"/Users/{users[i]}", patch(
        {"op": "Add", "path": MANAGER_PATH, "value": users[(i + 1) % len(users)]})))
    probe("GET /Groups?filter=displayName", lambda i: client.call(
        None, "filter", "GET", "/Groups", params={"excludedAttributes": "members",
                                                  "filter": f'displayName eq "cpu miss {tag} {i}"'}))
    probe("POST /Groups", create_group)
    probe("PATCH /Groups add members", lambda i: client.call(None, "add", "PATCH", f"/Groups/{groups[i]}", patch(
        {"op": "Add", "path": "members", "value": [{"value": users[i]}]})))
    probe("PATCH /Groups remove member", lambda i: client.call(None, "remove", "PATCH", f"/Groups/{groups[i]}", patch(
        {"op": "Remove", "path": "members", "value": [{"value": users[i]}]})))
    probe("PATCH /Users disable", lambda i: client.call(None, "disable", "PATCH", f"/Users/{users[i]}", patch(
        {"op": "Replace", "path": "active", "value": "False"})))
    return figures
