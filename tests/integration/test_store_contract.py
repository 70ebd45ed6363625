"""The store contract: every case runs against a real Azurite table and a
:class:`tests.memory_tables.MemoryTable`, with the same expectations, so any
difference between the two stores fails a case.  Protocol tests may use the
memory store only because this suite holds.

Where Azurite differs from Azure as documented (nothing here depends on it):

* more than 100 operations in a transaction: Azure answers 400 ``InvalidInput``,
  "99:The batch request operation exceeds the maximum 100 changes per change
  set."  Azurite answers a changeset part that is not an HTTP response (a
  stray boundary line before the status line), which the lean transaction
  path refuses with a ``DecodeError`` without a response (the SDK's own
  path raises ``http.client.BadStatusLine``).  The memory store raises
  Azure's error.  Both write nothing (:func:`test_transaction_over_100_operations_writes_nothing`);
* a repeated row in a transaction: Azurite's message (which the memory store
  copies) reads "A command with RowKey 'x' is already present in the batch...".
  Azure's reads "The batch request contains multiple changes with same row key...".
  The status, code and index are the same;
* an empty transaction: Azure answers 400 and the SDK returns ``[]``, which is
  what the memory store does.  Azurite answers 500.  Not a case;
* comparing values of different types: Azurite orders a string against a
  number by JavaScript coercion (``'3' ge 3`` holds), and its ``eq 3L``
  against an Int32 answers 500.  The memory store treats different types as
  unequal and unordered.  Only ``eq``/``ne`` across types are cases.  The app
  compares no mixed types;
* ``-0.0`` is read back from Azurite as ``0.0`` and from the memory store as
  ``-0.0``.  Not a case: the app stores no floats;
* ``select`` of a property a row lacks: Azurite leaves it out, and so does the
  memory store (a case).  This suite does not check whether Azure sends it as null.
"""

from __future__ import annotations

import ast
import importlib
import math
import re
import threading
import uuid
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import pytest
from azure.core import MatchConditions
from azure.core.exceptions import DecodeError, ResourceModifiedError
from azure.data.tables import EdmType, EntityProperty, UpdateMode

from shared.config import Settings
from shared.storage import keys
from shared.storage.outbox import _PENDING_FOR_POLL
from shared.storage.table_store import _RANGE, _RANGE_OF_COUNTS_AND_RESOURCES, _RANGE_OF_KIND
from shared.storage.transactions import _KEYS_IN_SPAN
from shared.storage.tables import Tables
from tests.memory_tables import MemoryTable, MemoryTables

ROOT = Path(__file__).resolve().parents[2]
P = "p"
STALE = "W/\"datetime'2020-01-01T00%3A00%3A00.0000000Z'\""
ETAG = re.compile(r"W/\"datetime'\d{4}-\d\d-\d\dT\d\d%3A\d\d%3A\d\d\.\d{7}Z'\"")
IF_NOT_MODIFIED = MatchConditions.IfNotModified
CONDITIONAL = {"etag": STALE, "match_condition": IF_NOT_MODIFIED}
# The service's answers: (status, reason, error code, message).
GONE = (404, "Not Found", "ResourceNotFound", "The specified resource does not exist.")
TAKEN = (409, "Conflict", "EntityAlreadyExists", "The specified entity already exists.")
STALE_ETAG = (412, "Precondition Failed", "UpdateConditionNotSatisfied",
              "The update condition specified in the request was not satisfied.")


@pytest.fixture(params=["azurite", "memory"])
def table(request):
    if request.param == "memory":
        yield MemoryTables().table("contract")
        return
    settings = replace(Settings.from_env(), connection_string=request.getfixturevalue("storage_connection_string"),
                       table_endpoint=None, table_prefix="c" + uuid.uuid4().hex[:16])
    client = Tables(settings).table("contract")
    yield client
    client.delete_table()


def row(row_key: str, partition: str = P, **props) -> dict:
    return {"PartitionKey": partition, "RowKey": row_key, **props}


def seed(table, *rows: dict) -> None:
    for entity in rows:
        table.create_entity(entity)


def everything(table) -> list:
    """Every row with its etag: what the atomicity cases compare before and after."""
    return [(dict(e), e.metadata["etag"]) for e in table.query_entities("PartitionKey ge @lo", parameters={"lo": ""})]


def keys_of(rows) -> list:
    return [(e["PartitionKey"], e["RowKey"]) for e in rows]


