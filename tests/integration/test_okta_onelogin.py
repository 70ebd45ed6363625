"""The requests Okta and OneLogin send to a custom SCIM 2.0 app, replayed over HTTP.

Request bodies, paths and headers are the vendors' published examples (the
bodies are facts; the user names, ids and one given name are this
service's: Okta's "Another" would be a personal value the suite's log scan
finds in every message that says "another").

Okta
  * "SCIM 2.0 protocol reference",
    https://developer.okta.com/docs/api/openapi/okta-scim/guides/scim-20
    (source: ``docs/reference/scim/scim-20/index.md`` in
    https://github.com/okta/okta-developer-docs): the existence check
    ``GET /Users?filter=userName eq "…"&startIndex=1&count=100`` (an empty
    ListResponse or a 404 both mean "not found"), the create body (with
    ``groups: []`` and ``password``), 409 for an existing user, paging by
    ``startIndex``/``count``, the profile update as a PUT of the whole user
    (``id``, ``meta``, ``groups`` and ``emails[].display`` echoed back),
    deactivation by a path-less ``replace`` of ``{"active": false}`` (200 with
    the user or 204), group push (``members: []``), the rename by a path-less
    ``replace`` of ``{"id", "displayName"}``, membership by ``remove`` with
    ``members[value eq "…"]`` plus ``add`` of ``{value, display}``, the full
    push by ``replace`` of ``members``, and the group DELETE (204).  Custom
    (App Integration Wizard) apps send every user change, deactivation
    included, as a PUT.
  * "Okta SCIM 2.0 SPEC Test" (Runscope),
    https://developer.okta.com/standards/SCIM/SCIMFiles/Okta-SCIM-20-SPEC-Test.json,
    from "Test your SCIM API",
    https://developer.okta.com/docs/guides/scim-provisioning-integration-prepare/main/#test-your-scim-api:
    its headers (``Content-Type: application/scim+json; charset=utf-8`` even
    on GET, ``application/json`` on POST), ``GET /Users?count=1&startIndex=1``
    with integer paging fields, 404 Error for an unknown id
    (``00919288221112222``), the create and recreate (409), the upper-case
    userName filter, and 401 Error for ``Authorization: non-token``.
  * "Test your Okta SCIM integration" (CRUD suite: deactivate, then
    reactivate), https://developer.okta.com/docs/guides/scim-provisioning-integration-test/main/

OneLogin
  * "Step 2. Implement RESTful SCIM APIs for Your App",
    https://developers.onelogin.com/scim/implement-scim-api: the calls it makes
    (userName filter, create, get by id, update, groups, delete user) and the
    initial connection, a userName filter for a user that does not exist,
    answered by an empty list or a 404.
  * The "SCIM Provisioner with SAML (SCIM v2 Enterprise)" connector
    (OneLogin KB0013904,
    https://onelogin.service-now.com/kb?id=kb_article_view&sysparm_article=KB0013904)
    and its SCIM JSON template as integrators publish it
    (https://www.livingsecurity.com/migration/support/configuring-scim-for-onelogin):
    enterprise URN in ``schemas``, ``emails`` with ``type``/``primary``,
    ``addresses`` without a ``type``, ``title``/``userType``/``timezone``,
    and ``manager`` as ``{value: external_manager_id, displayName}``.
  * OneLogin's sample SCIM server, https://github.com/onelogin/onelogin-scim-node:
    users are updated (``active`` included) by ``PUT /Users/{id}`` and
    removed by ``DELETE /Users/{id}``.
  * "Step 1. Define Your SCIM User Schema",
    https://developers.onelogin.com/scim/define-user-schema: the Core
    connector's template names ``urn:scim:schemas:core:1.0`` (SCIM 1.1).

Where this service answers differently from what the vendors' examples show
(README, "Okta and OneLogin", states each):
  * Group PATCH answers 204 No Content; Okta's page shows 200 with the group
    and says a 204 is also accepted.
  * A member's ``display`` (Okta sends the user's login in it) is ignored and
    never returned; Okta's example GET /Groups/{id} returns
    ``members[].display``.
  * ``password`` is accepted on create, stored only as a salted hash and never
    returned (``returned: never``); a PUT that omits it, as Okta's profile PUT
    does, keeps the stored hash.
  * A User's empty ``groups`` is not returned (an empty value is "unassigned",
    RFC 7643 §2.5); Okta's example responses show ``"groups": []``.  A new
    Group's ``"members": []`` is returned, as in Okta's example.
  * ``manager.displayName`` (readOnly, RFC 7643 §4.3) is dropped; OneLogin's
    template sends it.  ``manager.value`` is stored as sent, not checked
    against this tenant's ids, and its ``$ref`` names ``/Users/<value>``:
    OneLogin sends its own external manager id, not this service's id.
  * SCIM 1.1 bodies (OneLogin's Core connector, ``urn:scim:schemas:core:1.0``)
    are 400 ``invalidValue``: choose a "SCIM v2" OneLogin connector.
"""

