"""The `aadOptscim062020` flag: the side-by-side request pairs of Microsoft Learn,
"Known issues and resolutions with SCIM 2.0 protocol compliance of the Microsoft
Entra user provisioning service"
(https://learn.microsoft.com/en-us/entra/identity/app-provisioning/application-provisioning-config-problem-scim-compatibility).

Each pair is run "without flag" and "with flag" (the verbatim request bodies)
and must leave the same observable state.  The flag is set in the Tenant URL
(same page), so it may also be forwarded as a query parameter, which must be
harmless.
"""

from __future__ import annotations

import pytest

from tests.messages import ENT, GROUP, PATCH, USER, body_of, get_user, list_of

pytestmark = pytest.mark.memory_store  # about the protocol, not storage: tests/integration/conftest.py

VARIANTS = ["without_flag", "with_flag"]


def create_user(scim, user_name: str, **extra) -> dict:
    body = {
        "schemas": [USER, ENT],
        "userName": user_name,
        "externalId": f"ext-{user_name}",
        "active": True,
        "displayName": "Original Display",
        "name": {"formatted": "Orig Inal", "givenName": "Orig", "familyName": "Inal"},
        "emails": [
            {"type": "work", "value": f"work-{user_name}", "primary": True},
            {"type": "home", "value": f"home-{user_name}"},
        ],
        ENT: {"employeeNumber": "0001", "department": "Dept"},
    }
    body.update(extra)
    return body_of(scim.post("/Users", body), 201)


def create_group(scim, name: str, member_ids=()) -> dict:
    body = {"schemas": [GROUP], "displayName": name,
            "members": [{"value": m} for m in member_ids]}
    return body_of(scim.post("/Groups", body), 201)


# ---------------------------------------------------------------------------
# Disable user
# ---------------------------------------------------------------------------

DISABLE = {
    "without_flag": {
        "schemas": [
            "urn:ietf:params:scim:api:messages:2.0:PatchOp"
        ],
        "Operations": [
            {
                "op": "Replace",
                "path": "active",
                "value": "False"
            }
        ]
    },
    "with_flag": {
        "schemas": [
            "urn:ietf:params:scim:api:messages:2.0:PatchOp"
        ],
        "Operations": [
            {
                "op": "replace",
                "path": "active",
                "value": False
            }
        ]
    },
}

ENABLE = {
    "without_flag": {"schemas": [PATCH], "Operations": [{"op": "Replace", "path": "active", "value": "True"}]},
    "with_flag": {"schemas": [PATCH], "Operations": [{"op": "replace", "path": "active", "value": True}]},
}


@pytest.mark.parametrize("variant", VARIANTS)
def test_reenable_user(scim, variant):
    """Counterpart of the page's disable-user pair: "True" / true restores `active: true` (JSON boolean)."""
    uid = create_user(scim, "babs@contoso.com")["id"]
    body_of(scim.patch(f"/Users/{uid}", DISABLE[variant]), 200)
    resp = body_of(scim.patch(f"/Users/{uid}", ENABLE[variant]), 200)
    assert resp["active"] is True
    assert get_user(scim, uid)["active"] is True


@pytest.mark.parametrize("value", ["false", "FALSE", "False"])
def test_disable_user_boolean_string_any_case(scim, value):
    """Entra sends "False" without the flag, false with it: "True"/"False" strings in any case are booleans."""
    uid = create_user(scim, "babs@contoso.com")["id"]
    body = {"schemas": [PATCH], "Operations": [{"op": "Replace", "path": "active", "value": value}]}
    body_of(scim.patch(f"/Users/{uid}", body), 200)
    assert get_user(scim, uid)["active"] is False


# ---------------------------------------------------------------------------
# Add a single-value string attribute
# ---------------------------------------------------------------------------

ADD_NICKNAME = {
    "without_flag": {
        "schemas": [
            "urn:ietf:params:scim:api:messages:2.0:PatchOp"
        ],
        "Operations": [
            {
                "op": "Add",
                "path": "nickName",
                "value": "Babs"
            }
        ]
    },
    "with_flag": {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [
            {
                "op": "add",
                "path": "nickName",
                "value": "Babs"
            }
        ]
    },
}


@pytest.mark.parametrize("variant", VARIANTS)
def test_add_single_value_string_attribute_overwrites(scim, variant):
    """The add-a-single-value-string pair / RFC 7644 §3.5.2.1: `add` on a set single-valued attribute replaces it."""
    uid = create_user(scim, "babs@contoso.com", nickName="Barbara")["id"]
    body_of(scim.patch(f"/Users/{uid}", ADD_NICKNAME[variant]), 200)
    assert get_user(scim, uid)["nickName"] == "Babs"


# ---------------------------------------------------------------------------
# Replace multiple attributes
# ---------------------------------------------------------------------------

REPLACE_MANY = {
    "without_flag": {
        "schemas": [
            "urn:ietf:params:scim:api:messages:2.0:PatchOp"
        ],
        "Operations": [
            {
                "op": "Replace",
                "path": "displayName",
                "value": "Pvlo"
            },
            {
                "op": "Replace",
                "path": "emails[type eq \"work\"].value",
                "value": "TestBcwqnm@test.microsoft.com"
            },
            {
                "op": "Replace",
                "path": "name.givenName",
                "value": "Gtfd"
            },
            {
                "op": "Replace",
                "path": "name.familyName",
                "value": "Pkqf"
            },
            {
                "op": "Replace",
                "path": "externalId",
                "value": "Eqpj"
            },
            {
                "op": "Replace",
                "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber",
                "value": "Eqpj"
            }
        ]
    },
    "with_flag": {
        "schemas": [
            "urn:ietf:params:scim:api:messages:2.0:PatchOp"
        ],
        "Operations": [
            {
                "op": "replace",
                "path": "emails[type eq \"work\"].value",
                "value": "TestMhvaes@test.microsoft.com"
            },
            {
                "op": "replace",
                "value": {
                    "displayName": "Bjfe",
                    "name.givenName": "Kkom",
                    "name.familyName": "Unua",
                    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "Aklq"
                }
            }
        ]
    },
}