def shape(error) -> dict:
    code = getattr(error, "error_code", None)
    return {"type": type(error).__name__, "status": error.status_code, "reason": error.reason,
            "code": None if code is None else (type(code).__name__, getattr(code, "value", code)),
            "message": error.message.splitlines()[0], "index": getattr(error, "index", None)}


def decoded(cls: str, status: int, reason: str, code: str, text: str) -> dict:
    return {"type": cls, "status": status, "reason": reason, "code": ("TableErrorCode", code), "message": text, "index": None}


NOT_FOUND = decoded("ResourceNotFoundError", *GONE)
MODIFIED = decoded("ResourceModifiedError", *STALE_ETAG)
# create_entity re-raises the SDK's undecoded error: no error_code, a generic message.
EXISTS = {"type": "ResourceExistsError", "status": 409, "reason": "Conflict", "code": None,
          "message": "Operation returned an invalid status 'Conflict'", "index": None}


def refused_op(index: int, status: int, reason: str, code: str, text: str) -> dict:
    return {"type": "TableTransactionError", "status": status, "reason": reason, "code": ("str", code),
            "message": f"{index}:{text}", "index": index}


def raised(fn, *args, **kwargs):
    with pytest.raises(Exception) as caught:
        fn(*args, **kwargs)
    return caught.value


# ------------------------------------------------------------ single rows
def test_create_returns_the_etag_that_get_reads_back(table):
    result = table.create_entity(row("a", s="x", n=1))
    assert set(result) == {"date", "etag", "version", "preference_applied", "content"}
    assert result["preference_applied"] == "return-content" and ETAG.fullmatch(result["etag"])
    assert result["date"].tzinfo is not None and abs((datetime.now(timezone.utc) - result["date"]).total_seconds()) < 60
    content = result["content"]
    assert (content["odata.etag"], content["PartitionKey"], content["RowKey"], content["s"]) == (result["etag"], P, "a", "x")
    got = table.get_entity(P, "a")
    assert type(got).__name__ == "TableEntity" and dict(got) == row("a", s="x", n=1)
    assert got.metadata["etag"] == result["etag"]
    assert got.metadata["timestamp"].tzinfo == timezone.utc and ETAG.fullmatch(got.metadata["etag"])
    assert content["Timestamp"] == got.metadata["timestamp"].tables_service_value


def test_create_of_an_existing_row_is_409_and_changes_nothing(table):
    table.create_entity(row("a", s="x"))
    before = everything(table)
    assert shape(raised(table.create_entity, row("a", s="y"))) == EXISTS
    assert everything(table) == before


@pytest.mark.parametrize("missing", ["PartitionKey", "RowKey"])
def test_create_without_a_key_is_refused(table, missing):
    entity = row("a")
    del entity[missing]
    error = raised(table.create_entity, entity)
    assert (type(error), str(error)) == (ValueError, f"{missing} must be present in an entity")


def test_get_of_a_missing_row_is_404(table):
    assert shape(raised(table.get_entity, P, "nothing")) == NOT_FOUND


@pytest.mark.parametrize("select, expected, timestamp", [
    (["RowKey"], {"RowKey": "a"}, False),
    ("x,z", {"x": 1, "z": "s"}, False),
    (["PartitionKey", "absent"], {"PartitionKey": P}, False),
    (["Timestamp", "x"], {"x": 1}, True),
])
def test_get_with_select(table, select, expected, timestamp):
    etag = table.create_entity(row("a", x=1, z="s"))["etag"]
    got = table.get_entity(P, "a", select=select)
    assert dict(got) == expected and got.metadata["etag"] == etag
    assert (got.metadata["timestamp"] is not None) == timestamp


@pytest.mark.parametrize("mode, expected", [
    (UpdateMode.MERGE, row("a", x=1, y="new", z=True)),  # None leaves x alone
    (UpdateMode.REPLACE, row("a", y="new", z=True)),  # None drops x
])
@pytest.mark.parametrize("write", ["update", "upsert"])
def test_merge_keeps_and_replace_drops_other_properties(table, mode, expected, write):
    table.create_entity(row("a", x=1, y="old"))
    result = getattr(table, f"{write}_entity")(row("a", x=None, y="new", z=True), mode=mode)
    assert set(result) == {"date", "etag", "version"}
    got = table.get_entity(P, "a")
    assert dict(got) == expected and got.metadata["etag"] == result["etag"]