from __future__ import annotations

import pytest

from tests.messages import (
    ENT,
    GROUP,
    USER,
    body_of,
    get_group,
    get_user,
    list_of,
    member_ids,
    no_content,
    patch_op,
    scim_error,
)

pytestmark = pytest.mark.memory_store  # about the protocol, not storage: tests/integration/conftest.py

# Headers of the Okta SCIM 2.0 SPEC test's GET requests (the User-Agent of the protocol reference).
OKTA_HEADERS = {
    "Accept": "application/scim+json",
    "Accept-Charset": "utf-8",
    "Content-Type": "application/scim+json; charset=utf-8",
    "User-Agent": "Okta SCIM Client 1.0.0",
}
OKTA_USER = "test.user@okta.local"
OKTA_PASSWORD = "1mz050nq"


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------


def okta(scim, method: str, path: str, body=None, headers=OKTA_HEADERS):
    """A request with Okta's headers."""
    return scim.request(method, path, body, headers=headers)


def okta_user(user_name: str = OKTA_USER, external_id: str = "00ujl29u0le5T6Aj10h7") -> dict:
    """The create body of the protocol reference."""
    return {
        "schemas": [USER],
        "userName": user_name,
        "name": {"givenName": "Test", "familyName": "User"},
        "emails": [{"primary": True, "value": user_name, "type": "work"}],
        "displayName": "Test User",
        "locale": "en-US",
        "externalId": external_id,
        "groups": [],
        "password": OKTA_PASSWORD,
        "active": True,
    }


def okta_create_user(scim, user_name: str = OKTA_USER, external_id: str = "00ujl29u0le5T6Aj10h7") -> dict:
    return body_of(okta(scim, "POST", "/Users", okta_user(user_name, external_id)), 201)


def okta_existence_filter(scim, user_name: str) -> dict:
    """Okta's check before a create, URL-encoded as Okta sends it."""
    quoted = user_name.replace("@", "%40")
    return list_of(okta(scim, "GET", f"/Users?filter=userName%20eq%20%22{quoted}%22&startIndex=1&count=100"))


def okta_push_group(scim, display_name: str = "Test SCIMv2") -> dict:
    return body_of(okta(scim, "POST", "/Groups", {"schemas": [GROUP], "displayName": display_name, "members": []}), 201)


def okta_add_members(scim, gid: str, *members: dict) -> None:
    """Okta's member add (``members`` objects as given); 204."""
    add = patch_op({"op": "add", "path": "members", "value": list(members)})
    no_content(okta(scim, "PATCH", f"/Groups/{gid}", add))


def okta_set_active(active: bool) -> dict:
    """Okta's (de)activation PATCH: a path-less replace of ``active``."""
    return patch_op({"op": "replace", "value": {"active": active}})


def onelogin_user(user_name: str, manager_id: str, active: bool = True, title: str = "Engineer") -> dict:
    """The SCIM v2 Enterprise connector's template, filled in, with the ``active`` OneLogin adds."""
    return {
        "schemas": [USER, ENT],
        "userName": user_name,
        "name": {"familyName": "Slater", "givenName": "Kelly"},
        "title": title,
        "userType": "Employee",
        "timezone": "America/Los_Angeles",
        "emails": [{"value": user_name, "type": "work", "primary": True}],
        "addresses": [{"locality": "Cocoa Beach", "region": "FL", "country": "US"}],
        ENT: {
            "organization": "Acme",
            "division": "Platform",
            "department": "Identity",
            "manager": {"value": manager_id, "displayName": "Ada Lovelace"},
        },
        "active": active,
    }


# ---------------------------------------------------------------------------
# Okta: users
# ---------------------------------------------------------------------------


def test_okta_creates_a_user_after_its_existence_filter_finds_none(scim):
    """Existence filter → empty ListResponse; POST of Okta's body → 201 with the user, no password."""
    none = okta_existence_filter(scim, OKTA_USER)
    assert none["totalResults"] == 0 and none["Resources"] == []

    created = okta_create_user(scim)
    assert USER in created["schemas"]
    assert created["id"] and created["userName"] == OKTA_USER and created["active"] is True
    assert created["name"] == {"givenName": "Test", "familyName": "User"}
    assert created["emails"] == [{"primary": True, "value": OKTA_USER, "type": "work"}]
    assert created["locale"] == "en-US" and created["externalId"] == "00ujl29u0le5T6Aj10h7"
    assert "password" not in created, "password is writeOnly, returned never"
    assert "groups" not in created, "an empty groups is unassigned and not echoed"

    found = okta_existence_filter(scim, OKTA_USER)
    assert found["totalResults"] == 1
    assert [u["id"] for u in found["Resources"]] == [created["id"]]
    assert "password" not in found["Resources"][0]


