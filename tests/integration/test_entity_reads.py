"""The lean read path (:mod:`shared.storage.entity_reads`) against the SDK's
own ``TableClient.get_entity`` and ``TableClient.query_entities``.

1. **Requests, byte for byte.**  For the same keys, selects, filters with
   bound parameters (text with quotes, integers past Int32, booleans,
   floats, datetimes, GUIDs, bytes), page sizes and continuation headers,
   and the same clock, the lean path sends the SDK's requests: method,
   URL, every header in order (``Authorization`` included, so the
   signature too).  Only ``x-ms-client-request-id`` differs, a fresh id
   per request by design.  A loopback server records both.  Arguments the
   SDK refuses before sending are refused alike.
2. **Answers.**  For the same response bytes the lean path returns the
   SDK's entities -- values, their types, ``etag`` and ``timestamp`` --
   or raises the SDK's exception: type, status, reason, error code,
   message, additional info, text, cause, continuation token.  The
   answers are generated: entities of every EDM type (Int64, Double with
   NaN and the infinities, Guid, Binary, DateTime with 0 to 7 fraction
   digits, Boolean), selects of absent properties, empty pages, one or
   both or no continuation headers, OData JSON and XML errors (400, 403,
   404 for an entity or a table, 409, 5xx), and bodies that are not what
   they say (not JSON, cut short, empty, a list, a bad ``Date``).  Retries
   of a 503 or of a body cut short in transit are the SDK's too.
3. **Azurite.**  Random entities written and read back through both paths
   are equal; a query over more rows than a page walks the same pages with
   the same number of storage calls (counted by the app's own counter,
   :mod:`shared.storage.calls`); nothing is sent before iteration and
   nothing more after it stops; a missing entity and a missing table are
   the same 404.
"""

from __future__ import annotations

import base64
import itertools
import json
import math
import re
import uuid
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from unittest import mock

import pytest
from azure.core.credentials import AzureNamedKeyCredential
from azure.core.paging import ItemPaged
from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import EdmType, EntityProperty, TableClient, TableEntity
from hypothesis import given, settings
from hypothesis import strategies as st

from scripts.azurite import ACCOUNT_KEY, ACCOUNT_NAME
from shared.config import Settings
from shared.storage import calls, entity_reads
from shared.storage.tables import LeanTableClient
from shared.storage.tables import Tables
from tests.integration.test_changesets import NAMES, VALUES
from tests.property.strategies import fuzz_settings
from tests.recorder import each_against, raised, table_on, without_request_id

UTC = timezone.utc
ETAG = "W/\"datetime'2026-12-02T11%3A26%3A51.7253300Z'\""
JSON_MINIMAL = "application/json;odata=minimalmetadata;streaming=true;charset=utf-8"


# ------------------------------------------------------------------- helpers
# (the loopback server's fixtures, recorder and recorded_table: tests/integration/conftest.py)
def lean_get(table):
    return lambda *args, **kwargs: entity_reads.get_entity(table, *args, **kwargs)


def lean_query(table):
    return lambda *args, **kwargs: entity_reads.entities(table, *args, **kwargs)


def read_outcome(call):
    """:func:`tests.recorder.outcome`, entities made comparable (NaN, types,
    metadata) and an exception's cause and continuation token added."""
    try:
        return ("returned", comparable(call()))
    except Exception as exc:  # noqa: BLE001 - the exception is the outcome
        return (*raised(exc), type(exc.__cause__), type(getattr(exc.__cause__, "model", None)),
                getattr(exc, "continuation_token", None))


def comparable(value):
    """An entity, or a list of them, as data that compares equal exactly
    when the values, their types and the metadata do (NaN included)."""
    if isinstance(value, list):
        return [comparable(entity) for entity in value]
    if not isinstance(value, TableEntity):
        return value
    return (type(value), [(name, type(v), repr(v), getattr(v, "tables_service_value", None)) for name, v in value.items()],
            sorted((name, repr(v), getattr(v, "tables_service_value", None)) for name, v in value.metadata.items()))


def both_paths(recorder, calls_of, answers):
    """For each of ``calls_of`` (the SDK's call first), its outcome and the
    requests it sent, each run with the same clock against ``answers``."""
    return each_against(recorder, calls_of, answers, read_outcome, without_request_id)


def ok(body, headers=()) -> tuple:
    """A 200 answer with ``body`` as JSON."""
    return 200, [("Content-Type", JSON_MINIMAL), *headers], json.dumps(body).encode()


# ---------------------------------------------------------------- requests
# Keys as Azure stores them (no / \ # ? nor control characters), rich in
# what escaping must get right: quotes, spaces, %, +, &, =, parentheses,
# astral characters.
KEYS = st.text(st.one_of(st.sampled_from("' \"%+&=()$,;:@!*~."),
                         st.characters(codec="utf-8", exclude_categories=("Cs", "Cc"), exclude_characters="/\\#?")),
               max_size=12)
SELECTS = st.one_of(st.none(), st.lists(NAMES, max_size=4), st.lists(NAMES, min_size=1, max_size=3).map(",".join),
                    st.just(""), st.just([]), st.just(("RowKey", "n")))
PARAMETER_VALUES = st.one_of(
    KEYS, st.integers(-(2**31), 2**31 - 1), st.integers(2**31, 2**62), st.booleans(),
    st.floats(allow_nan=False, allow_infinity=False), st.datetimes(timezones=st.just(UTC)), st.datetimes(),
    st.uuids(), st.binary(max_size=8))