@pytest.mark.parametrize("mode", [UpdateMode.MERGE, UpdateMode.REPLACE])
def test_upsert_inserts_a_missing_row(table, mode):
    etag = table.upsert_entity(row("a", x=1), mode=mode)["etag"]
    got = table.get_entity(P, "a")
    assert dict(got) == row("a", x=1) and got.metadata["etag"] == etag


@pytest.mark.parametrize("mode", [UpdateMode.MERGE, UpdateMode.REPLACE])
@pytest.mark.parametrize("condition", [{}, CONDITIONAL])
def test_update_of_a_missing_row_is_404(table, mode, condition):
    assert shape(raised(table.update_entity, row("a", x=1), mode=mode, **condition)) == NOT_FOUND
    assert everything(table) == []


@pytest.mark.parametrize("mode", [UpdateMode.MERGE, UpdateMode.REPLACE])
def test_update_with_the_current_etag_succeeds_and_a_stale_one_is_412(table, mode):
    etag = table.create_entity(row("a", x=1))["etag"]
    newer = table.update_entity(row("a", x=2), mode=mode, etag=etag, match_condition=IF_NOT_MODIFIED)["etag"]
    before = everything(table)
    assert shape(raised(table.update_entity, row("a", x=3), mode=mode, etag=etag, match_condition=IF_NOT_MODIFIED)) == MODIFIED
    assert everything(table) == before and before[0][1] == newer


def test_update_of_a_read_entity_uses_its_etag(table):
    table.create_entity(row("a", x=1))
    read = table.get_entity(P, "a")
    read["x"] = 2
    table.update_entity(read, match_condition=IF_NOT_MODIFIED)
    assert shape(raised(table.update_entity, read, match_condition=IF_NOT_MODIFIED)) == MODIFIED
    assert table.get_entity(P, "a")["x"] == 2


@pytest.mark.parametrize("call, message", [
    (lambda t: t.update_entity(row("a"), etag=STALE), "Etag is not supported for an Unconditional operation."),
    (lambda t: t.update_entity(row("a"), match_condition=IF_NOT_MODIFIED), "IfNotModified must be specified with etag."),
    (lambda t: t.update_entity(row("a"), mode="bogus"), "Mode type 'bogus' is not supported."),
    (lambda t: t.upsert_entity(row("a"), mode="bogus"),
     "Update mode bogus is not supported. For a list of supported modes see the UpdateMode enum."),
    (lambda t: t.delete_entity(P, "a", etag=STALE), "Etag is not supported for an Unconditional operation."),
])
def test_misused_conditions_and_modes_are_refused_before_sending(table, call, message):
    table.create_entity(row("a", x=1))
    error = raised(call, table)
    assert (type(error), str(error)) == (ValueError, message)
    assert dict(table.get_entity(P, "a")) == row("a", x=1)


@pytest.mark.parametrize("form", ["positional", "keywords", "entity", "entity keyword", "read entity", "etag"])
def test_delete_forms(table, form):
    table.create_entity(row("a", x=1))
    read = table.get_entity(P, "a")
    calls = {
        "positional": lambda: table.delete_entity(P, "a"),
        "keywords": lambda: table.delete_entity(partition_key=P, row_key="a"),
        "entity": lambda: table.delete_entity(row("a")),
        "entity keyword": lambda: table.delete_entity(entity=row("a")),
        "read entity": lambda: table.delete_entity(read, match_condition=IF_NOT_MODIFIED),
        "etag": lambda: table.delete_entity(P, "a", etag=read.metadata["etag"], match_condition=IF_NOT_MODIFIED),
    }
    assert calls[form]() is None
    assert everything(table) == []


@pytest.mark.parametrize("condition", [{}, CONDITIONAL])
def test_delete_of_a_missing_row_is_silent(table, condition):
    assert table.delete_entity(P, "nothing", **condition) is None


def test_delete_with_a_stale_etag_is_412_and_keeps_the_row(table):
    table.create_entity(row("a", x=1))
    read = table.get_entity(P, "a")
    table.update_entity(row("a", x=2))
    before = everything(table)
    assert shape(raised(table.delete_entity, read, match_condition=IF_NOT_MODIFIED)) == MODIFIED
    assert shape(raised(table.delete_entity, P, "a", etag=read.metadata["etag"], match_condition=IF_NOT_MODIFIED)) == MODIFIED
    assert everything(table) == before


