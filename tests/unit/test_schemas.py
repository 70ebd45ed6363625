"""Tests for shared.scim.schemas: the schema data (RFC 7643 §3.1, §4, §8.7.1) and lookups."""

from __future__ import annotations

import dataclasses

import pytest

from shared.scim.schemas import (
    BULK_REQUEST_URN,
    BULK_RESPONSE_URN,
    COMMON_ATTRIBUTES,
    ENTERPRISE_USER,
    ENTERPRISE_USER_URN,
    ERROR_URN,
    GROUP,
    GROUP_TYPE,
    GROUP_URN,
    LIST_RESPONSE_URN,
    PATCH_OP_URN,
    RESOURCE_TYPE_URN,
    RESOURCE_TYPES,
    SCHEMA_URN,
    SCHEMAS,
    SEARCH_REQUEST_URN,
    SERVICE_PROVIDER_CONFIG_URN,
    USER,
    USER_TYPE,
    USER_URN,
    ResourceType,
)
from tests.entra_mappings import ENTRA_GROUP_TARGETS, ENTRA_USER_TARGETS

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def test_urns() -> None:
    assert USER_URN == "urn:ietf:params:scim:schemas:core:2.0:User"
    assert GROUP_URN == "urn:ietf:params:scim:schemas:core:2.0:Group"
    assert ENTERPRISE_USER_URN == ENTERPRISE
    assert SCHEMA_URN == "urn:ietf:params:scim:schemas:core:2.0:Schema"
    assert RESOURCE_TYPE_URN == "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
    assert SERVICE_PROVIDER_CONFIG_URN == (
        "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
    )
    prefix = "urn:ietf:params:scim:api:messages:2.0:"
    assert LIST_RESPONSE_URN == prefix + "ListResponse"
    assert SEARCH_REQUEST_URN == prefix + "SearchRequest"
    assert PATCH_OP_URN == prefix + "PatchOp"
    assert BULK_REQUEST_URN == prefix + "BulkRequest"
    assert BULK_RESPONSE_URN == prefix + "BulkResponse"
    assert ERROR_URN == prefix + "Error"


def test_error_urn_matches_errors_module() -> None:
    from shared.scim import errors

    assert ERROR_URN == errors.ERROR_URN


def test_schema_collections() -> None:
    assert SCHEMAS == (USER, ENTERPRISE_USER, GROUP)
    assert RESOURCE_TYPES == (USER_TYPE, GROUP_TYPE)
    assert [s.id for s in SCHEMAS] == [USER_URN, ENTERPRISE_USER_URN, GROUP_URN]


def test_resource_types() -> None:
    assert (USER_TYPE.name, USER_TYPE.endpoint, USER_TYPE.schema) == ("User", "/Users", USER)
    assert USER_TYPE.extensions == ((ENTERPRISE_USER, False),)
    assert (GROUP_TYPE.name, GROUP_TYPE.endpoint, GROUP_TYPE.schema) == ("Group", "/Groups", GROUP)
    assert GROUP_TYPE.extensions == ()
    assert USER_TYPE.all_schema_urns == (USER_URN, ENTERPRISE_USER_URN)
    assert GROUP_TYPE.all_schema_urns == (GROUP_URN,)
    with pytest.raises(dataclasses.FrozenInstanceError):
        USER_TYPE.name = "Other"  # type: ignore[misc]


def test_schema_for_urn_is_case_insensitive() -> None:
    assert USER_TYPE.schema_for_urn(USER_URN) is USER
    assert USER_TYPE.schema_for_urn(USER_URN.upper()) is USER
    assert USER_TYPE.schema_for_urn(ENTERPRISE.lower()) is ENTERPRISE_USER
    assert USER_TYPE.schema_for_urn(GROUP_URN) is None
    assert GROUP_TYPE.schema_for_urn(GROUP_URN.lower()) is GROUP
    assert GROUP_TYPE.schema_for_urn(ENTERPRISE) is None
    assert USER_TYPE.schema_for_urn("urn:example:unknown") is None


# --- attribute resolution (RFC 7643 §2.1: names are case-insensitive) -------


@pytest.mark.parametrize(
    ("urn", "name", "sub", "expected"),
    [
        (None, "USERNAME", None, "userName"),
        (None, "userName", None, "userName"),
        (None, "emails", "Value", "value"),
        (None, "EMAILS", "TYPE", "type"),
        (ENTERPRISE, "manager", "value", "value"),
        (ENTERPRISE.upper(), "MANAGER", "$REF", "$ref"),
        (ENTERPRISE, "employeeNumber", None, "employeeNumber"),
        (USER_URN, "userName", None, "userName"),
        (USER_URN.lower(), "name", "givenname", "givenName"),
        (None, "meta", "lastModified", "lastModified"),
        (USER_URN, "meta", "LASTMODIFIED", "lastModified"),
        (None, "id", None, "id"),
        (None, "ExternalID", None, "externalId"),
        (None, "groups", "$ref", "$ref"),
    ],
)
def test_user_attribute_lookup(urn, name, sub, expected) -> None:
    attr = USER_TYPE.attribute(urn, name, sub)
    assert attr is not None
    assert attr.name == expected


