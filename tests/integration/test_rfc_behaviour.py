"""RFC 7643 / RFC 7644 behaviours the issue (#2) lists, through HTTP.

ETags and conditional requests (RFC 7644 §3.14), meta.location (RFC 7643
§3.1), attributes/excludedAttributes (§3.4.2.5, §3.9), sorting (§3.4.2.3),
paging (§3.4.2.4), .search (§3.4.3), filters (§3.4.2.2), uniqueness,
deletion and membership semantics, PATCH atomicity (§3.5.2), write-only and
read-only attributes (RFC 7643 §2.2), discovery endpoints (§4), media types
(§3.1/§8.1), storage-call budgets and tenant isolation.
"""

from __future__ import annotations

import pytest

from tests.messages import (
    ENT,
    GROUP,
    SEARCH,
    USER,
    add_members,
    body_of,
    get_group,
    get_user,
    group_ids,
    list_of,
    member_ids,
    patch_op,
    scim_error,
)

pytestmark = pytest.mark.memory_store  # about the protocol, not storage: tests/integration/conftest.py

# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------


def resources(resp) -> list[dict]:
    return list_of(resp)["Resources"]


def user_body(user_name: str, **extra) -> dict:
    body = {"schemas": [USER], "userName": user_name}
    body.update(extra)
    return body


def create_user(scim, user_name: str = "bjensen@example.com", **extra) -> dict:
    return body_of(scim.post("/Users", user_body(user_name, **extra)), 201)


def create_group(scim, display_name: str = "Tour Guides", members=(), **extra) -> dict:
    body = {"schemas": [GROUP], "displayName": display_name, **extra}
    if members:
        body["members"] = [{"value": m} for m in members]
    return body_of(scim.post("/Groups", body), 201)


# ---------------------------------------------------------------------------
# ETags (RFC 7644 §3.14)
# ---------------------------------------------------------------------------


def _etag(resp) -> str:
    tag = resp.headers.get("ETag")
    assert tag, "ETag header missing"
    return tag


def test_etag_header_equals_meta_version(scim):
    """§3.14: the ETag header carries meta.version, a weak entity tag; it changes on update."""
    post = scim.post("/Users", user_body("bjensen@example.com"))
    created = body_of(post, 201)
    assert _etag(post) == created["meta"]["version"]
    assert created["meta"]["version"].startswith('W/"')
    get = scim.get(f"/Users/{created['id']}")
    assert _etag(get) == body_of(get, 200)["meta"]["version"] == created["meta"]["version"]

    upd = scim.patch(f"/Users/{created['id']}", patch_op({"op": "replace", "path": "displayName", "value": "B"}))
    updated = body_of(upd, 200)
    assert _etag(upd) == updated["meta"]["version"] != created["meta"]["version"]

    put = scim.put(f"/Users/{created['id']}", user_body("bjensen@example.com", displayName="C"))
    assert _etag(put) == body_of(put, 200)["meta"]["version"] != updated["meta"]["version"]

    gpost = scim.post("/Groups", {"schemas": [GROUP], "displayName": "G"})
    group = body_of(gpost, 201)
    assert _etag(gpost) == group["meta"]["version"]
    gget = scim.get(f"/Groups/{group['id']}")
    assert _etag(gget) == body_of(gget, 200)["meta"]["version"]


def test_etag_group_get_if_none_match_304(scim):
    """§3.14 for Groups, also with excludedAttributes=members."""
    gid = create_group(scim)["id"]
    tag = _etag(scim.get(f"/Groups/{gid}"))
    assert scim.get(f"/Groups/{gid}", headers={"If-None-Match": tag}).status_code == 304
    assert scim.get(f"/Groups/{gid}?excludedAttributes=members", headers={"If-None-Match": tag}).status_code == 304


def test_etag_group_version_changes_with_membership(scim):
    """A membership change is a change of the Group: its version moves on."""
    gid = create_group(scim)["id"]
    before = _etag(scim.get(f"/Groups/{gid}"))
    add_members(scim, gid, create_user(scim)["id"])
    after = scim.get(f"/Groups/{gid}")
    assert _etag(after) != before
    assert scim.get(f"/Groups/{gid}", headers={"If-None-Match": before}).status_code == 200


def test_etag_patch_if_match(scim):
    """§3.14: PATCH with a stale If-Match → 412; current or `*` → 200."""
    uid = create_user(scim, displayName="One")["id"]
    stale = _etag(scim.get(f"/Users/{uid}"))
    body_of(scim.patch(f"/Users/{uid}", patch_op({"op": "replace", "path": "displayName", "value": "Two"})), 200)
    scim_error(scim.patch(f"/Users/{uid}", patch_op({"op": "replace", "path": "displayName", "value": "X"}),
                          headers={"If-Match": stale}), 412)
    assert get_user(scim, uid)["displayName"] == "Two"
    current = _etag(scim.get(f"/Users/{uid}"))
    body_of(scim.patch(f"/Users/{uid}", patch_op({"op": "replace", "path": "displayName", "value": "Three"}),
                       headers={"If-Match": current}), 200)
    body_of(scim.patch(f"/Users/{uid}", patch_op({"op": "replace", "path": "displayName", "value": "Four"}),
                       headers={"If-Match": "*"}), 200)
    assert get_user(scim, uid)["displayName"] == "Four"


def test_etag_patch_if_none_match_current_is_412(scim):
    """RFC 7232 §3.2: If-None-Match matching the current version on a PATCH → 412."""
    uid = create_user(scim, displayName="One")["id"]
    current = _etag(scim.get(f"/Users/{uid}"))
    scim_error(scim.patch(f"/Users/{uid}", patch_op({"op": "replace", "path": "displayName", "value": "X"}),
                          headers={"If-None-Match": current}), 412)
    assert get_user(scim, uid)["displayName"] == "One"


