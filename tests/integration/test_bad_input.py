"""Bad input (issue #2, "Bad input"): a SCIM error, never a 500, nothing half-written.

Every case checks the SCIM Error shape (Error URN in ``schemas``, ``status``
as a string equal to the HTTP status, a non-empty ``detail``) and that the
tenant holds no partial resource afterwards.
"""

from __future__ import annotations

import json

import pytest
import requests

from tests.messages import ENT, GROUP, LIST, PATCH, SCIM_MEDIA, SEARCH, USER, scim_error

pytestmark = pytest.mark.memory_store  # about the protocol, not storage: tests/integration/conftest.py

# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------


def ok(resp, status) -> dict:
    assert resp.status_code == status, f"{resp.status_code}: {resp.text[:600]}"
    return resp.json()


def total(scim, resource: str) -> int:
    body = ok(scim.get(f"/{resource}"), 200)
    assert LIST in body["schemas"]
    return body["totalResults"]


def assert_empty(scim) -> None:
    assert total(scim, "Users") == 0, "a partial User was left behind"
    assert total(scim, "Groups") == 0, "a partial Group was left behind"


def valid_user(user_name="bjensen@example.com", **extra) -> dict:
    return {"schemas": [USER], "userName": user_name, **extra}


def create_user(scim, user_name="bjensen@example.com", **extra) -> dict:
    return ok(scim.post("/Users", valid_user(user_name, **extra)), 201)


def create_group(scim, name="Group A") -> dict:
    return ok(scim.post("/Groups", {"schemas": [GROUP], "displayName": name}), 201)


def raw(scim, method, path, data: bytes, content_type=SCIM_MEDIA):
    return scim.request(method, path, raw=data, headers={"Content-Type": content_type})


# ---------------------------------------------------------------------------
# Malformed bodies
# ---------------------------------------------------------------------------

MALFORMED = [
    b'{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "x",',
    b'{"acve": tre, "userName": "junk"}',
    b"{'schemas': ['urn:ietf:params:scim:schemas:core:2.0:User'], 'userName': 'x'}",
    b"",
    b"null",
    b'"just a string"',
    b'{"userName": "x"} trailing',
]


@pytest.mark.parametrize("data", MALFORMED, ids=[f"malformed{i}" for i in range(len(MALFORMED))])
@pytest.mark.parametrize("path", ["/Users", "/Groups"])
def test_malformed_json_on_create(scim, path, data):
    """Malformed JSON (and non-object JSON) on POST → 400; nothing created."""
    scim_error(raw(scim, "POST", path, data), 400)
    assert_empty(scim)


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_malformed_json_on_update(scim, method):
    """Malformed JSON on PUT/PATCH → 400; the resource is unchanged."""
    uid = create_user(scim, title="T")["id"]
    scim_error(raw(scim, method, f"/Users/{uid}", b'{"schemas": ["x"], "Operations": [}'), 400)
    assert ok(scim.get(f"/Users/{uid}"), 200)["title"] == "T"


def test_malformed_json_on_search(scim):
    """Malformed JSON on .search → 400."""
    scim_error(raw(scim, "POST", "/Users/.search", b'{"filter": '), 400)


@pytest.mark.parametrize("path", ["/Users", "/Groups"])
def test_invalid_utf8(scim, path):
    """Invalid UTF-8 bytes in the body → 400; nothing created."""
    key = b"userName" if path == "/Users" else b"displayName"
    urn = USER if path == "/Users" else GROUP
    data = b'{"schemas": ["' + urn.encode() + b'"], "' + key + b'": "bad\xff\xfe\xc3(name"}'
    scim_error(raw(scim, "POST", path, data), 400)
    assert_empty(scim)


def test_invalid_utf8_on_patch(scim):
    uid = create_user(scim)["id"]
    data = (b'{"schemas": ["' + PATCH.encode() + b'"], "Operations": '
            b'[{"op": "replace", "path": "title", "value": "\xc0\xaf"}]}')
    scim_error(raw(scim, "PATCH", f"/Users/{uid}", data), 400)
    assert "title" not in ok(scim.get(f"/Users/{uid}"), 200)