def test_every_write_changes_the_etag_and_timestamp(table):
    writes = [
        lambda: table.create_entity(row("a", n=0))["etag"],
        lambda: table.update_entity(row("a", n=1))["etag"],
        lambda: table.update_entity(row("a", n=1), mode=UpdateMode.REPLACE)["etag"],
        lambda: table.upsert_entity(row("a", n=1))["etag"],
        lambda: table.upsert_entity(row("a", n=1), mode=UpdateMode.REPLACE)["etag"],
        lambda: table.submit_transaction([("update", row("a", n=1))])[0]["etag"],
        lambda: table.submit_transaction([("upsert", row("a", n=1))])[0]["etag"],
    ]
    seen, stamps = [], []
    for write in writes:
        etag = write()
        got = table.get_entity(P, "a")
        assert got.metadata["etag"] == etag
        seen.append(etag)
        stamps.append(got.metadata["timestamp"])
    assert len(set(seen)) == len(seen) and stamps == sorted(stamps)


# ------------------------------------------------------------------ values
ROUND_TRIPS = [  # (value, the type it is read back as)
    ("text", "str"), ("", "str"), ("é😀！ it's \"quoted\"", "str"), ("x" * 30_000, "str"),  # a resource chunk
    (0, "int"), (-(2**31), "int"), (2**31 - 1, "int"), (True, "bool"), (False, "bool"),
    (1.5, "float"), (2.0, "float"), (1e300, "float"), (math.inf, "float"), (math.nan, "float"),
    (EntityProperty(2**40, EdmType.INT64), "EntityProperty"), (EntityProperty(-(2**63), EdmType.INT64), "EntityProperty"),
    (EntityProperty(5, EdmType.INT64), "EntityProperty"),
    (datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=timezone.utc), "TablesEntityDatetime"),
    (uuid.UUID(int=5), "UUID"), (b"\x00\xff bytes", "bytes"),
]


@pytest.mark.parametrize("value, type_name", ROUND_TRIPS)
def test_values_round_trip(table, value, type_name):
    table.create_entity(row("a", v=value))
    (queried,) = table.query_entities("PartitionKey eq @p", parameters={"p": P})
    for got in (table.get_entity(P, "a")["v"], queried["v"]):
        assert type(got).__name__ == type_name
        assert got == value or (isinstance(got, float) and math.isnan(got) and math.isnan(value))


def test_none_stores_no_property_and_a_bare_int_beyond_32_bits_is_refused(table):
    table.create_entity(row("a", v=None, w=1))
    assert dict(table.get_entity(P, "a")) == row("a", w=1)
    error = raised(table.create_entity, row("b", v=2**31))
    assert (type(error), str(error)) == (TypeError, f"{2**31} is too large to be cast to type {EdmType.INT32}.")


def test_stored_rows_are_copies(table):
    source = row("a", x="stored")
    table.create_entity(source)
    source["x"] = "changed by the caller"
    read = table.get_entity(P, "a")
    read["x"] = "changed by a reader"
    next(iter(table.query_entities("PartitionKey eq @p", parameters={"p": P})))["x"] = "changed by a query reader"
    assert table.get_entity(P, "a")["x"] == "stored"