def test_okta_recreating_a_user_is_a_409_and_its_userName_matches_in_any_case(scim):
    """SPEC test: the create sent again (as application/json) is 409; the upper-case userName filter finds it."""
    json_headers = {"Content-Type": "application/json", "Accept": "application/scim+json; charset=utf-8"}
    spec_user = {
        "schemas": [USER], "userName": OKTA_USER, "name": {"givenName": "Test", "familyName": "User"},
        "emails": [{"primary": True, "value": OKTA_USER, "type": "work"}], "displayName": "Test User", "active": True,
    }
    uid = body_of(okta(scim, "POST", "/Users", spec_user, json_headers), 201)["id"]
    scim_error(okta(scim, "POST", "/Users", spec_user, json_headers), 409, "uniqueness")

    caps = list_of(okta(scim, "GET", f'/Users?filter=userName eq "{OKTA_USER.upper()}"'))
    assert [u["id"] for u in caps["Resources"]] == [uid], "userName is caseExact false (RFC 7643 §4.1.1)"


def test_okta_pages_users_by_startIndex_and_count(scim):
    """Okta's import: GET /Users?startIndex=&count=, integer paging fields, one stable order across pages."""
    ids = {okta_create_user(scim, f"user{n}@okta.local", f"00u{n}")["id"] for n in range(3)}

    first = list_of(okta(scim, "GET", "/Users?count=1&startIndex=1"))
    resource = first["Resources"][0]
    assert resource["id"] and resource["userName"] and resource["active"] is True
    assert resource["name"]["givenName"] and resource["name"]["familyName"] and resource["emails"][0]["value"]

    page1 = list_of(okta(scim, "GET", "/Users?startIndex=1&count=2"))
    page2 = list_of(okta(scim, "GET", "/Users?startIndex=3&count=2"))
    for page, start, size in ((page1, 1, 2), (page2, 3, 1)):
        assert page["totalResults"] == 3 and page["startIndex"] == start and page["itemsPerPage"] == size
        assert all(type(page[k]) is int for k in ("totalResults", "startIndex", "itemsPerPage"))
        assert len(page["Resources"]) == size
    paged = [u["id"] for u in page1["Resources"] + page2["Resources"]]
    assert len(paged) == 3 and set(paged) == ids


def test_okta_unknown_user_is_a_404_and_a_bad_token_a_401_scim_error(scim):
    """SPEC test: GET of unknown ids → 404 Error with a detail; ``Authorization: non-token`` → 401 Error."""
    for unknown in ("00919288221112222", "user-that-does-not-exist", "23a35c27-23d3-4c03-b4c5-6443c09e7173"):
        scim_error(okta(scim, "GET", f"/Users/{unknown}"), 404)
    scim_error(okta(scim, "GET", f'/Users?filter=userName eq "{OKTA_USER}"',
                    headers={**OKTA_HEADERS, "Authorization": "non-token"}), 401)


def test_okta_replaces_a_profile_by_a_put_of_the_whole_user(scim):
    """GET, then PUT of the user as read with changes, echoing id, meta, groups and emails[].display: 200, changed."""
    created = okta_create_user(scim)
    uid = created["id"]
    read = body_of(okta(scim, "GET", f"/Users/{uid}"), 200)
    assert read["id"] == uid and read["name"]["givenName"] == "Test"

    put = {
        "schemas": [USER],
        "id": uid,
        "userName": OKTA_USER,
        "name": {"givenName": "Anotherly", "middleName": "Excited", "familyName": "User"},
        "emails": [{"primary": True, "value": OKTA_USER, "type": "work", "display": OKTA_USER}],
        "active": True,
        "groups": [],
        "meta": {"resourceType": "User"},
    }
    updated = body_of(okta(scim, "PUT", f"/Users/{uid}", put), 200)
    assert updated["id"] == uid
    assert updated["name"] == {"givenName": "Anotherly", "middleName": "Excited", "familyName": "User"}
    assert updated["emails"] == [{"primary": True, "value": OKTA_USER, "type": "work", "display": OKTA_USER}]
    assert updated["active"] is True
    assert "password" not in updated
    assert updated["meta"]["created"] == created["meta"]["created"]
    assert "locale" not in updated and "externalId" not in updated, "PUT replaces: what it omits is cleared"
    assert get_user(scim, uid)["name"]["middleName"] == "Excited"


