"""An in-memory stand-in for the app's Azure Table Storage tables (test code).

:class:`MemoryTables` takes the place of :class:`shared.storage.tables.Tables`.
Its :class:`MemoryTable` has the part of ``azure.data.tables.TableClient``
that the app uses: ``table_name``, ``create_entity``, ``get_entity`` (and
the app's ``entity_or_none``), ``update_entity``, ``upsert_entity``, ``delete_entity``, ``query_entities`` and
``submit_transaction``.  Protocol tests can then run in-process, without the
SDK's HTTP stack or Azurite.

Contract: what the app sees through that subset matches what Azurite
answers through the SDK.  That covers entities and their ``metadata``
(etag, timestamp), result dicts, exception types with their ``status_code``,
``reason``, ``error_code``, ``index`` and message, all-or-nothing
transactions, key order (UTF-16 code units), lazy paging and ``select``.
``tests/integration/test_store_contract.py`` runs each case on both stores.
Its docstring lists where Azurite differs from Azure.  Values pass through
the SDK's own wire (de)serialisers, so types round-trip as they do through
the service.

Filters: a property compared (``eq ne gt ge lt le``) with a string, integer
(``L``: Int64), float or boolean literal or ``@parameter``, with ``and``,
``or`` and parentheses.  Anything else raises ``ValueError``.

Not modelled (tests about them run on Azurite): entity size (1 MiB),
property size (64 KiB), 255 properties, the 4 MiB transaction payload,
forbidden key characters and key length, non-string keys, table names,
throttling, outages, timeouts, pages the service ends early, and the
storage-call counter (``shared/storage/calls.py`` counts SDK requests, and
this store sends none).
"""

from __future__ import annotations

import bisect
import itertools
import operator
import re
import threading
import time
import uuid
from collections.abc import Mapping
from datetime import datetime, timezone
from urllib.parse import quote

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.core.paging import ItemPaged
from azure.data.tables import TableEntity, TableErrorCode, TableTransactionError, UpdateMode
from azure.data.tables._deserialize import _convert_to_entity
from azure.data.tables._serialize import _add_entity_properties, _get_match_condition, _parameter_filter_substitution

MAX_TRANSACTION_OPS = 100
API_VERSION = "2019-02-02"  # the x-ms-version the SDK sends
_instances = itertools.count(1)

# The service's answers: (status, reason, error code, message).
_NOT_FOUND = (404, "Not Found", "ResourceNotFound", "The specified resource does not exist.")
_EXISTS = (409, "Conflict", "EntityAlreadyExists", "The specified entity already exists.")
_MODIFIED = (412, "Precondition Failed", "UpdateConditionNotSatisfied",
             "The update condition specified in the request was not satisfied.")
_TOO_MANY = (400, "Bad Request", "InvalidInput",  # Azure's answer (the SDK cannot parse Azurite's)
             "The batch request operation exceeds the maximum 100 changes per change set.")
_OPTIONS = {"create": set(), "upsert": {"mode"}, "update": {"mode", "etag", "match_condition"},
            "delete": {"etag", "match_condition"}}
_UPSERT_MODE = "Update mode {} is not supported. For a list of supported modes see the UpdateMode enum."


class _Refused(Exception):
    """The service refuses one operation; ``args[0]`` is its answer."""


def _error(answer: tuple, index: int | None = None):
    """The SDK's exception for an answer: decoded for a single-entity request, a
    ``TableTransactionError`` (a plain-string code, the index in its message) for a transaction."""
    status, reason, code, text = answer
    now = datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    message = f"{'' if index is None else f'{index}:'}{text}\nRequestId:{uuid.uuid4()}\nTime:{now}\nErrorCode:{code}"
    if index is None:
        error = (ResourceModifiedError if answer is _MODIFIED else ResourceNotFoundError)(message=message)
        code = TableErrorCode(code)
    else:
        error = TableTransactionError(message=message)
    error.status_code, error.reason, error.error_code, error.additional_info = status, reason, code, {}
    return error