# ----------------------------------------------------------------- queries
APP_ROWS = [
    row("!tenant", "t1"),
    row("E:e1", "t1", k="E", pa=False), row("E:e2", "t1", k="E", pa=True), row("E:e3", "t1", k="E", pa=False),
    row("G!00", "t1", k="C", n=2), row("G!01", "t1", k="C", n=1), row("G:g1", "t1", k="R"),
    row("G:g1:m:u1", "t1", k="M", disp="Bob"), row("I:externalId:e1:u1", "t1", k="I", id="u1"),
    row("U!00", "t1", k="C", n=1), row("U:u1", "t1", k="R"), row("U:u1:g:g1", "t1", k="B"),
    row("X:userName:bob", "t1", k="I", id="u1"), row("U:u9", "t2", k="R"),
    row("id1", "tenant", name="acme", disabled=False), row("id2", "tenant", name="it's", disabled=True),
    row("id3", "deleted", deleted="2024-01-01"),
    row("tok1", "token", tenant="id1", created="1"), row("tok2", "token", tenant="id2", created="2"),
    row("0000000000100aa", "a1"), row("0000000000200bb", "a1"), row("0000000000300cc", "a1"),
]
T1 = [e["RowKey"] for e in APP_ROWS if e["PartitionKey"] == "t1"]
# The filters of the app's query_entities calls, with the values they bind
# (test_the_app_uses_no_filter_outside_the_contract keeps this list complete).
APP_FILTERS = [
    (_RANGE, {"pk": "t1", "lo": "U:", "hi": keys.prefix_end("U:")}, ["U:u1", "U:u1:g:g1"]),
    (_RANGE_OF_KIND, {"pk": "t1", "lo": "U:", "hi": keys.prefix_end("U:"), "k": "R"}, ["U:u1"]),
    (_RANGE_OF_COUNTS_AND_RESOURCES, {"pk": "t1", "lo": "G!", "hi": keys.prefix_end("G:")}, ["G!00", "G!01", "G:g1"]),
    ("PartitionKey eq @p and name eq @n", {"p": "tenant", "n": "it's"}, ["id2"]),  # tenants.find_tenant
    ("PartitionKey eq @p", {"p": "tenant"}, ["id1", "id2"]),  # tenants.tenants, audit.recent
    ("PartitionKey eq @a or PartitionKey eq @b", {"a": "tenant", "b": "deleted"}, ["id3", "id1", "id2"]),
    ("PartitionKey eq @p and tenant eq @t", {"p": "token", "t": "id2"}, ["tok2"]),  # tenants.credentials
    ("PartitionKey eq @p and RowKey gt @k", {"p": "a1", "k": "0000000000200g"}, ["0000000000300cc"]),  # audit.prune
    ("PartitionKey eq @pk", {"pk": "t1"}, T1),  # store_check
    (_PENDING_FOR_POLL, {"pk": "t1", "lo": "E:", "hi": keys.prefix_end("E:")}, ["E:e1", "E:e3"]),  # outbox
    (_KEYS_IN_SPAN, {"pk": "t1", "lo": "E:e1", "hi": "E:e2"}, ["E:e1", "E:e2"]),  # transactions._existing
]


@pytest.mark.parametrize("query, parameters, expected", APP_FILTERS)
def test_the_app_filters(table, query, parameters, expected):
    seed(table, *APP_ROWS)
    assert [e["RowKey"] for e in table.query_entities(query, parameters=parameters)] == expected


def test_the_app_uses_no_filter_outside_the_contract():
    """Each filter the app queries with: literal arguments of its query_entities
    calls, and the module constants that hold filters (table_store's ranges)."""
    contracted = {query for query, _, _ in APP_FILTERS}
    used = set()
    for path in (ROOT / "shared").rglob("*.py"):
        source = path.read_text(encoding="utf-8")
        if "query_entities" not in source or path.name == "__init__.py":
            continue
        module = importlib.import_module(".".join(path.relative_to(ROOT).with_suffix("").parts))
        used |= {value for value in vars(module).values() if isinstance(value, str) and value.startswith("PartitionKey ")}
        for call in ast.walk(ast.parse(source)):
            if not isinstance(call, ast.Call):
                continue
            args = [a for a in call.args if not (isinstance(a, ast.Attribute) and a.attr == "query_entities")]
            is_query = getattr(call.func, "attr", None) == "query_entities" or len(args) < len(call.args)
            if is_query and args and isinstance(args[0], ast.Constant):
                used.add(args[0].value)
    assert used and used <= contracted, used - contracted


FILTER_ROWS = [
    row("a", "f", k="R", n=3, b=False, x=1.5, big=EntityProperty(2**40, EdmType.INT64), s="it's"),
    row("b", "f", k="C", n=10, b=True),
    row("c", "f"),
    row("d", "m", k=5, n="3"),  # the same names with other types
    row("e", "m", k="R", n=3),
]


