"""Text and numbers storage cannot hold are refused at the door (shared/scim/storable_text.py).

An unpaired surrogate escape (``"\\ud800"``) once passed validation: two
such creates made Azurite refuse every later write of every tenant, and a
stored one turned every response carrying it into a 500.  Here every
string position of every route's request -- each key and value of the JSON
body at any depth, each query parameter, the path id -- gets each kind of
refused character (hypothesis draws the character, where in the string it
goes and the text around it), and must answer 400 naming the place; the
tenant's data is untouched and another tenant still writes.
"""

from __future__ import annotations

import copy
import json
from urllib.parse import quote

import pytest
import requests
from hypothesis import example, given
from hypothesis import strategies as st

from shared.scim.http import Request, Response
from tests.integration.conftest import new_tenant_client
from tests.messages import ENT, GROUP, PATCH, SEARCH, USER
from tests.property.strategies import fuzz_settings

# One of each kind the service refuses (shared/scim/storable_text.py, module docstring).
REFUSED_KINDS = {
    "lone high surrogate": "\ud800",
    "lone low surrogate": "\udfff",
    "reversed pair": "\udc00\ud800",
    "NUL": "\x00",
    "C0 control": "\x1b",
    "DEL": "\x7f",
    "C1 control": "\x85",
    "noncharacter U+FFFE": "\ufffe",
    "noncharacter U+FDD0": "\ufdd0",
    "plane-end noncharacter": "\U0010ffff",
}
REFUSED = st.sampled_from(sorted(REFUSED_KINDS.values())) | st.one_of(
    st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF),
    st.characters(min_codepoint=0x00, max_codepoint=0x08),
    st.characters(min_codepoint=0x0E, max_codepoint=0x1F),
    st.characters(min_codepoint=0x7F, max_codepoint=0x9F),
    st.characters(min_codepoint=0xFDD0, max_codepoint=0xFDEF),
)
SETTINGS = fuzz_settings(6)

ENTRA_USER = {
    "schemas": [USER, ENT], "externalId": "ext-9", "userName": "Ada@contoso.example", "active": True,
    "displayName": "Ada Lovelace", "title": "Analyst", "preferredLanguage": "en-GB",
    "emails": [{"primary": True, "type": "work", "value": "ada@contoso.example"}],
    "name": {"formatted": "Ada Lovelace", "familyName": "Lovelace", "givenName": "Ada"},
    "addresses": [{"type": "work", "formatted": "1 Main St\nLondon", "locality": "London", "country": "GB"}],
    "phoneNumbers": [{"type": "work", "value": "+44 20 0000 0000"}],
    ENT: {"employeeNumber": "42", "department": "R&D", "manager": {"value": "m-1"}},
}


def _bodies(user_id: str, group_id: str) -> list[tuple[str, str, dict]]:
    """(method, path, body) of every route that takes a JSON body."""
    patch_user = {"schemas": [PATCH], "Operations": [
        {"op": "Replace", "path": "displayName", "value": "New Name"},
        {"op": "Add", "path": 'emails[type eq "work"].value', "value": "new@contoso.example"},
        {"op": "replace", "value": {"active": "False", f"{ENT}:department": "Ops", "name.givenName": "Al"}}]}
    patch_group = {"schemas": [PATCH], "Operations": [
        {"op": "Add", "path": "members", "value": [{"value": user_id, "display": "Ada"}]},
        {"op": "Replace", "path": "displayName", "value": "Renamed"}]}
    search = {"schemas": [SEARCH], "filter": 'userName eq "ada@contoso.example"', "attributes": ["userName"],
              "excludedAttributes": ["emails"], "sortBy": "userName", "sortOrder": "ascending",
              "startIndex": 1, "count": 5}
    group = {"schemas": [GROUP], "displayName": "Engineers", "externalId": "g-ext",
             "members": [{"value": user_id, "display": "Ada"}]}
    return [
        ("POST", "/Users", ENTRA_USER), ("PUT", f"/Users/{user_id}", ENTRA_USER),
        ("PATCH", f"/Users/{user_id}", patch_user), ("POST", "/Groups", group),
        ("PUT", f"/Groups/{group_id}", group), ("PATCH", f"/Groups/{group_id}", patch_group),
        ("POST", "/.search", search), ("POST", "/Users/.search", search), ("POST", "/Groups/.search", search),
    ]