def _u16(text: str) -> bytes:
    """The service's sort key for a string: its UTF-16 code units."""
    return text.encode("utf-16-be", "surrogatepass")


def _key(partition_key, row_key) -> tuple[bytes, bytes]:
    if not isinstance(partition_key, str) or not isinstance(row_key, str):
        raise TypeError("PartitionKey or RowKey must be of type string.")
    return _u16(partition_key), _u16(row_key)


def _etag(timestamp: str) -> str:
    return "W/\"datetime'" + quote(timestamp) + "'\""


def _props(entity) -> dict:
    """name -> (wire value, Edm type or None) as the SDK sends them; the service ignores Timestamp."""
    wire = _add_entity_properties(entity)
    return {name: (value, wire.get(name + "@odata.type")) for name, value in wire.items()
            if not name.endswith("@odata.type") and name != "Timestamp"}


def _names(select) -> list[str] | None:
    if select is None:
        return None
    return [name.strip() for name in select.split(",")] if isinstance(select, str) else list(select)


def _body(row: tuple, names: list[str] | None = None) -> dict:
    """A stored row as the service sends it: the selected properties (all by default), the etag always."""
    props, timestamp = row
    body = {"odata.etag": _etag(timestamp)}
    for name in [n for n in (props if names is None else names) if n in props]:
        body[name], edm = props[name]
        if edm:
            body[name + "@odata.type"] = edm
    if names is None or "Timestamp" in names:
        body["Timestamp"] = timestamp
    return body


def _mode(mode, refusal: str = "Mode type '{}' is not supported."):
    if mode not in (UpdateMode.MERGE, UpdateMode.REPLACE):
        raise ValueError(refusal.format(mode))
    return mode


def _condition(entity, etag, match_condition, pickup: bool = True):
    """(etag, condition) as the SDK resolves them, with its ValueErrors."""
    if pickup and match_condition and not etag and isinstance(entity, TableEntity):
        etag = entity.metadata.get("etag")
    return etag, _get_match_condition(etag, match_condition or MatchConditions.Unconditionally)


class MemoryTables:
    """Drop-in for :class:`shared.storage.tables.Tables`: one :class:`MemoryTable` per name."""

    def __init__(self, settings=None) -> None:  # ``settings``: the signature of Tables; unused
        self._prefix = f"memory{next(_instances)}"
        self._tables: dict[str, MemoryTable] = {}
        self._lock = threading.Lock()

    def table(self, name: str) -> "MemoryTable":
        with self._lock:
            if name not in self._tables:
                self._tables[name] = MemoryTable(self._prefix + name)
            return self._tables[name]


