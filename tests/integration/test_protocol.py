"""RFC 7644 protocol behaviour through the HTTP triggers."""

from __future__ import annotations

import pytest

from tests.messages import ENT, GROUP, SEARCH, USER, patch_op

pytestmark = pytest.mark.memory_store  # about the protocol, not storage: tests/integration/conftest.py


def make_user(scim, user_name, **extra):
    response = scim.post("/Users", {"schemas": [USER, ENT], "userName": user_name, **extra})
    assert response.status_code == 201, response.text
    return response.json()


@pytest.fixture
def people(scim):
    return [
        make_user(scim, "bjensen", name={"familyName": "Jensen", "givenName": "Barbara"}, userType="Employee",
                  title="Tour Guide", emails=[{"type": "work", "value": "bjensen@example.com"}],
                  **{ENT: {"employeeNumber": "701984", "department": "Tours"}}),
        make_user(scim, "jsmith", name={"familyName": "Smith", "givenName": "John"}, userType="Contractor",
                  emails=[{"type": "work", "value": "jsmith@example.org"}, {"type": "home", "value": "j@home.net"}],
                  **{ENT: {"employeeNumber": "5", "department": "Sales"}}),
        make_user(scim, "alovelace", name={"familyName": "Lovelace", "givenName": "Ada"}, userType="Employee",
                  active=False, emails=[{"type": "home", "value": "ada@example.com"}]),
    ]


def names(body):
    return [r["userName"] for r in body["Resources"]]


# RFC 7644 §3.4.2.2 filters --------------------------------------------------
@pytest.mark.parametrize("flt, expected", [
    ('userName eq "BJENSEN"', {"bjensen"}),
    ('name.familyName co "e"', {"bjensen", "alovelace"}),
    ('userName sw "j"', {"jsmith"}),
    ('userName ew "lace"', {"alovelace"}),
    ("title pr", {"bjensen"}),
    ('userType ne "Employee"', {"jsmith"}),
    ('title pr and userType eq "Employee"', {"bjensen"}),
    ('userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")', {"bjensen", "alovelace"}),
    ('userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")', set()),
    ('emails[type eq "work" and value co "@example.org"]', {"jsmith"}),
    ('emails[type eq "home"] or title pr', {"jsmith", "alovelace", "bjensen"}),
    (f'{ENT}:employeeNumber eq "701984"', {"bjensen"}),
    (f'{ENT}:department sw "s"', {"jsmith"}),
    (f"{USER}:userName sw \"a\"", {"alovelace"}),
    ("active eq false", {"alovelace"}),
    ('meta.lastModified gt "2011-05-13T04:42:34Z"', {"bjensen", "jsmith", "alovelace"}),
    ('meta.created lt "2011-05-13T04:42:34Z"', set()),
    ('userName gt "b" and userName le "jsmith"', {"bjensen", "jsmith"}),
])
def test_filters(scim, people, flt, expected):
    body = scim.get("/Users", params={"filter": flt}).json()
    assert set(names(body)) == expected and body["totalResults"] == len(expected)


def test_spaces_as_plus_and_percent_20(scim, people):
    for query in ('filter=userName+eq+"jsmith"', 'filter=userName%20eq%20%22jsmith%22'):
        assert names(scim.get("/Users?" + query).json()) == ["jsmith"]


# §3.4.2.3 sorting, §3.4.2.4 paging ----------------------------------------
def test_sort_by_and_order(scim, people):
    asc = scim.get("/Users", params={"sortBy": "name.familyName"}).json()
    assert names(asc) == ["bjensen", "alovelace", "jsmith"]
    desc = scim.get("/Users", params={"sortBy": "userName", "sortOrder": "descending"}).json()
    assert names(desc) == ["jsmith", "bjensen", "alovelace"]


