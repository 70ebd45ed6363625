"""The PATCH engine on plain data: RFC 7644 §3.5.2 examples and Entra's dialect."""

from __future__ import annotations

import pytest

from shared.scim.errors import ScimError
from shared.scim.membership import plan_membership, split_member_operations
from shared.scim.patch import apply_operations, parse_patch_request
from shared.scim.schemas import ENTERPRISE_USER_URN, GROUP_TYPE, PATCH_OP_URN, USER_TYPE

ENT = ENTERPRISE_USER_URN


def patch(data, *ops):
    return apply_operations(USER_TYPE, data, parse_patch_request({"schemas": [PATCH_OP_URN], "Operations": list(ops)}))


BASE = {
    "userName": "bjensen",
    "name": {"givenName": "Barbara", "familyName": "Jensen"},
    "emails": [
        {"value": "bjensen@example.com", "type": "work", "primary": True},
        {"value": "babs@jensen.org", "type": "home"},
    ],
}


# RFC 7644 §3.5.2.1 "Add Operation" examples
def test_rfc7644_3_5_2_1_add_emails_value_list():
    out = patch(BASE, {"op": "add", "path": "emails", "value": [{"value": "new@example.com", "type": "other"}]})
    assert [e["value"] for e in out["emails"]][-1] == "new@example.com"
    assert len(out["emails"]) == 3


def test_rfc7644_3_5_2_1_add_without_path():
    out = patch(BASE, {"op": "add", "value": {"emails": [{"value": "x@example.com", "type": "other"}], "nickName": "Babs"}})
    assert out["nickName"] == "Babs"
    assert len(out["emails"]) == 3


# RFC 7644 §3.5.2.2 "Remove Operation"
def test_rfc7644_3_5_2_2_remove_single_attribute():
    out = patch({**BASE, "title": "Tour Guide"}, {"op": "remove", "path": "title"})
    assert "title" not in out


def test_rfc7644_3_5_2_2_remove_filtered_value():
    out = patch(BASE, {"op": "remove", "path": 'emails[type eq "home"]'})
    assert [e["type"] for e in out["emails"]] == ["work"]


def test_rfc7644_3_5_2_2_remove_without_path_is_no_target():
    with pytest.raises(ScimError) as err:
        patch(BASE, {"op": "remove"})
    assert err.value.scim_type == "noTarget"


# RFC 7644 §3.5.2.3 "Replace Operation"
def test_rfc7644_3_5_2_3_replace_multi_valued_replaces_all():
    out = patch(BASE, {"op": "replace", "path": "emails", "value": [{"value": "only@example.com", "type": "work"}]})
    assert out["emails"] == [{"value": "only@example.com", "type": "work"}]


def test_rfc7644_3_5_2_3_replace_filtered_sub_attribute():
    out = patch(BASE, {"op": "replace", "path": 'emails[type eq "work"].value', "value": "updated@example.com"})
    assert out["emails"][0]["value"] == "updated@example.com"
    assert out["emails"][1]["value"] == "babs@jensen.org"  # other values kept (SCIM-SDK#668)


def test_rfc7644_3_5_2_3_replace_complex_merges_sub_attributes():
    out = patch(BASE, {"op": "replace", "path": "name", "value": {"givenName": "Babs"}})
    assert out["name"] == {"givenName": "Babs", "familyName": "Jensen"}


# Entra's dialect: the request pairs of Microsoft Learn, "Known issues and resolutions with SCIM 2.0
# protocol compliance of the Microsoft Entra user provisioning service"
# (https://learn.microsoft.com/en-us/entra/identity/app-provisioning/application-provisioning-config-problem-scim-compatibility),
# the manager updates of "Tutorial: Develop and plan provisioning for a SCIM endpoint in Microsoft Entra ID"
# (https://learn.microsoft.com/en-us/entra/identity/app-provisioning/use-scim-to-provision-users-and-groups)
# and the empty-value clears of SCIM-Validation-Test-Overview.md in https://github.com/AzureAD/SCIMReferenceCode
def test_entra_capitalised_ops_and_string_booleans():
    out = patch({**BASE, "active": True}, {"op": "Replace", "path": "active", "value": "False"})
    assert out["active"] is False


def test_entra_pathless_replace_with_dotted_and_urn_keys():
    out = patch(BASE, {"op": "replace", "value": {
        "displayName": "Bjfe", "name.givenName": "Kkom", "name.familyName": "Unua",
        f"{ENT}:employeeNumber": "Aklq"}})
    assert out["displayName"] == "Bjfe"
    assert out["name"] == {"givenName": "Kkom", "familyName": "Unua"}
    assert out[ENT] == {"employeeNumber": "Aklq"}


def test_entra_add_on_filtered_path_creates_the_element():
    out = patch({"userName": "u"}, {"op": "Add", "path": 'emails[type eq "work"].value', "value": "w@example.com"})
    assert out["emails"] == [{"type": "work", "value": "w@example.com"}]


def test_entra_several_adds_merge_into_one_element():
    out = patch({"userName": "u"},
                {"op": "add", "path": 'addresses[type eq "work"].locality', "value": "Redmond"},
                {"op": "add", "path": 'addresses[type eq "work"].region', "value": "WA"})
    assert out["addresses"] == [{"type": "work", "locality": "Redmond", "region": "WA"}]


@pytest.mark.parametrize("value", ["m-1", {"value": "m-1"}, {"Value": "m-1"}, [{"$ref": None, "value": "m-1"}]])
def test_entra_manager_forms(value):
    out = patch({"userName": "u"}, {"op": "Add", "path": f"{ENT}:manager", "value": value})
    assert out[ENT]["manager"] == {"value": "m-1"}


