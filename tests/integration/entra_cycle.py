"""An Entra provisioning cycle, as the replay and outage tests drive it.

Entra matches before it creates: for each user it asks
``GET /Users?filter=userName eq "..."`` and PATCHes what it finds, or POSTs;
a POST answered 409 (its earlier POST succeeded but the answer was lost) is
followed by the same lookup and a PATCH.  Groups are created without
members, then members are added by PATCH.  An object whose request fails
(5xx) is recorded as failed and retried in the next cycle (Microsoft Learn,
"How Application Provisioning works in Microsoft Entra ID", "Errors and retries",
https://learn.microsoft.com/en-us/entra/identity/app-provisioning/how-provisioning-works),
which is :meth:`EntraCycle.run` with ``only=`` the failed names.

``send(method, path, body)`` returns ``(status, parsed body or None)``.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote

from tests.log_scan import LOG_CAPTURE
from tests.messages import GROUP, PATCH, USER

Send = Callable[[str, str, dict | None], tuple[int, dict | None]]


def directory(users: int = 12, groups: int = 3) -> tuple[list[dict], list[dict]]:
    """A small tenant: users with the attributes Entra maps by default, and
    groups whose members overlap."""
    people = [{
        "schemas": [USER], "userName": f"person{i}@example.com", "externalId": f"ext-{i}", "active": True,
        "displayName": f"Person {i}", "name": {"givenName": "Person", "familyName": str(i)},
        "emails": [{"type": "work", "value": f"person{i}@example.com", "primary": True}],
    } for i in range(users)]
    teams = [{"displayName": f"team{g}", "externalId": f"team-ext-{g}",
              "members": [p["userName"] for i, p in enumerate(people) if i % groups == g or i == 0]}
             for g in range(groups)]
    return people, teams


def http_send(scim) -> Send:
    """``send`` over HTTP, for a test's :class:`~tests.integration.conftest.ScimClient`."""
    def send(method, path, body):
        response = scim.request(method, path, body)
        return response.status_code, (response.json() if response.content else None)
    return send


class Failed(Exception):
    """The service answered 5xx: Entra retries the object next cycle."""


class EntraCycle:
    """The client side of cycles against one tenant; remembers the ids it learnt."""

    def __init__(self, send: Send, lose_posts: bool = False) -> None:
        self._send = send
        self.lose_posts = lose_posts
        self.ids: dict[str, str] = {}
        self.failed: set[str] = set()
        self.statuses: list[int] = []

    def send(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict | None]:
        LOG_CAPTURE.register_query(path)  # whatever the transport, the log scan looks for these values
        LOG_CAPTURE.register_sent(body)
        status, parsed = self._send(method, path, body)
        self.statuses.append(status)
        if status >= 500:
            raise Failed(f"{method} {path}: {status}")
        assert status < 400 or status in (404, 409), (method, path, status, parsed)
        return status, parsed

    def _match(self, endpoint: str, attribute: str, value: str) -> str | None:
        flt = quote(f'{attribute} eq "{value}"')
        _, body = self.send("GET", f"/{endpoint}?filter={flt}&excludedAttributes=members")
        found = body["Resources"]
        assert len(found) <= 1, found
        return found[0]["id"] if found else None

    def _create(self, endpoint: str, body: dict) -> str | None:
        """POST; the new id, or None on 409 (it exists: Entra's earlier POST succeeded)."""
        status, created = self.send("POST", f"/{endpoint}", body)
        if self.lose_posts and status == 201:  # the answer never reached Entra: it posts again
            status, created = self.send("POST", f"/{endpoint}", body)
        return created["id"] if status == 201 else None

    def _find_or_create(self, endpoint: str, attribute: str, body: dict) -> tuple[str, bool]:
        """(id, whether it already existed)."""
        rid = self._match(endpoint, attribute, body[attribute])
        if rid is None:
            rid = self._create(endpoint, body)
            if rid is not None:
                return rid, False
            rid = self._match(endpoint, attribute, body[attribute])
        return rid, True

    def user(self, spec: dict) -> None:
        uid, existed = self._find_or_create("Users", "userName", spec)
        if existed:
            operations = [{"op": "Replace", "path": "displayName", "value": spec["displayName"]},
                          {"op": "Replace", "path": "active", "value": "True"}]
            self.send("PATCH", f"/Users/{uid}", {"schemas": [PATCH], "Operations": operations})
        self.ids[spec["userName"]] = uid

    def group(self, spec: dict) -> None:
        name = spec["displayName"]
        body = {"schemas": [GROUP], "displayName": name, "externalId": spec["externalId"]}
        gid, _ = self._find_or_create("Groups", "displayName", body)
        self.ids[name] = gid
        members = [{"value": self.ids[m]} for m in spec["members"] if m in self.ids]
        if members:
            add = {"op": "Add", "path": "members", "value": members}
            self.send("PATCH", f"/Groups/{gid}", {"schemas": [PATCH], "Operations": [add]})
        if len(members) < len(spec["members"]):  # a member is not provisioned yet: the group is retried
            self.failed.add(name)

    def run(self, users: list[dict], groups: list[dict], only: set[str] | None = None) -> set[str]:
        """One cycle (over ``only`` those names when given); returns the names that failed."""
        self.failed = set()
        for spec, handle in [(u, self.user) for u in users] + [(g, self.group) for g in groups]:
            name = spec.get("userName") or spec["displayName"]
            if only is not None and name not in only:
                continue
            try:
                handle(spec)
            except Failed:
                self.failed.add(name)
        return self.failed