def test_paging_and_count_zero(scim, people):
    page = scim.get("/Users", params={"sortBy": "userName", "startIndex": 2, "count": 1}).json()
    assert page["startIndex"] == 2 and page["itemsPerPage"] == 1 and page["totalResults"] == 3 and names(page) == ["bjensen"]
    totals = scim.get("/Users", params={"count": 0}).json()
    assert totals["totalResults"] == 3 and totals["Resources"] == [] and totals["itemsPerPage"] == 0
    beyond = scim.get("/Users", params={"startIndex": 10}).json()
    assert beyond["Resources"] == [] and beyond["totalResults"] == 3
    capped = scim.get("/Users", params={"count": 100000}).json()
    assert capped["itemsPerPage"] == 3
    max_results = scim.get("/ServiceProviderConfig").json()["filter"]["maxResults"]
    assert max_results >= 100


# §3.4.2.5 attributes / excludedAttributes on every response -----------------
def test_attributes_on_every_kind_of_response(scim):
    query = {"attributes": "userName"}
    created = scim.post("/Users", {"schemas": [USER], "userName": "p", "title": "t"}, params=query).json()
    assert set(created) == {"schemas", "id", "userName"}
    uid = created["id"]
    assert set(scim.get(f"/Users/{uid}", params=query).json()) == {"schemas", "id", "userName"}
    assert set(scim.get("/Users", params=query).json()["Resources"][0]) == {"schemas", "id", "userName"}
    replaced = scim.put(f"/Users/{uid}", {"schemas": [USER], "userName": "p", "title": "t2"}, params={"excludedAttributes": "title,meta"}).json()
    assert "title" not in replaced and "meta" not in replaced and replaced["userName"] == "p"
    patched = scim.patch(f"/Users/{uid}", patch_op({"op": "add", "path": "nickName", "value": "n"}), params=query).json()
    assert set(patched) == {"schemas", "id", "userName"}
    searched = scim.post("/Users/.search", {"schemas": [SEARCH], "attributes": ["userName"], "filter": 'userName eq "p"'}).json()
    assert set(searched["Resources"][0]) == {"schemas", "id", "userName"}


def test_group_patch_returns_body_when_asked(scim):
    gid = scim.post("/Groups", {"schemas": [GROUP], "displayName": "g"}).json()["id"]
    plain = scim.patch(f"/Groups/{gid}", patch_op({"op": "replace", "path": "displayName", "value": "h"}))
    assert plain.status_code == 204
    asked = scim.patch(f"/Groups/{gid}", patch_op({"op": "replace", "path": "displayName", "value": "i"}), params={"excludedAttributes": "members"})
    assert asked.status_code == 200 and asked.json()["displayName"] == "i"


# §3.4.3 .search ------------------------------------------------------------
def test_search_endpoints(scim, people):
    gid = scim.post("/Groups", {"schemas": [GROUP], "displayName": "Tour Guides"}).json()["id"]
    users = scim.post("/Users/.search", {"schemas": [SEARCH], "filter": 'userType eq "Employee"', "sortBy": "userName", "count": 1}).json()
    assert users["totalResults"] == 2 and names(users) == ["alovelace"]
    groups = scim.post("/Groups/.search", {"schemas": [SEARCH], "filter": 'displayName sw "tour"'}).json()
    assert [g["id"] for g in groups["Resources"]] == [gid]
    both = scim.post("/.search", {"schemas": [SEARCH], "filter": 'externalId pr or userName eq "bjensen" or displayName eq "Tour Guides"'}).json()
    assert {r.get("userName") or r.get("displayName") for r in both["Resources"]} == {"bjensen", "Tour Guides"}
    bad = scim.post("/Users/.search", {"filter": "userName pr"})
    assert bad.status_code == 400 and bad.json()["scimType"] == "invalidSyntax"