OPERATORS = st.sampled_from(["eq", "ne", "gt", "ge", "lt", "le"])


@st.composite
def filters(draw):
    """A filter of 1-4 comparisons joined by ``and``/``or``, each value
    bound as a parameter; sometimes a literal without parameters."""
    if draw(st.integers(0, 9)) == 0:
        return "PartitionKey eq 'p' and RowKey ge 'a'", None
    count = draw(st.integers(1, 4))
    names = draw(st.lists(st.one_of(st.sampled_from(["PartitionKey", "RowKey"]), NAMES), min_size=count, max_size=count))
    parts, parameters = [], {}
    for n, name in enumerate(names):
        parts.append(f"{name} {draw(OPERATORS)} @v{n}")
        parameters[f"v{n}"] = draw(PARAMETER_VALUES)
    joined = parts[0]
    for part in parts[1:]:
        joined += f" {draw(st.sampled_from(['and', 'or']))} {part}"
    return joined, parameters


CONTINUATION = st.text("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!-_*=", max_size=24)


@settings(fuzz_settings(200))
@given(KEYS, KEYS, SELECTS)
def test_a_point_read_sends_the_sdks_request_byte_for_byte(recorder, recorded_table, partition_key, row_key, select):
    answers = [(404, [("Content-Type", "application/json")], b"{}")]
    (sdk, sdk_sent), (lean, lean_sent) = both_paths(recorder, [
        lambda: recorded_table.get_entity(partition_key, row_key, select=select),
        lambda: lean_get(recorded_table)(partition_key, row_key, select=select)], answers)
    assert len(sdk_sent) == 1, sdk
    assert lean_sent == sdk_sent


def page_headers(draw) -> list[tuple[str, str]]:
    """The continuation headers of a page that is not the last: both, or
    only one of the two (empty or not)."""
    form = draw(st.sampled_from(["both", "both", "partition", "row"]))
    headers = []
    if form in ("both", "partition"):
        headers.append(("x-ms-continuation-NextPartitionKey", draw(CONTINUATION.filter(bool) if form == "partition" else CONTINUATION)))
    if form in ("both", "row"):
        headers.append(("x-ms-continuation-NextRowKey", draw(CONTINUATION.filter(bool))))
    return headers


@settings(fuzz_settings(200))
@given(filters(), SELECTS, st.one_of(st.none(), st.integers(1, 1000), st.sampled_from([0, True, "5"])), st.data())
def test_a_query_sends_the_sdks_requests_page_after_page(recorder, recorded_table, query, select, per_page, data):
    query_filter, parameters = query
    pages = data.draw(st.integers(1, 3))
    answers = [ok({"value": [{"PartitionKey": "p", "RowKey": f"r{n}"}]}, page_headers(data.draw)) for n in range(pages - 1)]
    answers.append(ok({"value": []}))
    (sdk, sdk_sent), (lean, lean_sent) = both_paths(recorder, [
        lambda: list(recorded_table.query_entities(query_filter, parameters=parameters, select=select,
                                                   results_per_page=per_page)),
        lambda: list(lean_query(recorded_table)(query_filter, parameters=parameters, select=select,
                                                results_per_page=per_page))], answers)
    assert len(sdk_sent) == pages, sdk
    assert lean_sent == sdk_sent
    assert lean == sdk


def test_the_requests_cover_select_page_size_and_continuation(recorder, recorded_table):
    """A fixed case, so the property tests' equality is not only about the
    SDK's quirks: what the lean path sends, written out."""
    answers = [ok({"value": []}, [("x-ms-continuation-NextPartitionKey", "1!4!cA--"), ("x-ms-continuation-NextRowKey", "1!4!cjI-")]),
               ok({"value": []})]
    (_, sdk_sent), (_, lean_sent) = both_paths(recorder, [
        lambda: list(recorded_table.query_entities("PartitionKey eq @p and n gt @n", parameters={"p": "it's", "n": 2**40},
                                                   select=["RowKey", "n"], results_per_page=7)),
        lambda: list(lean_query(recorded_table)("PartitionKey eq @p and n gt @n", parameters={"p": "it's", "n": 2**40},
                                                select=["RowKey", "n"], results_per_page=7))], answers)
    assert lean_sent == sdk_sent
    first = "/devstoreaccount1/t()?$top=7&$select=RowKey%2Cn&$filter=PartitionKey%20eq%20%27it%27%27s%27%20and%20n%20gt%201099511627776L"
    assert [target for _, target, _, _ in lean_sent] == [first, first + "&NextPartitionKey=1%214%21cA--&NextRowKey=1%214%21cjI-"]
    method, _, headers, body = lean_sent[0]
    assert (method, body) == ("GET", b"")
    assert [name for name, _ in headers] == ["Host", "User-Agent", "Accept-Encoding", "Accept", "Connection", "x-ms-version",
                                             "DataServiceVersion", "x-ms-date", "Date", "Authorization"]
    assert dict(headers)["Accept"] == "application/json;odata=minimalmetadata"
    (_, sdk_sent), (_, lean_sent) = both_paths(recorder, [
        lambda: recorded_table.get_entity("a'b", "c d+%", select="RowKey"),
        lambda: lean_get(recorded_table)("a'b", "c d+%", select="RowKey")], [ok({})])
    assert lean_sent == sdk_sent
    assert lean_sent[0][1] == "/devstoreaccount1/t(PartitionKey='a%27%27b',RowKey='c%20d%2B%25')?$select=RowKey"


