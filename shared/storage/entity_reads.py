"""Point reads and range queries on the wire: the request written and its
answer read here, sent through the Tables SDK's own pipeline.

Why it exists.  Every SCIM request reads: a resource by its keys
(``TableClient.get_entity``), a key range of index rows, counter shards or
members (``TableClient.query_entities``).  Of the CPU such a call costs,
100-160 us were the SDK's generated request building (a case-insensitive
header dict and a parameter dict per request, every value through the
generated serialiser, the request formatted twice) and its deserialisation
of the answer (the generated deserialiser copying every property of every
entity, the response headers parsed to be thrown away).  Measured against
Azurite, CPU per call: ``get_entity`` 876 us through the SDK and 713 us on
this path; a range query of 3 rows 830 us and 666 us.  The request is a
URL and three headers and the answer one JSON object, so this module
writes and reads them directly.

What is still the SDK's.  The request is one ``azure.core.rest.HttpRequest``
sent into the pipeline of ``TableClient``'s generated client
(:func:`shared.storage.transport.send_request`), as
:mod:`shared.storage.changesets` sends a transaction, so it passes the same
pipeline as every other storage call: authentication (Shared Key or Entra
token), the retry policy, the transport and its timeouts, the storage-call
counter's hooks (:mod:`shared.storage.calls`), and azure-core's
``ContentDecodePolicy``, which decodes the JSON.  The request is sent
unstreamed, as the SDK sends it: the body is then read inside the
transport, so a body cut short or a read timeout is retried as the SDK's
call is (a streamed body would be read after the pipeline, past the retry
policy, and a retried answer left unread), and a body that is not JSON
raises the policy's ``DecodeError`` as it does for the SDK.  The decoded
object is taken from the pipeline's context (azure-core's
``_return_pipeline_response``), so the body is decoded once.  The SDK's own
functions do the rest: keys escaped by ``_prepare_key``, filters bound by
``_parameter_filter_substitution`` (the parameter binding
:mod:`shared.storage.queries` relies on: a value never reaches ``$filter``
unescaped), values the fast path does not know quoted by the generated
serialiser, entities converted by ``_convert_to_entity`` (EDM types,
``etag`` and ``timestamp``), failures raised through the generated code's
error map and ``_process_table_error``, answers that are not an entity or a
page of them deserialised by the generated deserialiser, and the paging
protocol by azure-core's ``ItemPaged`` and ``PageIterator``.
``tests/integration/test_entity_reads.py`` holds this module to the SDK:
the same requests byte for byte, the same entities and exceptions for the
same answers, the same pages and storage calls on Azurite.

The format (Microsoft Learn, "Query Entities",
https://learn.microsoft.com/rest/api/storageservices/query-entities): a
``GET`` of ``/{table}(PartitionKey='{pk}',RowKey='{rk}')`` for one entity,
of ``/{table}()`` with ``$filter``, ``$select`` and ``$top`` for a query;
a key's single quotes doubled inside its OData literal, then every part
percent-encoded; headers ``x-ms-version``, ``DataServiceVersion: 3.0`` and
``Accept: application/json;odata=minimalmetadata``.  The answer is one
entity, or ``{"value": [...]}``, each entity's properties beside their
``@odata.type`` annotations and its ``odata.etag``.  A query answers at most
1,000 entities (or ``$top``), and fewer at a partition boundary or after
five seconds ("Query timeout and pagination",
https://learn.microsoft.com/rest/api/storageservices/query-timeout-and-pagination):
then the answer carries ``x-ms-continuation-NextPartitionKey`` and
``x-ms-continuation-NextRowKey``, sent back as the ``NextPartitionKey`` and
``NextRowKey`` query parameters of the next page's request.  A page may be
empty and still carry them, and either one alone continues the query.

Deliberate differences, none in what a request sends or a call returns or
raises: the ``x-ms-client-request-id`` is a random UUID set here
(:func:`shared.storage.calls.client_request_id`), not the policy's
``uuid1``; no ``distributed_trace`` span of the SDK method's own around the
call (the pipeline's HTTP span stays; the app configures no tracing);
the answer's ``Date``, which the SDK parses to throw away, is parsed once
per distinct value (one that cannot be parsed still raises the SDK's
``DeserializationError``); and what this path does not know -- other
keyword arguments (``timeout``, ``headers``, ...), a Cosmos DB Table
endpoint, ``by_page()`` on a query -- is handed to the SDK's own method.
"""

