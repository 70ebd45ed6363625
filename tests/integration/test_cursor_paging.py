"""Cursor pagination (RFC 9865) through HTTP, on Azurite.

A walk by ``nextCursor`` returns every match once, in the order index
paging gives; ``previousCursor`` walks back through the same pages; a
forward page of an unfiltered list costs one storage read however deep;
cursors are sealed to the tenant and the query and expire (§2.4's errors);
any instance holding the signing key serves any page.
"""

from __future__ import annotations

import time

import pytest

from shared.scim.cursors import Position, binding
from shared.scim.http import Request
from tests.messages import GROUP, USER

def make_users(scim, names):
    return [scim.post("/Users", {"schemas": [USER], "userName": name}).json()["id"] for name in names]


def page(scim, path="/Users", **params):
    """One page by cursor: GET with query parameters, or POST .search with the same as a SearchRequest."""
    if path.endswith(".search"):
        body = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], **params}
        response = scim.post(path, body)
    else:
        response = scim.get(path, params=params)
    assert response.status_code == 200, response.text
    return response


def walk(scim, path="/Users", **params):
    """Every page from an empty cursor, following nextCursor; the responses' bodies."""
    bodies, cursor = [], ""
    while cursor is not None:
        body = page(scim, path, cursor=cursor, **params).json()
        bodies.append(body)
        cursor = body.get("nextCursor")
        assert len(bodies) < 100
    return bodies


def ids(bodies):
    return [r["id"] for body in bodies for r in body["Resources"]]


def index_ids(scim, path="/Users", **params):
    """Every match by index paging, one big page (the reference order)."""
    body = scim.get(path, params={**params, "count": 1000}).json()
    return [r["id"] for r in body["Resources"]]


def test_service_provider_config_advertises_both_methods(scim):
    pagination = scim.get("/ServiceProviderConfig").json()["pagination"]
    assert pagination == {"cursor": True, "index": True, "defaultPaginationMethod": "index",
                          "defaultPageSize": 100, "maxPageSize": 1000, "cursorTimeout": 3600}


def test_a_walk_by_next_cursor_returns_every_user_once_in_index_order(scim):
    make_users(scim, [f"walker{i:02}@example.com" for i in range(23)])
    bodies = walk(scim, count=5)
    assert [len(b["Resources"]) for b in bodies] == [5, 5, 5, 5, 3]
    assert ids(bodies) == index_ids(scim)
    assert bodies[0]["totalResults"] == 23 and "previousCursor" not in bodies[0]
    assert all("previousCursor" in b for b in bodies[1:]) and "nextCursor" not in bodies[-1]
    assert all(b["itemsPerPage"] == len(b["Resources"]) and "startIndex" not in b for b in bodies)
    assert all(set(c) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
               for b in bodies for c in (b.get("nextCursor", ""), b.get("previousCursor", "")))


def test_a_forward_page_of_a_list_costs_one_storage_read_however_deep(scim):
    make_users(scim, [f"deep{i:02}@example.com" for i in range(30)])
    cursor, costs = "", []
    while cursor is not None:
        response = page(scim, cursor=cursor, count=4)
        costs.append(scim.calls(response))
        cursor = response.json().get("nextCursor") if len(costs) < 20 else None
    assert costs == [1] * 8, costs


def test_previous_cursor_walks_back_through_the_same_pages(scim):
    make_users(scim, [f"back{i:02}@example.com" for i in range(17)])
    forward = walk(scim, count=4)
    backward, cursor = [forward[-1]], forward[-1]["previousCursor"]
    while cursor is not None:
        body = page(scim, cursor=cursor, count=4).json()
        backward.append(body)
        cursor = body.get("previousCursor") if len(backward) < 20 else None
    assert [ids([b]) for b in backward] == [ids([f]) for f in reversed(forward)]
    assert "nextCursor" in backward[-1]
    assert ids(walk(scim, count=4)) == ids(forward)


@pytest.mark.parametrize("path", ["/Users", "/Users/.search"])
def test_a_filtered_walk_matches_index_paging(scim, path):
    make_users(scim, [f"{'keep' if i % 3 else 'skip'}{i:02}@example.com" for i in range(25)])
    bodies = walk(scim, path, count=3, filter='userName sw "keep"')
    assert ids(bodies) == index_ids(scim, filter='userName sw "keep"') and len(ids(bodies)) == 16
    assert "totalResults" not in bodies[1]