def test_etag_group_patch_if_match(scim):
    """§3.14 for a group PATCH: stale → 412 and no member added."""
    gid = create_group(scim)["id"]
    stale = _etag(scim.get(f"/Groups/{gid}"))
    body_of(scim.patch(f"/Groups/{gid}?attributes=displayName",
                       patch_op({"op": "replace", "path": "displayName", "value": "Renamed"})), 200)
    uid = create_user(scim)["id"]
    scim_error(scim.patch(f"/Groups/{gid}", patch_op({"op": "add", "path": "members", "value": [{"value": uid}]}),
                          headers={"If-Match": stale}), 412)
    assert member_ids(get_group(scim, gid)) == set()


# ---------------------------------------------------------------------------
# meta.location (RFC 7643 §3.1, RFC 7644 §3.3)
# ---------------------------------------------------------------------------


def test_meta_location_absolute_and_location_header(scim):
    """meta.location is the absolute URI of the resource; 201 carries it in `Location` too."""
    post = scim.post("/Users", user_body("bjensen@example.com"))
    user = body_of(post, 201)
    expected = f"{scim.base}/Users/{user['id']}"
    assert user["meta"]["location"] == expected
    assert post.headers.get("Location") == expected
    assert get_user(scim, user["id"])["meta"]["location"] == expected
    listed = resources(scim.get("/Users"))
    assert listed[0]["meta"]["location"] == expected

    gpost = scim.post("/Groups", {"schemas": [GROUP], "displayName": "G"})
    group = body_of(gpost, 201)
    assert group["meta"]["location"] == f"{scim.base}/Groups/{group['id']}"
    assert gpost.headers.get("Location") == group["meta"]["location"]


def test_member_ref_is_absolute(scim):
    """RFC 7643 §4.2: a member's `$ref`, when given, is the member's URI."""
    uid = create_user(scim)["id"]
    gid = create_group(scim, members=[uid])["id"]
    [member] = get_group(scim, gid)["members"]
    if "$ref" in member:
        assert member["$ref"] == f"{scim.base}/Users/{uid}"
    assert member.get("type", "User") == "User"


# ---------------------------------------------------------------------------
# attributes / excludedAttributes (RFC 7644 §3.4.2.5, §3.9)
# ---------------------------------------------------------------------------

RICH = dict(displayName="Babs Jensen", title="Tour Guide", nickName="Babs",
            name={"givenName": "Barbara", "familyName": "Jensen", "formatted": "Ms. Barbara J Jensen"},
            emails=[{"type": "work", "value": "bjensen@example.com", "primary": True},
                    {"type": "home", "value": "babs@jensen.org"}],
            **{"schemas": [USER, ENT],
               ENT: {"employeeNumber": "701984", "department": "Tour Operations"}})


def _rich_user(scim, user_name="bjensen@example.com") -> str:
    return create_user(scim, user_name, **RICH)["id"]


def _only(resource: dict, *keys: str) -> None:
    assert set(resource) <= {"schemas", "id", *keys}, f"unexpected keys {sorted(resource)}"
    assert resource["id"]


def test_attributes_on_get_by_id(scim):
    """§3.9: `attributes` overrides the default set; `id` (returned always) stays."""
    uid = _rich_user(scim)
    body = body_of(scim.get(f"/Users/{uid}?attributes=userName"), 200)
    _only(body, "userName")
    assert body["userName"] == "bjensen@example.com"

    body = body_of(scim.get(f"/Users/{uid}?attributes=name.givenName,displayName"), 200)
    _only(body, "name", "displayName")
    assert body["name"] == {"givenName": "Barbara"}

    body = body_of(scim.get(f"/Users/{uid}?attributes=emails.value"), 200)
    _only(body, "emails")
    assert sorted(e["value"] for e in body["emails"]) == ["babs@jensen.org", "bjensen@example.com"]
    assert all(set(e) == {"value"} for e in body["emails"])

    body = body_of(scim.get(f"/Users/{uid}?attributes={ENT}:department"), 200)
    _only(body, ENT)
    assert body[ENT] == {"department": "Tour Operations"}

    body = body_of(scim.get(f"/Users/{uid}?attributes={USER}:userName"), 200)
    _only(body, "userName")


def test_excluded_attributes_on_get_by_id(scim):
    """§3.9: `excludedAttributes` removes attributes, never those returned always."""
    uid = _rich_user(scim)
    body = body_of(scim.get(f"/Users/{uid}?excludedAttributes=emails,name.givenName"), 200)
    assert "emails" not in body
    assert body["name"] == {"familyName": "Jensen", "formatted": "Ms. Barbara J Jensen"}
    assert body["userName"] == "bjensen@example.com" and body["title"] == "Tour Guide"
    body = body_of(scim.get(f"/Users/{uid}?excludedAttributes=id,{ENT}"), 200)
    assert body["id"] == uid
    assert ENT not in body
    assert body["userName"] == "bjensen@example.com"


def test_attributes_on_list_and_filter(scim):
    """§3.4.2.5 on list and filtered queries."""
    _rich_user(scim)
    _rich_user(scim, "other@example.com")
    for resource in resources(scim.get("/Users?attributes=userName")):
        _only(resource, "userName")
    found = resources(scim.get("/Users", params={"filter": 'userName eq "other@example.com"',
                                                 "excludedAttributes": "emails,name"}))
    assert len(found) == 1
    assert "emails" not in found[0] and "name" not in found[0]
    assert found[0]["displayName"] == "Babs Jensen"


def test_attributes_on_groups_list(scim):
    """§3.4.2.5 on groups: attributes=displayName leaves out members."""
    uid = create_user(scim)["id"]
    create_group(scim, members=[uid], externalId="ext-g")
    [group] = resources(scim.get("/Groups?attributes=displayName"))
    _only(group, "displayName")
    [group] = resources(scim.get("/Groups?excludedAttributes=externalId"))
    assert "externalId" not in group and member_ids(group) == {uid}


# ---------------------------------------------------------------------------
# sortBy / sortOrder (RFC 7644 §3.4.2.3)
# ---------------------------------------------------------------------------