@pytest.mark.parametrize("query, parameters, expected", [
    ("PartitionKey eq 'f' and k ne 'R'", None, ["f/b"]),  # a missing property matches no comparison
    ("PartitionKey eq 'f' and k eq @k", {"k": "R"}, ["f/a"]),
    ("PartitionKey eq 'f' and n gt 3", None, ["f/b"]),
    ("PartitionKey eq 'f' and n ge @n", {"n": 3}, ["f/a", "f/b"]),
    ("PartitionKey eq 'f' and n lt 10", None, ["f/a"]),
    ("PartitionKey eq 'f' and n le 10", None, ["f/a", "f/b"]),
    ("PartitionKey eq 'f' and b eq false", None, ["f/a"]),
    ("PartitionKey eq 'f' and b eq @b", {"b": True}, ["f/b"]),
    ("PartitionKey eq 'f' and b ne true", None, ["f/a"]),
    ("PartitionKey eq 'f' and x gt 1.0", None, ["f/a"]),
    ("PartitionKey eq 'f' and x eq @x", {"x": 1.5}, ["f/a"]),
    ("PartitionKey eq 'f' and x lt 2", None, ["f/a"]),
    ("PartitionKey eq 'f' and big gt 5", None, ["f/a"]),
    ("PartitionKey eq 'f' and big eq @big", {"big": 2**40}, ["f/a"]),  # the SDK writes 1099511627776L
    ("PartitionKey eq 'f' and big ge 1099511627777L", None, []),
    ("PartitionKey eq 'f' and s eq @s", {"s": "it's"}, ["f/a"]),
    ("PartitionKey eq 'f' and s eq 'it''s'", None, ["f/a"]),
    ("PartitionKey eq 'f' and RowKey ge 'b' and RowKey le 'c'", None, ["f/b", "f/c"]),
    ("PartitionKey eq 'f' and RowKey ne 'b'", None, ["f/a", "f/c"]),
    ("PartitionKey eq 'f' and (k eq 'R' or k eq 'C') and n gt 5", None, ["f/b"]),
    ("PartitionKey eq 'f' and RowKey eq 'a' or RowKey eq 'b' and n eq 3", None, ["f/a"]),  # and binds tighter
    ("k eq 'R' or PartitionKey eq 'f' and n eq 10", None, ["f/a", "f/b", "m/e"]),
    ("(PartitionKey eq 'm') and ((RowKey eq 'e'))", None, ["m/e"]),
    ("PartitionKey  eq  'f'  and  n eq 3", None, ["f/a"]),
    ("PartitionKey eq 'f' and K eq 'R'", None, []),  # names are case-sensitive
    ("PartitionKey eq 'f' and k eq 'r'", None, []),  # so are values
    ("PartitionKey gt 'f'", None, ["m/d", "m/e"]),
    ("PartitionKey lt 'm'", None, ["f/a", "f/b", "f/c"]),
    ("PartitionKey eq 'm' and k ne 'R'", None, ["m/d"]),  # different types are unequal
    ("PartitionKey eq 'm' and n ne 3", None, ["m/d"]),
    ("PartitionKey eq 'm' and n eq '3'", None, ["m/d"]),
    ("PartitionKey eq 'm' and k eq 5", None, ["m/d"]),
])
def test_filter_forms(table, query, parameters, expected):
    seed(table, *FILTER_ROWS)
    found = table.query_entities(query, parameters=parameters)
    assert [f"{e['PartitionKey']}/{e['RowKey']}" for e in found] == expected


def test_rows_come_in_key_order_by_utf16_code_units(table):
    row_keys = ["a", "\uff01", "\U0001F600", "\u00e9", "B", "a:b", "a!", "a;"]
    seed(table, row("z", "o"), *(row(k) for k in row_keys), row("0", "q"), row("x", "\u00e9"))
    expected = [("o", "z"), *((P, k) for k in ["B", "a", "a!", "a:b", "a;", "\u00e9", "\U0001F600", "\uff01"]),
                ("q", "0"), ("\u00e9", "x")]
    assert keys_of(table.query_entities("PartitionKey ge @lo", parameters={"lo": ""})) == expected
    after = table.query_entities("PartitionKey eq @p and RowKey gt @k", parameters={"p": P, "k": "\u00e9"})
    assert [e["RowKey"] for e in after] == ["\U0001F600", "\uff01"]


@pytest.mark.parametrize("per_page, sizes", [(1, [1] * 8), (3, [3, 3, 2]), (4, [4, 4]), (8, [8]), (9, [8]), (None, [8])])
def test_paging(table, per_page, sizes):
    seed(table, *(row(f"r{i}", n=i % 3) for i in range(8)), row("r9", "other"))
    pages = [list(page) for page in table.query_entities("PartitionKey eq @p", parameters={"p": P},
                                                         results_per_page=per_page).by_page()]
    assert [len(page) for page in pages] == sizes
    assert [e["RowKey"] for page in pages for e in page] == [f"r{i}" for i in range(8)]


@pytest.mark.parametrize("query, sizes, expected", [
    ("PartitionKey eq 'p' and n eq 1", [2, 1], ["r1", "r4", "r7"]),
    ("n ne 1", [2, 2, 2, 1], ["r0", "r2", "r3", "r5", "r6", "r8", "r9"]),  # across partitions
])
def test_paging_a_filter(table, query, sizes, expected):
    seed(table, *(row(f"r{i}", n=i % 3) for i in range(9)), row("r9", "q", n=0))
    pages = [[e["RowKey"] for e in page] for page in table.query_entities(query, results_per_page=2).by_page()]
    assert [len(page) for page in pages] == sizes and sum(pages, []) == expected


