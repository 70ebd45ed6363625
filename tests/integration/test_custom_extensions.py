"""A tenant's registered extension schemas (RFC 7643 §3.3, §6, §7), through HTTP.

Each test registers a schema for its fresh tenant the way ``scimctl schema
add`` does (:meth:`TenantRegistry.change_extensions` with
:func:`with_extension`), then drives the SCIM endpoints: discovery,
validation, storage and return, projection, filters and sorting, PATCH
with paths and Entra's path-less replace, and isolation from another
tenant.  The attribute names are those of Microsoft Learn's custom
extension example, ``urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User:<attribute>``
("Tutorial - Customize user provisioning attribute-mappings for SaaS
applications in Microsoft Entra ID").
"""

from __future__ import annotations

import pytest

from shared.scim.extensions import with_extension
from tests.messages import ENT, GROUP, SCHEMA_URN, USER, body_of, get_user, list_of, patch_op, scim_error

pytestmark = pytest.mark.memory_store  # about the protocol, not storage: tests/integration/conftest.py

EXT = "urn:ietf:params:scim:schemas:extension:Contoso:2.0:User"
TEAM = "urn:ietf:params:scim:schemas:extension:Contoso:2.0:Group"


def _string(name: str, **characteristics) -> dict:
    return {"name": name, "type": "string", "multiValued": False, **characteristics}


USER_EXTENSION = {
    "id": EXT,
    "name": "ContosoUser",
    "description": "Contoso's own user attributes",
    "attributes": [
        _string("costCenter", description="The cost centre"),
        _string("tier", canonicalValues=["gold", "silver"]),
        _string("badge", caseExact=True),
        {"name": "seat", "type": "integer", "multiValued": False, "mutability": "immutable"},
        {"name": "contractor", "type": "boolean", "multiValued": False},
        {"name": "since", "type": "dateTime", "multiValued": False},
        {"name": "skills", "type": "string", "multiValued": True},
        _string("pin", mutability="writeOnly", returned="never"),
        _string("note", returned="request"),
        _string("serial", mutability="readOnly"),
        {"name": "teams", "type": "complex", "multiValued": True, "subAttributes": [
            _string("value"), _string("role"), {"name": "primary", "type": "boolean", "multiValued": False}]},
        {"name": "desk", "type": "complex", "multiValued": False, "subAttributes": [
            _string("building", required=True), _string("floor")]},
    ],
}
GROUP_EXTENSION = {"id": TEAM, "name": "ContosoGroup", "attributes": [_string("budgetCode", required=True), _string("owner")]}


@pytest.fixture
def registry(backend):
    return backend[1]


def register(registry, client, document=USER_EXTENSION, **options) -> None:
    """Register ``document`` for the tenant of ``client`` (what ``scimctl schema add`` does)."""
    registry.change_extensions(client.tenant_id, lambda current: with_extension(current, document, **options))


@pytest.fixture
def contoso(scim, registry):
    """A tenant with the Contoso User extension registered."""
    register(registry, scim)
    return scim


def new_user(client, name="ext.user@contoso.example", **extension) -> dict:
    body = {"schemas": [USER, EXT], "userName": name, EXT: {"costCenter": "CC-1", **extension}}
    return body_of(client.post("/Users", body), 201)


# --------------------------------------------------------------- discovery
def test_schemas_list_and_serve_the_extension(contoso):
    listed = list_of(contoso.get("/Schemas"))
    ids = [s["id"] for s in listed["Resources"]]
    assert EXT in ids and USER in ids and ENT in ids and GROUP in ids
    one = body_of(contoso.get(f"/Schemas/{EXT.lower()}"), 200)  # ids compare case-insensitively
    assert one["schemas"] == [SCHEMA_URN] and one["id"] == EXT and one["name"] == "ContosoUser"
    assert one["meta"]["location"].endswith(f"/Schemas/{EXT}")
    by_name = {a["name"]: a for a in one["attributes"]}
    assert by_name["costCenter"] == {"name": "costCenter", "type": "string", "multiValued": False,
                                     "description": "The cost centre", "required": False, "caseExact": False,
                                     "mutability": "readWrite", "returned": "default", "uniqueness": "none"}
    assert by_name["tier"]["canonicalValues"] == ["gold", "silver"]
    assert [s["name"] for s in by_name["teams"]["subAttributes"]] == ["value", "role", "primary"]
    assert by_name["pin"]["returned"] == "never" and by_name["seat"]["mutability"] == "immutable"


