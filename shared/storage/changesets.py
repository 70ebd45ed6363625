"""Entity-group transactions on the wire: the OData ``$batch`` body encoded and
its answer decoded here, sent through the Tables SDK's own pipeline.

Why it exists.  ``TableClient.submit_transaction`` builds one azure-core
``HttpRequest`` per operation, runs the SDK's header policy over each of
them in a thread pool, writes the multipart body with the standard
library's ``email`` package and parses the multipart answer with it again.
For a 2-entity transaction that cost 4.7 times the CPU of one
``create_entity`` (docs/performance.md "CPU per request"), and every SCIM
write is a transaction.  The format itself is a few lines of text per
operation, so this module writes and reads it directly.

What is still the SDK's.  The request is one ``azure.core.rest.HttpRequest``
sent into the pipeline of ``TableClient``'s generated client
(:func:`shared.storage.transport.send_request`), so it passes the same pipeline as every other storage call: authentication (Shared Key
or Entra token), the retry policy, the transport and its timeouts, and the
storage-call counter's hooks (:mod:`shared.storage.calls`).  Entities are
serialised by the SDK's own ``_add_entity_properties`` (the EDM type
annotations), and failures are decoded by its ``_decode_error``, so the
exceptions are the SDK's: :class:`~azure.data.tables.TableTransactionError`
with the failing operation's ``index``, ``status_code`` and
``error_code``, :class:`~azure.data.tables.RequestTooLargeError` for 413.

The format (Microsoft Learn, "Performing entity group transactions",
https://learn.microsoft.com/rest/api/storageservices/performing-entity-group-transactions;
MIME multipart, RFC 2046 §5.1): a ``multipart/mixed`` batch holding one
``multipart/mixed`` changeset, whose parts are ``application/http``
requests, each with a ``Content-ID``; the answer mirrors it, one
``application/http`` response per operation, or only the failing one's,
whose message begins with the operation's index ("1:The specified entity
already exists").  :func:`encode_batch` writes exactly the bytes the SDK
(azure-data-tables 12.7) writes for the same operations, boundaries and
date, header order included, and :func:`submit_transaction` returns and
raises exactly what ``TableClient.submit_transaction`` does for the same
answer: ``tests/integration/test_changesets.py`` proves both, by property
tests against the SDK and against Azurite.

Four deliberate differences: the ``x-ms-client-request-id`` is a random
UUID set here (:func:`shared.storage.calls.client_request_id`), not the
policy's ``uuid1``; an empty list of operations returns ``[]``
without a request (the SDK sends one, which Azure refuses with 400 and it
then returns ``[]``); an upsert with an ETag or a match condition is
refused (the SDK passes them on as ``If-Match``, which makes it an update);
and a Cosmos DB Table endpoint, which needs the SDK's PATCH-to-POST
rewriting, is handed to the SDK's own path.
"""

from __future__ import annotations

import functools
import json
import re
import time
from uuid import uuid4
from urllib.parse import quote
from wsgiref.handlers import format_date_time

from azure.core import MatchConditions
from azure.core.exceptions import DecodeError
from azure.core.rest import HttpRequest
from azure.core.utils import CaseInsensitiveDict
from azure.data.tables import RequestTooLargeError, TableClient, TableEntity, TableTransactionError, UpdateMode
from azure.data.tables._error import _decode_error, _validate_tablename_error
from azure.data.tables._serialize import _add_entity_properties

from .calls import client_request_id
from .transport import send_request

_ACCEPT_MINIMAL = "application/json;odata=minimalmetadata"
_ACCEPT = "application/json"
_KINDS = ("create", "upsert", "update", "delete")
_TOO_LARGE = "The transaction request was too large"
_BLANK_LINE = re.compile(rb"\r?\n\r?\n")
_BOUNDARY = re.compile(r'boundary="?([^";]+)"?', re.IGNORECASE)
_ETAG = re.compile(rb"^etag:[ \t]*([^\r\n]*)", re.IGNORECASE | re.MULTILINE)
_CONTENT_TYPE = re.compile(rb"^content-type:[ \t]*([^\r\n]*)", re.IGNORECASE | re.MULTILINE)