from __future__ import annotations

import itertools
from urllib.parse import quote

from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ResourceExistsError,
    ResourceNotFoundError,
    ResourceNotModifiedError,
)
from azure.core.paging import ItemPaged, PageIterator
from azure.core.rest import HttpRequest
from azure.data.tables import TableClient, TableEntity
from azure.data.tables._deserialize import _convert_to_entity, _extract_continuation_token
from azure.data.tables._error import _process_table_error
from azure.data.tables._generated.models import TableServiceError
from azure.data.tables._generated.operations._operations import _SERIALIZER
from azure.data.tables._serialize import _parameter_filter_substitution, _prepare_key

from .calls import client_request_id
from .transport import send_request

_ACCEPT_MINIMAL = "application/json;odata=minimalmetadata"
_NEXT_PARTITION_KEY = "x-ms-continuation-NextPartitionKey"
_NEXT_ROW_KEY = "x-ms-continuation-NextRowKey"
# The generated operations' error map: these statuses raise their own type
# (azure.core.exceptions.map_error), any other failure a plain HttpResponseError.
_ERROR_MAP = {401: ClientAuthenticationError, 404: ResourceNotFoundError, 409: ResourceExistsError,
              304: ResourceNotModifiedError}
_last_date: list[str | None] = [None]  # the last Date header that parsed


def get_entity(table: TableClient, partition_key: str, row_key: str, *, select=None, **kwargs) -> TableEntity:
    """``table.get_entity(partition_key, row_key, select=select)``, on the
    lean path: the same request, entity and exceptions (404
    ``ResourceNotFoundError`` for a missing entity or table)."""
    if kwargs or table._cosmos_endpoint:  # pylint: disable=protected-access
        return table.get_entity(partition_key, row_key, select=select, **kwargs)
    return _point_read(table, partition_key, row_key, select, absent_is_none=False)


def entity_or_none(table: TableClient, partition_key: str, row_key: str, *, select=None) -> TableEntity | None:
    """:func:`get_entity`, ``None`` where it raises ``ResourceNotFoundError``.

    The app's reads of a row that may not be there -- the uniqueness index
    behind every ``filter=userName eq`` of an Entra cycle, most of which
    find nothing -- were ``get_entity`` inside ``except
    ResourceNotFoundError``: building the SDK's two exceptions of a 404
    (the status's, then the decoded one raised from it) cost 110 us of CPU
    per miss, a fifth of the read.  Here the common 404 is recognised
    without them (:func:`_entity_absent`); any other is decoded by the SDK
    and raised, or found absent, exactly as ``get_entity`` does."""
    if table._cosmos_endpoint:  # pylint: disable=protected-access
        try:
            return table.get_entity(partition_key, row_key, select=select)
        except ResourceNotFoundError:
            return None
    return _point_read(table, partition_key, row_key, select, absent_is_none=True)


def _point_read(table: TableClient, partition_key: str, row_key: str, select, *, absent_is_none: bool):
    """The point read of :func:`get_entity` (``None`` for an absent entity
    when ``absent_is_none``)."""
    user_select = None
    if select and not isinstance(select, str):
        user_select = ",".join(select)
    elif isinstance(select, str):
        user_select = select
    partition_key, row_key = _prepare_key(partition_key), _prepare_key(row_key)
    path = (f"/{_url('table', table.table_name)}(PartitionKey='{_url('partition_key', partition_key)}',"
            f"RowKey='{_url('row_key', row_key)}')")
    if user_select is not None:
        path += f"?$select={_query('select', user_select)}"
    answer = _send(table, path, table.table_name, absent_is_none=absent_is_none)
    if answer is None:
        return None
    body = answer.context["deserialized_data"]
    # The generated "{object}" deserialiser copies a JSON object's values as
    # they are; anything else it turns into something else, or refuses.
    if type(body) is not dict:  # pylint: disable=unidiomatic-typecheck
        body = _deserializer(table)("{object}", answer)
    return _convert_to_entity(body)