def test_each_page_is_read_when_the_one_before_is_consumed(table):
    seed(table, *(row(f"r{i}") for i in range(1, 7)))
    pages = table.query_entities("PartitionKey eq @p", parameters={"p": P}, results_per_page=2).by_page()
    seen = [[e["RowKey"] for e in next(pages)]]
    table.create_entity(row("r0"))  # before the pager's position: not seen
    table.create_entity(row("r9"))  # after it: seen
    table.delete_entity(P, "r3")  # the next page's first row
    table.delete_entity(P, "r5")
    seen += [[e["RowKey"] for e in page] for page in pages]
    assert seen == [["r1", "r2"], ["r4", "r6"], ["r9"]]


@pytest.mark.parametrize("select, expected, timestamp", [
    (["PartitionKey", "RowKey"], {"PartitionKey": P, "RowKey": "a"}, False),
    (["RowKey", "n"], {"RowKey": "a", "n": 1}, False),
    ("RowKey,n", {"RowKey": "a", "n": 1}, False),
    (["n", "absent"], {"n": 1}, False),
    (["Timestamp"], {}, True),
    (["PartitionKey", "RowKey", "tenant", "created", "expires", "revoked"], {"PartitionKey": P, "RowKey": "a"}, False),
])
def test_query_with_select(table, select, expected, timestamp):
    etag = table.create_entity(row("a", n=1, s="x"))["etag"]
    (got,) = table.query_entities("PartitionKey eq @p", parameters={"p": P}, select=select)
    assert dict(got) == expected and got.metadata["etag"] == etag
    assert (got.metadata["timestamp"] is not None) == timestamp


# ------------------------------------------------------------ transactions
def test_transaction_results(table):
    seed(table, row("u", x=1, y=1), row("d"), row("r", x=1))
    results = table.submit_transaction([
        ("create", row("c", x=1)),
        ("update", row("u", y=2)),
        ("upsert", row("n", x=1), {"mode": UpdateMode.REPLACE}),
        ("update", row("r", y=2), {"mode": UpdateMode.REPLACE}),
        ("delete", row("d")),
    ])
    assert [set(r) for r in results] == [{"etag"}] * 4 + [set()]
    state = {e["RowKey"]: (dict(e), e.metadata["etag"]) for e in table.query_entities("PartitionKey eq 'p'")}
    assert state == {"c": (row("c", x=1), results[0]["etag"]), "u": (row("u", x=1, y=2), results[1]["etag"]),
                     "n": (row("n", x=1), results[2]["etag"]), "r": (row("r", y=2), results[3]["etag"])}


FAILING_OPS = {
    "update missing": (("update", row("zz", x=1), {"mode": UpdateMode.MERGE}), GONE),
    "delete missing": (("delete", row("zz")), GONE),
    "create existing": (("create", row("e", x=9)), TAKEN),
    "update stale": (("update", row("e", x=9), {"mode": UpdateMode.REPLACE, **CONDITIONAL}), STALE_ETAG),
    "delete stale": (("delete", row("e"), CONDITIONAL), STALE_ETAG),
}


@pytest.mark.parametrize("position", [0, 2, 4])
@pytest.mark.parametrize("failure", sorted(FAILING_OPS))
def test_a_refused_operation_fails_the_whole_transaction(table, failure, position):
    seed(table, row("e", x=1), *(row(f"x{i}", x=1) for i in range(4)))
    before = everything(table)
    op, answer = FAILING_OPS[failure]
    others = [("update", row("x0", x=2)), ("upsert", row("n1", x=2)), ("delete", row("x2")),
              ("update", row("x3", y=2), {"mode": UpdateMode.REPLACE})]
    ops = others[:position] + [op] + others[position:]
    assert shape(raised(table.submit_transaction, ops)) == refused_op(position, *answer)
    assert everything(table) == before


def test_a_row_twice_in_one_transaction_is_400(table):
    seed(table, row("e"))
    before = everything(table)
    error = raised(table.submit_transaction, [("upsert", row("a")), ("upsert", row("b")), ("update", row("a"))])
    assert shape(error) == refused_op(2, 400, "Bad Request", "InvalidDuplicateRow",
                                      "A command with RowKey 'a' is already present in the batch. "
                                      "An entity can appear only once in a batch. ")
    # operations are taken in order: an earlier refusal wins over a later repeat
    error = raised(table.submit_transaction, [("create", row("e")), ("upsert", row("a")), ("upsert", row("a"))])
    assert shape(error) == refused_op(0, *TAKEN)
    assert everything(table) == before