def test_sort_by_user_name_case_insensitive(scim):
    """§3.4.2.3: ascending by default; caseExact=false strings sort case-insensitively."""
    for name in ("charlie@example.com", "alpha@example.com", "Bravo@example.com"):
        create_user(scim, name)
    asc = [r["userName"] for r in resources(scim.get("/Users?sortBy=userName"))]
    assert asc == ["alpha@example.com", "Bravo@example.com", "charlie@example.com"]
    asc = [r["userName"] for r in resources(scim.get("/Users?sortBy=userName&sortOrder=ascending"))]
    assert asc == ["alpha@example.com", "Bravo@example.com", "charlie@example.com"]
    desc = [r["userName"] for r in resources(scim.get("/Users?sortBy=userName&sortOrder=descending"))]
    assert desc == ["charlie@example.com", "Bravo@example.com", "alpha@example.com"]


def test_sort_with_paging_and_filter(scim):
    """§3.4.2.3 + §3.4.2.4: sort applies before paging; sub-attribute sort keys."""
    for given, name in (("Zed", "a@example.com"), ("Amy", "b@example.com"), ("Mia", "c@example.com"),
                        ("Bob", "d@example.org")):
        create_user(scim, name, name={"givenName": given})
    page = resources(scim.get("/Users?sortBy=name.givenName&startIndex=2&count=2"))
    assert [r["name"]["givenName"] for r in page] == ["Bob", "Mia"]
    found = resources(scim.get("/Users", params={"filter": 'userName ew "example.com"', "sortBy": "name.givenName",
                                                 "sortOrder": "descending"}))
    assert [r["name"]["givenName"] for r in found] == ["Zed", "Mia", "Amy"]


def test_sort_groups_by_display_name_and_search(scim):
    """§3.4.2.3 on Groups and in a SearchRequest."""
    for name in ("delta", "Alpha", "charlie"):
        create_group(scim, name)
    got = [g["displayName"] for g in resources(scim.get("/Groups?sortBy=displayName&excludedAttributes=members"))]
    assert got == ["Alpha", "charlie", "delta"]
    got = [g["displayName"] for g in resources(scim.post("/Groups/.search", {
        "schemas": [SEARCH], "sortBy": "displayName", "sortOrder": "descending"}))]
    assert got == ["delta", "charlie", "Alpha"]


# ---------------------------------------------------------------------------
# startIndex / count (RFC 7644 §3.4.2.4)
# ---------------------------------------------------------------------------


def test_paging_out_of_range_values(scim):
    """§3.4.2.4: startIndex < 1 is read as 1; a negative count as 0."""
    for i in range(3):
        create_user(scim, f"user{i}@example.com")
    body = list_of(scim.get("/Users?startIndex=0&count=2"))
    assert body["startIndex"] == 1 and len(body["Resources"]) == 2
    body = list_of(scim.get("/Users?startIndex=-4"))
    assert body["startIndex"] == 1 and len(body["Resources"]) == 3
    body = list_of(scim.get("/Users?count=-1"))
    assert body["totalResults"] == 3 and not body.get("Resources")


# ---------------------------------------------------------------------------
# .search (RFC 7644 §3.4.3)
# ---------------------------------------------------------------------------


def test_search_invalid_filter_is_400(scim):
    """§3.4.3 + §3.4.2.2: an invalid filter in a SearchRequest → 400 invalidFilter."""
    scim_error(scim.post("/Users/.search", {"schemas": [SEARCH], "filter": "userName eq"}), 400, "invalidFilter")


# ---------------------------------------------------------------------------
# Filters (RFC 7644 §3.4.2.2)
# ---------------------------------------------------------------------------


@pytest.fixture
def people(scim):
    create_user(scim, "alice@x.com", displayName="Alice Anders", title="Engineer",
                name={"givenName": "Alice", "familyName": "Anders"},
                emails=[{"type": "work", "value": "alice@x.com", "primary": True},
                        {"type": "home", "value": "alice@home.org"}],
                schemas=[USER, ENT],
                **{ENT: {"employeeNumber": "100", "department": "R&D"}})
    create_user(scim, "bob@y.com", displayName="Bob Brown", title="Manager", active=False,
                name={"givenName": "Bob", "familyName": "Brown"},
                emails=[{"type": "work", "value": "bob@y.com"}],
                schemas=[USER, ENT],
                **{ENT: {"employeeNumber": "200", "department": "Sales"}})
    create_user(scim, "carol@x.com", displayName="Carol Clark", active=True,
                name={"givenName": "Carol", "familyName": "Clark"},
                emails=[{"type": "home", "value": "carol@x.com"}],
                schemas=[USER, ENT],
                **{ENT: {"employeeNumber": "300"}})
    return scim


A, B, C = "alice@x.com", "bob@y.com", "carol@x.com"

def test_filter_via_search_body(people):
    """§3.4.3: the same grammar in a .search body."""
    body = list_of(people.post("/Users/.search", {"schemas": [SEARCH],
                                                  "filter": 'emails[type eq "work" and value co "@x"]'}))
    assert {r["userName"] for r in body["Resources"]} == {A}


def test_filter_groups_by_member_and_id(scim):
    """§3.4.2.2 on Groups: `members.value eq`, and Entra's `id eq … and members eq …` check, the group form of
    Example 4 in "Handling provisioning and deprovisioning of users" (Microsoft Learn, "Tutorial: Develop and
    plan provisioning for a SCIM endpoint in Microsoft Entra ID"; its 2019 version: "Supports querying groups
    by ID and by member")."""
    u1 = create_user(scim, "u1@example.com")["id"]
    u2 = create_user(scim, "u2@example.com")["id"]
    g1 = create_group(scim, "G1", members=[u1])["id"]
    g2 = create_group(scim, "G2", members=[u1, u2])["id"]
    got = {g["id"] for g in resources(scim.get("/Groups", params={"filter": f'members.value eq "{u2}"'}))}
    assert got == {g2}
    got = {g["id"] for g in resources(scim.get("/Groups", params={"filter": f'members[value eq "{u1}"]'}))}
    assert got == {g1, g2}
    found = resources(scim.get("/Groups", params={"filter": f'id eq "{g1}" and members eq "{u1}"',
                                                  "excludedAttributes": "members"}))
    assert [g["id"] for g in found] == [g1]
    assert resources(scim.get("/Groups", params={"filter": f'id eq "{g1}" and members eq "{u2}"'})) == []