class MemoryTable:
    """One table: rows keyed by (PartitionKey, RowKey), behind one lock."""

    def __init__(self, table_name: str) -> None:
        self.table_name = table_name
        self._rows: dict[tuple, tuple[dict, str]] = {}  # key -> (props, Timestamp)
        self._keys: list[tuple] = []  # sorted
        self._lock = threading.Lock()
        self._tick = 0

    # ------------------------------------------------------------ writes
    def _stamp(self) -> str:
        """A Timestamp in 100 ns ticks, as the service writes it, later than every earlier one."""
        self._tick = max(time.time_ns() // 100, self._tick + 1)
        seconds, ticks = divmod(self._tick, 10**7)
        return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S") + f".{ticks:07d}Z"

    def _apply(self, staged: dict, verb: str, key: tuple, props: dict, mode=None, etag=None, condition=None):
        """One operation on ``staged`` (key -> row; None: deleted) over the stored rows; returns the new row."""
        old = staged[key] if key in staged else self._rows.get(key)
        if verb == "create" and old is not None:
            raise _Refused(_EXISTS)
        if verb in ("update", "delete"):
            if old is None:
                raise _Refused(_NOT_FOUND)
            if condition == MatchConditions.IfNotModified and etag != _etag(old[1]):
                raise _Refused(_MODIFIED)
        if verb == "delete":
            staged[key] = None
            return None
        if old is not None and mode == UpdateMode.MERGE:
            props = {**old[0], **props}
        staged[key] = (props, self._stamp())
        return staged[key]

    def _commit(self, staged: dict) -> None:
        for key, row in staged.items():
            if row is None:
                del self._rows[key]
                self._keys.pop(bisect.bisect_left(self._keys, key))
                continue
            if key not in self._rows:
                bisect.insort(self._keys, key)
            self._rows[key] = row

    def _write(self, verb: str, key: tuple, props: dict, mode=None, etag=None, condition=None) -> dict:
        with self._lock:
            staged: dict = {}
            try:
                row = self._apply(staged, verb, key, props, mode, etag, condition)
            except _Refused as refused:
                if refused.args[0] is not _EXISTS:
                    raise _error(refused.args[0]) from None
                error = ResourceExistsError(message="Operation returned an invalid status 'Conflict'")
                error.status_code, error.reason = 409, "Conflict"  # create_entity re-raises it undecoded
                raise error from None
            self._commit(staged)
        result = {"date": datetime.now(timezone.utc).replace(microsecond=0), "version": API_VERSION}
        if row is not None:
            result["etag"] = _etag(row[1])
        if verb == "create":
            result.update(preference_applied="return-content",
                          content={"odata.metadata": f"memory:/$metadata#{self.table_name}/@Element", **_body(row)})
        return result

    def create_entity(self, entity) -> dict:
        props = _props(entity)
        for name in ("PartitionKey", "RowKey"):
            if name not in props:
                raise ValueError(f"{name} must be present in an entity")
        return self._write("create", _key(props["PartitionKey"][0], props["RowKey"][0]), props)

    def update_entity(self, entity, mode=UpdateMode.MERGE, *, etag=None, match_condition=None) -> dict:
        etag, condition = _condition(entity, etag, match_condition)
        props = _props(entity)
        return self._write("update", _key(props["PartitionKey"][0], props["RowKey"][0]), props, _mode(mode), etag, condition)

    def upsert_entity(self, entity, mode=UpdateMode.MERGE) -> dict:
        props = _props(entity)
        return self._write("upsert", _key(props["PartitionKey"][0], props["RowKey"][0]), props, _mode(mode, _UPSERT_MODE))

    def delete_entity(self, *args, **kwargs) -> None:
        """``delete_entity(pk, rk)`` or ``delete_entity(entity)``; a missing row is no error (the SDK drops 404)."""
        entity = kwargs.pop("entity", None) or (args[0] if args and isinstance(args[0], Mapping) else None)
        if entity is not None:
            partition_key, row_key = entity["PartitionKey"], entity["RowKey"]
        else:
            partition_key = kwargs.pop("partition_key") if "partition_key" in kwargs else args[0]
            row_key = kwargs.pop("row_key") if "row_key" in kwargs else args[1]
        etag, condition = _condition(entity, kwargs.pop("etag", None), kwargs.pop("match_condition", None))
        if kwargs:
            raise TypeError(f"MemoryTable.delete_entity does not take {sorted(kwargs)}")
        try:
            self._write("delete", _key(partition_key, row_key), {}, None, etag, condition)
        except ResourceNotFoundError:
            return

    # ------------------------------------------------------ transactions
    @staticmethod
    def _prepare(operation, partition: list) -> tuple:
        """One transaction operation, checked the way the SDK checks it before sending."""
        verb, entity, options = operation if len(operation) == 3 else (*operation, {})
        if verb.lower() not in _OPTIONS:
            raise ValueError(f"Unrecognized operation: {verb}")
        verb = verb.lower()
        if set(options) - _OPTIONS[verb]:
            raise TypeError(f"MemoryTable: a {verb} operation does not take {sorted(set(options) - _OPTIONS[verb])}")
        if "PartitionKey" not in entity or "RowKey" not in entity:
            raise ValueError("PartitionKey and/or RowKey were not provided in entity")
        partition.append(entity["PartitionKey"])
        if partition[0] != partition[-1]:
            raise ValueError("Partition Keys in the batch must all be the same.")
        etag, condition = None, None
        if verb in ("update", "delete"):  # the SDK reads a TableEntity's etag for a delete only
            etag, condition = _condition(entity, options.get("etag"), options.get("match_condition"), verb == "delete")
        mode = _mode(options.get("mode", UpdateMode.MERGE)) if verb in ("update", "upsert") else None
        props = {} if verb == "delete" else _props(entity)
        return verb, _key(entity["PartitionKey"], entity["RowKey"]), props, mode, etag, condition

    def submit_transaction(self, operations) -> list[dict]:
        """All or nothing, in one partition, at most 100 operations, one per row.  Operations
        run in order, and the first one refused raises ``TableTransactionError`` with its index."""
        partition: list = []
        ops = [self._prepare(operation, partition) for operation in operations]
        if not ops:
            return []  # the service answers 400, on which the SDK returns [] (Azurite answers 500)
        if len(ops) > MAX_TRANSACTION_OPS:
            raise _error(_TOO_MANY, MAX_TRANSACTION_OPS - 1)
        results, seen, staged = [], set(), {}
        with self._lock:
            for index, (verb, key, *rest) in enumerate(ops):
                try:
                    if key in seen:  # Azurite's text; Azure's: "The batch request contains multiple changes with same row key..."
                        raise _Refused((400, "Bad Request", "InvalidDuplicateRow", "A command with RowKey "
                                        f"'{key[1].decode('utf-16-be', 'surrogatepass')}' is already present in the batch. "
                                        "An entity can appear only once in a batch. "))
                    seen.add(key)
                    row = self._apply(staged, verb, key, *rest)
                except _Refused as refused:
                    raise _error(refused.args[0], index) from None
                results.append({} if row is None else {"etag": _etag(row[1])})
            self._commit(staged)
        return results

    # ------------------------------------------------------------- reads
    def get_entity(self, partition_key: str, row_key: str, *, select=None) -> TableEntity:
        key = _key(partition_key, row_key)
        with self._lock:
            row = self._rows.get(key)
        if row is None:
            raise _error(_NOT_FOUND)
        return _convert_to_entity(_body(row, _names(select)))

    def entity_or_none(self, partition_key: str, row_key: str, *, select=None) -> TableEntity | None:
        """``LeanTableClient.entity_or_none``: ``get_entity``, ``None`` for an absent entity."""
        try:
            return self.get_entity(partition_key, row_key, select=select)
        except ResourceNotFoundError:
            return None

    def query_entities(self, query_filter: str, *, results_per_page=None, select=None, parameters=None) -> ItemPaged:
        """A pager, as from the SDK: each page is read when the one before has been consumed,
        from the key its continuation token names."""
        text = _parameter_filter_substitution(parameters, query_filter)
        tree = _Parser(text).parse()
        lo, hi = _bounds(tree)
        names, size = _names(select), min(results_per_page or 1000, 1000)

        def page(token):
            rows = []
            with self._lock:
                for index in range(bisect.bisect_left(self._keys, max(lo, token or ())), len(self._keys)):
                    key = self._keys[index]
                    if hi is not None and key >= hi:
                        break
                    if _matches(tree, self._rows[key][0]):
                        if len(rows) == size:
                            return key, rows
                        rows.append(_convert_to_entity(_body(self._rows[key], names)))
            return None, rows

        return ItemPaged(page, lambda answer: answer)


# ------------------------------------------------------------------ filters
_TOKEN = re.compile(r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<num>-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?L?)|(?P<sym>[()])|(?P<word>\w+))")
_COMPARE = {"eq": operator.eq, "ne": operator.ne, "gt": operator.gt, "ge": operator.ge, "lt": operator.lt, "le": operator.le}


