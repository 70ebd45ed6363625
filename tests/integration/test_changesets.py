"""The lean transaction path (:mod:`shared.storage.changesets`) against the
SDK's own ``TableClient.submit_transaction``.

1. **Requests, byte for byte.**  For the same operations, batch boundaries
   and clock, the lean path sends the SDK's request: method, URL, every
   header in order (``Authorization`` included, so the signature too) and
   the body.  Only ``x-ms-client-request-id`` differs, a fresh id per
   request by design.  A loopback server records both requests.
   Operations the SDK refuses before sending are refused by the lean path
   with the same exception and message.
2. **Answers.**  For the same response bytes the lean path returns the
   SDK's results or raises the SDK's exception: type, status, reason,
   error code, the failing operation's index, message, additional info and
   text.  The loopback server answers both with the same generated
   ``$batch`` responses: successes, one failing part (400, 404, 409, 412,
   413, with and without an index), whole-request failures, CRLF or LF.
3. **Azurite.**  Random transactions, replayed on twin partitions, one
   through each path, leave the same rows and meet the same outcomes (409
   on a create, 404 on an update of a missing row, 412 on a stale ETag, a
   repeated row); the size limits (property, entity, 4 MiB request) fail
   alike; a full transaction reads back through continuation pages alike.
"""

from __future__ import annotations

import enum
import itertools
import uuid
from contextlib import contextmanager
from datetime import datetime, timezone
from unittest import mock

import pytest
from azure.core import MatchConditions
from azure.core.credentials import AzureNamedKeyCredential
from azure.data.tables import EdmType, EntityProperty, TableClient, TableEntity, TableServiceClient, UpdateMode
from hypothesis import given, settings
from hypothesis import strategies as st

from scripts.azurite import ACCOUNT_KEY, ACCOUNT_NAME
from shared.storage import changesets
from tests.property.strategies import fuzz_settings
from tests.recorder import outcome, same_clock, without_request_id

P = "p"
UTC = timezone.utc
WEAK_ETAG = "W/\"datetime'2026-01-01T00%3A00%3A00.0000000Z'\""


# ------------------------------------------------------------ loopback server
# (the fixtures recorder and recorded_table: tests/integration/conftest.py)
@contextmanager
def same_boundaries_and_clock():
    """Both paths draw the same boundary uuids (changeset first, then batch)
    and read the same clock."""
    ids = (uuid.UUID(int=n) for n in itertools.count(1))
    with mock.patch("azure.data.tables._base_client.uuid4", lambda: next(ids)), \
            mock.patch.object(changesets, "uuid4", lambda: next(ids)), same_clock():
        yield


def both_paths(recorder, table, operations):
    """(SDK outcome, SDK request, lean outcome, lean request): each path run
    once with the same boundaries and clock; a request is None when none was sent."""
    runs = []
    for path in (table.submit_transaction, lambda ops: changesets.submit_transaction(table, ops)):
        recorder.requests.clear()
        with same_boundaries_and_clock():
            result = outcome(lambda: path(operations))
        runs += [result, without_request_id(recorder.requests[0] if recorder.requests else None)]
    return runs


# ------------------------------------------------------------------ entities
# Values of every type the SDK's entity serialiser knows, plain and as
# EntityProperty, the edges included (int32 bounds and past them, NaN, the
# infinities, naive and aware datetimes, empty bytes).
class Colour(enum.Enum):
    RED = "red"


