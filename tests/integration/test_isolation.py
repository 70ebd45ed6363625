"""Tenant isolation: tenant B, by every route and method, with A's ids, names,
filters, ``.search``, group members and crafted keys, can neither read, list,
count, change nor delete A's resources -- nor tell that they exist.

"Cannot tell" is checked by comparing B's answer about A's id with B's
answer about an id nobody has: same status, same body once the id is masked.
"""

from __future__ import annotations

import json
import uuid

import pytest

from tests.messages import GROUP, PATCH, SEARCH, USER, patch_op


@pytest.fixture
def tenant_a(scim):
    user = scim.post("/Users", {"schemas": [USER], "userName": "alice@a.example", "externalId": "ext-a",
                                "emails": [{"type": "work", "value": "alice@a.example", "primary": True}]}).json()
    group = scim.post("/Groups", {"schemas": [GROUP], "displayName": "Team A", "externalId": "gext-a",
                                  "members": [{"value": user["id"]}]}).json()
    return scim, user, group


def snapshot(scim, user, group) -> str:
    """A's state as A sees it (resources with versions, members, counts)."""
    return json.dumps([
        scim.get(f"/Users/{user['id']}").json(), scim.get(f"/Groups/{group['id']}").json(),
        scim.get("/Users").json()["totalResults"], scim.get("/Groups").json()["totalResults"],
    ], sort_keys=True)


def masked(response, *ids: str) -> tuple[int, str]:
    text = response.text
    for value in ids:
        text = text.replace(value, "<id>")
    body = json.loads(text) if text else None
    if isinstance(body, dict):
        body.pop("id", None)
    return response.status_code, json.dumps(body, sort_keys=True)


def user_body(name="bob@b.example"):
    return {"schemas": [USER], "userName": name}


REQUESTS = [
    ("GET", "/Users/{id}", None),
    ("PUT", "/Users/{id}", user_body()),
    ("PATCH", "/Users/{id}", patch_op({"op": "replace", "path": "active", "value": False})),
    ("DELETE", "/Users/{id}", None),
    ("GET", "/Users/{id}?attributes=userName", None),
]
GROUP_REQUESTS = [
    ("GET", "/Groups/{id}", None),
    ("GET", "/Groups/{id}?excludedAttributes=members", None),
    ("PUT", "/Groups/{id}", {"schemas": [GROUP], "displayName": "Taken over"}),
    ("PATCH", "/Groups/{id}", patch_op({"op": "add", "path": "members", "value": [{"value": "{bid}"}]})),
    ("PATCH", "/Groups/{id}", patch_op({"op": "remove", "path": 'members[value eq "{aid}"]'})),
    ("PATCH", "/Groups/{id}", patch_op({"op": "replace", "path": "displayName", "value": "x"})),
    ("DELETE", "/Groups/{id}", None),
]


def _send(client, method, path, body, **ids):
    text = json.dumps(body) if body is not None else None
    for name, value in ids.items():
        path = path.replace("{" + name + "}", value)
        text = text.replace("{" + name + "}", value) if text else text
    return client.request(method, path, raw=text.encode() if text else None,
                          headers={"Content-Type": "application/scim+json"} if text else None)


@pytest.mark.parametrize("method,path,body", REQUESTS + GROUP_REQUESTS,
                         ids=[f"{m} {p}" for m, p, _ in REQUESTS + GROUP_REQUESTS])
def test_b_cannot_touch_or_detect_a_resource_by_id(tenant_a, other_tenant, method, path, body):
    scim, user, group = tenant_a
    own = other_tenant.post("/Users", user_body("b-own@b.example")).json()["id"]
    before = snapshot(scim, user, group)
    target = group["id"] if path.startswith("/Groups") else user["id"]
    nobody = uuid.UUID(target).hex[:12] + uuid.uuid4().hex[12:]  # same shape, same kind nibble
    nobody = nobody[:12] + target[12] + nobody[13:]
    against_a = _send(other_tenant, method, path, body, id=target, bid=own, aid=user["id"])
    against_nobody = _send(other_tenant, method, path, body, id=nobody, bid=own, aid=user["id"])
    assert against_a.status_code == 404
    assert masked(against_a, target) == masked(against_nobody, nobody)
    assert snapshot(scim, user, group) == before


@pytest.mark.parametrize("flt", [
    'userName eq "alice@a.example"', 'externalId eq "ext-a"', 'emails[type eq "work"].value eq "alice@a.example"',
    'id eq "{uid}"', 'userName sw "alice"', 'userName co "a.example"', 'active eq true', 'userName pr',
])
def test_b_filters_and_lists_see_only_b(tenant_a, other_tenant, flt):
    scim, user, _ = tenant_a
    flt = flt.replace("{uid}", user["id"])
    listed = other_tenant.get("/Users", params={"filter": flt}).json()
    assert listed["totalResults"] == 0 and listed.get("Resources", []) == []
    searched = other_tenant.post("/Users/.search", {"schemas": [SEARCH], "filter": flt}).json()
    assert searched["totalResults"] == 0
    root = other_tenant.post("/.search", {"schemas": [SEARCH], "filter": flt}).json()
    assert root["totalResults"] == 0