QUERY_ROUTES = ("/Users", "/Groups", "/Users/{user}", "/Groups/{group}")
QUERY = {"filter": 'userName eq "ada"', "attributes": "userName,emails", "excludedAttributes": "groups",
         "sortBy": "userName", "sortOrder": "descending", "startIndex": "1", "count": "10"}
ID_ROUTES = ("/Users/{id}", "/Groups/{id}", "/Schemas/{id}", "/ResourceTypes/{id}")


def string_positions(value, path: str = "", steps: tuple = ()):
    """Every string of a JSON value -- object keys and string values, any
    depth -- as (steps to reach it, is it a key, where the service names it)."""
    if isinstance(value, dict):
        for key, child in value.items():
            yield steps + (key,), True, f"a key in {path or 'the top-level object'} holds"
            yield from string_positions(child, f"{path}.{key}" if path else key, steps + (key,))
    elif isinstance(value, list):
        for i, child in enumerate(value):
            yield from string_positions(child, f"{path}[{i}]", steps + (i,))
    elif isinstance(value, str):
        yield steps, False, f"{path or 'the value'} holds"


def _insert(text: str, bad: str, at: int) -> str:
    at = at % (len(text) + 1)
    return text[:at] + bad + text[at:]


def with_bad_text(body, steps: tuple, is_key: bool, bad: str, at: int):
    """A copy of ``body`` with ``bad`` inserted into the string at ``steps``."""
    body = copy.deepcopy(body)
    parent = body
    for step in steps[:-1]:
        parent = parent[step]
    last = steps[-1]
    if is_key:
        renamed = {(_insert(k, bad, at) if k == last else k): v for k, v in parent.items()}
        parent.clear()
        parent.update(renamed)
    else:
        parent[last] = _insert(parent[last], bad, at)
    return body


def url_quote(text: str) -> str:
    """Percent-encode as UTF-8, lone surrogates as the bytes a CESU/WTF-8 client sends."""
    return quote(text.encode("utf-8", "surrogatepass"), safe="")


def assert_refused(response, where: str, scim_types=("invalidValue",)):
    assert response.status_code == 400, (where, response.status_code, response.text[:300])
    body = response.json()
    assert body["scimType"] in scim_types, (where, body)
    assert where in body["detail"], (where, body["detail"])


@pytest.fixture(scope="module")
def tenant(scim_server, registry):
    """One tenant with a user and a group, and a second tenant that must keep writing."""
    client = new_tenant_client(scim_server, registry)
    user = client.post("/Users", {"schemas": [USER], "userName": "keeper@contoso.example"}).json()["id"]
    group = client.post("/Groups", {"schemas": [GROUP], "displayName": "Keepers"}).json()["id"]
    return client, user, group


def _state(client) -> tuple:
    users = client.get("/Users").json()
    groups = client.get("/Groups").json()
    return users["totalResults"], groups["totalResults"], json.dumps(users["Resources"] + groups["Resources"], sort_keys=True)


@given(bad=REFUSED, at=st.integers(0, 64))
@example(bad=REFUSED_KINDS["lone high surrogate"], at=0)
@example(bad=REFUSED_KINDS["reversed pair"], at=3)
@example(bad=REFUSED_KINDS["NUL"], at=1)
@example(bad=REFUSED_KINDS["C1 control"], at=2)
@example(bad=REFUSED_KINDS["noncharacter U+FFFE"], at=5)
@example(bad=REFUSED_KINDS["plane-end noncharacter"], at=64)
@SETTINGS
def test_every_string_of_every_body_is_checked(tenant, bad, at):
    client, user, group = tenant
    before = _state(client)
    for method, path, body in _bodies(user, group):
        for steps, is_key, where in string_positions(body):
            sent = with_bad_text(body, steps, is_key, bad, at)
            assert_refused(client.request(method, path, sent), where)
    assert _state(client) == before