# ---------------------------------------------------------------------------
# Uniqueness
# ---------------------------------------------------------------------------


def test_user_name_unique_case_insensitive(scim):
    """RFC 7643 §4.1.1 (uniqueness server, caseExact false) + §3.3: 409 uniqueness with a detail."""
    uid = create_user(scim, "bjensen@example.com")["id"]
    for name in ("bjensen@example.com", "BJensen@Example.COM"):
        err = scim_error(scim.post("/Users", user_body(name)), 409, "uniqueness")
        assert err["detail"]
    assert list_of(scim.get("/Users"))["totalResults"] == 1

    other = create_user(scim, "other@example.com")["id"]
    scim_error(scim.patch(f"/Users/{other}", patch_op({"op": "replace", "path": "userName",
                                                    "value": "BJENSEN@example.com"})), 409, "uniqueness")
    scim_error(scim.put(f"/Users/{other}", user_body("bjensen@EXAMPLE.com")), 409, "uniqueness")
    assert get_user(scim, other)["userName"] == "other@example.com"
    # renaming oneself to a different case of one's own name is no conflict
    body_of(scim.patch(f"/Users/{uid}", patch_op({"op": "replace", "path": "userName",
                                               "value": "BJensen@example.com"})), 200)
    assert get_user(scim, uid)["userName"] == "BJensen@example.com"


def test_user_name_freed_after_delete_and_rename(scim):
    """The uniqueness index follows renames and deletes."""
    uid = create_user(scim, "first@example.com")["id"]
    body_of(scim.patch(f"/Users/{uid}", patch_op({"op": "replace", "path": "userName", "value": "second@example.com"})),
            200)
    create_user(scim, "FIRST@example.com")
    assert scim.delete(f"/Users/{uid}").status_code == 204
    create_user(scim, "second@example.com")


def test_group_display_name_unique_case_insensitive(scim):
    """Entra requires unique group displayNames: unique per tenant, case-insensitively (409 uniqueness)
    (Microsoft Learn, "Tutorial: Develop and plan provisioning for a SCIM endpoint in Microsoft Entra ID",
    https://learn.microsoft.com/en-us/entra/identity/app-provisioning/use-scim-to-provision-users-and-groups)."""
    create_group(scim, "Tour Guides")
    scim_error(scim.post("/Groups", {"schemas": [GROUP], "displayName": "TOUR guides"}), 409, "uniqueness")
    other = create_group(scim, "Other")["id"]
    scim_error(scim.patch(f"/Groups/{other}", patch_op({"op": "replace", "path": "displayName",
                                                     "value": "tour guides"})), 409, "uniqueness")
    scim_error(scim.put(f"/Groups/{other}", {"schemas": [GROUP], "displayName": "Tour Guides"}), 409,
               "uniqueness")
    assert get_group(scim, other)["displayName"] == "Other"
    assert list_of(scim.get("/Groups"))["totalResults"] == 2


# ---------------------------------------------------------------------------
# Soft and hard delete, membership
# ---------------------------------------------------------------------------


def test_soft_delete_keeps_user_visible(scim):
    """`active: false` keeps the user returned by GET, list and filter; reactivation works
    (Microsoft Learn, "Tutorial: Develop and plan provisioning for a SCIM endpoint in Microsoft Entra ID",
    https://learn.microsoft.com/en-us/entra/identity/app-provisioning/use-scim-to-provision-users-and-groups)."""
    uid = create_user(scim, externalId="ext-1", emails=[{"type": "work", "value": "bj@example.com"}])["id"]
    gid = create_group(scim, members=[uid])["id"]
    body_of(scim.patch(f"/Users/{uid}", patch_op({"op": "replace", "path": "active", "value": False})), 200)
    assert get_user(scim, uid)["active"] is False
    for flt in ('userName eq "bjensen@example.com"', 'externalId eq "ext-1"',
                'emails[type eq "work"].value eq "bj@example.com"', f'id eq "{uid}"'):
        found = resources(scim.get("/Users", params={"filter": flt}))
        assert [(u["id"], u["active"]) for u in found] == [(uid, False)], flt
    assert [u["id"] for u in resources(scim.get("/Users"))] == [uid]
    assert member_ids(get_group(scim, gid)) == {uid}, "a disabled user keeps its memberships"
    body_of(scim.patch(f"/Users/{uid}", patch_op({"op": "replace", "path": "active", "value": True})), 200)
    assert get_user(scim, uid)["active"] is True


def test_hard_delete_removes_user_from_every_group(scim):
    """Issue #2: DELETE is hard: 204, then 404, and the user leaves every group."""
    uid = create_user(scim)["id"]
    keep = create_user(scim, "keep@example.com")["id"]
    g1 = create_group(scim, "G1", members=[uid, keep])["id"]
    g2 = create_group(scim, "G2", members=[uid])["id"]
    user = get_user(scim, uid)
    assert group_ids(user) == {g1, g2}, "the user's `groups` lists its memberships"
    assert {g.get("display") for g in user["groups"] if "display" in g} <= {"G1", "G2"}

    assert scim.delete(f"/Users/{uid}").status_code == 204
    scim_error(scim.get(f"/Users/{uid}"), 404)
    assert member_ids(get_group(scim, g1)) == {keep}
    assert member_ids(get_group(scim, g2)) == set()
    assert resources(scim.get("/Groups", params={"filter": f'members.value eq "{uid}"'})) == []
    assert resources(scim.get("/Users", params={"filter": 'userName eq "bjensen@example.com"'})) == []
    scim_error(scim.patch(f"/Users/{uid}", patch_op({"op": "replace", "path": "title", "value": "x"})), 404)
    scim_error(scim.put(f"/Users/{uid}", user_body("bjensen@example.com")), 404)


def test_delete_group_removes_memberships(scim):
    """Issue #2: DELETE of a group removes its membership rows; the user's `groups` no longer lists it."""
    uid = create_user(scim)["id"]
    g1 = create_group(scim, "G1", members=[uid])["id"]
    g2 = create_group(scim, "G2", members=[uid])["id"]
    assert scim.delete(f"/Groups/{g1}").status_code == 204
    scim_error(scim.get(f"/Groups/{g1}"), 404)
    assert group_ids(get_user(scim, uid)) == {g2}
    # the name is free again and a new group with it starts empty
    g3 = create_group(scim, "G1")["id"]
    assert member_ids(get_group(scim, g3)) == set()
    assert group_ids(get_user(scim, uid)) == {g2}