KEY_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
VALUES = st.one_of(
    st.text(max_size=20), st.integers(-(2**31), 2**31 - 1), st.booleans(),
    st.floats(allow_nan=True, allow_infinity=True), st.none(), st.uuids(), st.binary(max_size=12),
    st.datetimes(timezones=st.just(UTC)), st.datetimes(), st.just(Colour.RED),
    st.builds(EntityProperty, st.integers(-(2**63), 2**63 - 1), st.just(EdmType.INT64)),
    st.builds(EntityProperty, st.integers(-(2**31), 2**31 - 1), st.just(EdmType.INT32)),
    st.builds(EntityProperty, st.text(max_size=8), st.just(EdmType.STRING)),
    st.builds(EntityProperty, st.booleans(), st.just(EdmType.BOOLEAN)),
    st.builds(EntityProperty, st.floats(), st.just(EdmType.DOUBLE)),
    st.builds(EntityProperty, st.datetimes(timezones=st.just(UTC)), st.just(EdmType.DATETIME)),
    st.builds(EntityProperty, st.binary(max_size=6), st.just(EdmType.BINARY)),
    st.builds(EntityProperty, st.uuids(), st.just(EdmType.GUID)),
)
NAMES = st.text("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_0123456789", min_size=1, max_size=10).filter(
    lambda name: name not in ("PartitionKey", "RowKey"))


@st.composite
def entities(draw):
    entity = {"PartitionKey": P, "RowKey": draw(KEY_TEXT)}
    entity.update(draw(st.dictionaries(NAMES, VALUES, max_size=5)))
    return read_entity(entity) if draw(st.integers(0, 9)) == 0 else entity


def read_entity(entity: dict) -> TableEntity:
    """``entity`` as read from storage: a TableEntity with its ETag in the metadata."""
    read = TableEntity(entity)
    read._metadata = {"etag": WEAK_ETAG, "timestamp": None}
    return read


ETAGS = st.sampled_from([WEAK_ETAG, '"quoted"', "bare", "*", "'single'", "\"", "'"])
CONDITIONS = st.one_of(st.just((None, None)), st.just((None, MatchConditions.Unconditionally)),
                       st.tuples(ETAGS, st.just(MatchConditions.IfNotModified)))
MODES = st.sampled_from([UpdateMode.MERGE, UpdateMode.REPLACE, "merge", "replace"])


@st.composite
def operations(draw):
    """One valid operation, in every form the SDK documents for ``submit_transaction``."""
    kind = draw(st.sampled_from(["create", "upsert", "update", "delete", "CREATE", "Upsert"]))
    entity = draw(entities())
    options: dict = {}
    if kind.lower() in ("upsert", "update") and draw(st.booleans()):
        options["mode"] = draw(MODES)
    if kind.lower() in ("update", "delete"):
        etag, condition = draw(CONDITIONS)
        if isinstance(entity, TableEntity) and kind.lower() == "delete" and condition == MatchConditions.Unconditionally:
            condition = None  # with the entity's own ETag, refused (REFUSED)
        options.update({name: value for name, value in (("etag", etag), ("match_condition", condition)) if value})
    return (kind, entity, options) if options or draw(st.booleans()) else (kind, entity)


@settings(fuzz_settings(300))
@given(st.lists(operations(), min_size=1, max_size=6))
def test_the_lean_path_sends_the_sdks_request_byte_for_byte(recorder, recorded_table, ops):
    recorder.answer = (400, [("Content-Type", "application/json")], b"{}")
    sdk, sdk_request, _, lean_request = both_paths(recorder, recorded_table, ops)
    assert sdk_request is not None, sdk
    assert lean_request == sdk_request


REFUSED = [
    ("another partition", ("upsert", {"PartitionKey": "q", "RowKey": "x"})),
    ("no RowKey", ("upsert", {"PartitionKey": P})),
    ("no PartitionKey", ("create", {"RowKey": "x"})),
    ("an unknown kind", ("insert", {"PartitionKey": P, "RowKey": "x"})),
    ("a kind that is not text", (3, {"PartitionKey": P, "RowKey": "x"})),
    ("an unknown mode", ("upsert", {"PartitionKey": P, "RowKey": "x"}, {"mode": "patch"})),
    ("an int past Int32", ("upsert", {"PartitionKey": P, "RowKey": "x", "n": 2**31})),
    ("an Int64 past its range", ("create", {"PartitionKey": P, "RowKey": "x", "n": EntityProperty(2**63, EdmType.INT64)})),
    ("a value of no EDM type", ("upsert", {"PartitionKey": P, "RowKey": "x", "v": [1]})),
    ("a key that is not text", ("upsert", {"PartitionKey": P, "RowKey": 5})),
    ("an ETag on an unconditional update", ("update", {"PartitionKey": P, "RowKey": "x"}, {"etag": WEAK_ETAG})),
    ("IfNotModified without an ETag", ("delete", {"PartitionKey": P, "RowKey": "x"}, {"match_condition": MatchConditions.IfNotModified})),
    ("an unsupported condition", ("update", {"PartitionKey": P, "RowKey": "x"}, {"etag": "e", "match_condition": MatchConditions.IfModified})),
    ("a read entity deleted unconditionally", ("delete", read_entity({"PartitionKey": P, "RowKey": "x"}),
                                               {"match_condition": MatchConditions.Unconditionally})),
    ("an unknown option", ("delete", {"PartitionKey": P, "RowKey": "x"}, {"colour": "red"})),
    ("a one-item tuple", ("upsert",)),
    ("no tuple", "upsert"),
]