# §3.14 versions ------------------------------------------------------------
def test_etags(scim):
    created = scim.post("/Users", {"schemas": [USER], "userName": "etag"})
    uid, version = created.json()["id"], created.json()["meta"]["version"]
    assert created.headers["ETag"] == version and version.startswith('W/"')
    assert created.headers["Location"] == created.json()["meta"]["location"].replace("http://", "http://")
    assert scim.get(f"/Users/{uid}", headers={"If-None-Match": version}).status_code == 304
    assert scim.get(f"/Users/{uid}", headers={"If-Match": 'W/"other"'}).status_code == 412
    stale = scim.patch(f"/Users/{uid}", patch_op({"op": "add", "path": "title", "value": "x"}), headers={"If-Match": 'W/"other"'})
    assert stale.status_code == 412
    fresh = scim.patch(f"/Users/{uid}", patch_op({"op": "add", "path": "title", "value": "x"}), headers={"If-Match": version})
    assert fresh.status_code == 200 and fresh.headers["ETag"] != version
    assert scim.put(f"/Users/{uid}", {"schemas": [USER], "userName": "etag"}, headers={"If-Match": version}).status_code == 412
    assert scim.delete(f"/Users/{uid}", headers={"If-Match": version}).status_code == 412
    assert scim.delete(f"/Users/{uid}", headers={"If-Match": fresh.headers["ETag"]}).status_code == 204
    gid = scim.post("/Groups", {"schemas": [GROUP], "displayName": "etag"}).json()["id"]
    assert scim.patch(f"/Groups/{gid}", patch_op({"op": "remove", "path": "members"}), headers={"If-Match": 'W/"x"'}).status_code == 412


def test_meta_location_is_absolute(scim):
    created = scim.post("/Users", {"schemas": [USER], "userName": "loc"}).json()
    assert created["meta"]["location"] == f"{scim.base}/Users/{created['id']}"


# Semantics -----------------------------------------------------------------
def test_read_only_attributes_in_requests_are_ignored(scim):
    body = {"schemas": [USER], "userName": "ro", "id": "mine", "meta": {"created": "2001-01-01T00:00:00Z"},
            "groups": [{"value": "0123456789ab8def8123456789abcdef"}]}
    created = scim.post("/Users", body).json()
    assert created["id"] != "mine" and created["meta"]["created"] != "2001-01-01T00:00:00Z" and "groups" not in created


def test_password_is_write_only(scim):
    created = scim.post("/Users", {"schemas": [USER], "userName": "pw", "password": "t1meMa$heen"}).json()
    assert "password" not in created
    assert "password" not in scim.get(f"/Users/{created['id']}", params={"attributes": "password"}).json()
    patched = scim.patch(f"/Users/{created['id']}", patch_op({"op": "replace", "path": "password", "value": "n3w"}))
    assert patched.status_code == 200 and "t1me" not in patched.text and "n3w" not in patched.text


def test_hard_delete_removes_memberships_both_ways(scim):
    uid = make_user(scim, "leaver")["id"]
    keeper = make_user(scim, "keeper")["id"]
    parent = scim.post("/Groups", {"schemas": [GROUP], "displayName": "parent"}).json()["id"]
    child = scim.post("/Groups", {"schemas": [GROUP], "displayName": "child", "members": [{"value": uid}]}).json()["id"]
    add = patch_op({"op": "add", "path": "members", "value": [{"value": uid}, {"value": keeper}, {"value": child, "type": "Group"}]})
    assert scim.patch(f"/Groups/{parent}", add).status_code == 204
    parent_members = {m["value"]: m["type"] for m in scim.get(f"/Groups/{parent}").json()["members"]}
    assert parent_members == {uid: "User", keeper: "User", child: "Group"}
    assert {g["value"] for g in scim.get(f"/Users/{uid}").json()["groups"]} == {parent, child}
    assert scim.delete(f"/Users/{uid}").status_code == 204
    assert {m["value"] for m in scim.get(f"/Groups/{parent}").json()["members"]} == {keeper, child}
    assert scim.get(f"/Groups/{child}").json().get("members", []) == []
    assert scim.delete(f"/Groups/{child}").status_code == 204
    assert {m["value"] for m in scim.get(f"/Groups/{parent}").json()["members"]} == {keeper}
    assert scim.delete(f"/Groups/{parent}").status_code == 204
    assert "groups" not in scim.get(f"/Users/{keeper}").json()