def test_resource_types_name_the_extension_required_or_not(scim, registry):
    register(registry, scim)
    register(registry, scim, GROUP_EXTENSION, required=True)
    user = body_of(scim.get("/ResourceTypes/User"), 200)
    assert user["schemaExtensions"] == [{"schema": ENT, "required": False}, {"schema": EXT, "required": False}]
    group = body_of(scim.get("/ResourceTypes/Group"), 200)
    assert group["schemaExtensions"] == [{"schema": TEAM, "required": True}]
    listed = {rt["name"]: rt for rt in list_of(scim.get("/ResourceTypes"))["Resources"]}
    assert listed["User"] == user and listed["Group"] == group


def test_another_tenant_neither_sees_nor_accepts_the_extension(contoso, other_tenant):
    assert EXT not in [s["id"] for s in list_of(other_tenant.get("/Schemas"))["Resources"]]
    scim_error(other_tenant.get(f"/Schemas/{EXT}"), 404)
    assert body_of(other_tenant.get("/ResourceTypes/User"), 200)["schemaExtensions"] == [{"schema": ENT, "required": False}]
    listed = {"schemas": [USER, EXT], "userName": "other@contoso.example", EXT: {"costCenter": "CC-9"}}
    scim_error(other_tenant.post("/Users", listed), 400, "invalidValue")  # "schemas" names a schema it lacks
    created = body_of(other_tenant.post("/Users", {**listed, "schemas": [USER]}), 201)  # an unlisted object is ignored
    assert EXT not in created and EXT not in get_user(other_tenant, created["id"])
    scim_error(other_tenant.patch(f"/Users/{created['id']}", patch_op(
        {"op": "replace", "path": f"{EXT}:costCenter", "value": "CC-9"})), 400, "invalidPath")
    scim_error(other_tenant.patch(f"/Users/{created['id']}", patch_op(
        {"op": "Replace", "value": {f"{EXT}:costCenter": "CC-9"}})), 400, "invalidPath")
    scim_error(other_tenant.get("/Users", params={"filter": f'{EXT}:costCenter eq "CC-1"'}), 400, "invalidFilter")


# ------------------------------------------------------ storage and return
def test_values_are_stored_and_returned_as_sent(contoso):
    sent = {"costCenter": "CC-1", "tier": "bronze", "seat": 12, "contractor": "True", "since": "2026-01-31T09:00:00Z",
            "skills": ["python", "sql"], "teams": [{"value": "blue", "role": "lead", "primary": True}],
            "desk": {"building": "B1", "floor": "3"}}
    created = body_of(contoso.post("/Users", {"schemas": [USER, EXT], "userName": "stored@contoso.example", EXT: sent}), 201)
    expected = {**sent, "contractor": True}  # Entra's "True" is a boolean (RFC 7643 §2.3.2 on output)
    assert created[EXT] == expected and EXT in created["schemas"]
    assert get_user(contoso, created["id"])[EXT] == expected


def test_an_extension_object_not_listed_in_schemas_is_still_read(contoso):
    """Entra does not list extension URNs in ``schemas`` (Microsoft Learn, customize-application-attributes)."""
    created = body_of(contoso.post("/Users", {"schemas": [USER], "userName": "unlisted@contoso.example",
                                              EXT: {"costCenter": "CC-2"}}), 201)
    assert get_user(contoso, created["id"])[EXT] == {"costCenter": "CC-2"}
    assert EXT in created["schemas"]


@pytest.mark.parametrize("values, wrong", [
    ({"seat": "twelve"}, "seat"),
    ({"contractor": "maybe"}, "contractor"),
    ({"since": "yesterday"}, "since"),
    ({"skills": "python"}, "skills"),
    ({"costCenter": ["a", "b"]}, "costCenter"),
    ({"teams": [{"value": "x", "colour": "red"}]}, "colour"),
    ({"teams": [{"value": "a", "primary": True}, {"value": "b", "primary": True}]}, "primary"),
    ({"desk": "B1"}, "desk"),
    ({"favourite": "x"}, "favourite"),
    ({"desk": {"floor": "3"}, "tier": "gold"}, "desk.building"),  # a required sub-attribute (RFC 7643 §7)
], ids=["integer", "boolean", "dateTime", "multiValued", "single-valued", "sub-attribute", "primary", "complex",
        "unknown", "sub-required"])