@settings(fuzz_settings(150))
@given(st.lists(operations(), min_size=1, max_size=4), st.sampled_from(REFUSED), st.data())
def test_operations_the_sdk_refuses_are_refused_alike_before_sending(recorder, recorded_table, valid, refused, data):
    ops = list(valid)
    ops.insert(data.draw(st.integers(1, len(ops))), refused[1])
    sdk, sdk_request, lean, lean_request = both_paths(recorder, recorded_table, ops)
    assert (sdk_request, lean_request) == (None, None), refused[0]
    assert lean[:3] == sdk[:3], refused[0]


def test_the_request_covers_each_kind_of_operation(recorder, recorded_table):
    """A fixed case of every kind, so the property test's equality is not
    only ever about refused operations."""
    ops = [("create", {"PartitionKey": P, "RowKey": "c'1", "n": 1}),
           ("upsert", {"PartitionKey": P, "RowKey": "u"}, {"mode": UpdateMode.REPLACE}),
           ("update", {"PartitionKey": P, "RowKey": "e", "s": "é"},
            {"etag": WEAK_ETAG, "match_condition": MatchConditions.IfNotModified}),
           ("delete", {"PartitionKey": P, "RowKey": "d"})]
    recorder.answer = (400, [("Content-Type", "application/json")], b"{}")
    _, sdk_request, _, lean_request = both_paths(recorder, recorded_table, ops)
    assert sdk_request is not None and lean_request == sdk_request
    method, target, headers, body = lean_request
    assert (method, target) == ("POST", f"/{ACCOUNT_NAME}/$batch")
    assert [line.split(b" ")[0] for line in body.split(b"\r\n") if line.endswith(b" HTTP/1.1")] == \
        [b"POST", b"PUT", b"PATCH", b"DELETE"]


def test_an_upsert_with_a_condition_is_refused_by_the_lean_path_only(recorded_table):
    """The one documented difference in what is accepted: the SDK passes an
    upsert's etag on as If-Match, which makes it an update."""
    ops = [("upsert", {"PartitionKey": P, "RowKey": "a"}, {"etag": WEAK_ETAG, "match_condition": MatchConditions.IfNotModified})]
    with pytest.raises(ValueError, match="an upsert takes no etag"):
        changesets.submit_transaction(recorded_table, ops)


def test_a_cosmos_db_table_endpoint_takes_the_sdks_own_path():
    """Cosmos DB's Table API needs the SDK's PATCH-to-POST rewriting: its
    transactions are handed to ``TableClient.submit_transaction``."""
    credential = AzureNamedKeyCredential(ACCOUNT_NAME, ACCOUNT_KEY)
    table = TableClient("https://account.table.cosmos.azure.com", "t", credential=credential)
    ops = [("upsert", {"PartitionKey": P, "RowKey": "a"})]
    with mock.patch.object(TableClient, "submit_transaction", return_value=[{"etag": "sdk"}]) as sdk_path:
        assert changesets.submit_transaction(table, ops) == [{"etag": "sdk"}]
    sdk_path.assert_called_once_with(ops)


def test_no_operations_sends_nothing(recorder, recorded_table):
    recorder.requests.clear()
    assert changesets.submit_transaction(recorded_table, []) == []
    assert recorder.requests == []