@pytest.mark.parametrize("order", ["ascending", "descending"])
def test_a_sorted_walk_forward_and_back_matches_index_paging(scim, order):
    names = [f"{chr(ord('a') + (i * 7) % 26)}{i:02}@example.com" for i in range(15)] + ["same@example.com"]
    made = make_users(scim, names)
    scim.patch(f"/Users/{made[0]}", {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                                     "Operations": [{"op": "replace", "path": "displayName", "value": "Z"}]})
    params = {"sortBy": "userName", "sortOrder": order}
    bodies = walk(scim, count=4, **params)
    assert ids(bodies) == index_ids(scim, **params)
    assert all(b["totalResults"] == 16 for b in bodies)
    back = page(scim, cursor=bodies[-1]["previousCursor"], count=4, **params).json()
    assert ids([back]) == ids([bodies[-2]])


def test_the_root_search_walks_users_then_groups(scim):
    make_users(scim, [f"root{i}@example.com" for i in range(5)])
    for i in range(4):
        scim.post("/Groups", {"schemas": [GROUP], "displayName": f"root group {i}"})
    bodies = walk(scim, "/.search", count=3)
    types = [r["meta"]["resourceType"] for body in bodies for r in body["Resources"]]
    assert types == ["User"] * 5 + ["Group"] * 4 and len(set(ids(bodies))) == 9


def test_changes_between_pages_never_repeat_or_skip_a_survivor(scim):
    made = make_users(scim, [f"moving{i:02}@example.com" for i in range(12)])
    first = page(scim, cursor="", count=4).json()
    passed = ids([first])
    ahead = [i for i in sorted(made) if i not in passed]
    scim.delete(f"/Users/{passed[0]}")
    scim.delete(f"/Users/{ahead[0]}")
    rest, cursor = [], first["nextCursor"]
    while cursor is not None:
        body = page(scim, cursor=cursor, count=4).json()
        rest += ids([body])
        cursor = body.get("nextCursor") if len(rest) < 50 else None
    assert rest == ahead[1:]


def test_another_instance_serves_the_next_page(scim, scim_app):
    """Stateless: a service built afresh (another instance, the same key) continues the walk."""
    from shared.web.service import ScimService

    make_users(scim, [f"instance{i}@example.com" for i in range(6)])
    first = page(scim, cursor="", count=4).json()
    other = ScimService()
    url = f"{scim.base}/Users?cursor={first['nextCursor']}&count=4"
    response = other.handle(Request.build("GET", url, {"Authorization": f"Bearer {scim.token}"}, b""), "Users")
    assert response.status == 200, response.body
    assert [r["id"] for r in response.body["Resources"]] == index_ids(scim)[4:]


def _error(response, scim_type):
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["scimType"] == scim_type and body["status"] == "400"
    return body["detail"]


def test_a_tampered_cursor_is_invalid(scim):
    make_users(scim, [f"tamper{i}@example.com" for i in range(4)])
    cursor = page(scim, cursor="", count=2).json()["nextCursor"]
    payload, mac = cursor.split(".")
    flipped = payload[:-1] + ("A" if payload[-1] != "A" else "B")
    for bad in (f"{flipped}.{mac}", f"{payload}.{mac[:-2]}", "nonsense", "a.b.c", "x" * 3000, "bad%20cursor", "~~.~~"):
        _error(scim.get("/Users", params={"cursor": bad, "count": 2}), "invalidCursor")


def test_a_cursor_of_another_tenant_or_another_query_is_invalid(scim, other_tenant):
    make_users(scim, [f"mine{i}@example.com" for i in range(4)])
    make_users(other_tenant, [f"theirs{i}@example.com" for i in range(4)])
    cursor = page(scim, cursor="", count=2).json()["nextCursor"]
    _error(other_tenant.get("/Users", params={"cursor": cursor, "count": 2}), "invalidCursor")
    _error(scim.get("/Users", params={"cursor": cursor, "count": 2, "filter": 'userName sw "m"'}), "invalidCursor")
    _error(scim.get("/Groups", params={"cursor": cursor, "count": 2}), "invalidCursor")
    _error(scim.get("/Users", params={"cursor": cursor, "count": 2, "sortBy": "userName"}), "invalidCursor")
    again = page(scim, cursor=cursor, count=1, attributes="userName").json()  # projection and count may change
    assert [r["id"] for r in again["Resources"]] == index_ids(scim)[2:3]
    assert "meta" not in again["Resources"][0] and again["Resources"][0]["userName"].startswith("mine")


def test_an_expired_cursor_is_expired(scim, scim_app):
    made = make_users(scim, ["expiring@example.com", "expiring2@example.com"])
    codec = scim_app._get_service().resources.cursors
    bound = binding(scim.tenant_id, ["User"], None, None, False)
    stale = codec.issue(Position(0, sorted(made)[0]), bound, now=time.time() - codec.timeout_seconds - 5)
    fresh = codec.issue(Position(0, sorted(made)[0]), bound)
    assert "3600 s" in _error(scim.get("/Users", params={"cursor": stale, "count": 1}), "expiredCursor")
    assert ids([page(scim, cursor=fresh, count=1).json()]) == [sorted(made)[1]]