def submit_transaction(table: TableClient, operations) -> list[dict]:
    """``table.submit_transaction(operations)``, on the lean path: the same
    operations (``("create"|"upsert"|"update"|"delete", entity[, {"mode",
    "etag", "match_condition"}])``), the same per-operation results (``{"etag": ...}``,
    ``{}`` for a delete) and the same exceptions."""
    operations = list(operations)
    if not operations:
        return []
    if table._cosmos_endpoint:  # pylint: disable=protected-access
        return table.submit_transaction(operations)
    base = f"{table.scheme}://{table._primary_hostname}"  # pylint: disable=protected-access
    changeset = f"changeset_{uuid4()}"
    batch = f"batch_{uuid4()}"
    body = encode_batch(
        operations, base=base, table_name=table.table_name, version=table.api_version,
        batch_boundary=batch, changeset_boundary=changeset, date=format_date_time(time.time()),
    )
    request = HttpRequest(
        "POST", f"{base}/$batch", content=body,
        headers={
            "x-ms-version": table.api_version,
            "DataServiceVersion": "3.0",
            "MaxDataServiceVersion": "3.0;NetFx",
            "Content-Type": f"multipart/mixed; boundary={batch}",
            "Accept": "application/json",
            **client_request_id(),
        },
    )
    request.headers["Content-Length"] = request.headers.pop("Content-Length")  # last, where the SDK sends it
    # stream=True as the SDK sends it: the pipeline's content decoding knows no multipart
    response = send_request(table, request, stream=True)
    return _results(response, table.table_name)


# ------------------------------------------------------------------ encoding
def encode_batch(operations, *, base: str, table_name: str, version: str,
                 batch_boundary: str, changeset_boundary: str, date: str) -> bytes:
    """The ``$batch`` body of ``operations`` on table ``table_name`` at
    ``base`` (``scheme://host[/account]``): one changeset, one part per
    operation in order (``Content-ID`` 0, 1, ...), each part's own
    ``x-ms-date``/``Date`` set to ``date``.  Refuses what the SDK refuses,
    with its exceptions: keys missing or not strings, partitions that
    differ, an unknown operation or mode, an unsupported match condition,
    a value the entity serialiser cannot type."""
    partition = None
    lines = [f"--{batch_boundary}\r\nContent-Type: multipart/mixed; boundary={changeset_boundary}\r\n\r\n"]
    for index, operation in enumerate(operations):
        try:
            kind, entity, options = _unpacked(operation)
            partition = entity["PartitionKey"] if partition is None else partition
            if entity["PartitionKey"] != partition:
                raise ValueError("Partition Keys in the batch must all be the same.")
            method, path, headers, content = _request_of(kind, entity, table_name, version, **options)
        except TypeError as exc:
            raise TypeError(
                "The value of 'operations' must be an iterator of Tuples. Please check documentation for correct Tuple format."
            ) from exc
        lines.append(
            f"--{changeset_boundary}\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n"
            f"Content-ID: {index}\r\n\r\n{method} {base}{path} HTTP/1.1\r\n{headers}x-ms-date: {date}\r\nDate: {date}\r\n\r\n"
        )
        lines.append(content)
        lines.append("\r\n")
    lines.append(f"--{changeset_boundary}--\r\n\r\n--{batch_boundary}--\r\n")
    return "".join(lines).encode("utf-8")


def _unpacked(operation) -> tuple[str, object, dict]:
    """(kind in lower case, entity, options) of one operation tuple, refused
    as the SDK refuses it: an unknown kind first, then missing keys."""
    if len(operation) == 3:
        kind, entity, options = operation
    else:
        kind, entity, options = operation[0], operation[1], {}
    if not isinstance(kind, str) or kind.lower() not in _KINDS:
        raise ValueError(f"Unrecognized operation: {kind}")
    if "PartitionKey" not in entity or "RowKey" not in entity:
        raise ValueError("PartitionKey and/or RowKey were not provided in entity")
    return kind.lower(), entity, options


