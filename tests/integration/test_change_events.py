"""Change events (RFC 9967 SETs) made by real SCIM requests, read through the
poll feed (RFC 8936) and verified with the published key set (RFC 7517).

Every SET is checked the way a consumer written against the standards
would: the JWK Set from ``/.well-known/jwks.json``, the key its ``kid``
names, RS256, ``typ`` ``secevent+jwt``, ``iss`` (the SCIM base URL), ``aud``
(the tenant id by default), and its ``txn`` is the ``X-Request-Id`` of the
request that made the change.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time

import jwt
import pytest
import requests

from shared.scim.ids import USER as USER_KIND, new_id
from tests.integration.conftest import events_client
from tests.log_scan import LOG_CAPTURE
from tests.messages import GROUP, PATCH, USER, patch_op

EVENT = "urn:ietf:params:scim:event:prov:"
CREATE, PUT_, PATCH_, DELETE = EVENT + "create:notice", EVENT + "put:notice", EVENT + "patch:notice", EVENT + "delete"
ACTIVATE, DEACTIVATE = EVENT + "activate", EVENT + "deactivate"


@pytest.fixture
def feed(scim, backend):
    return events_client(backend[0], backend[1], scim.tenant_id)


def poll(feed, body=None, status=200):
    response = feed.post("/Events", {"returnImmediately": True} if body is None else body)
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    return response.json()


def verified(scim, sets: dict[str, str]) -> list[dict]:
    """The claims of each SET, verified as a standard consumer would, in the order received."""
    keys = requests.get(scim.base + "/.well-known/jwks.json", timeout=10).json()
    by_kid = {key["kid"]: jwt.PyJWK(key) for key in keys["keys"]}
    claims = []
    for jti, token in sets.items():
        header = jwt.get_unverified_header(token)
        assert header["typ"] == "secevent+jwt" and header["alg"] == "RS256"
        decoded = jwt.decode(token, by_kid[header["kid"]], algorithms=["RS256"], audience=scim.tenant_id,
                             issuer=scim.base, options={"require": ["iss", "iat", "jti", "aud"]})
        assert decoded["jti"] == jti and "sub" not in decoded
        claims.append(decoded)
    return claims


def drain(scim, feed) -> list[dict]:
    """Every pending event, verified and acknowledged."""
    answer = poll(feed)
    claims = verified(scim, answer["sets"])
    if claims:
        poll(feed, {"ack": [c["jti"] for c in claims], "maxEvents": 0, "returnImmediately": True})
    return claims


def user(user_name: str, **extra) -> dict:
    return {"schemas": [USER], "userName": user_name, **extra}


def test_every_change_of_a_user_is_one_verified_set_with_its_request_id(scim, feed):
    created = scim.post("/Users", user("ev@example.com", externalId="e-ev", active=True, password="Secret-123!"))
    uid = created.json()["id"]
    replaced = scim.put(f"/Users/{uid}", user("ev@example.com", externalId="e-ev", active=True, displayName="Ev"))
    patched = scim.patch(f"/Users/{uid}", patch_op({"op": "Replace", "path": "active", "value": "False"}))
    deleted = scim.delete(f"/Users/{uid}")
    events = drain(scim, feed)
    assert [c["txn"] for c in events] == [r.headers["X-Request-Id"] for r in (created, replaced, patched, deleted)]
    assert all(c["sub_id"] == {"format": "scim", "uri": f"/Users/{uid}", "externalId": "e-ev"} for c in events)
    create, put, patch, delete = (c["events"] for c in events)
    assert set(create) == {CREATE, ACTIVATE}
    assert create[CREATE]["attributes"] == ["id", "active", "externalId", "password", "userName"]
    assert set(put) == {PUT_} and put[PUT_]["attributes"] == ["displayName"]
    assert set(patch) == {PATCH_, DEACTIVATE} and patch[PATCH_]["attributes"] == ["active"]
    assert set(delete) == {DELETE}
    versions = [c["events"][next(iter(c["events"]))]["version"] for c in events]
    assert versions[1] == replaced.headers["ETag"] and versions[2] == patched.headers["ETag"]
    assert versions == sorted(versions) and len(set(versions)) == 4  # a consumer orders by meta.version


def test_membership_changes_name_the_members_they_add_and_remove(scim, feed):
    uids = [scim.post("/Users", user(f"m{i}")).json()["id"] for i in range(3)]
    gid = scim.post("/Groups", {"schemas": [GROUP], "displayName": "crew", "members": [{"value": uids[0]}]}).json()["id"]
    scim.patch(f"/Groups/{gid}", patch_op({"op": "Add", "path": "members", "value": [{"value": u} for u in uids[1:]]}))
    scim.patch(f"/Groups/{gid}", patch_op({"op": "Remove", "path": "members", "value": [{"value": uids[0]}]}))
    group_events = [c for c in drain(scim, feed) if c["sub_id"]["uri"] == f"/Groups/{gid}"]
    create, add, remove = (c["events"] for c in group_events)
    assert create[CREATE]["members"] == {"added": [uids[0]], "removed": []}
    assert add[PATCH_] == {"attributes": ["members"], "version": add[PATCH_]["version"],
                           "members": {"added": uids[1:], "removed": []}}
    assert remove[PATCH_]["members"] == {"added": [], "removed": [uids[0]]}


def test_a_request_that_changes_nothing_emits_nothing(scim, feed):
    uid = scim.post("/Users", user("same", active=True)).json()["id"]
    gid = scim.post("/Groups", {"schemas": [GROUP], "displayName": "g", "members": [{"value": uid}]}).json()["id"]
    drain(scim, feed)
    disable = patch_op({"op": "Replace", "path": "active", "value": "False"})
    assert scim.patch(f"/Users/{uid}", disable).status_code == 200
    assert len(drain(scim, feed)) == 1
    assert scim.patch(f"/Users/{uid}", disable).status_code == 200  # Entra replays it
    assert scim.put(f"/Users/{uid}", user("same", active=False)).status_code == 200
    add = patch_op({"op": "Add", "path": "members", "value": [{"value": uid}]})
    assert scim.patch(f"/Groups/{gid}", add).status_code == 204  # already a member
    absent = patch_op({"op": "Remove", "path": "members", "value": [{"value": new_id(USER_KIND)}]})
    assert scim.patch(f"/Groups/{gid}", absent).status_code == 204  # not a member
    assert drain(scim, feed) == []


def test_a_large_member_add_emits_one_event_per_transaction_each_naming_its_members(scim, feed):
    uids = [scim.post("/Users", user(f"big{i}")).json()["id"] for i in range(40)]
    gid = scim.post("/Groups", {"schemas": [GROUP], "displayName": "big"}).json()["id"]
    drain(scim, feed)
    add = patch_op({"op": "Add", "path": "members", "value": [{"value": u} for u in uids]})
    response = scim.patch(f"/Groups/{gid}", add)
    events = drain(scim, feed)
    assert len(events) == 2 and {c["txn"] for c in events} == {response.headers["X-Request-Id"]}
    assert [c["events"][PATCH_]["members"]["added"] for c in events] == [uids[:32], uids[32:]]
    final = scim.get(f"/Groups/{gid}", params={"excludedAttributes": "members"}).headers["ETag"]
    assert events[-1]["events"][PATCH_]["version"] == final


def test_full_events_carry_the_data_never_the_password(scim, feed, backend):
    backend[1].set_event_settings(scim.tenant_id, form="full", audience="https://app.example.com")
    time.sleep(0)  # the settings reach the credential cache of a new credential below
    full_feed = events_client(backend[0], backend[1], scim.tenant_id)
    scim_full = type(scim)(scim.base, backend[1].issue_token(scim.tenant_id)[1])
    scim_full.tenant_id = scim.tenant_id
    uid = scim_full.post("/Users", user("full@example.com", password="Secret-123!", name={"givenName": "F"})).json()["id"]
    scim_full.patch(f"/Users/{uid}", patch_op({"op": "Replace", "path": "name.givenName", "value": "G"},
                                              {"op": "Replace", "path": "password", "value": "Other-456!"}))
    answer = poll(full_feed)
    keys = {k["kid"]: jwt.PyJWK(k) for k in requests.get(scim.base + "/.well-known/jwks.json", timeout=10).json()["keys"]}
    claims = [jwt.decode(t, keys[jwt.get_unverified_header(t)["kid"]], algorithms=["RS256"],
                         audience="https://app.example.com") for t in answer["sets"].values()]
    create = claims[0]["events"][EVENT + "create:full"]["data"]
    assert create["userName"] == "full@example.com" and "password" not in create and create["id"] == uid
    patch = claims[1]["events"][EVENT + "patch:full"]
    assert patch["data"] == {"schemas": [PATCH], "Operations": [
        {"op": "replace", "path": "name", "value": {"givenName": "G"}}]}
    assert "Secret" not in str(claims) and "Other" not in str(claims)


def test_poll_acknowledges_redelivers_and_keeps_the_order_of_each_resource(scim, feed):
    uid = scim.post("/Users", user("order")).json()["id"]
    for i in range(5):
        scim.patch(f"/Users/{uid}", patch_op({"op": "Replace", "path": "displayName", "value": f"n{i}"}))
    first = poll(feed, {"returnImmediately": True, "maxEvents": 2})
    assert len(first["sets"]) == 2 and first["moreAvailable"] is True
    again = poll(feed, {"returnImmediately": True, "maxEvents": 2})
    assert again["sets"] == first["sets"]  # not acknowledged: sent again, the same SETs
    acked = list(first["sets"])
    rest = poll(feed, {"returnImmediately": True, "ack": acked})
    assert not set(acked) & set(rest["sets"]) and len(rest["sets"]) == 4 and rest["moreAvailable"] is False
    versions = [c["events"][next(iter(c["events"]))]["version"] for c in verified(scim, {**first["sets"], **rest["sets"]})]
    assert versions == sorted(versions)
    errors = {jti: {"err": "invalid_key", "description": "not for us"} for jti in rest["sets"]}
    assert poll(feed, {"returnImmediately": True, "setErrs": errors, "ack": acked}) == {"sets": {}, "moreAvailable": False}


def test_a_long_poll_returns_when_a_change_commits(scim, feed):
    """The poll answers when the change commits, before its bound (2 s
    here).  A POST that itself takes most of the bound (a loaded machine:
    Azurite slows down as the suite's table grows) proves nothing either
    way, so the case is tried again, at most three times."""
    for attempt in range(3):
        drain(scim, feed)
        posted: list[float] = []
        timer = threading.Timer(0.5, lambda: (scim.post("/Users", user(f"late{attempt}")), posted.append(time.monotonic())))
        started = time.monotonic()
        timer.start()
        answer = poll(feed, {"maxEvents": 10})
        answered = time.monotonic()
        timer.join()
        if posted[0] - started < 1.5:  # committed well inside the poll's bound: conclusive
            break
    else:
        pytest.fail("three times the POST took most of the poll's bound: the machine is too loaded to tell")
    assert len(answer["sets"]) == 1 and answered - started < 2.0
    empty_started = time.monotonic()
    assert poll(feed, {"maxEvents": 10, "ack": list(answer["sets"])})["sets"] == {}
    assert 1.5 <= time.monotonic() - empty_started < 10  # waited its bound (2 s here), then answered empty


def test_tenants_see_only_their_own_events(scim, feed, other_tenant, backend):
    scim.post("/Users", user("mine"))
    other_tenant.post("/Users", user("theirs"))
    other_feed = events_client(backend[0], backend[1], other_tenant.tenant_id)
    mine, theirs = poll(feed)["sets"], poll(other_feed)["sets"]
    assert len(mine) == len(theirs) == 1 and not set(mine) & set(theirs)
    assert poll(other_feed, {"returnImmediately": True, "ack": list(mine)})["sets"] == theirs  # acks of others' jtis do nothing
    assert poll(feed)["sets"] == mine


def test_each_credential_keeps_to_its_scope(scim, feed):
    refused = scim.post("/Events", {"returnImmediately": True})
    assert refused.status_code == 403 and refused.json()["err"] == "access_denied"
    for method, path in (("GET", "/Users"), ("POST", "/Users"), ("GET", "/Groups"), ("POST", "/.search")):
        response = feed.request(method, path, {"schemas": [USER], "userName": "x"} if method == "POST" else None)
        assert response.status_code == 403, (method, path, response.text)
        assert response.json()["status"] == "403"
    assert feed.get("/ServiceProviderConfig").status_code == 200


@pytest.mark.parametrize("body", [
    [], "x", {"maxEvents": -1}, {"maxEvents": "3"}, {"maxEvents": True}, {"returnImmediately": "yes"},
    {"ack": "abc"}, {"ack": [1]}, {"setErrs": []}, {"setErrs": {"a": "b"}}, {"setErrs": {"a": {"description": "x"}}},
])
def test_a_malformed_poll_is_a_400_with_an_rfc_8935_error(feed, body):
    answer = poll(feed, body, status=400)
    assert answer["err"] == "invalid_request" and answer["description"]


def test_the_key_set_needs_no_credential_and_names_the_signing_key(scim, feed):
    scim.post("/Users", user("kid"))
    token = next(iter(poll(feed)["sets"].values()))
    keys = requests.get(scim.base + "/.well-known/jwks.json", timeout=10)
    assert keys.status_code == 200 and keys.headers["Content-Type"].startswith("application/json")
    assert jwt.get_unverified_header(token)["kid"] in {k["kid"] for k in keys.json()["keys"]}
    assert all(k["kty"] == "RSA" and k["use"] == "sig" and "d" not in k for k in keys.json()["keys"])


def test_an_oauth_client_with_the_events_scope_gets_a_token_for_the_feed_only(scim, backend):
    base, registry = backend
    client_id, secret = registry.issue_client(scim.tenant_id, "events")
    LOG_CAPTURE.secrets.add(secret)
    issued = requests.post(base + "/oauth/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret),
                           timeout=10)
    assert issued.status_code == 200 and issued.json()["scope"] == "events"
    LOG_CAPTURE.secrets.add(issued.json()["access_token"])
    feed = type(scim)(base, issued.json()["access_token"])
    scim.post("/Users", user("via-oauth-feed"))
    assert len(poll(feed)["sets"]) == 1
    assert feed.get("/Users").status_code == 403


def test_during_a_key_rotation_both_keys_are_listed_and_sets_name_the_new_one(scim_app):
    from shared.scim.http import Request
    from shared.web.service import ScimService
    from tests.integration.conftest import rsa_private_pem

    running = scim_app._get_service()
    old = running.settings.token_signing_key
    rotated = ScimService(dataclasses.replace(running.settings, token_signing_key=rsa_private_pem(),
                                              token_signing_key_previous=old), running.tables)
    listed = rotated.handle(Request.build("GET", "http://127.0.0.1/scim/v2/.well-known/jwks.json", {}, b""),
                            ".well-known/jwks.json").body["keys"]
    assert [k["kid"] for k in listed] == [rotated.keys.key_id, running.keys.key_id]
    token = rotated.keys.sign({"iss": "x"}, typ="secevent+jwt")
    assert jwt.get_unverified_header(token)["kid"] == rotated.keys.key_id


def test_membership_versions_follow_commit_order_even_against_a_clock_ahead(scim, feed, scim_app, monkeypatch):
    """A membership change reads the group's version first: after another
    instance, whose clock is 10 minutes ahead, changed the group, this one's
    change still gets a later version, so a consumer ordering by version
    applies both, in their commit order."""
    from shared.scim import records
    from shared.storage.event_rows import EventContext
    from shared.storage.table_store import TenantStore
    from tests.integration.store_state import resources_table

    uids = [scim.post("/Users", user(f"clock{i}")).json()["id"] for i in range(2)]
    gid = scim.post("/Groups", {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "clocks"}).json()["id"]
    drain(scim, feed)
    ahead = records.time.time_ns() + 600 * 10**9
    with monkeypatch.context() as patched:  # "another instance": its clock, its own last version
        patched.setattr(records.time, "time_ns", lambda: ahead)
        patched.setattr(records, "_last_micros", 0)
        store = TenantStore(resources_table(scim_app), scim.tenant_id, EventContext("other-instance", "token:x", scim.base))
        store.add_members(gid, [records.Member(uids[0])])
    monkeypatch.setattr(records, "_last_micros", 0)  # this instance has never seen that clock
    scim.patch(f"/Groups/{gid}", patch_op({"op": "Add", "path": "members", "value": [{"value": uids[1]}]}))
    events = drain(scim, feed)
    assert [e["txn"] for e in events] == ["other-instance", events[1]["txn"]]
    versions = [e["events"][PATCH_]["version"] for e in events]
    assert versions[0] < versions[1]
    assert scim.get(f"/Groups/{gid}", params={"excludedAttributes": "members"}).headers["ETag"] == versions[1]


def test_full_events_of_an_extension_never_carry_what_is_never_returned(scim, backend):
    """A registered extension's writeOnly values (and sub-attributes) stay out of ``:full`` data, as out of responses."""
    from shared.scim.extensions import with_extension

    urn = "urn:ietf:params:scim:schemas:extension:Contoso:2.0:User"
    never = {"mutability": "writeOnly", "returned": "never"}
    document = {"id": urn, "name": "ContosoUser", "attributes": [
        {"name": "costCenter", "type": "string", "multiValued": False},
        {"name": "secret", "type": "string", "multiValued": False, **never},
        {"name": "tags", "type": "complex", "multiValued": True, "subAttributes": [
            {"name": "value", "type": "string", "multiValued": False},
            {"name": "pin", "type": "string", "multiValued": False, **never}]}]}
    registry = backend[1]
    registry.change_extensions(scim.tenant_id, lambda current: with_extension(current, document))
    registry.set_event_settings(scim.tenant_id, form="full", audience="https://app.example.com")
    full_feed = events_client(backend[0], registry, scim.tenant_id)
    client = type(scim)(scim.base, registry.issue_token(scim.tenant_id)[1])  # a new credential: the new settings
    hidden = {"secret": "TOPSECRET1", "tags": [{"value": "t", "pin": "PIN1"}]}
    made = client.post("/Users", user("hidden@example.com", schemas=[USER, urn], **{urn: {"costCenter": "C", **hidden}}))
    assert made.status_code == 201, made.text
    assert made.json()[urn] == {"costCenter": "C", "tags": [{"value": "t"}]}
    uid = made.json()["id"]
    client.patch(f"/Users/{uid}", patch_op({"op": "replace", "value": {f"{urn}:secret": "TOPSECRET2", f"{urn}:costCenter": "D"}}))
    client.put(f"/Users/{uid}", user("hidden@example.com", schemas=[USER, urn], **{urn: {"costCenter": "E", **hidden}}))
    answer = poll(full_feed)
    keys = {k["kid"]: jwt.PyJWK(k) for k in requests.get(scim.base + "/.well-known/jwks.json", timeout=10).json()["keys"]}
    claims = [jwt.decode(t, keys[jwt.get_unverified_header(t)["kid"]], algorithms=["RS256"],
                         audience="https://app.example.com") for t in answer["sets"].values()]
    assert len(claims) == 3 and "TOPSECRET" not in json.dumps(claims) and "PIN1" not in json.dumps(claims)
    assert claims[0]["events"][EVENT + "create:full"]["data"][urn] == {"costCenter": "C", "tags": [{"value": "t"}]}