def test_okta_deactivates_by_a_path_less_replace_of_active(scim):
    """Okta's deactivation PATCH → 200 with the user, ``active: false``; the user stays (soft delete)."""
    uid = okta_create_user(scim)["id"]
    user = body_of(okta(scim, "PATCH", f"/Users/{uid}", okta_set_active(False)), 200)
    assert user["id"] == uid and user["active"] is False
    assert get_user(scim, uid)["active"] is False
    found = okta_existence_filter(scim, OKTA_USER)
    assert [(u["id"], u["active"]) for u in found["Resources"]] == [(uid, False)]


def test_okta_reactivates_by_a_path_less_replace_of_active_true(scim):
    """CRUD suite: deactivate, then reactivate by the same PATCH with ``true``; the profile is kept."""
    uid = okta_create_user(scim)["id"]
    body_of(okta(scim, "PATCH", f"/Users/{uid}", okta_set_active(False)), 200)
    user = body_of(okta(scim, "PATCH", f"/Users/{uid}", okta_set_active(True)), 200)
    assert user["active"] is True
    stored = get_user(scim, uid)
    assert stored["active"] is True and stored["name"] == {"givenName": "Test", "familyName": "User"}


# ---------------------------------------------------------------------------
# Okta: group push
# ---------------------------------------------------------------------------


def test_okta_pushes_a_group_and_finds_it_by_its_displayName_filter(scim):
    """POST /Groups with ``members: []`` → 201; GET /Groups?filter=displayName eq … finds it."""
    group = okta_push_group(scim)
    assert GROUP in group["schemas"] and group["id"] and group["displayName"] == "Test SCIMv2"
    assert group["members"] == [], "as in Okta's example response"

    found = list_of(okta(scim, "GET", '/Groups?filter=displayName eq "Test SCIMv2"&startIndex=1&count=100'))
    assert [g["id"] for g in found["Resources"]] == [group["id"]]
    listed = list_of(okta(scim, "GET", "/Groups?startIndex=1&count=100"))
    assert [g["id"] for g in listed["Resources"]] == [group["id"]]


def test_okta_renames_a_group_by_a_path_less_replace_carrying_its_id(scim):
    """The rename PATCH with ``value: {id, displayName}`` → 204 (the readOnly id is ignored); members kept."""
    uid = okta_create_user(scim)["id"]
    gid = okta_push_group(scim)["id"]
    okta_add_members(scim, gid, {"value": uid, "display": OKTA_USER})

    no_content(okta(scim, "PATCH", f"/Groups/{gid}", patch_op(
        {"op": "replace", "value": {"id": gid, "displayName": "Test SCIMv20"}})))
    group = get_group(scim, gid)
    assert group["id"] == gid and group["displayName"] == "Test SCIMv20"
    assert member_ids(group) == {uid}


def test_okta_removes_a_member_by_a_value_filter_and_adds_one_with_a_display(scim):
    """Okta's membership PATCH (remove ``members[value eq …]``, add ``{value, display}``) → 204; display dropped."""
    leaver = okta_create_user(scim, "leaver@okta.local", "00uleaver")["id"]
    joiner = okta_create_user(scim)["id"]
    gid = okta_push_group(scim)["id"]
    okta_add_members(scim, gid, {"value": leaver})

    no_content(okta(scim, "PATCH", f"/Groups/{gid}", patch_op(
        {"op": "remove", "path": f'members[value eq "{leaver}"]'},
        {"op": "add", "path": "members", "value": [{"value": joiner, "display": OKTA_USER}]},
    )))
    group = get_group(scim, gid)
    assert member_ids(group) == {joiner}
    assert all("display" not in m for m in group["members"]), "members[].display is returned never"


def test_okta_full_push_replaces_all_members(scim):
    """Okta's full membership push, ``replace`` of ``members`` → 204; exactly the listed members remain."""
    kept, added, dropped = (okta_create_user(scim, f"{n}@okta.local", f"00u{n}")["id"]
                            for n in ("kept", "added", "dropped"))
    gid = okta_push_group(scim)["id"]
    okta_add_members(scim, gid, {"value": kept}, {"value": dropped})

    no_content(okta(scim, "PATCH", f"/Groups/{gid}", patch_op({"op": "replace", "path": "members", "value": [
        {"value": kept, "display": "kept@okta.local"}, {"value": added, "display": "added@okta.local"}]})))
    assert member_ids(get_group(scim, gid)) == {kept, added}