def test_a_transaction_of_100_operations_commits(table):
    results = table.submit_transaction([("upsert", row(f"r{i:03}", i=i)) for i in range(100)])
    assert len(results) == 100 and all(ETAG.fullmatch(r["etag"]) for r in results)
    assert [e["i"] for e in table.query_entities("PartitionKey eq 'p'")] == list(range(100))


def test_transaction_over_100_operations_writes_nothing(table):
    error = raised(table.submit_transaction, [("upsert", row(f"r{i:03}")) for i in range(101)])
    if isinstance(table, MemoryTable):  # Azure's answer
        assert shape(error) == refused_op(99, 400, "Bad Request", "InvalidInput",
                                          "The batch request operation exceeds the maximum 100 changes per change set.")
    else:  # Azurite's answer is a changeset part that is not an HTTP response (module docstring)
        assert isinstance(error, DecodeError) and error.status_code is None
    assert everything(table) == []


@pytest.mark.parametrize("ops, message", [
    ([("upsert", row("a")), ("upsert", row("a", "q"))], "Partition Keys in the batch must all be the same."),
    ([("upsert", row("a")), ("insert", row("b"))], "Unrecognized operation: insert"),
    ([("upsert", {"PartitionKey": P})], "PartitionKey and/or RowKey were not provided in entity"),
    ([("delete", row("a"), {"etag": STALE})], "Etag is not supported for an Unconditional operation."),
    ([("update", row("a"), {"match_condition": IF_NOT_MODIFIED})], "IfNotModified must be specified with etag."),
])
def test_malformed_transactions_are_refused_before_sending(table, ops, message):
    error = raised(table.submit_transaction, ops)
    assert (type(error), str(error)) == (ValueError, message)
    assert everything(table) == []


def test_transaction_modes_and_conditions(table):
    seed(table, row("e", a=1, b=2))
    table.submit_transaction([("update", row("e", b=3), {"mode": UpdateMode.REPLACE})])
    assert dict(table.get_entity(P, "e")) == row("e", b=3)
    table.submit_transaction([("upsert", row("e", c=4))])
    assert dict(table.get_entity(P, "e")) == row("e", b=3, c=4)
    table.submit_transaction([("upsert", row("e", d=5), {"mode": UpdateMode.REPLACE})])
    assert dict(table.get_entity(P, "e")) == row("e", d=5)
    read = table.get_entity(P, "e")
    (result,) = table.submit_transaction([("update", row("e", d=6), {"etag": read.metadata["etag"],
                                                                     "match_condition": IF_NOT_MODIFIED})])
    table.submit_transaction([("delete", table.get_entity(P, "e"), {"match_condition": IF_NOT_MODIFIED})])
    assert result["etag"] != read.metadata["etag"] and everything(table) == []


def test_conditional_updates_from_many_threads_lose_nothing(table):
    table.create_entity(row("c", n=0))

    def add(times: int) -> None:
        while times:
            read = table.get_entity(P, "c")
            try:
                table.update_entity(row("c", n=read["n"] + 1), etag=read.metadata["etag"], match_condition=IF_NOT_MODIFIED)
            except ResourceModifiedError:
                continue
            times -= 1

    threads = [threading.Thread(target=add, args=(10,)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert table.get_entity(P, "c")["n"] == 40


# -------------------------------------------------- the memory store alone
def test_memory_tables_are_memoised_and_named_apart():
    first, second = MemoryTables(), MemoryTables()
    assert first.table("resources") is first.table("resources")
    names = {t.table_name for t in (first.table("resources"), first.table("tenants"), second.table("resources"))}
    assert len(names) == 3 and all(name.startswith("memory") for name in names)


@pytest.mark.parametrize("query", ["not (k eq 'R')", "k eq datetime'2024-01-01T00:00:00Z'", "'R' eq k", "k eq",
                                   "(k eq 'R'", "k eq 'R')", "k like 'R'", "k eq null"])
def test_memory_store_refuses_filters_it_does_not_model(query):
    with pytest.raises(ValueError, match="MemoryTable does not model the filter"):
        MemoryTables().table("t").query_entities(query)