def test_filter_by_member_and_id(scim):
    uid = make_user(scim, "m")["id"]
    gid = scim.post("/Groups", {"schemas": [GROUP], "displayName": "g", "members": [{"value": uid}]}).json()["id"]
    hit = scim.get("/Groups", params={"filter": f'id eq "{gid}" and members eq "{uid}"', "excludedAttributes": "members"}).json()
    assert hit["totalResults"] == 1 and "members" not in hit["Resources"][0]
    miss = scim.get("/Groups", params={"filter": f'id eq "{gid}" and members eq "{gid}"'}).json()
    assert miss["totalResults"] == 0


def test_unknown_member_leaves_group_unchanged(scim):
    uid = make_user(scim, "m")["id"]
    gid = scim.post("/Groups", {"schemas": [GROUP], "displayName": "g", "members": [{"value": uid}]}).json()["id"]
    before = scim.get(f"/Groups/{gid}").json()
    ghost = "0123456789ab4def8123456789abcdef"
    bad = scim.patch(f"/Groups/{gid}", patch_op({"op": "add", "path": "members", "value": [{"value": uid}, {"value": ghost}]}))
    assert bad.status_code == 400 and bad.json()["scimType"] == "invalidValue" and ghost in bad.json()["detail"]
    assert scim.get(f"/Groups/{gid}").json() == before


def test_one_primary_after_patch(scim):
    uid = make_user(scim, "prim", emails=[{"type": "work", "value": "a@x", "primary": True}, {"type": "home", "value": "b@x"}])["id"]
    body = scim.patch(f"/Users/{uid}", patch_op({"op": "add", "path": "emails", "value": [{"type": "other", "value": "c@x", "primary": True}]})).json()
    assert [e.get("primary") for e in body["emails"]] == [False, None, True]


def test_tenants_are_isolated(scim, other_tenant):
    uid = make_user(scim, "private")["id"]
    gid = scim.post("/Groups", {"schemas": [GROUP], "displayName": "private"}).json()["id"]
    assert other_tenant.get(f"/Users/{uid}").status_code == 404
    assert other_tenant.get(f"/Groups/{gid}").status_code == 404
    assert other_tenant.patch(f"/Users/{uid}", patch_op({"op": "add", "path": "title", "value": "x"})).status_code == 404
    assert other_tenant.delete(f"/Users/{uid}").status_code == 404
    assert other_tenant.get("/Users").json()["totalResults"] == 0
    assert other_tenant.get("/Users", params={"filter": 'userName eq "private"'}).json()["totalResults"] == 0
    other_gid = other_tenant.post("/Groups", {"schemas": [GROUP], "displayName": "theirs"}).json()["id"]
    stolen = other_tenant.patch(f"/Groups/{other_gid}", patch_op({"op": "add", "path": "members", "value": [{"value": uid}]}))
    assert stolen.status_code == 400
    assert other_tenant.post("/Users", {"schemas": [USER], "userName": "private"}).status_code == 201
    assert scim.get(f"/Users/{uid}").json()["userName"] == "private"


def test_group_patch_mixing_members_and_attributes_with_if_match(scim):
    uid = make_user(scim, "mixed")["id"]
    created = scim.post("/Groups", {"schemas": [GROUP], "displayName": "before"}).json()
    body = patch_op({"op": "add", "path": "members", "value": [{"value": uid}]}, {"op": "replace", "path": "displayName", "value": "after"})
    assert scim.patch(f"/Groups/{created['id']}", body, headers={"If-Match": created["meta"]["version"]}).status_code == 204
    got = scim.get(f"/Groups/{created['id']}").json()
    assert got["displayName"] == "after" and [m["value"] for m in got["members"]] == [uid]
    assert scim.patch(f"/Groups/{created['id']}", body, headers={"If-Match": created["meta"]["version"]}).status_code == 412


def test_totals_with_sorting_and_count_zero(scim, people):
    body = scim.get("/Users", params={"sortBy": "userName", "count": 0}).json()
    assert body["totalResults"] == 3 and body["Resources"] == []
    body = scim.get("/Users", params={"sortBy": "userName", "startIndex": 3, "count": 5, "sortOrder": "descending"}).json()
    assert body["totalResults"] == 3 and names(body) == ["alovelace"]