REFUSED_READS = [
    ("a key that is not text", lambda read: read(5, "r")),
    ("a row key of None", lambda read: read("p", None)),
    ("a key with a lone surrogate", lambda read: read("p\ud800", "r")),
    ("a select of numbers", lambda read: read("p", "r", select=[1, 2])),
]
REFUSED_QUERIES = [
    ("a parameter not given", lambda query: query("PartitionKey eq @p", parameters={"q": "x"})),
    ("a parameter of no type", lambda query: query("PartitionKey eq @p", parameters={"p": [1]})),
    ("a doubled space", lambda query: query("PartitionKey eq  @p", parameters={"p": "x"})),
    ("a select of numbers", lambda query: query("PartitionKey eq 'p'", select=[1])),
]


@pytest.mark.parametrize("name, read", REFUSED_READS, ids=[name for name, _ in REFUSED_READS])
def test_point_reads_the_sdk_refuses_are_refused_alike_before_sending(recorder, recorded_table, name, read):
    (sdk, sdk_sent), (lean, lean_sent) = both_paths(recorder, [lambda: read(recorded_table.get_entity),
                                                               lambda: read(lean_get(recorded_table))], [ok({})])
    assert (sdk_sent, lean_sent) == ([], []) and sdk[0] == "raised", name
    assert lean == sdk, name


@pytest.mark.parametrize("name, query", REFUSED_QUERIES, ids=[name for name, _ in REFUSED_QUERIES])
def test_queries_the_sdk_refuses_are_refused_alike(recorder, recorded_table, name, query):
    """Refused when built (a parameter binding) or when first iterated (a
    select that cannot be joined): the same exception either way."""
    (sdk, sdk_sent), (lean, lean_sent) = both_paths(recorder, [lambda: list(query(recorded_table.query_entities)),
                                                               lambda: list(query(lean_query(recorded_table)))],
                                                    [ok({"value": []})])
    assert (sdk_sent, lean_sent) == ([], []) and sdk[0] == "raised", name
    assert lean == sdk, name


def test_other_arguments_and_cosmos_db_endpoints_take_the_sdks_own_path(recorded_table):
    """A keyword the lean path does not know (``timeout``, ``headers``, ...)
    and a Cosmos DB Table endpoint go to the SDK's own methods, as they are."""
    credential = AzureNamedKeyCredential(ACCOUNT_NAME, ACCOUNT_KEY)
    cosmos = TableClient("https://account.table.cosmos.azure.com", "t", credential=credential)
    with mock.patch.object(TableClient, "get_entity", return_value="sdk") as get, \
            mock.patch.object(TableClient, "query_entities", return_value="sdk pager") as query:
        assert entity_reads.get_entity(recorded_table, "p", "r", timeout=5) == "sdk"
        assert entity_reads.get_entity(cosmos, "p", "r", select=["a"]) == "sdk"
        assert entity_reads.entities(recorded_table, "PartitionKey eq @p", parameters={"p": "x"}, timeout=5) == "sdk pager"
        assert entity_reads.entities(cosmos, "PartitionKey eq 'x'") == "sdk pager"
    assert get.call_args_list == [mock.call("p", "r", select=None, timeout=5), mock.call("p", "r", select=["a"])]
    assert query.call_args_list == [
        mock.call("PartitionKey eq @p", parameters={"p": "x"}, select=None, results_per_page=None, timeout=5),
        mock.call("PartitionKey eq 'x'", parameters=None, select=None, results_per_page=None)]


# ------------------------------------------------------------------- answers
def edm_values(draw) -> tuple[str, object, str | None]:
    """One property as storage sends it: (wire value, its @odata.type or None)."""
    kind = draw(st.sampled_from(["string", "int32", "int64", "double", "special", "guid", "binary", "datetime",
                                 "boolean", "null", "number"]))
    if kind == "string":
        return draw(st.text(max_size=12)), None
    if kind == "int32":
        return draw(st.integers(-(2**31), 2**31 - 1)), None
    if kind == "int64":
        return str(draw(st.integers(-(2**63), 2**63 - 1))), "Edm.Int64"
    if kind == "double":
        return draw(st.floats(allow_nan=False, allow_infinity=False)), draw(st.sampled_from(["Edm.Double", None]))
    if kind == "special":
        return draw(st.sampled_from(["NaN", "Infinity", "-Infinity"])), "Edm.Double"
    if kind == "guid":
        return str(draw(st.uuids())), "Edm.Guid"
    if kind == "binary":
        return base64.b64encode(draw(st.binary(max_size=12))).decode(), "Edm.Binary"
    if kind == "datetime":
        return draw(datetimes_on_the_wire()), "Edm.DateTime"
    if kind == "boolean":
        return draw(st.booleans()), draw(st.sampled_from(["Edm.Boolean", None]))
    if kind == "number":
        return draw(st.integers(2**31, 2**53)), None  # an integer past Int32 without a type
    return None, None