def _request_of(kind: str, entity, table_name: str, version: str, *, mode=UpdateMode.MERGE,
                etag: str | None = None, match_condition: MatchConditions | None = None) -> tuple[str, str, str, str]:
    """One operation as (method, path, headers before the dates, body), as the
    SDK's ``TableBatchOperations`` builds it (``_table_batch.py``):
    create is ``POST /table``; upsert ``PATCH`` (merge) or ``PUT`` (replace)
    on the entity without a condition; update the same with ``If-Match``
    (the ETag, or ``*``); delete ``DELETE`` with ``If-Match``."""
    common = f"x-ms-version: {version}\r\nDataServiceVersion: 3.0\r\n"
    if kind == "create":
        body = json.dumps(_add_entity_properties(entity))
        return "POST", f"/{_url_part(table_name)}", _json_headers(body) + common + f"Accept: {_ACCEPT_MINIMAL}\r\n", body
    if kind == "delete":
        if match_condition and not etag and isinstance(entity, TableEntity):
            etag = entity.metadata.get("etag")
        condition = _if_match(etag, match_condition)
        return "DELETE", _entity_path(table_name, entity), common + f"Accept: {_ACCEPT_MINIMAL}\r\n{condition}", ""
    if kind == "upsert" and (etag is not None or match_condition is not None):
        raise ValueError("an upsert takes no etag or match_condition (an update does)")
    if kind == "upsert":
        path, properties = _entity_path(table_name, entity), _add_entity_properties(entity)
    else:  # the SDK's update serialises the entity first, and takes the keys from that
        properties = _add_entity_properties(entity)
        path = _entity_path(table_name, properties)
    body = json.dumps(properties)
    condition = _if_match(etag, match_condition) if kind == "update" else ""
    if mode == UpdateMode.REPLACE:
        method = "PUT"
    elif mode == UpdateMode.MERGE:
        method = "PATCH"
    else:
        raise ValueError(f"Mode type '{mode}' is not supported.")
    return method, path, _json_headers(body) + common + f"Accept: {_ACCEPT}\r\n{condition}", body


def _json_headers(body: str) -> str:
    """The headers of a JSON body (the entity with its EDM type annotations,
    written with ``json.dumps`` defaults, as azure-core writes a JSON body)."""
    return f"Content-Type: application/json\r\nContent-Length: {len(body.encode('utf-8'))}\r\n"


def _url_part(value) -> str:
    """A path segment as the SDK's serialiser quotes it (``quote(safe='')``)."""
    return quote(str(value), safe="")


def _entity_path(table_name: str, entity) -> str:
    """``/table(PartitionKey='..',RowKey='..')``: quotes doubled inside the
    OData key literal, then percent-encoded."""
    try:
        partition, row = entity["PartitionKey"].replace("'", "''"), entity["RowKey"].replace("'", "''")
    except AttributeError as exc:
        raise TypeError("PartitionKey or RowKey must be of type string.") from exc
    return f"/{_url_part(table_name)}(PartitionKey='{_url_part(partition)}',RowKey='{_url_part(row)}')"


def _if_match(etag: str | None, match_condition: MatchConditions | None) -> str:
    """The ``If-Match`` header line of an update or delete: the ETag (quoted
    unless it already is, or weak) for ``IfNotModified``, ``*`` otherwise."""
    condition = match_condition or MatchConditions.Unconditionally
    if condition == MatchConditions.IfNotModified:
        if not etag:
            raise ValueError("IfNotModified must be specified with etag.")
        return f"If-Match: {_quoted(etag)}\r\n"
    if condition == MatchConditions.Unconditionally:
        if etag:
            raise ValueError("Etag is not supported for an Unconditional operation.")
        return "If-Match: *\r\n"
    raise ValueError(f"Unsupported match condition: {condition}")


def _quoted(etag: str) -> str:
    """An ETag as the SDK sends it: as given when ``*``, weak, or already in
    double or single quotes; otherwise in double quotes."""
    if etag == "*" or etag.startswith("W/"):
        return etag
    if etag[0] == etag[-1] and etag[0] in "\"'":
        return etag
    return f'"{etag}"'