@pytest.mark.parametrize(
    ("urn", "name", "sub"),
    [
        (None, "nope", None),
        (None, "emails", "nope"),
        (None, "userName", "value"),  # a simple attribute has no sub-attributes
        (None, "employeeNumber", None),  # extension attributes need their URN
        (None, "members", None),  # a Group attribute
        (ENTERPRISE, "userName", None),
        (ENTERPRISE, "id", None),  # common attributes belong to the core schema
        (ENTERPRISE, "manager", "nope"),
        (GROUP_URN, "displayName", None),
        ("urn:example:unknown", "userName", None),
        (None, "meta", "nope"),
    ],
)
def test_user_attribute_lookup_unknown(urn, name, sub) -> None:
    assert USER_TYPE.attribute(urn, name, sub) is None


def test_group_attribute_lookup() -> None:
    assert GROUP_TYPE.attribute(None, "DISPLAYNAME").name == "displayName"
    assert GROUP_TYPE.attribute(GROUP_URN, "members", "VALUE").name == "value"
    assert GROUP_TYPE.attribute(None, "id").name == "id"
    assert GROUP_TYPE.attribute(None, "meta", "created").type == "dateTime"
    assert GROUP_TYPE.attribute(None, "userName") is None
    assert GROUP_TYPE.attribute(USER_URN, "displayName") is None
    assert GROUP_TYPE.attribute(ENTERPRISE, "manager") is None


def test_common_attributes_not_in_schema_lists() -> None:
    """RFC 7643 §3.1: id, externalId and meta are common, not schema, attributes."""
    assert [a.name for a in COMMON_ATTRIBUTES] == ["id", "externalId", "meta"]
    for schema in SCHEMAS:
        for name in ("id", "externalId", "meta"):
            assert schema.attr(name) is None


# --- characteristics --------------------------------------------------------


def test_id_characteristics() -> None:
    attr = USER_TYPE.attribute(None, "id")
    assert attr.mutability == "readOnly"
    assert attr.returned == "always"
    assert attr.case_exact is True
    assert attr.uniqueness == "server"


def test_external_id_and_meta_characteristics() -> None:
    ext = USER_TYPE.attribute(None, "externalId")
    assert (ext.type, ext.mutability, ext.case_exact) == ("string", "readWrite", True)
    meta = USER_TYPE.attribute(None, "meta")
    assert (meta.type, meta.mutability) == ("complex", "readOnly")
    assert [s.name for s in meta.sub_attributes] == [
        "resourceType", "created", "lastModified", "location", "version",
    ]
    location = meta.sub("location")
    assert (location.type, location.reference_types) == ("reference", ("uri",))
    assert meta.sub("created").type == "dateTime"


def test_password_is_write_only_and_never_returned() -> None:
    attr = USER_TYPE.attribute(None, "password")
    assert attr.mutability == "writeOnly"
    assert attr.returned == "never"


def test_groups_is_read_only() -> None:
    attr = USER_TYPE.attribute(None, "groups")
    assert attr.mutability == "readOnly"
    assert attr.multi_valued
    assert [s.name for s in attr.sub_attributes] == ["value", "$ref", "display", "type"]
    assert all(s.mutability == "readOnly" for s in attr.sub_attributes)
    assert attr.sub("$ref").reference_types == ("User", "Group")
    assert attr.sub("type").canonical_values == ("direct", "indirect")


def test_user_name_matches_rfc_8_7_1() -> None:
    attr = USER.attr("userName")
    assert (attr.type, attr.multi_valued, attr.required, attr.case_exact) == (
        "string", False, True, False,
    )
    assert (attr.mutability, attr.returned, attr.uniqueness) == ("readWrite", "default", "server")


def test_name_sub_attributes_match_rfc_8_7_1() -> None:
    attr = USER.attr("name")
    assert attr.type == "complex" and not attr.multi_valued
    assert [s.name for s in attr.sub_attributes] == [
        "formatted", "familyName", "givenName", "middleName", "honorificPrefix", "honorificSuffix",
    ]
    for sub in attr.sub_attributes:
        assert (sub.type, sub.case_exact, sub.mutability, sub.uniqueness) == (
            "string", False, "readWrite", "none",
        )


def test_simple_user_attributes_match_rfc_8_7_1() -> None:
    assert USER.attr("active").type == "boolean"
    profile = USER.attr("profileUrl")
    assert (profile.type, profile.reference_types) == ("reference", ("external",))
    for name in ("displayName", "nickName", "title", "userType", "preferredLanguage",
                 "locale", "timezone"):
        attr = USER.attr(name)
        assert (attr.type, attr.required, attr.mutability, attr.returned) == (
            "string", False, "readWrite", "default",
        ), name