@pytest.mark.parametrize("content_type", ["text/plain", "application/xml", "application/x-www-form-urlencoded"])
def test_wrong_content_type(scim, content_type):
    """A body that isn't application/(scim+)json → 415 (or 400) with a SCIM error; nothing created."""
    scim_error(raw(scim, "POST", "/Users", json.dumps(valid_user()).encode(), content_type), (415, 400))
    assert_empty(scim)


def test_wrong_content_type_on_patch(scim):
    uid = create_user(scim)["id"]
    body = {"schemas": [PATCH], "Operations": [{"op": "replace", "path": "title", "value": "X"}]}
    scim_error(raw(scim, "PATCH", f"/Users/{uid}", json.dumps(body).encode(), "text/plain"), (415, 400))
    assert "title" not in ok(scim.get(f"/Users/{uid}"), 200)


@pytest.mark.parametrize("path", ["/Users", "/Groups", "/Users/.search"])
def test_json_array_instead_of_object(scim, path):
    """A JSON array where an object is expected → 400."""
    scim_error(scim.post(path, [valid_user()]), 400)
    assert_empty(scim)


def test_json_array_instead_of_patch_object(scim):
    uid = create_user(scim)["id"]
    scim_error(scim.patch(f"/Users/{uid}", [{"op": "replace", "path": "title", "value": "X"}]), 400)
    assert "title" not in ok(scim.get(f"/Users/{uid}"), 200)


# ---------------------------------------------------------------------------
# Wrong types, missing and unknown attributes, unknown schemas
# ---------------------------------------------------------------------------

WRONG_TYPES = {
    "userName_number": {"userName": 5},
    "userName_object": {"userName": {"value": "x"}},
    "active_maybe": {"userName": "x@example.com", "active": "maybe"},
    "active_number": {"userName": "x@example.com", "active": 2},
    "emails_object": {"userName": "x@example.com", "emails": {"value": "x@example.com", "type": "work"}},
    "emails_strings": {"userName": "x@example.com", "emails": ["x@example.com"]},
    "name_string": {"userName": "x@example.com", "name": "Barbara Jensen"},
    "email_value_number": {"userName": "x@example.com", "emails": [{"value": 12, "type": "work"}]},
    "primary_maybe": {"userName": "x@example.com", "emails": [{"value": "x@example.com", "primary": "maybe"}]},
    "schemas_string": {"userName": "x@example.com", "schemas": USER},
    "enterprise_string": {"userName": "x@example.com", "schemas": [USER, ENT],
                          ENT: "not an object"},
    "manager_number": {"userName": "x@example.com", "schemas": [USER, ENT],
                       ENT: {"manager": 42}},
}


@pytest.mark.parametrize("case", list(WRONG_TYPES))
def test_wrong_json_types_on_user_create(scim, case):
    """Wrong JSON types → 400 (invalidValue or invalidSyntax); nothing created."""
    body = {"schemas": [USER], **WRONG_TYPES[case]}
    scim_error(scim.post("/Users", body), 400, ("invalidValue", "invalidSyntax"))
    assert_empty(scim)


@pytest.mark.parametrize("case", ["userName_number", "active_maybe", "emails_object"])
def test_wrong_json_types_on_put(scim, case):
    uid = create_user(scim, title="T")["id"]
    body = {"schemas": [USER], "userName": "bjensen@example.com", **WRONG_TYPES[case]}
    scim_error(scim.put(f"/Users/{uid}", body), 400)
    stored = ok(scim.get(f"/Users/{uid}"), 200)
    assert stored["userName"] == "bjensen@example.com" and stored["title"] == "T"


def test_wrong_json_types_on_group_create(scim):
    for body in ({"displayName": 7}, {"displayName": "G", "members": {"value": "x"}},
                 {"displayName": "G", "members": ["not-an-object"]}):
        scim_error(scim.post("/Groups", {"schemas": [GROUP], **body}), 400)
    assert_empty(scim)