@st.composite
def datetimes_on_the_wire(draw) -> str:
    """``yyyy-mm-ddThh:mm:ss[.f{1,7}]Z``, as storage and Cosmos DB write them."""
    moment = draw(st.datetimes(min_value=datetime(1601, 1, 1), max_value=datetime(9999, 12, 31)))
    digits = draw(st.integers(0, 7))
    fraction = f"{moment.microsecond:06d}{draw(st.integers(0, 9))}"[:digits]
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + (f".{fraction}" if digits else "") + "Z"


@st.composite
def wire_entities(draw) -> dict:
    """An entity's JSON as a 2019-02-02 minimal-metadata answer holds it,
    sometimes without its keys, its Timestamp or its ETag (a select)."""
    body = {"odata.etag": draw(st.sampled_from([ETAG, '"quoted"']))} if draw(st.integers(0, 5)) else {}
    if draw(st.integers(0, 5)):
        body.update(PartitionKey=draw(KEYS), RowKey=draw(KEYS))
    if draw(st.integers(0, 3)):
        body["Timestamp@odata.type"] = "Edm.DateTime"
        body["Timestamp"] = draw(datetimes_on_the_wire())
    for name in draw(st.lists(NAMES.filter(lambda n: n != "Timestamp"), max_size=6, unique=True)):
        value, edm = edm_values(draw)
        if edm is not None:
            body[f"{name}@odata.type"] = edm
        body[name] = value
    return body


# (code, message) as storage answers them, and the checks the SDK makes of
# some: an invalid table name (the recorder's table ``t`` is one, too short
# for storage, fine for Cosmos DB), a table that does not exist.
ERRORS = [
    ("ResourceNotFound", "The specified resource does not exist."),
    ("TableNotFound", "The table specified does not exist."),
    ("EntityNotFound", "Entité ✓ absente"),
    ("InvalidResourceName", "The specified resource name contains invalid characters."),
    ("OutOfRangeInput", "The specified resource name length is not within the permissible limits."),
    ("InvalidInput", "One of the input values is invalid."),
    ("AuthenticationFailed", "Server failed to authenticate the request."),
    ("AuthorizationFailure", "This request is not authorized to perform this operation."),
    ("InvalidQueryParameterValue", "Value for one of the query parameters specified in the request URI is invalid."),
    ("EntityAlreadyExists", "The specified entity already exists."),
    ("UpdateConditionNotSatisfied", "The update condition specified in the request was not satisfied."),
    ("ServerBusy", "The server is busy."),
    ("InternalError", "The server encountered an internal error."),
    ("SomethingNew", "A code this SDK does not know."),
]
STATUSES = [400, 401, 403, 404, 409, 412, 500, 503]
ERROR_FORMS = ["json", "odata-v4", "xml", "empty", "text", "broken"]
REASONS = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 409: "Conflict",
           412: "Precondition Failed", 500: "Internal Server Error", 503: "Service Unavailable", 304: "Not Modified"}


def error_answer(status: int, code: str, message: str, form: str, code_header: bool) -> tuple:
    """A failure as storage (or something in front of it) answers one."""
    headers = [("x-ms-error-code", code)] if code_header else []
    if form == "json":
        body = {"odata.error": {"code": code, "message": {"lang": "en-US", "value": f"{message}\nRequestId:r\nTime:t"}}}
        return status, [*headers, ("Content-Type", JSON_MINIMAL)], json.dumps(body).encode()
    if form == "odata-v4":
        return status, [*headers, ("Content-Type", "application/json")], json.dumps({"error": {"code": code, "message": message}}).encode()
    if form == "xml":
        body = f'<?xml version="1.0" encoding="utf-8"?><error><code>{code}</code><message>{message}</message></error>'
        return status, [*headers, ("Content-Type", "application/xml")], body.encode()
    if form == "text":
        return status, [*headers, ("Content-Type", "text/plain")], message.encode()
    if form == "broken":
        return status, [*headers, ("Content-Type", "application/json")], b'{"odata.error": {'
    return status, headers, b""


def error_answers():
    return st.builds(lambda status, error, form, code_header: error_answer(status, *error, form, code_header),
                     st.sampled_from(STATUSES), st.sampled_from(ERRORS), st.sampled_from(ERROR_FORMS), st.booleans())


ODD_ANSWERS = [
    (200, [("Content-Type", "application/json")], b'{"PartitionKey": "p", '),  # not JSON
    (200, [("Content-Type", "application/json")], b""),  # empty
    (200, [("Content-Type", "application/json")], b'[{"key": "PartitionKey", "value": "p"}]'),  # a list
    (200, [("Content-Type", "application/json")], b'"text"'),
    (200, [("Content-Type", "application/json")], b'{"value": {"a": 1}}'),
    (200, [("Content-Type", "application/json")], b'{"value": null}'),
    (200, [("Content-Type", "application/json")], b'{"value": [1, 2]}'),
    (200, [("Content-Type", "application/json")], b'{"nothing": []}'),
    (200, [("Content-Type", "application/json")], b'{"a": {"nested": [1, {"b": null}]}, "RowKey": "r"}'),
    (200, [("Content-Type", "text/plain")], b"hello"),
    (200, [("Content-Type", "application/octet-stream")], b"\x00\x01"),
    (200, [("Content-Type", "application/xml")], b"<value/>"),
    (200, [], b'{"RowKey": "r", "value": []}'),
    (200, [("Content-Type", "application/json"), ("Date", "yesterday")], b'{"RowKey": "r", "value": []}'),
    (200, [("Content-Type", "application/json"), ("Date", "Tue, 30 Feb 2027 08:00:00 GMT")], b'{"value": []}'),
    (200, [("Content-Type", "application/json")], b'{"n@odata.type": "Edm.Int64", "n": "x", "value": []}'),
    (200, [("Content-Type", "application/json")], b'{"value": [{"t@odata.type": "Edm.DateTime", "t": "2026"}]}'),
    (200, [("Content-Type", "application/json")], b'{"value": [{"b@odata.type": "Edm.Binary", "b": "!!"}]}'),
    (200, [("Content-Type", "application/json")], b'{"x@odata.type": "Edm.Unknown", "x": 1, "value": []}'),
    (204, [], b""),
    (201, [("Content-Type", "application/json")], b'{"value": []}'),
    (304, [], b""),
]