def test_values_are_validated_like_the_built_in_schemas(contoso, values, wrong):
    body = {"schemas": [USER, EXT], "userName": "typed@contoso.example", EXT: values}
    if wrong is None:
        body_of(contoso.post("/Users", body), 201)
        return
    error = scim_error(contoso.post("/Users", body), 400, "invalidValue")
    assert wrong in error["detail"]
    assert list_of(contoso.get("/Users"))["totalResults"] == 0


def test_read_only_values_are_ignored_and_write_only_ones_never_returned(contoso):
    created = new_user(contoso, serial="S-1", pin="1234", note="private")
    assert "serial" not in created[EXT] and "pin" not in created[EXT] and "note" not in created[EXT]
    asked = body_of(contoso.get(f"/Users/{created['id']}", params={"attributes": f"{EXT}:note,{EXT}:pin"}), 200)
    assert asked[EXT] == {"note": "private"}  # returned "request": when asked; "never": not even then


def test_canonical_values_are_advisory_as_for_the_built_in_schemas(contoso):
    """RFC 7643 §2.3.1: service providers MAY allow other values."""
    assert new_user(contoso, tier="platinum")[EXT]["tier"] == "platinum"


def test_immutable_values_cannot_change(contoso):
    user = new_user(contoso, seat=7)
    put = {"schemas": [USER, EXT], "userName": user["userName"], EXT: {"costCenter": "CC-1", "seat": 8}}
    scim_error(contoso.put(f"/Users/{user['id']}", put), 400, "mutability")
    scim_error(contoso.patch(f"/Users/{user['id']}", patch_op({"op": "replace", "path": f"{EXT}:seat", "value": 8})),
               400, "mutability")
    assert get_user(contoso, user["id"])[EXT]["seat"] == 7
    body_of(contoso.put(f"/Users/{user['id']}", {**put, EXT: {"costCenter": "CC-3", "seat": 7}}), 200)


def test_required_attributes_and_required_extensions(scim, registry):
    register(registry, scim, GROUP_EXTENSION, required=True)
    without = scim_error(scim.post("/Groups", {"schemas": [GROUP], "displayName": "No budget"}), 400, "invalidValue")
    assert TEAM in without["detail"]
    empty = scim_error(scim.post("/Groups", {"schemas": [GROUP, TEAM], "displayName": "Empty", TEAM: {"budgetCode": ""}}),
                       400, "invalidValue")  # "" is unassigned (RFC 7643 §2.5): the extension is absent
    assert TEAM in empty["detail"]
    partial = scim_error(scim.post("/Groups", {"schemas": [GROUP, TEAM], "displayName": "Owned", TEAM: {"owner": "o"}}),
                         400, "invalidValue")
    assert f"{TEAM}:budgetCode" in partial["detail"]
    group = body_of(scim.post("/Groups", {"schemas": [GROUP, TEAM], "displayName": "Budgeted", TEAM: {"budgetCode": "B7"}}),
                    201)
    assert group[TEAM] == {"budgetCode": "B7"}
    scim_error(scim.patch(f"/Groups/{group['id']}", patch_op({"op": "remove", "path": f"{TEAM}:budgetCode"})), 400)
    renamed = patch_op({"op": "Replace", "value": {f"{TEAM}:budgetCode": "B8", "displayName": "Rebudgeted"}})
    assert scim.patch(f"/Groups/{group['id']}", renamed).status_code == 204
    assert body_of(scim.get(f"/Groups/{group['id']}"), 200)[TEAM] == {"budgetCode": "B8"}


# ---------------------------------------------------------------- projection
def test_attributes_and_excluded_attributes(contoso):
    user = new_user(contoso, tier="gold", desk={"building": "B1", "floor": "2"})
    only = body_of(contoso.get(f"/Users/{user['id']}", params={"attributes": f"{EXT}:tier,{EXT}:desk.floor"}), 200)
    assert only[EXT] == {"tier": "gold", "desk": {"floor": "2"}} and "userName" not in only
    whole = body_of(contoso.get(f"/Users/{user['id']}", params={"attributes": EXT}), 200)
    assert set(whole[EXT]) == {"costCenter", "tier", "desk"}
    less = body_of(contoso.get(f"/Users/{user['id']}", params={"excludedAttributes": f"{EXT}:costCenter"}), 200)
    assert set(less[EXT]) == {"tier", "desk"} and less["userName"] == user["userName"]
    none = body_of(contoso.get(f"/Users/{user['id']}", params={"excludedAttributes": EXT}), 200)
    assert EXT not in none
    listed = list_of(contoso.get("/Users", params={"attributes": f"{EXT}:tier"}))["Resources"]
    assert listed == [{"schemas": [USER, EXT], "id": user["id"], EXT: {"tier": "gold"}}]