@pytest.mark.parametrize("body", [
    {"schemas": [USER]},
    {"schemas": [USER], "userName": ""},
    {"schemas": [USER], "userName": None},
    {"schemas": [USER], "userame": "typo@example.com"},
], ids=["absent", "empty", "null", "misspelled"])
def test_missing_user_name(scim, body):
    """userName is required (RFC 7643 §4.1.1) → 400; nothing created."""
    scim_error(scim.post("/Users", body), 400)
    assert_empty(scim)


def test_missing_user_name_on_put(scim):
    uid = create_user(scim)["id"]
    scim_error(scim.put(f"/Users/{uid}", {"schemas": [USER], "title": "T"}), 400)
    assert ok(scim.get(f"/Users/{uid}"), 200)["userName"] == "bjensen@example.com"


@pytest.mark.parametrize("body", [
    {"schemas": [GROUP]},
    {"schemas": [GROUP], "displayName": ""},
    {"schemas": [GROUP], "displayName": None},
    {"schemas": [GROUP], "externalId": "e"},
], ids=["absent", "empty", "null", "externalId_only"])
def test_missing_display_name(scim, body):
    """Group displayName is required → 400; nothing created."""
    scim_error(scim.post("/Groups", body), 400)
    assert_empty(scim)


@pytest.mark.parametrize("schemas", [
    [USER, "urn:ietf:params:scim:schemas:extension:acme:2.0:Widget"],
    ["urn:example:totally:unknown"],
    [GROUP],
    [],
], ids=["unknown_extension", "unknown_only", "wrong_core", "empty"])
def test_unknown_schema_urn_in_schemas(scim, schemas):
    """`schemas` naming an unknown schema (or lacking the core one) → 400; nothing created."""
    scim_error(scim.post("/Users", {"schemas": schemas, "userName": "x@example.com"}), 400)
    assert_empty(scim)


def test_unknown_schema_urn_in_group_schemas(scim):
    scim_error(scim.post("/Groups", {"schemas": [GROUP, "urn:example:acme:Group"], "displayName": "G"}), 400)
    assert_empty(scim)


@pytest.mark.parametrize("extra", [
    {"favouriteColour": "blue"},
    {"name": {"givenName": "B", "nickname2": "x"}},
    {"emails": [{"value": "x@example.com", "colour": "red"}]},
], ids=["top_level", "sub_attribute", "multi_valued_sub_attribute"])
def test_unknown_attribute(scim, extra):
    """Unknown attributes → 400 naming the attribute; nothing created."""
    body = scim_error(scim.post("/Users", valid_user(**extra)), 400)
    name = next(iter(extra))
    unknown = {"name": "nickname2", "emails": "colour"}.get(name, name)
    assert unknown.lower() in body["detail"].lower()
    assert_empty(scim)


def test_unknown_attribute_on_patch(scim):
    uid = create_user(scim)["id"]
    body = {"schemas": [PATCH], "Operations": [
        {"op": "replace", "path": "title", "value": "T"},
        {"op": "add", "value": {"favouriteColour": "blue"}}]}
    scim_error(scim.patch(f"/Users/{uid}", body), 400)
    assert "title" not in ok(scim.get(f"/Users/{uid}"), 200)


@pytest.mark.parametrize("body", [
    {"Operations": [{"op": "replace", "path": "title", "value": "T"}]},
    {"schemas": ["urn:example:not:patch"], "Operations": [{"op": "replace", "path": "title", "value": "T"}]},
    {"schemas": [PATCH]},
    {"schemas": [PATCH], "Operations": {"op": "replace", "path": "title", "value": "T"}},
    {"schemas": [PATCH], "Operations": []},
    {"schemas": [PATCH], "Operations": ["replace"]},
    {"schemas": [PATCH], "Operations": [{"path": "title", "value": "T"}]},
    {"schemas": [PATCH], "Operations": [{"op": 3, "path": "title", "value": "T"}]},
    {"schemas": [PATCH], "Operations": [{"op": "replace", "path": 5, "value": "T"}]},
    {"schemas": [PATCH], "Operations": [{"op": "add", "path": "title"}]},
    {"schemas": [PATCH], "Operations": [{"op": "replace", "value": "not an object"}]},
], ids=["no_schemas", "wrong_schema", "no_operations", "operations_object", "operations_empty",
        "operation_string", "op_missing", "op_number", "path_number", "add_without_value", "pathless_scalar"])