@settings(fuzz_settings(300))
@given(st.one_of(wire_entities().map(ok), error_answers(), st.sampled_from(ODD_ANSWERS)))
def test_a_point_read_returns_and_raises_what_the_sdk_does_for_the_same_answer(recorder, recorded_table, answer):
    (sdk, sdk_sent), (lean, lean_sent) = both_paths(recorder, [
        lambda: recorded_table.get_entity("p", "r"), lambda: lean_get(recorded_table)("p", "r")], [answer])
    assert len(sdk_sent) == 1 and lean_sent == sdk_sent
    assert lean == sdk


def absent_or_not_answers() -> list[tuple]:
    """404s of every shape the SDK reads an error code from: Azure's and
    Azurite's, and odd ones (a code in another case, keys beside the code,
    after it and before it -- the SDK reads them in order --, a message
    that is not an object, a code only in the header or in neither, a
    body that is a list)."""
    codes = ["ResourceNotFound", "TableNotFound", "EntityNotFound", "SomethingNew", "resourcenotfound", None]
    messages = [{"lang": "en-US", "value": "Gone."}, "Gone.", {"lang": "en-US"}, None]
    answers = []
    for code, extra, extra_first, message, header in itertools.product(
            codes, [{}, {"innererror": "x"}], [False, True], messages, [None, "ResourceNotFound", "SomethingNew"]):
        coded = {} if code is None else {"code": code}
        error = {**extra, **coded} if extra_first else {**coded, **extra}
        error.update({} if message is None else {"message": message})
        headers = [("x-ms-error-code", header)] if header else []
        answers.append((404, [*headers, ("Content-Type", JSON_MINIMAL)], json.dumps({"odata.error": error}).encode()))
    return answers + [(404, [("x-ms-error-code", "ResourceNotFound"), ("Content-Type", "application/json")], body)
                      for body in (b"[]", b'{"odata.error": []}', b'{"other": 1}')]


def sdk_or_none(call):
    """``call()``, ``None`` where it raises ``ResourceNotFoundError``."""
    def read():
        try:
            return call()
        except ResourceNotFoundError:
            return None
    return read


def entity_or_none_alike(recorder, table, answer) -> None:
    (sdk, sdk_sent), (lean, lean_sent) = both_paths(recorder, [
        sdk_or_none(lambda: table.get_entity("p", "r", select=["RowKey"])),
        lambda: entity_reads.entity_or_none(table, "p", "r", select=["RowKey"])], [answer])
    assert len(sdk_sent) == 1 and lean_sent == sdk_sent
    assert lean == sdk


@settings(fuzz_settings(200))
@given(st.one_of(wire_entities().map(ok), error_answers(), st.sampled_from(ODD_ANSWERS)))
def test_entity_or_none_is_none_exactly_where_the_sdks_read_raises_not_found(recorder, recorded_table, answer):
    entity_or_none_alike(recorder, recorded_table, answer)


def test_entity_or_none_reads_every_shape_of_404_as_the_sdk_does(recorder, recorded_table):
    for answer in absent_or_not_answers():
        entity_or_none_alike(recorder, recorded_table, answer)


def test_entity_or_none_finds_storages_own_404s_absent_without_building_an_exception(lean, storage_connection_string):
    """The answers Azurite gives for a missing row and a missing table
    (Azure's shape) take the short way: the SDK's error decoding is never
    reached."""
    lean.upsert_entity({"PartitionKey": "present", "RowKey": "r", "n": 1})
    gone = LeanTableClient(TableClient.from_connection_string(storage_connection_string, "nosuch" + uuid.uuid4().hex[:8],
                                                              retry_total=0))
    with mock.patch.object(entity_reads, "_process_table_error", side_effect=AssertionError("decoded")):
        assert lean.entity_or_none("present", "missing") is None
        assert lean.entity_or_none("absent", "r") is None
        assert gone.entity_or_none("present", "r") is None
    assert lean.entity_or_none("present", "r")["n"] == 1


FIXED_ANSWERS = [
    *(error_answer(status, code, message, "json", True) for status in STATUSES for code, message in ERRORS),
    *(error_answer(404, "ResourceNotFound", "Gone.", form, header) for form in ERROR_FORMS for header in (False, True)),
    *ODD_ANSWERS,
]