# ------------------------------------------------------------ filter and sort
def test_filters_on_extension_attributes(contoso):
    gold = new_user(contoso, "gold@contoso.example", tier="gold", badge="AB-1", seat=3, skills=["python"],
                    teams=[{"value": "blue", "role": "lead"}])
    new_user(contoso, "silver@contoso.example", tier="silver", badge="ab-1", seat=9, skills=["sql"])

    def found(flt: str) -> list[str]:
        return [r["userName"] for r in list_of(contoso.get("/Users", params={"filter": flt}))["Resources"]]

    assert found(f'{EXT}:tier eq "GOLD"') == [gold["userName"]]  # caseExact false: case-insensitive
    assert found(f'{EXT}:badge eq "AB-1"') == [gold["userName"]]  # caseExact true
    assert found('tier eq "silver"') == ["silver@contoso.example"]  # unqualified, one extension defines it
    assert found(f"{EXT}:seat gt 5") == ["silver@contoso.example"]
    assert found(f'{EXT}:skills eq "python"') == [gold["userName"]]
    assert found(f'{EXT}:teams[role eq "lead"]') == [gold["userName"]]
    both = found(f"{EXT}:tier pr and {EXT}:costCenter sw \"CC\"")  # in id order, which is random
    assert sorted(both) == [gold["userName"], "silver@contoso.example"]
    scim_error(contoso.get("/Users", params={"filter": f'{EXT}:seat eq "x"'}), 400, "invalidFilter")
    searched = body_of(contoso.post("/Users/.search", {"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
                                                       "filter": f'{EXT}:tier eq "gold"'}), 200)
    assert [r["id"] for r in searched["Resources"]] == [gold["id"]]


def test_a_name_two_extensions_define_must_be_qualified(scim, registry):
    """``costCenter`` is the enterprise extension's and, here, Contoso's: alone
    it names neither (RFC 7644 §3.10: URN-qualified names are the unambiguous form)."""
    register(registry, scim, {"id": EXT, "name": "ContosoUser", "attributes": [_string("costCenter")]})
    body_of(scim.post("/Users", {"schemas": [USER, ENT, EXT], "userName": "both@contoso.example",
                                 ENT: {"costCenter": "E-1"}, EXT: {"costCenter": "C-1"}}), 201)
    scim_error(scim.get("/Users", params={"filter": 'costCenter eq "E-1"'}), 400, "invalidFilter")
    for urn, value in ((ENT, "E-1"), (EXT, "C-1")):
        assert list_of(scim.get("/Users", params={"filter": f'{urn}:costCenter eq "{value}"'}))["totalResults"] == 1


def test_sort_by_an_extension_attribute(contoso):
    for name, seat in (("b@contoso.example", 2), ("c@contoso.example", 3), ("a@contoso.example", 1)):
        new_user(contoso, name, seat=seat)
    body_of(contoso.post("/Users", {"schemas": [USER], "userName": "none@contoso.example"}), 201)
    listed = list_of(contoso.get("/Users", params={"sortBy": f"{EXT}:seat"}))["Resources"]
    assert [r["userName"] for r in listed] == ["a@contoso.example", "b@contoso.example", "c@contoso.example",
                                               "none@contoso.example"]  # RFC 7644 §3.4.2.3: no value sorts last
    listed = list_of(contoso.get("/Users", params={"sortBy": f"{EXT}:seat", "sortOrder": "descending"}))["Resources"]
    assert [r["userName"] for r in listed][1:] == ["c@contoso.example", "b@contoso.example", "a@contoso.example"]