def test_malformed_patch_request(scim, body):
    """RFC 7644 §3.5.2 structure errors → 400; the user is unchanged."""
    uid = create_user(scim)["id"]
    scim_error(scim.patch(f"/Users/{uid}", body), 400)
    assert "title" not in ok(scim.get(f"/Users/{uid}"), 200)


# ---------------------------------------------------------------------------
# Size and filter limits
# ---------------------------------------------------------------------------


def test_oversized_body_413_on_patch(scim):
    uid = create_user(scim)["id"]
    body = {"schemas": [PATCH], "Operations": [
        {"op": "replace", "path": "title", "value": "y" * (1024 * 1024 + 100)}]}
    scim_error(scim.patch(f"/Users/{uid}", body), 413)
    assert "title" not in ok(scim.get(f"/Users/{uid}"), 200)


def test_large_but_allowed_body_not_a_storage_500(scim):
    """Under 1 MiB but too large for one storage entity → a clear 400/413, never a storage 500."""
    resp = scim.post("/Users", valid_user(displayName="z" * (900 * 1024)))
    if resp.status_code != 201:
        scim_error(resp, (400, 413))
        assert_empty(scim)


def test_over_long_filter(scim):
    """A filter over 4096 characters → 400 invalidFilter."""
    create_user(scim)
    flt = 'userName eq "' + "a" * 4100 + '"'
    scim_error(scim.get("/Users", params={"filter": flt}), 400, "invalidFilter")
    scim_error(scim.post("/Users/.search", {"schemas": [SEARCH], "filter": flt}), 400, "invalidFilter")


def test_over_deep_filter(scim):
    """200 nested parentheses → 400 (invalidFilter), not a recursion error."""
    flt = "(" * 200 + 'userName eq "x"' + ")" * 200
    scim_error(scim.get("/Users", params={"filter": flt}), 400, "invalidFilter")
    flt = "not (" * 200 + 'userName eq "x"' + ")" * 200
    scim_error(scim.get("/Users", params={"filter": flt}), 400, "invalidFilter")


def test_filter_within_limits_still_works(scim):
    """Moderate nesting stays valid (the limits don't reject ordinary filters)."""
    uid = create_user(scim)["id"]
    flt = "(" * 10 + 'userName eq "bjensen@example.com"' + ")" * 10
    body = ok(scim.get("/Users", params={"filter": flt}), 200)
    assert [r["id"] for r in body["Resources"]] == [uid]


INVALID_FILTERS = [
    "userName eq",
    "userName",
    'userName xx "a"',
    'userName eq "unterminated',
    'emails[type eq "work"',
    'emails[type eq "work"]]',
    "and",
    'userName eq "a" and',
    'userName eq "a" or or userName eq "b"',
    '(userName eq "a"',
    'userName eq "a")',
    'not userName eq "a"',
    '"a" eq userName',
    'userName eq "a" userName eq "b"',
    'userName pr "a"',
    'userName eq [1]',
    'title eq "a" and emails[type eq "work" and value[x eq "y"]]',
]


@pytest.mark.parametrize("flt", INVALID_FILTERS)
def test_invalid_filter(scim, flt):
    """RFC 7644 §3.4.2.2: an invalid filter → 400 invalidFilter (never 404 or 500)."""
    scim_error(scim.get("/Users", params={"filter": flt}), 400, "invalidFilter")


@pytest.mark.parametrize("flt", ['displayName eq', 'displayName eq "x" and (', 'members[value eq "x"'])
def test_invalid_group_filter(scim, flt):
    scim_error(scim.get("/Groups", params={"filter": flt}), 400, "invalidFilter")


@pytest.mark.parametrize("params", [
    {"sortBy": "noSuchAttribute"},
    {"attributes": "emails[type eq"},
    {"excludedAttributes": "name..givenName"},
], ids=["unknown_sortBy", "malformed_attributes", "malformed_excludedAttributes"])
def test_questionable_query_parameters_never_500(scim, params):
    """RFC 7644 is silent on these: either ignored (200 ListResponse) or a 400 SCIM error, never a 500."""
    create_user(scim)
    resp = scim.get("/Users", params=params)
    if resp.status_code == 200:
        assert LIST in resp.json()["schemas"]
    else:
        scim_error(resp, 400)