@pytest.mark.parametrize("op", [{"op": "remove", "path": f"{ENT}:manager"},
                                {"op": "replace", "path": f"{ENT}:manager", "value": ""},
                                {"op": "replace", "path": "manager", "value": None}])
def test_entra_manager_clear(op):
    out = patch({"userName": "u", ENT: {"manager": {"value": "m-1"}, "department": "R&D"}}, op)
    assert out[ENT] == {"department": "R&D"}


def test_empty_string_clears():
    out = patch({**BASE, "title": "x"}, {"op": "replace", "path": "title", "value": ""})
    assert "title" not in out


def test_roles_primary_string_boolean_inside_complex_value():
    out = patch({"userName": "u"}, {"op": "add", "path": "roles", "value": [{"value": "Admin", "primary": "True", "type": "WindowsAzureActiveDirectoryRole"}]})
    assert out["roles"][0]["primary"] is True


def test_setting_primary_clears_other_primaries():
    out = patch(BASE, {"op": "replace", "path": 'emails[type eq "home"].primary', "value": True})
    assert [e.get("primary") for e in out["emails"]] == [False, True]


def test_invalid_operation_changes_nothing():
    data = {**BASE}
    with pytest.raises(ScimError):
        patch(data, {"op": "replace", "path": "nickName", "value": "ok"}, {"op": "replace", "path": "noSuchAttribute", "value": 1})
    assert data == BASE


@pytest.mark.parametrize("op, scim_type", [
    ({"op": "replace", "path": "groups", "value": []}, "mutability"),
    ({"op": "replace", "path": "id", "value": "x"}, "mutability"),
    ({"op": "replace", "path": "emails[type eq ]", "value": "x"}, "invalidPath"),
    ({"op": "replace", "path": "active", "value": "maybe"}, "invalidValue"),
    ({"op": "remove", "path": "userName"}, "invalidValue"),
    ({"op": "jump", "path": "userName", "value": "x"}, "invalidSyntax"),
    ({"op": "remove", "path": "emails", "value": [[], [None, "x"], {"name": []}]}, "invalidValue"),
])
def test_invalid_operations(op, scim_type):
    with pytest.raises(ScimError) as err:
        patch(BASE, op)
    assert err.value.status == 400 and err.value.scim_type == scim_type


# Group membership planning: the tutorial's "Update Group [Add Members]" and "[Remove Members]"
# requests, and the remove-a-group-member pair of the compliance known-issues page (both above)
def _plan(*ops, current=()):
    parsed = parse_patch_request({"schemas": [PATCH_OP_URN], "Operations": list(ops)})
    others, member_ops = split_member_operations(GROUP_TYPE, parsed)
    return others, plan_membership(GROUP_TYPE, member_ops, "g", lambda: list(current))


U1, U2 = "a" * 12 + "4" + "b" * 3 + "8" + "c" * 15, "d" * 12 + "4" + "e" * 3 + "9" + "f" * 15


def test_members_add_and_remove_by_value_list():
    _, plan = _plan({"op": "Add", "path": "members", "value": [{"$ref": None, "value": U1}]},
                    {"op": "Remove", "path": "members", "value": [{"value": U2}]})
    assert list(plan.add) == [U1] and list(plan.remove) == [U2] and not plan.clear


def test_members_remove_with_filter_path():
    _, plan = _plan({"op": "remove", "path": f'members[value eq "{U1}"]'})
    assert list(plan.remove) == [U1]


def test_members_remove_without_value_clears():
    _, plan = _plan({"op": "remove", "path": "members"})
    assert plan.clear


def test_pathless_group_replace_splits_members_from_attributes():
    others, plan = _plan({"op": "replace", "value": {"displayName": "New", "members": [{"value": U1}]}})
    assert others[0].value == {"displayName": "New"}
    assert plan.clear and list(plan.add) == [U1]


def test_member_with_malformed_id_is_invalid_value():
    with pytest.raises(ScimError) as err:
        _plan({"op": "add", "path": "members", "value": [{"value": "not-an-id"}]})
    assert err.value.scim_type == "invalidValue" and "not-an-id" in err.value.detail


@pytest.mark.parametrize("body, where", [
    ({"schemas": [PATCH_OP_URN], "Operations": {"op": "add"}}, "Operations"),
    ({"schemas": [PATCH_OP_URN], "Operations": [{"op": 5, "path": "title", "value": "x"}]}, "Operations.0.op"),
    ({"schemas": [PATCH_OP_URN], "operations": [{"OP": "add", "Path": 7, "value": "x"}]}, "Operations.0.path"),
    ({"schemas": "nope", "Operations": [{"op": "add", "path": "title", "value": "x"}]}, "schemas"),
    ({"schemas": ["urn:other"], "Operations": [{"op": "add", "path": "title", "value": "x"}]}, "schemas"),
    ([], "JSON object"),
])
def test_patch_envelope_errors_name_the_field(body, where):
    with pytest.raises(ScimError) as err:
        parse_patch_request(body)
    assert err.value.scim_type == "invalidSyntax" and where in err.value.detail


def test_patch_field_names_are_case_insensitive():
    ops = parse_patch_request({"SCHEMAS": [PATCH_OP_URN], "operations": [{"OP": "Add", "PATH": "title", "VALUE": "x"}]})
    assert ops[0].op == "add" and ops[0].path.attr == "title" and ops[0].value == "x" and ops[0].has_value