def test_every_kind_of_failure_and_odd_answer_reads_alike(recorder, recorded_table):
    """Each failure (every status with every code, every body form) and each
    odd answer, through a point read and a query: the same outcome.  What
    they raise spans the SDK's whole range, named here so that a change
    that made them all alike would be seen."""
    kinds = set()
    for answer in FIXED_ANSWERS:
        for sdk_call, lean_call in [
            (lambda: recorded_table.get_entity("p", "r"), lambda: lean_get(recorded_table)("p", "r")),
            (lambda: list(recorded_table.query_entities("PartitionKey eq 'p'")),
             lambda: list(lean_query(recorded_table)("PartitionKey eq 'p'"))),
        ]:
            (sdk, sdk_sent), (lean, lean_sent) = both_paths(recorder, [sdk_call, lean_call], [answer])
            assert (lean, lean_sent) == (sdk, sdk_sent), answer
            kinds.add(sdk[1].__name__ if sdk[0] == "raised" else "returned")
    assert kinds == {"returned", "ValueError", "TypeError", "AttributeError", "DecodeError", "DeserializationError",
                     "HttpResponseError", "ResourceNotFoundError", "ResourceExistsError", "ResourceModifiedError",
                     "ClientAuthenticationError"}


@st.composite
def query_answers(draw) -> list:
    """The pages of one query: 1-4 pages of 0-4 entities, each but the last
    with continuation headers, or a failure (or an odd answer) in their place."""
    count = draw(st.integers(1, 4))
    pages = []
    for n in range(count):
        headers = page_headers(draw) if n < count - 1 else []
        pages.append(ok({"odata.metadata": "x", "value": draw(st.lists(wire_entities(), max_size=4))}, [*headers]))
    if draw(st.integers(0, 2)) == 0:
        pages[draw(st.integers(0, count - 1))] = draw(st.one_of(error_answers(), st.sampled_from(ODD_ANSWERS)))
    return pages


@settings(fuzz_settings(300))
@given(query_answers())
def test_a_query_returns_and_raises_what_the_sdk_does_for_the_same_answers(recorder, recorded_table, answers):
    (sdk, sdk_sent), (lean, lean_sent) = both_paths(recorder, [
        lambda: list(recorded_table.query_entities("PartitionKey eq @p", parameters={"p": "p"}, results_per_page=4)),
        lambda: list(lean_query(recorded_table)("PartitionKey eq @p", parameters={"p": "p"}, results_per_page=4))],
        answers)
    assert len(sdk_sent) >= 1 and lean_sent == sdk_sent
    assert lean == sdk


def test_a_select_of_absent_properties_gives_what_the_sdk_gives(recorder, recorded_table):
    """Azure answers a selected property an entity lacks as null; both paths
    keep it as None, and keep no etag the answer lacks."""
    answers = [ok({"odata.etag": ETAG, "RowKey": "r", "absent": None}), ok({"value": [{"absent": None}, {}]})]

    def reads(get, query):
        return [get("p", "r", select=["RowKey", "absent"]), *query("PartitionKey eq 'p'", select="absent")]

    (sdk, _), (lean, _) = both_paths(recorder, [
        lambda: reads(recorded_table.get_entity, recorded_table.query_entities),
        lambda: reads(lean_get(recorded_table), lean_query(recorded_table))], answers)
    assert sdk[0] == "returned" and lean == sdk
    recorder.answers = list(answers)
    read = reads(lean_get(recorded_table), lean_query(recorded_table))
    assert [dict(entity) for entity in read] == [{"RowKey": "r", "absent": None}, {"absent": None}, {}]
    assert [entity.metadata for entity in read] == [{"etag": ETAG, "timestamp": None}, *[{"etag": None, "timestamp": None}] * 2]


@pytest.mark.parametrize("answer", [
    (503, [("Content-Type", "application/json")], b'{"odata.error": {"code": "ServerBusy", "message": {"value": "busy"}}}'),
    (200, [("Content-Type", "application/json"), ("Content-Length", "400")], b'{"RowKey": "r", "value": ['),
], ids=["a 503", "a body cut short"])
def test_retries_are_the_sdks(recorder, answer):
    """The request is sent unstreamed, so a body cut short in transit is
    retried inside the pipeline as the SDK's own call retries it (a
    streamed body would be read past the retry policy), and so is a 503:
    the same number of requests, the same exception."""
    table = table_on(recorder, retry_total=2, retry_backoff_factor=0)
    for sdk_call, lean_call in [
        (lambda: table.get_entity("p", "r"), lambda: lean_get(table)("p", "r")),
        (lambda: list(table.query_entities("PartitionKey eq 'p'")), lambda: list(lean_query(table)("PartitionKey eq 'p'"))),
    ]:
        (sdk, sdk_sent), (lean, lean_sent) = both_paths(recorder, [sdk_call, lean_call], [answer] * 3)
        assert len(sdk_sent) == 3 and lean_sent == sdk_sent
        assert lean == sdk and sdk[0] == "raised"


# ------------------------------------------------------------------ laziness
def test_a_query_sends_nothing_until_iterated_and_each_page_when_the_one_before_is_consumed(recorder, recorded_table):
    pages = [ok({"value": [{"RowKey": "a"}, {"RowKey": "b"}]}, [("x-ms-continuation-NextPartitionKey", "p"),
                                                                ("x-ms-continuation-NextRowKey", "c")]),
             ok({"value": []}, [("x-ms-continuation-NextRowKey", "d")]),  # an empty page that goes on
             ok({"value": [{"RowKey": "d"}]})]
    steps = []
    for query in (recorded_table.query_entities, lean_query(recorded_table)):
        recorder.requests.clear()
        recorder.answers = list(pages)
        pager = query("PartitionKey eq @p", parameters={"p": "p"}, results_per_page=2)
        seen = [len(recorder.requests)]
        rows = iter(pager)
        seen.append(len(recorder.requests))
        for _ in range(3):
            seen.append((next(rows)["RowKey"], len(recorder.requests)))
        seen.append(next(rows, "end"))
        seen.append(len(recorder.requests))
        steps.append(seen)
    assert steps[1] == steps[0] == [0, 0, ("a", 1), ("b", 1), ("d", 3), "end", 3]