def test_group_members_can_be_groups(scim):
    """RFC 7643 §4.2: members may be Groups of the same tenant."""
    uid = create_user(scim)["id"]
    child = create_group(scim, "Child", members=[uid])["id"]
    parent = create_group(scim, "Parent", members=[child])["id"]
    members = get_group(scim, parent)["members"]
    assert [m["value"] for m in members] == [child]
    assert members[0].get("type", "Group") == "Group"
    if "$ref" in members[0]:
        assert members[0]["$ref"] == f"{scim.base}/Groups/{child}"

    other = create_group(scim, "Other")["id"]
    add_members(scim, other, child, uid)
    assert member_ids(get_group(scim, other)) == {child, uid}
    found = resources(scim.get("/Groups", params={"filter": f'members.value eq "{child}"'}))
    assert {g["id"] for g in found} == {parent, other}

    assert scim.delete(f"/Groups/{child}").status_code == 204
    assert member_ids(get_group(scim, parent)) == set()
    assert member_ids(get_group(scim, other)) == {uid}


def test_unknown_member_id_is_400_and_group_unchanged(scim):
    """Issue #2: a member id that doesn't exist → 400 invalidValue naming the id; nothing changes."""
    uid = create_user(scim)["id"]
    gid = create_group(scim, members=[uid])["id"]
    missing = "0f0e0d0c-0000-4000-8000-00000000dead"
    err = scim_error(scim.patch(f"/Groups/{gid}", patch_op(
        {"op": "add", "path": "members", "value": [{"value": create_user(scim, "new@example.com")["id"]},
                                                   {"value": missing}]})), 400, "invalidValue")
    assert missing in err["detail"]
    assert member_ids(get_group(scim, gid)) == {uid}

    err = scim_error(scim.post("/Groups", {"schemas": [GROUP], "displayName": "New",
                                           "members": [{"value": missing}]}), 400, "invalidValue")
    assert missing in err["detail"]
    assert [g["displayName"] for g in resources(scim.get("/Groups"))] == ["Tour Guides"]

    err = scim_error(scim.put(f"/Groups/{gid}", {"schemas": [GROUP], "displayName": "Tour Guides",
                                                 "members": [{"value": missing}]}), 400, "invalidValue")
    assert missing in err["detail"]
    assert member_ids(get_group(scim, gid)) == {uid}


def test_patch_with_one_invalid_operation_changes_nothing(scim):
    """RFC 7644 §3.5.2: the operations are atomic; one invalid op → 400, no change at all."""
    uid = create_user(scim, displayName="Before", title="T")["id"]
    version = get_user(scim, uid)["meta"]["version"]
    bad_ops = [
        ({"op": "replace", "path": "noSuchAttribute", "value": "x"}, ("invalidPath", "noTarget")),
        ({"op": "remove"}, "noTarget"),
        ({"op": "frobnicate", "path": "title", "value": "x"}, None),
        ({"op": "replace", "path": "emails[type eq ", "value": "x"}, ("invalidPath", "invalidFilter")),
        ({"op": "replace", "path": "active", "value": "maybe"}, "invalidValue"),
        ({"op": "replace", "path": "id", "value": "my-own-id"}, "mutability"),
        ({"op": "remove", "path": "userName"}, ("mutability", "invalidValue")),
    ]
    for bad, scim_type in bad_ops:
        resp = scim.patch(f"/Users/{uid}", patch_op(
            {"op": "replace", "path": "displayName", "value": "After"},
            {"op": "add", "path": "nickName", "value": "Nick"},
            bad,
        ))
        scim_error(resp, 400, scim_type)
        stored = get_user(scim, uid)
        assert stored["displayName"] == "Before", bad
        assert "nickName" not in stored, bad
        assert stored["meta"]["version"] == version, bad


def test_group_patch_with_one_invalid_operation_changes_nothing(scim):
    """RFC 7644 §3.5.2 on a group: valid member add + invalid op → 400, member not added."""
    uid = create_user(scim)["id"]
    gid = create_group(scim)["id"]
    scim_error(scim.patch(f"/Groups/{gid}", patch_op(
        {"op": "add", "path": "members", "value": [{"value": uid}]},
        {"op": "replace", "path": "displayName", "value": "Renamed"},
        {"op": "replace", "path": "noSuchAttribute", "value": "x"},
    )), 400)
    stored = get_group(scim, gid)
    assert member_ids(stored) == set() and stored["displayName"] == "Tour Guides"
    assert group_ids(get_user(scim, uid)) == set()


def test_only_one_primary_email_after_patch(scim):
    """RFC 7643 §2.4: `primary: true` at most once; setting another primary clears the old one."""
    uid = create_user(scim, emails=[{"type": "work", "value": "w@example.com", "primary": True},
                                    {"type": "home", "value": "h@example.com"}])["id"]
    body_of(scim.patch(f"/Users/{uid}", patch_op(
        {"op": "add", "path": "emails", "value": [{"type": "other", "value": "o@example.com", "primary": True}]})),
        200)
    emails = get_user(scim, uid)["emails"]
    assert [e["value"] for e in emails if e.get("primary") is True] == ["o@example.com"]
    assert len(emails) == 3

    body_of(scim.patch(f"/Users/{uid}", patch_op(
        {"op": "replace", "path": "emails[type eq \"home\"].primary", "value": True})), 200)
    emails = get_user(scim, uid)["emails"]
    assert [e["value"] for e in emails if e.get("primary") is True] == ["h@example.com"]
    assert len(emails) == 3