@pytest.mark.parametrize("flt", ['displayName eq "Team A"', 'externalId eq "gext-a"', 'members.value eq "{uid}"',
                                 'displayName pr'])
def test_b_group_filters_see_only_b(tenant_a, other_tenant, flt):
    _, user, _ = tenant_a
    listed = other_tenant.get("/Groups", params={"filter": flt.replace("{uid}", user["id"])}).json()
    assert listed["totalResults"] == 0


def test_b_counts_and_pages_only_its_own(tenant_a, other_tenant):
    assert other_tenant.get("/Users", params={"count": 1}).json()["totalResults"] == 0
    assert other_tenant.get("/Groups").json()["totalResults"] == 0
    other_tenant.post("/Users", user_body())
    page = other_tenant.get("/Users", params={"startIndex": 1, "count": 100}).json()
    assert page["totalResults"] == 1 and [r["userName"] for r in page["Resources"]] == ["bob@b.example"]


def test_b_can_reuse_a_names_without_learning_anything(tenant_a, other_tenant):
    """Uniqueness is per tenant: A's userName and group name are free in B."""
    assert other_tenant.post("/Users", user_body("alice@a.example")).status_code == 201
    assert other_tenant.post("/Groups", {"schemas": [GROUP], "displayName": "Team A"}).status_code == 201


def test_b_groups_cannot_reference_a_users(tenant_a, other_tenant):
    scim, user, group = tenant_a
    before = snapshot(scim, user, group)
    nobody = user["id"][:12] + uuid.uuid4().hex[12:]
    with_a = other_tenant.post("/Groups", {"schemas": [GROUP], "displayName": "B1", "members": [{"value": user["id"]}]})
    with_nobody = other_tenant.post("/Groups", {"schemas": [GROUP], "displayName": "B1", "members": [{"value": nobody}]})
    assert with_a.status_code == with_nobody.status_code and with_a.status_code >= 400
    assert masked(with_a, user["id"]) == masked(with_nobody, nobody)
    b_group = other_tenant.post("/Groups", {"schemas": [GROUP], "displayName": "B2"}).json()["id"]
    add_a = other_tenant.patch(f"/Groups/{b_group}", patch_op({"op": "add", "path": "members", "value": [{"value": user["id"]}]}))
    add_nobody = other_tenant.patch(f"/Groups/{b_group}", patch_op({"op": "add", "path": "members", "value": [{"value": nobody}]}))
    assert masked(add_a, user["id"]) == masked(add_nobody, nobody)
    assert other_tenant.get(f"/Groups/{b_group}").json().get("members", []) == []
    assert snapshot(scim, user, group) == before


def test_b_cannot_make_a_user_a_manager(tenant_a, other_tenant):
    scim, user, group = tenant_a
    own = other_tenant.post("/Users", user_body()).json()["id"]
    before = snapshot(scim, user, group)
    other_tenant.patch(f"/Users/{own}", {"schemas": [PATCH], "Operations": [
        {"op": "add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", "value": user["id"]}]})
    assert snapshot(scim, user, group) == before


CRAFTED = [
    "/", "%2F", "%252F", "#", "?", "'", '"', "''", "\\", "..", "%2E%2E%2F", " ", "%00", "%0A",
    "' or PartitionKey ne '", "x' or RowKey gt '", "U:{uid}", "{uid}:g:{gid}", "G:{gid}", "{uid}%23", "{uid}'",
    "{uid} or 1 eq 1", "PartitionKey eq '{tenant}'", "$filter=PartitionKey", "*", "{uid}%2F..", "X:un:alice@a.example",
]


@pytest.mark.parametrize("raw", CRAFTED)
def test_crafted_keys_reach_nothing_of_a(tenant_a, other_tenant, raw):
    scim, user, group = tenant_a
    value = raw.replace("{uid}", user["id"]).replace("{gid}", group["id"]).replace("{tenant}", scim.tenant_id)
    before = snapshot(scim, user, group)
    for resource in ("Users", "Groups"):
        for method in ("GET", "DELETE", "PATCH", "PUT"):
            body = patch_op({"op": "replace", "path": "active", "value": False}) if method == "PATCH" else None
            if method == "PUT":
                body = user_body() if resource == "Users" else {"schemas": [GROUP], "displayName": "x"}
            response = other_tenant.request(method, f"/{resource}/{value}", body)
            # "#" and "?" end the path: those become B's own (empty) list
            if method == "GET" and response.status_code == 200:
                assert response.json()["totalResults"] == 0, (resource, raw)
                continue
            assert response.status_code in (400, 404, 405), (method, resource, raw, response.status_code, response.text[:200])
            assert response.json()["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]  # no resource in it
        listed = other_tenant.get(f"/{resource}", params={"filter": f'externalId eq "{value}"'})
        assert listed.status_code in (200, 400) and "alice" not in listed.text and "Team A" not in listed.text
    assert snapshot(scim, user, group) == before