def test_okta_deletes_an_unlinked_group(scim):
    """"Unlink pushed group" with delete → DELETE /Groups/{id} → 204; then 404; the member user stays."""
    uid = okta_create_user(scim)["id"]
    gid = okta_push_group(scim)["id"]
    okta_add_members(scim, gid, {"value": uid})

    no_content(okta(scim, "DELETE", f"/Groups/{gid}"))
    scim_error(okta(scim, "GET", f"/Groups/{gid}"), 404)
    assert "groups" not in get_user(scim, uid)


# ---------------------------------------------------------------------------
# OneLogin
# ---------------------------------------------------------------------------


def test_onelogin_creates_an_enterprise_user_from_its_scim_v2_template(scim):
    """Initial-connection filter finds none; POST of the v2 Enterprise template → 201; manager.displayName dropped."""
    none = list_of(scim.get("/Users", params={"filter": 'userName eq "onelogin-connection-check@example.com"'}))
    assert none["totalResults"] == 0 and none["Resources"] == []

    external_manager_id = "48591234"  # OneLogin's own id of the manager, not one of this tenant's
    created = body_of(scim.post("/Users", onelogin_user("kelly.slater@example.com", external_manager_id)), 201)
    assert set(created["schemas"]) == {USER, ENT}
    assert created["title"] == "Engineer" and created["userType"] == "Employee"
    assert created["timezone"] == "America/Los_Angeles"
    assert created["addresses"] == [{"locality": "Cocoa Beach", "region": "FL", "country": "US"}]
    enterprise = created[ENT]
    assert [enterprise[k] for k in ("organization", "division", "department")] == ["Acme", "Platform", "Identity"]
    assert enterprise["manager"]["value"] == external_manager_id, "stored as sent, not checked"
    assert enterprise["manager"]["$ref"].endswith(f"/Users/{external_manager_id}")
    assert "displayName" not in enterprise["manager"], "manager.displayName is readOnly"

    found = list_of(scim.get("/Users", params={"filter": 'userName eq "kelly.slater@example.com"'}))
    assert [u["id"] for u in found["Resources"]] == [created["id"]]


def test_onelogin_updates_deactivates_and_reactivates_by_put(scim):
    """``PUT /Users/{id}`` of the whole template: a change, then ``active: false``, then ``true`` again."""
    manager = body_of(scim.post("/Users", onelogin_user("ada@example.com", "1")), 201)["id"]
    uid = body_of(scim.post("/Users", onelogin_user("kelly.slater@example.com", manager)), 201)["id"]

    updated = body_of(scim.put(f"/Users/{uid}", onelogin_user("kelly.slater@example.com", manager, title="Lead")), 200)
    assert updated["title"] == "Lead" and updated["active"] is True
    assert updated[ENT]["manager"]["value"] == manager

    off = body_of(scim.put(f"/Users/{uid}", onelogin_user("kelly.slater@example.com", manager, False, "Lead")), 200)
    assert off["active"] is False and get_user(scim, uid)["active"] is False
    on = body_of(scim.put(f"/Users/{uid}", onelogin_user("kelly.slater@example.com", manager, True, "Lead")), 200)
    assert on["active"] is True and on["title"] == "Lead"


def test_onelogin_deletes_a_user_and_its_memberships(scim):
    """``DELETE /Users/{id}`` → 204; the user is gone (404) and no longer a member of its group."""
    stays = body_of(scim.post("/Users", onelogin_user("stays@example.com", "1")), 201)["id"]
    leaves = body_of(scim.post("/Users", onelogin_user("leaves@example.com", "1")), 201)["id"]
    gid = body_of(scim.post("/Groups", {"schemas": [GROUP], "displayName": "Contractors", "members": [
        {"value": stays}, {"value": leaves}]}), 201)["id"]

    no_content(scim.delete(f"/Users/{leaves}"))
    scim_error(scim.get(f"/Users/{leaves}"), 404)
    assert member_ids(get_group(scim, gid)) == {stays}


def test_onelogin_scim_1_1_core_template_is_refused(scim):
    """The Core connector's SCIM 1.1 body (``urn:scim:schemas:core:1.0``) → 400 invalidValue naming the schema."""
    body = {
        "schemas": ["urn:scim:schemas:core:1.0"],
        "userName": "kelly.slater@example.com",
        "name": {"givenName": "Kelly", "familyName": "Slater", "formatted": "Kelly Slater"},
    }
    error = scim_error(scim.post("/Users", body), 400, "invalidValue")
    assert "urn:scim:schemas:core:1.0" in error["detail"]
    assert list_of(scim.get("/Users"))["totalResults"] == 0