def entities(table: TableClient, query: str, *, parameters=None, select=None, results_per_page=None,
             **kwargs) -> ItemPaged:
    """``table.query_entities(query, parameters=..., select=..., results_per_page=...)``,
    on the lean path: a lazy pager of the same entities, sending nothing
    until iterated and each page's request only when the page before is
    consumed.  Named apart from ``query_entities`` so that the check of
    the app's query calls (``test_hardening.py``) reads only the app's."""
    if kwargs or table._cosmos_endpoint:  # pylint: disable=protected-access
        return table.query_entities(query, parameters=parameters, select=select, results_per_page=results_per_page,
                                    **kwargs)
    query = _parameter_filter_substitution(parameters, query)  # bound now, as the SDK binds it
    if select and not isinstance(select, str):
        select = ",".join(select)
    return EntityPager(table, query, select, results_per_page)


class EntityPager(ItemPaged):
    """The ``ItemPaged`` of :func:`entities`: iterating it walks
    :class:`EntityPages`; ``by_page()`` is the SDK's own pager of the same
    query (its pages, its continuation tokens)."""

    def __init__(self, table: TableClient, query, select, results_per_page) -> None:
        super().__init__(table, query, select, results_per_page, page_iterator_class=EntityPages)

    def by_page(self, continuation_token=None):
        table, query, select, results_per_page = self._args
        sdk = table.query_entities(query, parameters=None, select=select, results_per_page=results_per_page)
        return sdk.by_page(continuation_token=continuation_token)

    def __next__(self) -> TableEntity:
        if self._page_iterator is None:
            self._page_iterator = itertools.chain.from_iterable(EntityPages(*self._args))
        return next(self._page_iterator)

    next = __next__


class EntityPages(PageIterator):
    """The pages of one query, as the SDK's ``TableEntityPropertiesPaged``
    fetches them: one request a page, the continuation token
    ``{"PartitionKey": ..., "RowKey": ...}`` from the answer's headers (one
    of the two is enough), the first page's location mode kept for the
    next (``use_location``)."""

    def __init__(self, table: TableClient, query, select, results_per_page, continuation_token=None) -> None:
        super().__init__(self._page, self._entities, continuation_token=continuation_token)
        self._table = table
        self._location_mode = None
        path = f"/{_url('table', table.table_name)}()"
        params = []
        if results_per_page is not None:
            top = results_per_page
            params.append(f"$top={top}" if type(top) is int else f"$top={_SERIALIZER.query('top', top, 'int')}")  # pylint: disable=unidiomatic-typecheck
        if select is not None:
            params.append(f"$select={_query('select', select)}")
        if query is not None:
            params.append(f"$filter={_query('filter', query)}")
        self._path = path + ("?" + "&".join(params) if params else "")

    def _page(self, continuation_token):
        """One page's answer: (location mode, entities as sent, continuation headers)."""
        next_partition_key, next_row_key = _extract_continuation_token(continuation_token)
        path = self._path
        if next_partition_key is not None:
            path += f"{'&' if '?' in path else '?'}NextPartitionKey={_query('next_partition_key', next_partition_key)}"
        if next_row_key is not None:
            path += f"{'&' if '?' in path else '?'}NextRowKey={_query('next_row_key', next_row_key)}"
        answer = _send(self._table, path, None, use_location=self._location_mode)
        body = answer.context["deserialized_data"]
        # A "value" list of JSON objects is what the generated model
        # deserialiser copies as it is; anything else goes through it.
        values = body.get("value") if type(body) is dict else None  # pylint: disable=unidiomatic-typecheck
        if type(values) is not list or any(type(value) is not dict for value in values):  # pylint: disable=unidiomatic-typecheck
            values = _deserializer(self._table)("TableEntityQueryResponse", answer).value
        headers = answer.http_response.headers
        return answer.context["location_mode"], values, (headers.get(_NEXT_PARTITION_KEY), headers.get(_NEXT_ROW_KEY))

    def _entities(self, page):
        self._location_mode, values, (next_partition_key, next_row_key) = page
        found = [_convert_to_entity(value) for value in values]
        if next_partition_key or next_row_key:
            return {"PartitionKey": next_partition_key, "RowKey": next_row_key}, found
        return None, found