@given(bad=REFUSED, at=st.integers(0, 64))
@example(bad=REFUSED_KINDS["lone low surrogate"], at=0)
@example(bad=REFUSED_KINDS["DEL"], at=4)
@SETTINGS
def test_every_query_parameter_and_path_id_is_checked(tenant, bad, at):
    client, user, group = tenant
    for route in QUERY_ROUTES:
        path = route.format(user=user, group=group)
        for name in QUERY:
            for bad_name in (False, True):
                query = dict(QUERY)
                if bad_name:
                    query[_insert(name, bad, at)] = query.pop(name)
                else:
                    query[name] = _insert(query[name], bad, at)
                url = client.base + path + "?" + "&".join(f"{url_quote(k)}={url_quote(v)}" for k, v in query.items())
                response = client.session.get(url, timeout=60)
                if name == "filter" and not bad_name:
                    assert_refused(response, 'the "filter" query parameter holds', ("invalidFilter",))
                else:
                    assert_refused(response, "the query parameter")
    for route in ID_ROUTES:
        bad_id = url_quote(_insert(user, bad, at))
        for method in ("GET", "PUT", "PATCH", "DELETE"):
            response = client.session.request(method, client.base + route.format(id=bad_id), timeout=60)
            assert_refused(response, "the id in the path holds")


@given(bad=REFUSED)
@example(bad=REFUSED_KINDS["lone high surrogate"])
@SETTINGS
def test_refused_text_inside_a_filter_string_escape(tenant, bad):
    """``\\ud800`` spelled inside the filter's own JSON string: the query is
    plain ASCII, the decoded literal is not text."""
    client, _, _ = tenant
    literal = json.dumps(bad)  # ensure_ascii: the escape text, e.g. "\ud800"
    for flt in (f"userName eq {literal}", f'emails[type eq "work" and value co {literal}]', f"displayName sw {literal}"):
        assert_refused(client.get("/Users", params={"filter": flt}), "holds", ("invalidFilter",))
        search = {"schemas": [SEARCH], "filter": flt}
        assert_refused(client.post("/Users/.search", search), "holds", ("invalidFilter",))


@pytest.mark.parametrize("number, scim_type, where", [
    ("1" * 5000, "invalidValue", "x.y[1]: the number"),
    ("-" + "9" * 400, "invalidValue", "x.y[1]: the number"),
    (str(2**53), "invalidValue", "x.y[1]: the number"),
    ("1e400", "invalidValue", "x.y[1]: the number"),
    ("-1e400", "invalidValue", "x.y[1]: the number"),
    ("NaN", "invalidSyntax", "NaN is not a JSON number"),
    ("Infinity", "invalidSyntax", "Infinity is not a JSON number"),
    ("-Infinity", "invalidSyntax", "-Infinity is not a JSON number"),
])
def test_numbers_the_service_cannot_represent_are_a_400(tenant, number, scim_type, where):
    client, user, _ = tenant
    raw = ('{"schemas": ["%s"], "userName": "num@contoso.example", "x": {"y": [1, %s]}}' % (USER, number)).encode()
    for method, path in (("POST", "/Users"), ("PUT", f"/Users/{user}")):
        response = client.request(method, path, raw=raw, headers={"Content-Type": "application/scim+json"})
        assert_refused(response, where, (scim_type,))
    assert client.get("/Users", params={"filter": 'userName eq "num@contoso.example"'}).json()["totalResults"] == 0


