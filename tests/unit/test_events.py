"""Change events in the core: changed attribute paths, the PatchOp of a
change, activation, and the SET claims of RFC 9967 / RFC 8417."""

from __future__ import annotations

from shared.scim.events import (
    Change,
    active_change,
    changed_attributes,
    event_uri,
    events_claim,
    patch_data,
    resource_change,
    set_claims,
)
from shared.scim.records import StoredResource, new_version, version_time

ENT = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def test_changed_attributes_name_sub_attributes_and_extension_attributes():
    old = {"userName": "a", "name": {"givenName": "A", "familyName": "B"}, ENT: {"department": "x"}, "emails": []}
    new = {"userName": "a", "name": {"givenName": "C", "familyName": "B"}, ENT: {"department": "y", "division": "z"},
           "title": "t"}
    assert changed_attributes(old, new) == ("emails", "name.givenName", "title", f"{ENT}:department", f"{ENT}:division")
    assert changed_attributes(new, new) == ()


def test_active_counts_a_create_and_only_real_changes():
    assert active_change(None, {"active": True}) is True
    assert active_change({"active": True}, {"active": False}) is False
    assert active_change({"active": False}, {"active": False}) is None
    assert active_change(None, {}) is None


def test_the_full_patch_data_is_a_patchop_without_the_password():
    old = StoredResource("U", "44f6142df96bd6ab61e7521d9", {"userName": "j", "password": "h1", "title": "a",
                                                            "nickName": "n"}, "t", "t", new_version())
    new = StoredResource("U", old.id, {"userName": "j", "password": "h2", "title": "b"}, "t", "t", new_version())
    assert resource_change("patch", old, new, full=True).data["Operations"] == [
        {"op": "remove", "path": "nickName"}, {"op": "replace", "path": "title", "value": "b"}]
    assert patch_data({}, {}, added=["m1"], removed=["m2"])["Operations"] == [
        {"op": "add", "path": "members", "value": [{"value": "m1"}]},
        {"op": "remove", "path": 'members[value eq "m2"]'}]


def test_the_set_of_a_create_is_shaped_as_rfc_9967_figure_5():
    user = StoredResource("U", "44f6142df96bd6ab61e7521d9", {"userName": "jdoe", "externalId": "jdoe",
                                                             "password": "hash", "active": True},
                          "t", "t", new_version())
    claims = set_claims(resource_change("create", None, user), jti="j", iss="https://scim.example.com",
                        aud="aud.example.com", iat=1458496404, txn="r1")
    assert claims["sub_id"] == {"format": "scim", "uri": "/Users/44f6142df96bd6ab61e7521d9", "externalId": "jdoe"}
    notice = claims["events"]["urn:ietf:params:scim:event:prov:create:notice"]
    assert notice["attributes"] == ["id", "active", "externalId", "password", "userName"]
    assert "urn:ietf:params:scim:event:prov:activate" in claims["events"] and "sub" not in claims
    full = resource_change("create", None, user, full=True, base_url="https://scim.example.com")
    data = events_claim(full)["urn:ietf:params:scim:event:prov:create:full"]["data"]
    assert "password" not in data and data["userName"] == "jdoe" and "attributes" not in data


def test_a_delete_has_no_form_and_carries_its_version():
    assert event_uri("delete") == "urn:ietf:params:scim:event:prov:delete"
    assert events_claim(Change("delete", "G", "g1", "v")) == {"urn:ietf:params:scim:event:prov:delete": {"version": 'W/"v"'}}


def test_versions_increase_after_the_version_read_whatever_the_clock(monkeypatch):
    from shared.scim import records

    # The process's version clock is restored afterwards: left 1000 s ahead, every
    # later test in this worker would stamp its changes (and their audit times) in the future.
    monkeypatch.setattr(records, "_last_micros", records._last_micros)
    future = f"{(version_time(new_version()) + 10**9):013x}0000000"  # 1000 s ahead: another instance's clock
    later = new_version(future)
    assert version_time(later) > version_time(future) and len(later) == 20
    assert version_time("0123456789abcdef") is None  # a version of the older, random-only form