# ------------------------------------------------------------------ the wire
def _url(name: str, value) -> str:
    """A path part as the generated serialiser's ``url()`` writes it."""
    if type(value) is str:  # pylint: disable=unidiomatic-typecheck
        return quote(value, safe="")
    return _SERIALIZER.url(name, value, "str")


def _query(name: str, value) -> str:
    """A query parameter's value as the generated serialiser's ``query()`` writes it."""
    if type(value) is str:  # pylint: disable=unidiomatic-typecheck
        return quote(value, safe="")
    return _SERIALIZER.query(name, value, "str")


def _send(table: TableClient, path: str, table_name: str | None, *, absent_is_none: bool = False, **options):
    """GET ``path`` through the table's pipeline; the ``PipelineResponse`` of
    a 200, the SDK's exception otherwise (``table_name`` for the check of
    storage's invalid-name answers, as the SDK's ``get_entity`` passes it
    and its pager does not), or with ``absent_is_none`` ``None`` where that
    exception is a ``ResourceNotFoundError``."""
    request = HttpRequest("GET", path, headers={
        "x-ms-version": table.api_version, "DataServiceVersion": "3.0", "Accept": _ACCEPT_MINIMAL, **client_request_id()})
    try:
        answer = send_request(table, request, _return_pipeline_response=True, **options)
        response = answer.http_response
        if response.status_code != 200:
            if absent_is_none and response.status_code == 404 and _entity_absent(answer):
                return None
            error_type = _ERROR_MAP.get(response.status_code)
            if error_type is not None:
                raise error_type(response=response)
            raise HttpResponseError(response=response, model=_deserializer(table).failsafe_deserialize(TableServiceError, answer))
    except HttpResponseError as error:
        try:
            _process_table_error(error, table_name=table_name)
        except ResourceNotFoundError:
            if absent_is_none:
                return None
            raise
    date = response.headers.get("Date")
    if date is not None and date != _last_date[0]:
        _deserializer(table)("rfc-1123", date)  # raises for a Date the SDK cannot parse
        _last_date[0] = date
    return answer


#: The error codes the SDK's ``_decode_error`` raises as ``ResourceNotFoundError``
#: (its ``TableErrorCode`` values, which it matches case for case).
_ABSENT_CODES = frozenset({"ResourceNotFound", "TableNotFound", "EntityNotFound"})


def _entity_absent(answer) -> bool:
    """Whether the SDK surely raises ``ResourceNotFoundError`` for this 404,
    judged for the answer Table Storage and Azurite give -- a JSON object
    whose ``odata.error`` holds a ``code`` and at most a ``message`` object
    with a ``value`` -- as ``_decode_error`` reads it: the body's code,
    else the ``x-ms-error-code`` header, one of :data:`_ABSENT_CODES`.
    Any other answer is False here and left to the SDK's own decoding
    (which may still find the entity absent)."""
    body = answer.context.get("deserialized_data")
    error = body.get("odata.error") if type(body) is dict else None  # pylint: disable=unidiomatic-typecheck
    if type(error) is not dict or not error.keys() <= {"code", "message"}:  # pylint: disable=unidiomatic-typecheck
        return False
    message = error.get("message", {"value": None})
    if type(message) is not dict or "value" not in message:  # pylint: disable=unidiomatic-typecheck
        return False
    return error.get("code", answer.http_response.headers.get("x-ms-error-code")) in _ABSENT_CODES


def _deserializer(table: TableClient):
    """The generated client's deserialiser, for what the lean path does not read itself."""
    return table._client.table._deserialize  # pylint: disable=protected-access