# ------------------------------------------------------------------ decoding
class ChangesetPart:
    """One operation's answer inside the changeset response: an HTTP response
    with the attributes the SDK's error decoding reads.  Its headers are
    parsed only when asked for (a failure); a success needs its ETag only."""

    def __init__(self, status_code: int, reason: str, head: bytes, content: bytes) -> None:
        self.status_code = status_code
        self.reason = reason
        self.head = head
        self.content = content
        self.request = None

    @functools.cached_property
    def headers(self) -> CaseInsensitiveDict:
        """The part's headers, as ``http.client`` reads them (a repeated one: its last value)."""
        headers = CaseInsensitiveDict()
        for line in self.head.splitlines()[1:]:
            name, sep, value = line.decode("latin-1").partition(":")
            if sep:
                headers[name] = value.lstrip(" \t")
        return headers

    @property
    def content_type(self) -> str | None:
        return self.headers.get("Content-Type")

    @property
    def etag(self) -> str | None:
        """The ``ETag`` header's value (the last one), None without one."""
        found = _ETAG.findall(self.head)
        return found[-1].decode("latin-1") if found else None

    def body(self) -> bytes:
        return self.content

    def text(self, encoding: str | None = None) -> str:
        return self.content.decode(encoding or "utf-8-sig")


def decode_batch(content_type: str, body: bytes) -> list[ChangesetPart]:
    """The operation answers of a ``$batch`` response, in order: the batch's
    parts, with each ``multipart/mixed`` part (a changeset) replaced by its
    own parts, each read as an HTTP response (RFC 2046 §5.1.1; line breaks
    CRLF or bare LF)."""
    parts = []
    for inner, content in _multipart(content_type, body):
        if inner.lower().startswith("multipart/mixed"):
            parts.extend(_http_response(part) for _, part in _multipart(inner, content))
        else:
            parts.append(_http_response(content))
    return parts


def _multipart(content_type: str, body: bytes) -> list[tuple[str, bytes]]:
    """The (Content-Type, content) of each part of a multipart body."""
    match = _BOUNDARY.search(content_type or "")
    if not content_type.lower().startswith("multipart/mixed") or match is None:
        raise DecodeError(f"the transaction's answer is not multipart/mixed: {content_type!r}")
    pieces = body.split(b"--" + match.group(1).encode("ascii"))
    parts = []
    for piece in pieces[1:]:
        if piece.startswith(b"--"):
            return parts
        piece = piece[2:] if piece.startswith(b"\r\n") else piece.removeprefix(b"\n")
        piece = piece[:-2] if piece.endswith(b"\r\n") else piece.removesuffix(b"\n")
        head, content = _head_and_rest(piece)
        found = _CONTENT_TYPE.findall(head)
        parts.append((found[-1].decode("latin-1") if found else "", content))
    raise DecodeError("the transaction's answer ends before its closing boundary")


def _head_and_rest(block: bytes) -> tuple[bytes, bytes]:
    """A block's header lines and what follows the blank line after them."""
    found = _BLANK_LINE.search(block)
    if found is None:
        return block, b""
    return block[: found.start()], block[found.end():]


def _http_response(block: bytes) -> ChangesetPart:
    """One ``application/http`` part: status line, headers, body."""
    head, content = _head_and_rest(block)
    status_line = head.split(b"\n", 1)[0].rstrip(b"\r")
    try:
        _, code, reason = (status_line.decode("latin-1").split(" ", 2) + [""])[:3]
        status = int(code)
    except ValueError as exc:
        raise DecodeError(f"a transaction part is not an HTTP response: {status_line[:80]!r}") from exc
    return ChangesetPart(status, reason.strip(), head, content)


def _results(response, table_name: str) -> list[dict]:
    """What ``TableClient.submit_transaction`` returns for ``response``, or
    raises: the SDK's ``_batch_send`` decisions, on the parts this module
    decoded."""
    if response.status_code == 413:
        raise _decode_error(response, error_message=_TOO_LARGE, error_type=RequestTooLargeError)
    if response.status_code != 202:
        decoded = _decode_error(response)
        _validate_tablename_error(decoded, table_name)
        raise decoded
    parts = decode_batch(response.headers.get("Content-Type", ""), response.read())
    failed = next((part for part in parts if not 200 <= part.status_code < 300), None)
    if failed is not None:
        if failed.status_code == 413:
            raise _decode_error(response, error_message=_TOO_LARGE, error_type=RequestTooLargeError)
        decoded = _decode_error(response=failed, error_type=TableTransactionError)
        _validate_tablename_error(decoded, table_name)
        raise decoded
    return [{"etag": etag} if (etag := part.etag) is not None else {} for part in parts]

