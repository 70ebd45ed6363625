"""Request bodies and query parameters: whatever a client sends, parsing
answers with a SCIM error (RFC 7644 §3.12, a 4xx) or with data that is valid;
it never raises anything else."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from shared.config import Settings
from shared.scim.errors import ScimError
from shared.scim.patch import parse_patch_request
from shared.scim.query import parse_list_query, parse_search_request
from shared.scim.resource import parse_resource
from shared.scim.schemas import GROUP_TYPE, SEARCH_REQUEST_URN, USER_TYPE
from tests.property.strategies import (
    ANY_JSON,
    ODD_TEXT,
    filter_texts,
    fuzz_settings,
    hostile_operations,
    patch_body,
    resources,
)

SETTINGS = fuzz_settings(300)
CONFIG = Settings.from_env()


def _refused(call, *args):
    try:
        return call(*args)
    except ScimError as exc:
        assert 400 <= exc.status < 500, exc.status
        return None


def _mutated(rt):
    """A valid body with one attribute replaced by an arbitrary JSON value."""
    names = st.sampled_from(["userName", "displayName", "name", "emails", "active", "members", "schemas", "externalId",
                             "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", "id", "meta", "groups"])
    return st.builds(lambda body, key, value: {**body, key: value}, resources(rt), names | ODD_TEXT, ANY_JSON)


@SETTINGS
@given(st.sampled_from([USER_TYPE, GROUP_TYPE]), ANY_JSON | _mutated(USER_TYPE) | _mutated(GROUP_TYPE))
def test_resource_bodies_are_refused_or_valid(rt, body):
    data = _refused(parse_resource, rt, body)
    if data is not None:
        assert parse_resource(rt, {"schemas": list(rt.all_schema_urns), **data}) == data


@SETTINGS
@given(ANY_JSON | st.lists(hostile_operations(), max_size=4).map(patch_body)
       | st.builds(lambda ops: {"schemas": ops, "Operations": []}, ANY_JSON))
def test_patch_messages_are_refused_or_parsed(body):
    _refused(parse_patch_request, body)


_PARAMS = st.dictionaries(
    st.sampled_from(["filter", "sortby", "sortorder", "startindex", "count", "attributes", "excludedattributes"]),
    ODD_TEXT | filter_texts() | st.integers(-(2**70), 2**70).map(str) | st.sampled_from(["", "ascending", "Descending"]),
)


@SETTINGS
@given(_PARAMS)
def test_query_parameters_are_refused_or_parsed(params):
    query = _refused(parse_list_query, params, CONFIG)
    if query is not None:
        assert query.start_index >= 1 and 0 <= query.count <= CONFIG.max_page_size


@SETTINGS
@given(ANY_JSON | st.fixed_dictionaries({"schemas": st.just([SEARCH_REQUEST_URN])},
                                        optional={k: ANY_JSON | ODD_TEXT for k in
                                                  ("filter", "sortBy", "sortOrder", "startIndex", "count", "attributes",
                                                   "excludedAttributes")}))
def test_search_requests_are_refused_or_parsed(body):
    query = _refused(parse_search_request, body, CONFIG)
    if query is not None:
        assert query.start_index >= 1 and 0 <= query.count <= CONFIG.max_page_size