def test_by_page_is_the_sdks_own_pager_of_the_same_query(recorder, recorded_table):
    """``by_page`` goes to ``TableClient.query_entities`` with the filter
    already bound: the SDK's pages and continuation tokens, and the same
    requests as the SDK's own ``by_page``."""
    pages = [ok({"value": [{"RowKey": "a"}]}, [("x-ms-continuation-NextPartitionKey", "p"), ("x-ms-continuation-NextRowKey", "b")]),
             ok({"value": [{"RowKey": "b"}]})]
    runs = both_paths(recorder, [
        lambda: [[e["RowKey"] for e in page] for page in recorded_table.query_entities(
            "RowKey ge @k", parameters={"k": "a'"}, select=["RowKey"], results_per_page=1).by_page()],
        lambda: [[e["RowKey"] for e in page] for page in lean_query(recorded_table)(
            "RowKey ge @k", parameters={"k": "a'"}, select=["RowKey"], results_per_page=1).by_page()]], pages)
    assert runs[1] == runs[0] and runs[0][0] == ("returned", [["a"], ["b"]])
    pager = lean_query(recorded_table)("RowKey ge @k", parameters={"k": "a"})
    assert isinstance(pager, ItemPaged) and type(pager.by_page()).__name__ == "TableEntityPropertiesPaged"


# ------------------------------------------------------------------- Azurite
@pytest.fixture(scope="module")
def tables(storage_connection_string):
    """The app's own table clients (:class:`Tables`: lean, with the
    storage-call counter's hooks), on a table of this module's."""
    settings = replace(Settings.from_env(), connection_string=storage_connection_string, table_endpoint=None,
                       table_prefix="r" + uuid.uuid4().hex[:16])
    made = Tables(settings)
    yield made
    made.table("reads").delete_table()


@pytest.fixture(scope="module")
def lean(tables) -> LeanTableClient:
    return tables.table("reads")


def normalized(result):
    """An outcome without the request id and time of storage's messages."""
    if result[0] == "returned":
        return result
    return tuple(re.sub(r"(\\n|\n)RequestId:[0-9a-f-]+(\\n|\n)Time:[0-9TZ:.-]+", "", item) if isinstance(item, str) else item
                 for item in result)


# Values Azurite stores and gives back as sent: naive datetimes are stored
# as UTC and NaN compares unequal to itself, which the reads compare as
# repr; both paths read the same stored row either way.
@settings(fuzz_settings(40))
@given(st.lists(st.dictionaries(NAMES.filter(lambda n: n != "Timestamp"), VALUES, max_size=6), min_size=1, max_size=5),
       KEYS.filter(bool), st.data())
def test_random_entities_read_back_alike_through_both_paths(lean, rows, partition, data):
    partition = f"{uuid.uuid4().hex[:6]}{partition}"
    written = []
    for n, properties in enumerate(rows):
        entity = {"PartitionKey": partition, "RowKey": f"{n}{data.draw(KEYS)}", **properties}
        lean.upsert_entity(entity)
        written.append(entity)
    sdk = lean.sdk_client
    for entity in written:
        select = data.draw(st.one_of(st.none(), st.lists(st.sampled_from([*entity, "absent"]), max_size=3)))
        keys = (entity["PartitionKey"], entity["RowKey"])
        assert read_outcome(lambda: lean.get_entity(*keys, select=select)) == read_outcome(lambda: sdk.get_entity(*keys, select=select))
    per_page = data.draw(st.one_of(st.none(), st.integers(1, 3)))
    query = ("PartitionKey eq @p", {"p": partition})
    assert read_outcome(lambda: list(lean.query_entities(query[0], parameters=query[1], results_per_page=per_page))) == \
        read_outcome(lambda: list(sdk.query_entities(query[0], parameters=query[1], results_per_page=per_page)))