def test_password_is_write_only(scim):
    """RFC 7643 §4.1.1: password is writeOnly / returned never, even when asked for."""
    post = scim.post("/Users?attributes=password,userName", user_body("bjensen@example.com", password="t1meMa$heen"))
    created = body_of(post, 201)
    assert "password" not in created
    uid = created["id"]
    for resp in (scim.get(f"/Users/{uid}"), scim.get(f"/Users/{uid}?attributes=password"),
                 scim.get("/Users"), scim.post("/Users/.search", {"schemas": [SEARCH],
                                                                  "attributes": ["password"]})):
        assert "t1meMa$heen" not in resp.text and '"password"' not in resp.text
    patched = scim.patch(f"/Users/{uid}", patch_op({"op": "replace", "path": "password", "value": "n3w!"}))
    assert patched.status_code == 200 and "password" not in patched.json() and "n3w!" not in patched.text
    put = scim.put(f"/Users/{uid}", user_body("bjensen@example.com", password="other!"))
    assert put.status_code == 200 and "other!" not in put.text


def test_read_only_attributes_in_requests_are_ignored(scim):
    """RFC 7643 §2.2: id, meta and groups sent by the client are ignored on POST and PUT."""
    g1 = create_group(scim, "G1")["id"]
    g2 = create_group(scim, "G2")["id"]
    created = body_of(scim.post("/Users", user_body(
        "bjensen@example.com", id="client-chosen-id",
        meta={"resourceType": "Group", "created": "2000-01-01T00:00:00Z", "version": 'W/"x"',
              "location": "https://evil.example/Users/1"},
        groups=[{"value": g1}])), 201)
    uid = created["id"]
    assert uid != "client-chosen-id"
    assert not created["meta"]["created"].startswith("2000")
    assert created["meta"]["resourceType"] == "User"
    assert created["meta"]["location"] == f"{scim.base}/Users/{uid}"
    assert created["meta"]["version"] != 'W/"x"'
    assert group_ids(get_user(scim, uid)) == set()
    assert member_ids(get_group(scim, g1)) == set()
    scim_error(scim.get("/Users/client-chosen-id"), 404)

    add_members(scim, g1, uid)
    put = body_of(scim.put(f"/Users/{uid}", user_body(
        "bjensen@example.com", id="another-id", groups=[{"value": g2}],
        meta={"created": "2000-01-01T00:00:00Z"})), 200)
    assert put["id"] == uid
    assert put["meta"]["created"] == created["meta"]["created"]
    assert group_ids(get_user(scim, uid)) == {g1}
    assert member_ids(get_group(scim, g2)) == set()


# ---------------------------------------------------------------------------
# Discovery endpoints (RFC 7644 §4) and routing
# ---------------------------------------------------------------------------


def test_service_provider_config(scim):
    """§4 / RFC 7643 §5: capabilities advertised match what the service does."""
    body = body_of(scim.get("/ServiceProviderConfig"), 200)
    assert "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig" in body["schemas"]
    assert body["patch"]["supported"] is True
    assert body["filter"]["supported"] is True and isinstance(body["filter"]["maxResults"], int)
    assert body["sort"]["supported"] is True
    assert body["etag"]["supported"] is True
    assert isinstance(body["bulk"]["supported"], bool)
    assert isinstance(body["changePassword"]["supported"], bool)
    assert any(s["type"].lower() == "oauthbearertoken" for s in body["authenticationSchemes"])


def test_resource_types(scim):
    """§4: /ResourceTypes lists User (with the enterprise extension) and Group."""
    body = list_of(scim.get("/ResourceTypes"))
    by_id = {r["id"]: r for r in body["Resources"]}
    assert by_id["User"]["endpoint"] == "/Users" and by_id["User"]["schema"] == USER
    assert ENT in [e["schema"] for e in by_id["User"].get("schemaExtensions", [])]
    assert by_id["Group"]["endpoint"] == "/Groups" and by_id["Group"]["schema"] == GROUP
    assert body_of(scim.get("/ResourceTypes/User"), 200)["id"] == "User"
    assert body_of(scim.get("/ResourceTypes/Group"), 200)["id"] == "Group"
    scim_error(scim.get("/ResourceTypes/Widget"), 404)
    scim_error(scim.get("/Schemas/urn:example:no:such:schema"), 404)


def test_resource_endpoint_unsupported_method_405(scim):
    """RFC 7644 §3.2 routes: PUT/PATCH/DELETE on a collection are not allowed."""
    for method in ("PUT", "PATCH", "DELETE"):
        scim_error(scim.request(method, "/Users", {"schemas": [USER]} if method != "DELETE" else None), 405)


def test_requests_accepted_as_application_json(scim):
    """§8.1: requests in application/json are accepted; responses stay application/scim+json."""
    hdrs = {"Content-Type": "application/json"}
    uid = body_of(scim.post("/Users", user_body("json@example.com"), headers=hdrs), 201)["id"]
    body_of(scim.put(f"/Users/{uid}", user_body("json@example.com", title="T"), headers=hdrs), 200)
    body_of(scim.patch(f"/Users/{uid}", patch_op({"op": "replace", "path": "displayName", "value": "D"}),
                       headers=hdrs), 200)
    gid = body_of(scim.post("/Groups", {"schemas": [GROUP], "displayName": "J"}, headers=hdrs), 201)["id"]
    resp = scim.patch(f"/Groups/{gid}", patch_op({"op": "add", "path": "members", "value": [{"value": uid}]}),
                      headers=hdrs)
    assert resp.status_code == 204
    list_of(scim.post("/Users/.search", {"schemas": [SEARCH]}, headers=hdrs))
    charset = {"Content-Type": "application/scim+json; charset=utf-8"}
    body_of(scim.post("/Users", user_body("charset@example.com"), headers=charset), 201)
    stored = get_user(scim, uid)
    assert (stored["title"], stored["displayName"]) == ("T", "D")


def test_group_patch_status_codes(scim):
    """Issue #2: group PATCH → 204 with no body; 200 with the resource when attributes/excludedAttributes given."""
    uid = create_user(scim)["id"]
    gid = create_group(scim)["id"]
    resp = scim.patch(f"/Groups/{gid}", patch_op({"op": "add", "path": "members", "value": [{"value": uid}]}))
    assert resp.status_code == 204 and resp.content == b""
    body = body_of(scim.patch(f"/Groups/{gid}?attributes=displayName",
                              patch_op({"op": "replace", "path": "displayName", "value": "A"})), 200)
    _only(body, "displayName")
    assert body["displayName"] == "A"
    body = body_of(scim.patch(f"/Groups/{gid}?excludedAttributes=members",
                              patch_op({"op": "replace", "path": "displayName", "value": "B"})), 200)
    assert body["id"] == gid and body["displayName"] == "B" and "members" not in body