# ---------------------------------------------------------------------------
# Odd ids in the path
# ---------------------------------------------------------------------------

ODD_IDS = ["a%2Fb", "a%23b", "a%3Fb", "a%01b", "%00", "a%0Ab", "..%2F..%2Fadmin", "%2F", "a%25b", "%C3%28"]


@pytest.mark.parametrize("odd", ODD_IDS)
@pytest.mark.parametrize("resource", ["Users", "Groups"])
def test_odd_ids_in_path(scim, resource, odd):
    """Ids with `/`, `#`, `?`, `%`, control characters → 404 or 400 with a SCIM error, for every method."""
    uid = create_user(scim)["id"]
    gid = create_group(scim)["id"]
    path = f"/{resource}/{odd}"
    scim_error(scim.get(path), (404, 400))
    scim_error(scim.delete(path), (404, 400))
    scim_error(scim.patch(path, {"schemas": [PATCH], "Operations": [
        {"op": "replace", "path": "displayName", "value": "x"}]}), (404, 400))
    body = valid_user() if resource == "Users" else {"schemas": [GROUP], "displayName": "Group A"}
    scim_error(scim.put(path, body), (404, 400))
    users = ok(scim.get("/Users"), 200)
    groups = ok(scim.get("/Groups"), 200)
    assert [u["id"] for u in users["Resources"]] == [uid]
    assert [g["id"] for g in groups["Resources"]] == [gid]
    assert "displayName" not in users["Resources"][0]


# ---------------------------------------------------------------------------
# Authentication (issue #2 "Auth")
# ---------------------------------------------------------------------------


def _www_authenticate_bearer(resp) -> None:
    challenge = resp.headers.get("WWW-Authenticate", "")
    assert challenge.lower().startswith("bearer"), f"WWW-Authenticate is {challenge!r}"


@pytest.mark.parametrize("method,path", [
    ("GET", "/Users"), ("POST", "/Users"), ("GET", "/Groups"), ("POST", "/Users/.search"),
    ("GET", "/Users/abc"), ("PATCH", "/Users/abc"), ("DELETE", "/Groups/abc"), ("POST", "/.search"),
])
def test_no_authorization_401(scim, method, path):
    """No Authorization header → 401, `WWW-Authenticate: Bearer…`, SCIM error body; nothing written."""
    body = valid_user() if method == "POST" else None
    resp = requests.request(method, scim.base + path, json=body, headers={"Content-Type": SCIM_MEDIA}, timeout=30)
    scim_error(resp, 401)
    _www_authenticate_bearer(resp)
    assert_empty(scim)


@pytest.mark.parametrize("authorization", [
    "Bearer wrong-token",
    "Bearer ",
    "Bearer",
    "Basic dXNlcjpwYXNz",
    "bearer-ish token",
    "Bearer {token}x",
    "Bearer {token} {token}",
], ids=["wrong", "empty", "scheme_only", "basic", "garbage", "token_plus_char", "token_twice"])
def test_wrong_token_401(scim, authorization):
    """A token that identifies no tenant → 401 with a SCIM error; nothing written."""
    header = authorization.replace("{token}", scim.token)
    resp = requests.post(scim.base + "/Users", json=valid_user(),
                         headers={"Authorization": header, "Content-Type": SCIM_MEDIA}, timeout=30)
    scim_error(resp, 401)
    _www_authenticate_bearer(resp)
    resp = requests.get(scim.base + "/Users", headers={"Authorization": header}, timeout=30)
    scim_error(resp, 401)
    assert_empty(scim)


def test_bearer_scheme_is_case_insensitive(scim):
    """RFC 7235 §2.1: the auth scheme name is case-insensitive."""
    resp = requests.get(scim.base + "/Users", headers={"Authorization": f"bearer {scim.token}"}, timeout=30)
    assert resp.status_code == 200, resp.text