def test_the_largest_exact_integers_are_accepted(tenant):
    client, _, _ = tenant
    custom = "urn:ietf:params:scim:schemas:extension:Custom:2.0:User"  # not registered: ignored after the check
    raw = ('{"schemas": ["%s"], "userName": "big@contoso.example", "%s": {"n": [%d, %d, 1.5e300]}}'
           % (USER, custom, 2**53 - 1, -(2**53 - 1))).encode()
    created = client.request("POST", "/Users", raw=raw, headers={"Content-Type": "application/scim+json"})
    assert created.status_code == 201, created.text
    assert client.delete(f"/Users/{created.json()['id']}").status_code == 204


def test_tab_newline_and_carriage_return_are_kept(tenant):
    """The control characters multi-line values need (addresses.formatted, RFC 7643 §4.1.2) are stored as given."""
    client, _, _ = tenant
    text = "1 Main St\r\nFloor 2\tRoom 3"
    created = client.post("/Users", {"schemas": [USER], "userName": "lines@contoso.example",
                                     "addresses": [{"type": "work", "formatted": text}]})
    assert created.status_code == 201, created.text
    assert client.get(f"/Users/{created.json()['id']}").json()["addresses"][0]["formatted"] == text
    assert client.delete(f"/Users/{created.json()['id']}").status_code == 204


def test_after_refused_writes_another_tenant_still_writes(scim_server, registry, tenant):
    """The outage this replaces: two stored lone surrogates made Azurite refuse every later write."""
    client, user, _ = tenant
    for _ in range(3):
        assert_refused(client.post("/Users", {"schemas": [USER], "userName": "x\ud800"}), "userName holds")
        assert_refused(client.patch(f"/Users/{user}", {"schemas": [PATCH], "Operations": [
            {"op": "replace", "path": "displayName", "value": "\udc00"}]}), "Operations[0].value holds")
    other = new_tenant_client(scim_server, registry)
    created = other.post("/Users", {"schemas": [USER], "userName": "after@contoso.example"})
    assert created.status_code == 201, created.text
    assert client.post("/Users", {"schemas": [USER], "userName": "fine@contoso.example"}).status_code == 201


def test_credentials_with_refused_text_are_a_plain_401(scim_app, tenant):
    """Credentials are never described: whatever their text, a bad one gets the
    same 401 as a wrong one (RFC 6750 §3.1), and never reaches storage or a hash."""
    service = scim_app._get_service()
    client, _, _ = tenant
    for bad in REFUSED_KINDS.values():
        for header in (f"Bearer {client.token[:20]}{bad}{client.token[20:]}", f"Bearer {bad}", f"Bearer eyJ{bad}.a.b"):
            response = service.handle(Request.build("GET", client.base + "/Users", {"Authorization": header}, b""), "Users")
            assert response.status == 401 and response.headers["WWW-Authenticate"].startswith("Bearer"), header
        response = service.handle(Request.build("POST", client.base + "/oauth/token", {
            "Authorization": f"Basic é{bad}", "Content-Type": "application/x-www-form-urlencoded"},
            b"grant_type=client_credentials"), "oauth/token")
        assert response.status == 401 and response.body["error"] == "invalid_client"
    form = "grant_type=client_credentials&client_id=" + url_quote("a\ud800") + "&client_secret=" + url_quote("\x00")
    response = requests.post(client.base + "/oauth/token", data=form,
                             headers={"Content-Type": "application/x-www-form-urlencoded"}, timeout=60)
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"


def test_a_stored_lone_surrogate_is_still_served_as_json():
    """A value stored before the check: the response escapes it (valid JSON,
    RFC 8259 §7) instead of failing to encode (it was a 500)."""
    payload = Response(200, {"displayName": "x\ud800y", "name": "é"}).payload()
    assert payload.decode("ascii") == '{"displayName":"x\\ud800y","name":"\\u00e9"}'
    assert Response(200, {"name": "é"}).payload() == '{"name":"é"}'.encode()