# ---------------------------------------------------------------------------
# Case-insensitive structure (RFC 7643 §2.1, RFC 7644 §3.5.2) and boolean strings
# ---------------------------------------------------------------------------


def test_attribute_names_case_insensitive_on_create(scim):
    """RFC 7643 §2.1: attribute names are case-insensitive (`Primary`, `Department` as in
    PostmanCollection.json of https://github.com/AzureAD/SCIMReferenceCode)."""
    body = {"schemas": [USER, ENT], "UserName": "bjensen@example.com", "DisplayName": "Babs",
            "Emails": [{"Primary": True, "Type": "work", "Value": "testing@bob.com"},
                       {"Primary": False, "type": "home", "value": "testinghome@bob.com"}],
            ENT: {"Department": "bob"}}
    uid = body_of(scim.post("/Users", body), 201)["id"]
    stored = get_user(scim, uid)
    assert stored["userName"] == "bjensen@example.com" and stored["displayName"] == "Babs"
    work = [e for e in stored["emails"] if e.get("type") == "work"]
    assert work == [{"primary": True, "type": "work", "value": "testing@bob.com"}]
    assert stored[ENT]["department"] == "bob"
    found = resources(scim.get("/Users?filter=DisplayName+eq+%22Babs%22"))
    assert [u["id"] for u in found] == [uid]
    found = resources(scim.get("/Users", params={"filter": 'emails.Value eq "testing@bob.com"'}))
    assert [u["id"] for u in found] == [uid]


def test_patch_op_and_path_case_insensitive(scim):
    """RFC 7644 §3.5.2 and Entra's guidance: `op` values and attribute paths in any case
    (Microsoft Learn, "Tutorial: Develop and plan provisioning for a SCIM endpoint in Microsoft Entra ID",
    https://learn.microsoft.com/en-us/entra/identity/app-provisioning/use-scim-to-provision-users-and-groups)."""
    uid = create_user(scim)["id"]
    body_of(scim.patch(f"/Users/{uid}", patch_op(
        {"op": "ADD", "path": "Title", "value": "A"},
        {"op": "rEpLaCe", "path": "NAME.GivenName", "value": "B"},
        {"op": "Add", "path": "Emails[Type eq \"work\"].Value", "value": "w@example.com"},
    )), 200)
    stored = get_user(scim, uid)
    assert stored["title"] == "A" and stored["name"]["givenName"] == "B"
    assert [e["value"] for e in stored["emails"] if e.get("type") == "work"] == ["w@example.com"]
    body_of(scim.patch(f"/Users/{uid}", patch_op({"op": "REMOVE", "path": "title"})), 200)
    assert "title" not in get_user(scim, uid)


def test_boolean_strings_on_create_and_put(scim):
    """Test "Post emp1 with string True" of PostmanCollection.json in https://github.com/AzureAD/SCIMReferenceCode:
    `"active": "True"` → JSON true."""
    created = body_of(scim.post("/Users", user_body("emp1@example.com", active="True")), 201)
    assert created["active"] is True
    uid = created["id"]
    assert get_user(scim, uid)["active"] is True
    put = body_of(scim.put(f"/Users/{uid}", user_body("emp1@example.com", active="false")), 200)
    assert put["active"] is False
    assert get_user(scim, uid)["active"] is False


def test_group_remove_members_without_value_clears_all(scim):
    """RFC 7644 §3.5.2.2: remove `members` without value/filter → all go (unlike Entra's "Update Group
    [Remove Members]", which carries a value list)."""
    uids = [create_user(scim, f"u{i}@example.com")["id"] for i in range(3)]
    gid = create_group(scim, members=uids)["id"]
    resp = scim.patch(f"/Groups/{gid}", patch_op({"op": "Remove", "path": "members"}))
    assert resp.status_code == 204
    stored = get_group(scim, gid)
    assert member_ids(stored) == set() and stored["displayName"] == "Tour Guides"
    for uid in uids:
        assert group_ids(get_user(scim, uid)) == set()


def test_group_replace_members_replaces_the_set(scim):
    """RFC 7644 §3.5.2.3: replace `members` with a list replaces the whole membership."""
    a, b, c = (create_user(scim, f"{n}@example.com")["id"] for n in "abc")
    gid = create_group(scim, members=[a, b])["id"]
    assert scim.patch(f"/Groups/{gid}", patch_op(
        {"op": "replace", "path": "members", "value": [{"value": b}, {"value": c}]})).status_code == 204
    assert member_ids(get_group(scim, gid)) == {b, c}
    assert group_ids(get_user(scim, a)) == set()


def test_group_put_replaces_members(scim):
    """RFC 7644 §3.5.1: PUT replaces members (and keeps the id)."""
    a, b = (create_user(scim, f"{n}@example.com")["id"] for n in "ab")
    gid = create_group(scim, members=[a])["id"]
    body = body_of(scim.put(f"/Groups/{gid}", {"schemas": [GROUP], "displayName": "putName",
                                              "members": [{"value": b}]}), 200)
    assert body["id"] == gid and body["displayName"] == "putName"
    assert member_ids(get_group(scim, gid)) == {b}
    assert group_ids(get_user(scim, a)) == set() and group_ids(get_user(scim, b)) == {gid}


def test_adding_existing_member_is_idempotent(scim):
    """Adding a member twice keeps one membership (RFC 7644 §3.5.2.1: no duplicates)."""
    uid = create_user(scim)["id"]
    gid = create_group(scim, members=[uid])["id"]
    add_members(scim, gid, uid)
    assert [m["value"] for m in get_group(scim, gid)["members"]] == [uid]
    assert [g["value"] for g in get_user(scim, uid)["groups"]] == [gid]