# ----------------------------------------------------------------------- PATCH
def test_patch_paths_on_extension_attributes(contoso):
    user = new_user(contoso, skills=["python"])
    path = f"/Users/{user['id']}"
    ops = patch_op(
        {"op": "replace", "path": f"{EXT}:costCenter", "value": "CC-2"},
        {"op": "add", "path": f"{EXT}:skills", "value": ["sql"]},
        {"op": "add", "path": f'{EXT}:teams[value eq "red"].role', "value": "member"},
        {"op": "replace", "path": f"{EXT}:desk.building", "value": "B2"},
    )
    patched = body_of(contoso.patch(path, ops), 200)
    assert patched[EXT] == {"costCenter": "CC-2", "skills": ["python", "sql"], "teams": [{"value": "red", "role": "member"}],
                            "desk": {"building": "B2"}}
    removed = body_of(contoso.patch(path, patch_op({"op": "remove", "path": f'{EXT}:teams[value eq "red"]'},
                                                   {"op": "remove", "path": f"{EXT}:skills"})), 200)
    assert removed[EXT] == {"costCenter": "CC-2", "desk": {"building": "B2"}}
    scim_error(contoso.patch(path, patch_op({"op": "replace", "path": f"{EXT}:nothing", "value": "x"})), 400, "invalidPath")
    scim_error(contoso.patch(path, patch_op({"op": "replace", "path": f"{EXT}:seat", "value": "x"})), 400, "invalidValue")
    assert get_user(contoso, user["id"])[EXT] == removed[EXT]


# The same change as Entra sends it without and with the aadOptscim062020 flag
# (Microsoft Learn, "Known issues and resolutions with SCIM 2.0 protocol
# compliance of the Microsoft Entra user provisioning service"): one op per
# attribute, or one path-less replace with URN-qualified keys.
ENTRA_UPDATE = {
    "without flag": patch_op(
        {"op": "Replace", "path": f"{EXT}:costCenter", "value": "CC-7"},
        {"op": "Replace", "path": f"{EXT}:contractor", "value": "False"},
        {"op": "Add", "path": f"{EXT}:tier", "value": "gold"},
        {"op": "Replace", "path": "displayName", "value": "Flagged"},
    ),
    "with flag": patch_op(
        {"op": "replace", "value": {f"{EXT}:costCenter": "CC-7", f"{EXT}:contractor": False, f"{EXT}:tier": "gold",
                                    "displayName": "Flagged"}},
    ),
}


@pytest.mark.parametrize("variant", ENTRA_UPDATE)
def test_entra_update_of_custom_attributes_in_both_flag_modes(contoso, variant):
    user = new_user(contoso, contractor=True)
    assert contoso.patch(f"/Users/{user['id']}", ENTRA_UPDATE[variant]).status_code == 200
    stored = get_user(contoso, user["id"])
    assert stored[EXT] == {"costCenter": "CC-7", "contractor": False, "tier": "gold"} and stored["displayName"] == "Flagged"
    found = list_of(contoso.get("/Users", params={"filter": f'{EXT}:costCenter eq "CC-7"'}))
    assert [r["id"] for r in found["Resources"]] == [user["id"]]


def test_path_less_replace_of_a_whole_extension_object(contoso):
    user = new_user(contoso, tier="gold")
    ops = patch_op({"op": "replace", "value": {EXT: {"costCenter": "CC-5"}}})
    assert body_of(contoso.patch(f"/Users/{user['id']}", ops), 200)[EXT] == {"costCenter": "CC-5", "tier": "gold"}
    whole = patch_op({"op": "replace", "path": EXT, "value": {"costCenter": "CC-6"}})
    assert body_of(contoso.patch(f"/Users/{user['id']}", whole), 200)[EXT] == {"costCenter": "CC-6"}
    gone = body_of(contoso.patch(f"/Users/{user['id']}", patch_op({"op": "remove", "path": EXT})), 200)
    assert EXT not in gone and gone["schemas"] == [USER]


# ------------------------------------------------------- with Bulk and cursors


def test_bulk_and_cursor_paging_carry_extension_attributes(contoso):
    """A Bulk POST (RFC 7644 §3.7) validates and stores extension values as a
    POST alone does, and a cursor walk (RFC 9865) sorts and filters by them."""
    operations = [{"method": "POST", "path": "/Users", "bulkId": f"u{i}",
                   "data": {"schemas": [USER, EXT], "userName": f"bulk{i}@contoso.example", EXT: {"seat": 10 - i}}}
                  for i in range(7)]
    operations.append({"method": "POST", "path": "/Users", "bulkId": "bad",
                       "data": {"schemas": [USER, EXT], "userName": "bad@contoso.example", EXT: {"seat": "x"}}})
    answer = body_of(contoso.post("/Bulk", {"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
                                            "Operations": operations}), 200)
    assert [op["status"] for op in answer["Operations"]] == ["201"] * 7 + ["400"]
    walked, cursor = [], ""
    while cursor is not None and len(walked) < 20:
        body = list_of(contoso.get("/Users", params={"cursor": cursor, "count": 3, "sortBy": f"{EXT}:seat",
                                                     "filter": f"{EXT}:seat gt 4"}))
        walked += [(r["userName"], r[EXT]["seat"]) for r in body["Resources"]]
        cursor = body.get("nextCursor")
    assert walked == [(f"bulk{i}@contoso.example", 10 - i) for i in reversed(range(6))]