@pytest.mark.parametrize(
    ("name", "canonical"),
    [
        ("emails", ("work", "home", "other")),
        ("phoneNumbers", ("work", "home", "mobile", "fax", "pager", "other")),
        ("ims", ("aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo")),
        ("photos", ("photo", "thumbnail")),
        ("entitlements", ()),
        ("roles", ()),
        ("x509Certificates", ()),
    ],
)
def test_multi_valued_attributes_match_rfc_8_7_1(name, canonical) -> None:
    attr = USER.attr(name)
    assert attr.type == "complex" and attr.multi_valued
    assert [s.name for s in attr.sub_attributes] == ["value", "display", "type", "primary"]
    assert attr.sub("type").canonical_values == canonical
    assert attr.sub("primary").type == "boolean"


def test_multi_valued_value_types() -> None:
    assert USER.attr("emails").sub("value").type == "string"
    photo = USER.attr("photos").sub("value")
    assert (photo.type, photo.reference_types) == ("reference", ("external",))
    assert USER.attr("x509Certificates").sub("value").type == "binary"


def test_addresses_match_rfc_4_1_2() -> None:
    attr = USER.attr("addresses")
    assert attr.type == "complex" and attr.multi_valued
    assert [s.name for s in attr.sub_attributes] == [
        "formatted", "streetAddress", "locality", "region", "postalCode", "country",
        "type", "primary",
    ]
    assert attr.sub("type").canonical_values == ("work", "home", "other")


def test_enterprise_user_matches_rfc_4_3() -> None:
    assert [a.name for a in ENTERPRISE_USER.attributes] == [
        "employeeNumber", "costCenter", "organization", "division", "department", "manager",
    ]
    manager = ENTERPRISE_USER.attr("manager")
    assert manager.type == "complex" and not manager.multi_valued
    value = manager.sub("value")
    assert (value.type, value.mutability, value.required) == ("string", "readWrite", False)
    ref = manager.sub("$ref")
    assert (ref.type, ref.reference_types) == ("reference", ("User",))
    assert manager.sub("displayName").mutability == "readOnly"


def test_group_matches_rfc_4_2() -> None:
    display_name = GROUP.attr("displayName")
    assert display_name.required is True
    assert display_name.uniqueness == "server"
    assert display_name.case_exact is False
    members = GROUP.attr("members")
    assert (members.type, members.multi_valued, members.mutability, members.returned) == (
        "complex", True, "readWrite", "default",
    )
    assert members.sub("value").mutability == "immutable"
    assert members.sub("$ref").mutability == "immutable"
    assert members.sub("$ref").reference_types == ("User", "Group")
    assert members.sub("display").mutability == "readOnly"
    assert members.sub("type").mutability == "immutable"
    assert members.sub("type").canonical_values == ("User", "Group")


def test_sub_attributes_are_not_complex() -> None:
    """RFC 7643 §2.3.8: sub-attributes of a complex attribute have no sub-attributes."""
    for schema in SCHEMAS:
        for attr in schema.attributes:
            for sub in attr.sub_attributes:
                assert sub.type != "complex" and not sub.sub_attributes
    for attr in COMMON_ATTRIBUTES:
        for sub in attr.sub_attributes:
            assert sub.type != "complex"


def test_resource_type_is_a_frozen_dataclass() -> None:
    assert dataclasses.is_dataclass(ResourceType)


# --- every Entra default mapping target (tests/entra_mappings.py) resolves ---


def _resolve(rt: ResourceType, target: str):
    """Resolve an Entra mapping target such as ``emails[type eq "work"].value``.

    Splits off an extension URN prefix (``urn:…:User:attr``), drops a value
    filter (``[...]``) and resolves ``attr`` or ``attr.sub``.
    """
    urn = None
    path = target
    for candidate in rt.all_schema_urns:
        if target.lower().startswith(candidate.lower() + ":"):
            urn, path = candidate, target[len(candidate) + 1:]
    if "[" in path:
        head, _, rest = path.partition("[")
        _, _, tail = rest.partition("]")
        path = head + tail
    name, _, sub = path.partition(".")
    return rt.attribute(urn, name, sub or None)





@pytest.mark.parametrize("target", ENTRA_USER_TARGETS)
def test_reference_6_1_user_mapping_target_resolves(target: str) -> None:
    assert _resolve(USER_TYPE, target) is not None


@pytest.mark.parametrize("target", ENTRA_GROUP_TARGETS)
def test_reference_6_2_group_mapping_target_resolves(target: str) -> None:
    assert _resolve(GROUP_TYPE, target) is not None


@pytest.mark.parametrize(
    ("target", "attribute", "value"),
    [
        ('emails[type eq "work"].value', "emails", "work"),
        ('addresses[type eq "other"].Formatted', "addresses", "other"),
        ('phoneNumbers[type eq "mobile"].value', "phoneNumbers", "mobile"),
        ('phoneNumbers[type eq "fax"].value', "phoneNumbers", "fax"),
    ],
)
def test_reference_6_1_filter_types_are_canonical(target, attribute, value) -> None:
    """The ``type`` values Entra filters on are advertised as canonical values."""
    assert value in USER.attr(attribute).sub("type").canonical_values