# ---------------------------------------------------------------------------
# A member object: its readOnly display and its sub-attributes (RFC 7643
# §4.2, §7; RFC 7644 §3.5.1: readOnly values sent are ignored)
# ---------------------------------------------------------------------------


def _displays(group: dict) -> list:
    return [member.get("display") for member in group.get("members", [])]


def test_a_members_display_is_never_stored_or_returned_whatever_the_request(scim):
    """One behaviour on POST, PUT, PATCH add (path and path-less) and in
    every answer: ``members[].display`` is readOnly, so a client's value is
    ignored, and the service, which does not look names up, returns none."""
    ada, bob = create_user(scim)["id"], create_user(scim, "bob@example.com")["id"]
    member = {"value": ada, "display": "Ada"}
    created = body_of(scim.post("/Groups", {"schemas": [GROUP], "displayName": "G", "members": [member]}), 201)
    gid = created["id"]
    replaced = body_of(scim.put(f"/Groups/{gid}", {"schemas": [GROUP], "displayName": "G", "members": [member]}), 200)
    answers = [created, replaced, get_group(scim, gid)]
    scim.patch(f"/Groups/{gid}", patch_op({"op": "add", "path": "members", "value": [{"value": bob, "display": "Bob"}]}))
    answers.append(get_group(scim, gid))
    scim.patch(f"/Groups/{gid}", patch_op({"op": "replace", "value": {"members": [member, {"value": bob, "display": "B"}]}}))
    answers.append(get_group(scim, gid))
    answers += resources(scim.get("/Groups", params={"filter": f'members.value eq "{ada}"'}))
    assert all(_displays(answer) and set(_displays(answer)) == {None} for answer in answers), answers
    assert member_ids(get_group(scim, gid)) == {ada, bob}


@pytest.mark.parametrize("request_form", ["POST", "PUT", "PATCH add", "PATCH path-less", "PATCH remove"])
def test_an_unknown_sub_attribute_of_a_member_is_400_in_every_request(scim, request_form):
    """As ``name.foo`` is: 400 invalidValue naming it, and nothing changes;
    ``type`` and ``$ref`` are known sub-attributes and accepted."""
    uid = create_user(scim)["id"]
    gid = create_group(scim, members=[uid])["id"]
    bad = [{"value": uid, "foo": "x"}]
    send = {
        "POST": lambda: scim.post("/Groups", {"schemas": [GROUP], "displayName": "Other", "members": bad}),
        "PUT": lambda: scim.put(f"/Groups/{gid}", {"schemas": [GROUP], "displayName": "Tour Guides", "members": bad}),
        "PATCH add": lambda: scim.patch(f"/Groups/{gid}", patch_op({"op": "add", "path": "members", "value": bad})),
        "PATCH path-less": lambda: scim.patch(f"/Groups/{gid}", patch_op({"op": "replace", "value": {"members": bad}})),
        "PATCH remove": lambda: scim.patch(f"/Groups/{gid}", patch_op({"op": "remove", "path": "members", "value": bad})),
    }[request_form]
    err = scim_error(send(), 400, "invalidValue")
    assert err["detail"] == 'unknown sub-attribute "foo" in "members"'
    assert member_ids(get_group(scim, gid)) == {uid}
    assert [g["displayName"] for g in resources(scim.get("/Groups"))] == ["Tour Guides"]
    known = [{"value": uid, "type": "User", "$ref": f"{scim.base}/Users/{uid}", "display": "x"}]
    assert scim.patch(f"/Groups/{gid}", patch_op({"op": "add", "path": "members", "value": known})).status_code in (200, 204)


@pytest.mark.parametrize("member", [{}, {"value": None}, {"display": "Ada"}, {"value": None, "type": None}])
@pytest.mark.parametrize("request_form", ["POST", "PUT", "PATCH add"])
def test_an_empty_member_object_is_unassigned_in_every_request(scim, request_form, member):
    """A member object that is empty, or holds only nulls or the ignored
    display, is an unassigned value (RFC 7643 §2.5): it names no member and
    changes nothing, in a PUT or PATCH as in a POST (the HTTP fuzz found
    a PUT that failed on it)."""
    uid = create_user(scim)["id"]
    gid = create_group(scim, members=[uid])["id"]
    if request_form == "POST":
        created = body_of(scim.post("/Groups", {"schemas": [GROUP], "displayName": "Other", "members": [member]}), 201)
        assert member_ids(get_group(scim, created["id"])) == set()
        return
    if request_form == "PUT":
        body_of(scim.put(f"/Groups/{gid}", {"schemas": [GROUP], "displayName": "Tour Guides",
                                            "members": [{"value": uid}, member]}), 200)
    else:
        answer = scim.patch(f"/Groups/{gid}", patch_op({"op": "add", "path": "members", "value": [member]}))
        assert answer.status_code in (200, 204), answer.text
    assert member_ids(get_group(scim, gid)) == {uid}


def test_a_member_named_twice_counts_once_and_a_malformed_id_removes_nothing(scim):
    """A membership is a set: a member given twice in a POST or PUT is one member (not a storage
    error); removing by a filter on an id of no resource's form matches no member (not a 500)."""
    from tests.messages import GROUP, USER, body_of, member_ids, patch_op

    uid = body_of(scim.post("/Users", {"schemas": [USER], "userName": "twice@example.com"}), 201)["id"]
    twice = [{"value": uid}, {"value": uid}]
    created = body_of(scim.post("/Groups", {"schemas": [GROUP], "displayName": "Twice", "members": twice}), 201)
    assert [m["value"] for m in created["members"]] == [uid]
    put = body_of(scim.put(f"/Groups/{created['id']}", {"schemas": [GROUP], "displayName": "Twice", "members": twice}), 200)
    assert [m["value"] for m in put["members"]] == [uid]
    for value in ("a:b", "U:x:g:y", uid + ":g"):
        response = scim.patch(f"/Groups/{created['id']}", patch_op({"op": "remove", "path": f'members[value eq "{value}"]'}))
        assert response.status_code == 204, response.text
    assert member_ids(body_of(scim.get(f"/Groups/{created['id']}"), 200)) == {uid}