def test_every_edm_type_reads_back_alike(lean):
    """A fixed entity of every EDM type, its edges included."""
    partition = uuid.uuid4().hex
    lean.upsert_entity({"PartitionKey": partition, "RowKey": "all", "s": "é'\"", "i": -(2**31), "big": EntityProperty(2**63 - 1, EdmType.INT64),
                        "d": 1.5, "nan": math.nan, "inf": math.inf, "ninf": -math.inf, "g": uuid.UUID(int=7), "b": b"\x00\xff",
                        "e": b"", "t": datetime(2026, 12, 2, 11, 26, 51, 725330, tzinfo=UTC), "yes": True, "no": False})
    sdk = lean.sdk_client
    entity = lean.get_entity(partition, "all")
    assert read_outcome(lambda: entity) == read_outcome(lambda: sdk.get_entity(partition, "all"))
    assert [type(entity[name]).__name__ for name in ("big", "nan", "g", "b", "t", "yes")] == \
        ["EntityProperty", "float", "UUID", "bytes", "TablesEntityDatetime", "bool"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z", entity.metadata["timestamp"].tables_service_value)
    assert read_outcome(lambda: list(lean.query_entities("PartitionKey eq @p", parameters={"p": partition}))) == \
        read_outcome(lambda: list(sdk.query_entities("PartitionKey eq @p", parameters={"p": partition})))


@pytest.mark.parametrize("rows, per_page, query, expected_pages", [
    (23, 5, ("PartitionKey eq @p", {}), 5),
    (23, 1000, ("PartitionKey eq @p", {}), 1),
    (12, 4, ("PartitionKey eq @p and RowKey ge @lo and RowKey lt @hi", {"lo": "r03", "hi": "r11"}), 2),
    (12, 3, ("PartitionKey eq @p and n eq @n", {"n": 1}), 2),
])
def test_a_query_walks_the_same_pages_with_the_same_storage_calls(lean, rows, per_page, query, expected_pages):
    partition = uuid.uuid4().hex
    lean.submit_transaction([("create", {"PartitionKey": partition, "RowKey": f"r{i:02}", "n": i % 2}) for i in range(rows)])
    parameters = {"p": partition, **query[1]}
    seen = []
    for table in (lean.sdk_client, lean):
        with calls.counting() as counted:
            found = [(e["RowKey"], e.metadata["etag"]) for e in table.query_entities(query[0], parameters=parameters,
                                                                                      results_per_page=per_page)]
        seen.append((found, counted[0]))
    assert seen[1] == seen[0] and seen[0][1] == expected_pages


def test_nothing_is_sent_before_iteration_and_nothing_after_it_stops(lean):
    partition = uuid.uuid4().hex
    lean.submit_transaction([("create", {"PartitionKey": partition, "RowKey": f"r{i}"}) for i in range(7)])
    with calls.counting() as counted:
        pager = lean.query_entities("PartitionKey eq @p", parameters={"p": partition}, results_per_page=3)
        rows = iter(pager)
        before = counted[0]
        first_page = [next(rows)["RowKey"] for _ in range(3)]
        after_first_page = counted[0]
        fourth = next(rows)["RowKey"]
        del rows, pager
    assert (before, first_page, after_first_page, fourth, counted[0]) == (0, ["r0", "r1", "r2"], 1, "r3", 2)


def test_a_missing_entity_and_a_missing_table_are_the_same_404(lean, tables, storage_connection_string):
    sdk = lean.sdk_client
    gone = LeanTableClient(TableClient.from_connection_string(storage_connection_string, "nosuch" + uuid.uuid4().hex[:8],
                                                              retry_total=0))
    cases = [(lean, sdk, "no entity"), (gone, gone.sdk_client, "no table")]
    for lean_table, sdk_table, name in cases:
        results = [normalized(read_outcome(lambda t=t: t.get_entity("p", "absent"))) for t in (sdk_table, lean_table)]
        assert results[1] == results[0], name
        assert results[0][1].__name__ == "ResourceNotFoundError" and results[0][3] == 404, name
        query = [normalized(read_outcome(lambda t=t: list(t.query_entities("PartitionKey eq @p", parameters={"p": "p"}))))
                 for t in (sdk_table, lean_table)]
        assert query[1] == query[0], name
    assert results[0][5] == "TableNotFound" and query[0][1].__name__ == "ResourceNotFoundError"


def test_a_datetime_parameter_selects_the_same_rows(lean):
    """A datetime bound as a parameter reaches storage as ``datetime'...'``
    through both paths and selects the same rows."""
    partition = uuid.uuid4().hex
    now = datetime.now(UTC)
    lean.submit_transaction([("create", {"PartitionKey": partition, "RowKey": f"r{i}", "at": now + timedelta(seconds=i)})
                             for i in range(4)])
    found = [[e["RowKey"] for e in table.query_entities("PartitionKey eq @p and at ge @t",
                                                        parameters={"p": partition, "t": now + timedelta(seconds=2)})]
             for table in (lean.sdk_client, lean)]
    assert found[1] == found[0] == ["r2", "r3"]


def test_the_lean_requests_carry_a_fresh_random_client_request_id(recorder, recorded_table):
    """Each request the lean paths send carries its own random (version 4)
    ``x-ms-client-request-id``, which azure-core's ``RequestIdPolicy``
    keeps instead of making a ``uuid1`` (:func:`shared.storage.calls.client_request_id`)."""
    from shared.storage import changesets

    recorder.requests.clear()
    recorder.answers = []
    recorder.answer = (404, [("Content-Type", JSON_MINIMAL)], b'{"odata.error":{"code":"ResourceNotFound","message":{"value":"no"}}}')
    for call in (lambda: entity_reads.get_entity(recorded_table, "p", "r"),
                 lambda: list(entity_reads.entities(recorded_table, "PartitionKey eq @p", parameters={"p": "p"})),
                 lambda: changesets.submit_transaction(recorded_table, [("create", {"PartitionKey": "p", "RowKey": "r"})])):
        read_outcome(call)
    ids = [value for _, _, headers, _ in recorder.requests for name, value in headers
           if name.lower() == calls.CLIENT_REQUEST_ID]
    assert len(ids) == len(recorder.requests) == 3
    assert [uuid.UUID(value).version for value in ids] == [4, 4, 4] and len(set(ids)) == 3