# ------------------------------------------------------------------- answers
ERROR_CODES = st.sampled_from(["EntityAlreadyExists", "ResourceNotFound", "UpdateConditionNotSatisfied",
                               "InvalidInput", "InvalidDuplicateRow", "EntityTooLarge", "PropertyValueTooLarge",
                               "RequestBodyTooLarge", "InvalidResourceName", "SomethingNew"])
REASONS = {200: "OK", 201: "Created", 204: "No Content", 400: "Bad Request", 403: "Forbidden",
           404: "Not Found", 409: "Conflict", 412: "Precondition Failed", 413: "Request Entity Too Large",
           500: "Internal Server Error", 503: "Service Unavailable"}


def odata_error(code: str, message: str) -> bytes:
    return ('{"odata.error":{"code":"%s","message":{"lang":"en-US","value":"%s"}}}' % (code, message)).encode()


@st.composite
def part_answers(draw, count: int) -> list[bytes]:
    """The changeset's answer parts: ``count`` successes, or one failure."""
    if draw(st.integers(0, 2)) == 0:
        status = draw(st.sampled_from([400, 404, 409, 412, 413]))
        index = draw(st.integers(0, count - 1))
        prefix = draw(st.sampled_from([f"{index}:", ""]))
        message = f"{prefix}{draw(st.sampled_from(['The specified entity already exists.', 'Bad', 'Entité déjà là ✓']))}\\nRequestId:r\\nTime:t"
        body = odata_error(draw(ERROR_CODES), message)
        return [f"HTTP/1.1 {status} {REASONS[status]}\r\nContent-ID: {index}\r\nDataServiceVersion: 3.0;\r\n"
                f"Content-Type: application/json;odata=minimalmetadata;charset=utf-8\r\n\r\n".encode() + body]
    parts = []
    for n in range(count):
        status = draw(st.sampled_from([201, 204, 204]))
        etag = draw(st.sampled_from([f"W/\"datetime'2026-12-02T11%3A26%3A51.72533{n:02}Z'\"", None]))
        head = f"HTTP/1.1 {status} {REASONS[status]}\r\nX-Content-Type-Options: nosniff\r\nDataServiceVersion: 3.0;\r\n"
        if etag:
            head += f"ETag: {etag}\r\n"
        body = b""
        if status == 201 and draw(st.booleans()):
            head += "Content-Type: application/json;odata=minimalmetadata;streaming=true;charset=utf-8\r\n"
            body = b'{"odata.metadata":"x","PartitionKey":"p","RowKey":"r"}'
        parts.append(head.encode() + b"\r\n" + body)
    return parts