class _Parser:
    """Recursive descent: ``expr := term ('or' term)*``, ``term := factor ('and' factor)*``,
    ``factor := '(' expr ')' | property op literal``.  Trees: ("or"|"and", a, b), ("cmp", op, name, value)."""

    def __init__(self, text: str) -> None:
        self.text, self.tokens, pos = text, [], 0
        while text[pos:].strip():
            match = _TOKEN.match(text, pos) or self.fail(f"at {text[pos:]!r}")
            self.tokens.append((match.lastgroup, match.group(match.lastgroup)))
            pos = match.end()
        self.tokens.append((None, None))

    def fail(self, why: str):
        raise ValueError(f"MemoryTable does not model the filter {self.text!r}: {why}")

    def take(self, expected=None):
        token = self.tokens.pop(0)
        return token if expected in (None, token) else self.fail(f"expected {expected[1]!r}, got {token[1]!r}")

    def parse(self):
        tree = self.expr()
        self.take((None, None))
        return tree

    def expr(self, word: str = "or"):
        operand = (lambda: self.expr("and")) if word == "or" else self.factor
        tree = operand()
        while self.tokens[0] == ("word", word):
            self.take()
            tree = (word, tree, operand())
        return tree

    def factor(self):
        kind, name = self.take()
        if (kind, name) == ("sym", "("):
            tree = self.expr()
            self.take(("sym", ")"))
            return tree
        if kind != "word" or name in ("and", "or", "not", "true", "false", *_COMPARE):
            self.fail(f"expected a property name, got {name!r}")
        op = self.take()[1]
        if op not in _COMPARE:
            self.fail(f"unsupported operator {op!r}")
        kind, text = self.take()
        if kind == "str":
            return ("cmp", op, name, text[1:-1].replace("''", "'"))
        if kind == "num":
            number = int(text[:-1]) if text.endswith("L") else float(text) if any(c in text for c in ".eE") else int(text)
            return ("cmp", op, name, number)
        if text in ("true", "false"):
            return ("cmp", op, name, text == "true")
        return self.fail(f"unsupported literal {text!r}")