def test_cursor_and_start_index_together_are_refused(scim):
    response = scim.get("/Users", params={"cursor": "", "startIndex": 1})
    assert response.status_code == 400 and response.json()["scimType"] == "invalidValue"


def test_index_paging_is_unchanged_beside_cursors(scim):
    make_users(scim, [f"index{i}@example.com" for i in range(5)])
    body = scim.get("/Users", params={"startIndex": 2, "count": 2}).json()
    assert body["startIndex"] == 2 and body["totalResults"] == 5 and "nextCursor" not in body
    assert [r["id"] for r in body["Resources"]] == index_ids(scim)[1:3]


def test_without_a_signing_key_cursors_are_refused_and_not_advertised(scim, monkeypatch, scim_app):
    service = scim_app._get_service()
    monkeypatch.setattr(service.resources, "cursors", None)
    assert scim.get("/ServiceProviderConfig").json()["pagination"]["cursor"] is False
    assert "SCIM_TOKEN_SIGNING_KEY" in _error(scim.get("/Users", params={"cursor": ""}), "invalidCursor")


def test_a_client_written_against_rfc_9865_walks_both_ways(scim):
    """scim2-client (its RFC 9865 support, unchanged) discovers the service and pages by cursor."""
    import httpx2
    from scim2_client.engines.httpx2 import SyncSCIMClient
    from scim2_models import ListResponse, SearchRequest, User

    made = make_users(scim, [f"standard{i}@example.com" for i in range(7)])
    with httpx2.Client(base_url=scim.base, headers={"Authorization": f"Bearer {scim.token}"}) as http:
        client = SyncSCIMClient(http)
        client.discover()
        assert client.provider.config.pagination.cursor is True
        seen, cursor, pages = [], "", []
        while cursor is not None and len(pages) < 10:
            response = client.query(User, query_parameters=SearchRequest(cursor=cursor, count=3))
            assert isinstance(response, ListResponse)
            pages.append(response)
            seen += [user.id for user in response.resources or []]
            cursor = response.next_cursor
        back = client.query(User, query_parameters=SearchRequest(cursor=pages[-1].previous_cursor, count=3))
        searched = client.search(SearchRequest(cursor="", count=20))
    assert seen == sorted(made) and [u.id for u in back.resources] == seen[3:6]
    assert sorted(r.id for r in searched.resources) == sorted(made)


def test_walking_back_past_deleted_results_lands_on_the_first_page(scim):
    """A previousCursor whose page was deleted since answers the first page, not an empty end."""
    make_users(scim, [f"gone{i}@example.com" for i in range(7)])
    first = page(scim, cursor="", count=2).json()
    second = page(scim, cursor=first["nextCursor"], count=2).json()
    for resource in first["Resources"]:
        scim.delete(f"/Users/{resource['id']}")
    back = page(scim, cursor=second["previousCursor"], count=2).json()
    assert ids([back]) == index_ids(scim)[:2] == ids([second]) and "nextCursor" in back and "previousCursor" not in back


def test_count_zero_with_a_cursor_checks_the_cursor_and_gives_the_total(scim):
    make_users(scim, ["zero1@example.com", "zero2@example.com"])
    _error(scim.get("/Users", params={"cursor": "garbage!!", "count": 0}), "invalidCursor")
    cursor = page(scim, cursor="", count=1).json()["nextCursor"]
    body = page(scim, cursor=cursor, count=0).json()
    assert body["totalResults"] == 2 and body["Resources"] == [] and "startIndex" not in body


@pytest.mark.parametrize("variant", ["without_flag", "with_flag"])
def test_a_cursor_walk_sees_what_entra_s_patches_wrote_in_both_flag_modes(scim, variant):
    """Users disabled by Entra's PATCH, as sent without and with ``aadOptscim062020``,
    are what a cursor walk filtered on ``active`` returns, page by page."""
    from tests.integration.test_entra_flag_variants import DISABLE

    made = make_users(scim, [f"flag{i}@example.com" for i in range(9)])
    disabled = sorted(made)[::2]
    for uid in disabled:
        assert scim.patch(f"/Users/{uid}", DISABLE[variant]).status_code in (200, 204)
    assert ids(walk(scim, count=2, filter="active eq false")) == disabled
    assert ids(walk(scim, "/Users/.search", count=3, filter="active eq false")) == disabled