def batch_answer(parts: list[bytes], line_break: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
    batch, changeset = f"batchresponse_{uuid.uuid4()}", f"changesetresponse_{uuid.uuid4()}"
    out = [f"--{batch}\r\nContent-Type: multipart/mixed; boundary={changeset}\r\n\r\n".encode()]
    for part in parts:
        out.append(f"--{changeset}\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n".encode()
                   + part + b"\r\n")
    out.append(f"--{changeset}--\r\n--{batch}--\r\n".encode())
    body = b"".join(out).replace(b"\r\n", line_break)
    return 202, [("Content-Type", f"multipart/mixed; boundary={batch}")], body


@st.composite
def whole_answers(draw):
    """A failure of the whole request, in the forms storage sends."""
    status = draw(st.sampled_from([400, 403, 404, 413, 500, 503]))
    code = draw(ERROR_CODES)
    form = draw(st.sampled_from(["json", "xml", "empty"]))
    headers = [("x-ms-error-code", code)] if draw(st.booleans()) else []
    if form == "json":
        return status, [*headers, ("Content-Type", "application/json;odata=minimalmetadata")], odata_error(code, "no\\nRequestId:r")
    if form == "xml":
        body = f'<?xml version="1.0" encoding="utf-8"?><error><code>{code}</code><message>no</message></error>'.encode()
        return status, [*headers, ("Content-Type", "application/xml")], body
    return status, headers, b""


@st.composite
def answers(draw):
    count = draw(st.integers(1, 5))
    if draw(st.integers(0, 4)) == 0:
        return count, draw(whole_answers())
    return count, batch_answer(draw(part_answers(count)), draw(st.sampled_from([b"\r\n", b"\r\n", b"\n"])))


@settings(fuzz_settings(300))
@given(answers())
def test_the_lean_path_returns_and_raises_what_the_sdk_does_for_the_same_answer(recorder, recorded_table, answer):
    count, recorder.answer = answer
    ops = [("upsert", {"PartitionKey": P, "RowKey": f"r{n}"}) for n in range(count)]
    sdk, sdk_request, lean, lean_request = both_paths(recorder, recorded_table, ops)
    assert sdk_request is not None and lean_request == sdk_request
    assert lean == sdk


def test_a_changeset_part_that_is_not_an_http_response_is_a_decode_error_without_a_status(recorder, recorded_table):
    """Azurite's answer to more than 100 operations (test_store_contract.py):
    storage_call maps an error without a status to StorageUnavailable."""
    recorder.answer = batch_answer([b"changesetresponse_x\r\nHTTP/1.1 400 Bad Request\r\n\r\n"], b"\r\n")
    kind, error_type, *_, = outcome(lambda: changesets.submit_transaction(recorded_table, [("upsert", {"PartitionKey": P, "RowKey": "a"})]))
    assert kind == "raised" and error_type.__name__ == "DecodeError"


# ------------------------------------------------------------------- Azurite
@pytest.fixture(scope="module")
def azurite_table(storage_connection_string):
    service = TableServiceClient.from_connection_string(storage_connection_string, retry_total=0)
    table = service.create_table_if_not_exists("lean" + uuid.uuid4().hex[:12])
    yield table
    table.delete_table()


ROWS = [f"r{n}" for n in range(5)]


@st.composite
def transaction_steps(draw):
    """A transaction over a few rows: (kind, row, properties, condition)
    where condition is "known" (the row's last ETag), "stale" or None."""
    size = draw(st.integers(1, 6))
    steps = []
    for _ in range(size):
        kind = draw(st.sampled_from(["create", "upsert", "update", "delete"]))
        props = draw(st.dictionaries(st.sampled_from("abc"), st.one_of(st.integers(0, 9), st.text(max_size=5)), max_size=2))
        condition = draw(st.sampled_from([None, "known", "stale"])) if kind in ("update", "delete") else None
        mode = draw(st.sampled_from([UpdateMode.MERGE, UpdateMode.REPLACE]))
        steps.append((kind, draw(st.sampled_from(ROWS)), props, condition, mode))
    return steps


def as_operations(steps, partition: str, etags: dict) -> list:
    ops = []
    for kind, row, props, condition, mode in steps:
        entity = {"PartitionKey": partition, "RowKey": row, **props}
        options = {"mode": mode} if kind in ("upsert", "update") else {}
        if condition is not None:
            etag = etags.get(row) if condition == "known" else WEAK_ETAG
            if etag:
                options.update(etag=etag, match_condition=MatchConditions.IfNotModified)
        ops.append((kind, entity, options))
    return ops


def outcome_shape(result, ops, partition: str, etags: dict):
    """A transaction's outcome without its ETag values and request ids;
    records the new ETags."""
    if result[0] == "returned":
        for (_, entity, _), meta in zip(ops, result[1]):
            if "etag" in meta:
                etags[entity["RowKey"]] = meta["etag"]
            else:
                etags.pop(entity["RowKey"], None)
        return ("returned", [sorted(meta) for meta in result[1]])
    _, error_type, _, status, reason, code, index, message, _ = result
    return ("raised", error_type, status, reason, code, index, (message or "").split("\n")[0].replace(partition, "P"))


def rows_of(table, partition: str) -> list[dict]:
    return sorted(({k: v for k, v in entity.items() if k != "PartitionKey"}
                   for entity in table.query_entities("PartitionKey eq @p", parameters={"p": partition})),
                  key=lambda entity: entity["RowKey"])


@settings(fuzz_settings(40))
@given(st.lists(transaction_steps(), min_size=1, max_size=6))
def test_random_transactions_on_azurite_meet_the_same_outcomes_and_leave_the_same_rows(azurite_table, transactions):
    twin = uuid.uuid4().hex[:10]
    sides = {"sdk-" + twin: azurite_table.submit_transaction,
             "lean-" + twin: lambda ops: changesets.submit_transaction(azurite_table, ops)}
    etags = {partition: {} for partition in sides}
    for steps in transactions:
        shapes = []
        for partition, submit in sides.items():
            ops = as_operations(steps, partition, etags[partition])
            shapes.append(outcome_shape(outcome(lambda: submit(ops)), ops, partition, etags[partition]))
        assert shapes[0] == shapes[1], steps
    sdk_rows, lean_rows = (rows_of(azurite_table, partition) for partition in sides)
    assert lean_rows == sdk_rows


@pytest.mark.parametrize("name, ops", [
    ("a property over 64 KiB", [("upsert", {"RowKey": "a", "s": "x" * (32 * 1024 + 1)})]),
    ("an entity over 1 MiB", [("upsert", {"RowKey": "b", **{f"s{i}": "x" * 30_000 for i in range(36)}})]),
    ("a request over 4 MiB", [("upsert", {"RowKey": f"c{j}", **{f"s{i}": "x" * 30_000 for i in range(30)}}) for j in range(5)]),
    ("a row twice", [("upsert", {"RowKey": "d"}), ("upsert", {"RowKey": "d"})]),
    ("a key storage refuses", [("upsert", {"RowKey": "a/b"})]),
])
def test_size_limits_and_refused_rows_fail_alike_on_azurite(azurite_table, name, ops):
    shapes = []
    for path in (azurite_table.submit_transaction, lambda o: changesets.submit_transaction(azurite_table, o)):
        partition = uuid.uuid4().hex
        placed = [(kind, {"PartitionKey": partition, **entity}) for kind, entity in ops]
        shapes.append(outcome_shape(outcome(lambda: path(placed)), placed, partition, {}))
        assert rows_of(azurite_table, partition) == []
    assert shapes[0] == shapes[1] and shapes[0][0] == "raised", name
    if name == "a request over 4 MiB":
        assert shapes[0][1].__name__ == "RequestTooLargeError" and shapes[0][2] == 413


def test_a_full_transaction_reads_back_through_continuation_pages_alike(azurite_table):
    """100 operations (the limit) written by each path, read back 7 rows a page."""
    partitions = []
    for path in (azurite_table.submit_transaction, lambda o: changesets.submit_transaction(azurite_table, o)):
        partition = uuid.uuid4().hex
        results = path([("create", {"PartitionKey": partition, "RowKey": f"r{i:03}", "i": i, "when": datetime(2026, 1, 1, tzinfo=UTC),
                                    "big": EntityProperty(2**40 + i, EdmType.INT64)}) for i in range(100)])
        assert len(results) == 100 and all("etag" in meta for meta in results)
        pages = azurite_table.query_entities("PartitionKey eq @p", parameters={"p": partition}, results_per_page=7).by_page()
        partitions.append([[{k: v for k, v in e.items() if k != "PartitionKey"} for e in page] for page in pages])
    assert len(partitions[0]) == 15 and partitions[1] == partitions[0]


def test_a_shared_key_signature_is_accepted_by_storage(storage_connection_string):
    """The lean request is signed by the SDK's own policy, which storage checks:
    a wrong account key is refused with 403, the right one commits."""
    wrong = storage_connection_string.replace(ACCOUNT_KEY, "A" * 86 + "==")
    good = TableServiceClient.from_connection_string(storage_connection_string).create_table_if_not_exists("leansig")
    bad = TableClient.from_connection_string(wrong, "leansig", retry_total=0)
    result = outcome(lambda: changesets.submit_transaction(bad, [("upsert", {"PartitionKey": P, "RowKey": "a"})]))
    assert result[0] == "raised" and result[3] == 403
    assert changesets.submit_transaction(good, [("upsert", {"PartitionKey": P, "RowKey": "a"})])[0]["etag"]