def _kind(value, edm=None) -> str:
    if edm in ("Edm.DateTime", "Edm.Guid", "Edm.Binary"):
        return edm
    return "bool" if isinstance(value, bool) else "number" if isinstance(value, (int, float)) else "str"


def _matches(tree, props: dict) -> bool:
    if tree[0] == "and":
        return _matches(tree[1], props) and _matches(tree[2], props)
    if tree[0] == "or":
        return _matches(tree[1], props) or _matches(tree[2], props)
    _, op, name, literal = tree
    if name not in props:
        return False  # a missing property matches no comparison, not even ne
    value, edm = props[name]
    value = int(value) if edm == "Edm.Int64" else float(value) if edm == "Edm.Double" else value
    if _kind(value, edm) != _kind(literal):
        return op == "ne"  # as in Azurite: values of different types are unequal
    if isinstance(value, str):
        value, literal = _u16(value), _u16(literal)
    return _COMPARE[op](value, literal)


def _bounds(tree) -> tuple[tuple, tuple | None]:
    """The key range (lo, hi exclusive) a filter can match, narrowed by its top-level
    ``PartitionKey eq`` and ``RowKey`` comparisons; the filter still decides each row."""
    terms, stack = [], [tree]
    while stack:
        node = stack.pop()
        if node[0] == "and":
            stack += node[1:]
        elif node[0] == "cmp" and isinstance(node[3], str):
            terms.append(node[1:])
    partitions = [_u16(value) for op, name, value in terms if (name, op) == ("PartitionKey", "eq")]
    if not partitions:
        return (), None
    pk = partitions[0]
    lo, hi = (pk, b""), (pk + b"\0\0",)  # pk + U+0000 is the first partition after pk
    for op, name, value in terms:
        if name == "RowKey":
            if op in ("eq", "gt", "ge"):
                lo = max(lo, (pk, _u16(value)))
            if op in ("eq", "le", "lt"):
                hi = min(hi, (pk, _u16(value) + (b"" if op == "lt" else b"\0\0")))
    return lo, hi