def test_a_required_sub_attribute_stays_required_in_put_and_patch(contoso):
    """RFC 7643 §7 ``required`` holds for a sub-attribute in every request that leaves the complex value without it."""
    user = new_user(contoso, "desk@contoso.example", desk={"building": "B1", "floor": "2"})
    path = f"/Users/{user['id']}"
    for response in (
        contoso.patch(path, patch_op({"op": "remove", "path": f"{EXT}:desk.building"})),
        contoso.patch(path, patch_op({"op": "replace", "path": f"{EXT}:desk.building", "value": None})),
        contoso.put(path, {"schemas": [USER, EXT], "userName": "desk@contoso.example",
                           EXT: {"costCenter": "CC-1", "desk": {"floor": "4"}}}),
    ):
        assert "desk.building" in scim_error(response, 400, "invalidValue")["detail"]
    assert body_of(contoso.get(path), 200)[EXT]["desk"] == {"building": "B1", "floor": "2"}


# ------------------------------------------------------------ found in review


def test_an_attribute_never_returned_cannot_be_filtered_or_sorted_on(contoso):
    """Which resources match, or their order, would disclose a writeOnly value (RFC 7643 §7, ``returned: never``)."""
    new_user(contoso, "pin@contoso.example", pin="s3cr3t")
    for flt in (f'{EXT}:pin eq "s3cr3t"', f'{EXT}:pin sw "s3"', "pin pr", 'password eq "x"'):
        assert "never returned" in scim_error(contoso.get("/Users", params={"filter": flt}), 400, "invalidFilter")["detail"]
    for sort in (f"{EXT}:pin", "password"):
        for extra in ({}, {"cursor": ""}):
            response = contoso.get("/Users", params={"sortBy": sort, **extra})
            assert "never returned" in scim_error(response, 400, "invalidValue")["detail"]


def test_an_extension_attribute_is_absent_from_a_resource_without_the_extension(scim, registry):
    """``urn:…:displayName`` of an extension is not the core ``displayName`` (RFC 7644 §3.10)."""
    gamma = "urn:ietf:params:scim:schemas:extension:Gamma:2.0:User"
    register(registry, scim, {"id": gamma, "name": "Gamma", "attributes": [_string("displayName")]})
    body_of(scim.post("/Users", {"schemas": [USER], "userName": "core@contoso.example", "displayName": "Core Name"}), 201)
    body_of(scim.post("/Users", {"schemas": [USER, gamma], "userName": "ext@contoso.example", "displayName": "Other",
                                 gamma: {"displayName": "Core Name"}}), 201)

    def names(**params):
        return [r["userName"] for r in list_of(scim.get("/Users", params=params))["Resources"]]

    assert names(filter=f'{gamma}:displayName eq "Core Name"') == ["ext@contoso.example"]
    assert names(filter=f"{gamma}:displayName pr") == ["ext@contoso.example"]
    assert names(filter='displayName eq "Core Name"') == ["core@contoso.example"]


def test_sort_by_an_unqualified_extension_name_and_by_a_urn_another_type_lacks(contoso):
    for name, tier in (("z@contoso.example", "a"), ("m@contoso.example", "b"), ("a@contoso.example", "c")):
        new_user(contoso, name, tier=tier)
    for i in range(2):
        body_of(contoso.post("/Groups", {"schemas": [GROUP], "displayName": f"{'a' if i else 'z'} group"}), 201)
    listed = list_of(contoso.get("/Users", params={"sortBy": "tier"}))["Resources"]
    assert [r["userName"] for r in listed] == ["z@contoso.example", "m@contoso.example", "a@contoso.example"]
    searched = body_of(contoso.post("/.search", {"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
                                                 "sortBy": f"{EXT}:tier"}), 200)["Resources"]
    order = [r.get("userName", r.get("displayName")) for r in searched]
    assert order[:3] == ["z@contoso.example", "m@contoso.example", "a@contoso.example"]
    assert sorted(order[3:]) == ["a group", "z group"]  # groups have no such value: last, in id order