EXPECTED_AFTER_REPLACE = {
    "without_flag": {"displayName": "Pvlo", "work": "TestBcwqnm@test.microsoft.com", "givenName": "Gtfd",
                     "familyName": "Pkqf", "externalId": "Eqpj", "employeeNumber": "Eqpj"},
    "with_flag": {"displayName": "Bjfe", "work": "TestMhvaes@test.microsoft.com", "givenName": "Kkom",
                  "familyName": "Unua", "externalId": "ext-babs@contoso.com", "employeeNumber": "Aklq"},
}


@pytest.mark.parametrize("variant", VARIANTS)
def test_replace_multiple_attributes_verbatim(scim, variant):
    """The page's replace-multiple-attributes pair (verbatim bodies): every value lands; siblings survive."""
    uid = create_user(scim, "babs@contoso.com")["id"]
    body_of(scim.patch(f"/Users/{uid}", REPLACE_MANY[variant]), 200)
    stored = get_user(scim, uid)
    want = EXPECTED_AFTER_REPLACE[variant]
    assert stored["displayName"] == want["displayName"]
    assert stored["externalId"] == want["externalId"]
    assert stored["name"] == {"formatted": "Orig Inal", "givenName": want["givenName"],
                              "familyName": want["familyName"]}
    work = [e for e in stored["emails"] if e.get("type") == "work"]
    assert [e["value"] for e in work] == [want["work"]]
    assert work[0].get("primary") is True
    assert [e["value"] for e in stored["emails"] if e.get("type") == "home"] == ["home-babs@contoso.com"]
    ext = stored[ENT]
    assert ext["employeeNumber"] == want["employeeNumber"]
    assert ext["department"] == "Dept"
    assert "name.givenName" not in stored and not any(k.startswith(ENT + ":") for k in stored)


# ---------------------------------------------------------------------------
# Remove a group member
# ---------------------------------------------------------------------------


def remove_member_body(variant: str, uid: str) -> dict:
    if variant == "without_flag":
        return {
            "schemas": [
                "urn:ietf:params:scim:api:messages:2.0:PatchOp"
            ],
            "Operations": [
                {
                    "op": "Remove",
                    "path": "members",
                    "value": [
                        {
                            "value": uid
                        }
                    ]
                }
            ]
        }
    return {
        "schemas": [
            "urn:ietf:params:scim:api:messages:2.0:PatchOp"
        ],
        "Operations": [
            {
                "op": "remove",
                "path": f"members[value eq \"{uid}\"]"
            }
        ]
    }


@pytest.mark.parametrize("variant", VARIANTS)
def test_remove_last_group_member(scim, variant):
    """The page's remove-a-group-member pair, when it is the only one: the group stays, empty."""
    uid = create_user(scim, "solo@contoso.com")["id"]
    gid = create_group(scim, "Solo", [uid])["id"]
    assert scim.patch(f"/Groups/{gid}", remove_member_body(variant, uid)).status_code == 204
    group = body_of(scim.get(f"/Groups/{gid}"), 200)
    assert not group.get("members")
    assert group["displayName"] == "Solo"


# ---------------------------------------------------------------------------
# The flag in the Tenant URL
# ---------------------------------------------------------------------------


def test_flag_query_parameter_is_harmless(scim):
    """`?aadOptscim062020` (and `=true`) forwarded on the URL changes nothing."""
    created = body_of(scim.post("/Users?aadOptscim062020", {
        "schemas": [USER], "userName": "babs@contoso.com", "active": True}), 201)
    uid = created["id"]
    body = list_of(scim.get('/Users?aadOptscim062020&filter=userName eq "babs@contoso.com"'))
    assert [r["id"] for r in body["Resources"]] == [uid]
    body = list_of(scim.get('/Users?filter=userName+eq+%22babs%40contoso.com%22&aadOptscim062020'))
    assert [r["id"] for r in body["Resources"]] == [uid]
    body = list_of(scim.get('/Users?aadOptscim062020=true&filter=userName eq "babs@contoso.com"'))
    assert [r["id"] for r in body["Resources"]] == [uid]
    assert body_of(scim.get(f"/Users/{uid}?aadOptscim062020"), 200)["id"] == uid

    resp = body_of(scim.patch(f"/Users/{uid}?aadOptscim062020", DISABLE["with_flag"]), 200)
    assert resp["active"] is False
    assert get_user(scim, uid)["active"] is False

    gid = body_of(scim.post("/Groups?aadOptscim062020", {"schemas": [GROUP], "displayName": "G"}), 201)["id"]
    groups = list_of(scim.get('/Groups?aadOptscim062020&excludedAttributes=members&filter=displayName eq "G"'))
    assert [r["id"] for r in groups["Resources"]] == [gid]
    assert scim.patch(f"/Groups/{gid}?aadOptscim062020", {"schemas": [PATCH], "Operations": [
        {"op": "add", "path": "members", "value": [{"value": uid}]}]}).status_code == 204
    assert scim.patch(f"/Groups/{gid}?aadOptscim062020", remove_member_body("with_flag", uid)).status_code == 204
    assert list_of(scim.get("/Schemas?aadOptscim062020"))["totalResults"] >= 3
    assert scim.delete(f"/Users/{uid}?aadOptscim062020").status_code == 204
    assert scim.get(f"/Users/{uid}").status_code == 404
