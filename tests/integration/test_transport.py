"""The storage transport (:mod:`shared.storage.transport`) against
azure-core's own ``RequestsTransport`` on a plain ``requests.Session``.

1. **The wire, byte for byte.**  The same ``azure.core.rest.HttpRequest``
   sent through both transports reaches a loopback socket as the same
   bytes: request line, every header in order and case, body.  The
   requests are generated: every method, paths and queries of any
   characters (quoted or not, non-ASCII, ``%`` escapes), headers of any
   case, repeated under another case, empty, with leading spaces or line
   breaks (which requests refuses), bodies of bytes, empty, text or none.
   The Tables SDK's own calls (create, upsert, update, delete, get, query,
   create table) and the lean transaction and reads send the same bytes
   too, with the same clock.
2. **Answers and failures.**  For the same answer bytes both return the
   same status, headers and body (read by requests before it returns, or
   left to stream, alike), or raise the same exception, for azure-core's
   requests and its legacy ones, streamed or not: answers
   with a length, chunked, empty, cut short, not HTTP at all, a closed
   connection, a refused connection, a read timeout.  A cookie an answer
   sets is sent back alike.
3. **The lean path is taken**, and only for the common case: a plain
   request never reaches ``requests.Session.request``; each uncommon one
   (files, a form body, proxies, a URL with user information, a header
   without a value, a session with cookies or environment settings) does.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import replace
from unittest import mock

import pytest
import requests
from azure.core import MatchConditions
from azure.core.pipeline.transport import HttpRequest as LegacyHttpRequest
from azure.core.pipeline.transport import RequestsTransport
from azure.core.rest import HttpRequest
from azure.data.tables import TableClient, UpdateMode
from hypothesis import given, settings
from hypothesis import strategies as st

from scripts.azurite import connection_string
from shared.config import Settings
from shared.storage import changesets, entity_reads
from shared.storage.changesets import submit_transaction
from shared.storage.tables import client_options
from shared.storage.transport import LeanRequestsTransport, LeanSession
from tests.property.strategies import fuzz_settings
from tests.recorder import each_against, running_wire_recorder

OPTIONS = {"connection_timeout": 3, "read_timeout": 5, "use_env_settings": False}
OK = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}", False)


@pytest.fixture(scope="module")
def wire():
    with running_wire_recorder() as server:
        yield server


@pytest.fixture()
def transports():
    """azure-core's transport as it comes, and the lean one, with the same options."""
    stock, lean = RequestsTransport(**OPTIONS), LeanRequestsTransport(**OPTIONS)
    yield stock, lean
    stock.close()
    lean.close()


def outcome(send):
    """What a send returned (status, headers, body) or raised (type and
    text, object addresses and ports left out), as comparable data."""
    try:
        response = send()
        offered = response.internal_response.next  # requests' Response.next: the redirect not followed
        read_by_requests = response.internal_response._content_consumed  # pylint: disable=protected-access
        body = response.read() if hasattr(response, "read") else response.body()  # azure.core.rest, or the legacy response
        return ("returned", response.status_code, list(response.headers.items()), body, read_by_requests,
                offered and (offered.method, offered.url, list(offered.headers.items())))
    except Exception as exc:  # noqa: BLE001 - the exception is the outcome
        return ("raised", type(exc), re.sub(r"0x[0-9a-f]+|port=\d+|:\d{4,5}\b", "", str(exc)))


def both(wire, sends, answers):
    """Each of ``sends`` (the stock transport's first) against the same
    ``answers``: its outcome and the bytes that reached the wire."""
    return each_against(wire, sends, answers, outcome)


# ------------------------------------------------------------- 1. the wire
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "MERGE", "HEAD", "OPTIONS", "get", "Merge"]
URL_TEXT = st.lists(st.sampled_from(list("azAZ09-._~!$&'()*+,;=:@/?#[] %\"<>\\^`{|}") + ["é", "ø", "€", "%41", "%2F", "%zz"]),
                    max_size=30).map("".join)
HEADER_NAMES = st.sampled_from(["Accept", "accept", "x-ms-version", "X-MS-VERSION", "Content-Type", "DataServiceVersion",
                                "If-Match", "Prefer", "Content-Length", "User-Agent", "Connection", "x-custom"])
HEADER_VALUES = st.one_of(
    st.sampled_from(["", "application/json", "3.0;NetFx", "*", 'W/"datetime\'2026-01-01\'"', "return-no-content"]),
    st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=12),
    st.sampled_from([" leading space", "line\r\nbreak", "tab\tinside", "caf\u00e9"]),
)
BODIES = st.one_of(st.none(), st.just(b""), st.binary(max_size=40), st.text(max_size=10))


@settings(fuzz_settings(150))
@given(method=st.sampled_from(METHODS), path=URL_TEXT, headers=st.lists(st.tuples(HEADER_NAMES, HEADER_VALUES), max_size=6),
       body=BODIES)
def test_a_request_reaches_the_wire_as_requests_sends_it(wire, method, path, headers, body):
    stock, lean = RequestsTransport(**OPTIONS), LeanRequestsTransport(**OPTIONS)
    url = f"http://127.0.0.1:{wire.server_address[1]}/{path}"

    def request():
        built = HttpRequest(method, url, headers=dict(headers), content=body)
        return built

    try:
        (stock_result, stock_sent), (lean_result, lean_sent) = both(
            wire, [lambda: stock.send(request()), lambda: lean.send(request())], [OK])
    finally:
        stock.close()
        lean.close()
    assert lean_sent == stock_sent
    assert lean_result == stock_result


def sdk_calls():
    """Each Tables SDK call the app makes (and the lean paths), on a client."""
    entity = {"PartitionKey": "p'1", "RowKey": "r/é", "n": 1, "s": "text", "b": True}
    return {
        "create_entity": lambda table: table.create_entity(entity),
        "upsert_merge": lambda table: table.upsert_entity(entity, mode=UpdateMode.MERGE),
        "upsert_replace": lambda table: table.upsert_entity(entity, mode=UpdateMode.REPLACE),
        "update_if_match": lambda table: table.update_entity(entity, etag='W/"x"', match_condition=MatchConditions.IfNotModified),
        "delete_entity": lambda table: table.delete_entity("p'1", "r/é"),
        "get_entity": lambda table: table.get_entity("p'1", "r/é"),
        "query": lambda table: list(table.query_entities("PartitionKey eq @p", parameters={"p": "p'1"}, results_per_page=5)),
        "create_table": lambda table: table.create_table(),
        "lean_get_entity": lambda table: entity_reads.get_entity(table, "p'1", "r/é"),
        "lean_query": lambda table: list(entity_reads.entities(table, "RowKey ge @r", parameters={"r": "a"})),
        "lean_transaction": lambda table: submit_transaction(table, [("upsert", entity), ("delete", {**entity, "RowKey": "x"})]),
    }


@pytest.mark.parametrize("call", sorted(sdk_calls()))
def test_the_sdks_calls_reach_the_wire_alike(wire, call):
    run = sdk_calls()[call]

    def table_with(transport_class):
        return TableClient.from_connection_string(connection_string(wire.server_address[1]), "t", retry_total=0,
                                                  transport=transport_class(**OPTIONS))

    stock_table, lean_table = table_with(RequestsTransport), table_with(LeanRequestsTransport)
    fixed = lambda *args, **kwargs: uuid.UUID(int=7)  # noqa: E731 - request ids and batch boundaries
    with mock.patch("uuid.uuid4", fixed), mock.patch("uuid.uuid1", fixed), mock.patch.object(changesets, "uuid4", fixed):
        (stock_result, stock_sent), (lean_result, lean_sent) = both(
            wire, [lambda: run(stock_table), lambda: run(lean_table)], [OK])
    assert stock_sent, "the call sent nothing"
    assert lean_sent == stock_sent
    assert lean_result[:2] == stock_result[:2]


# ------------------------------------------------------ 2. answers, failures
def answer(status: bytes, headers: list[bytes], body: bytes) -> bytes:
    return b"HTTP/1.1 " + status + b"\r\n" + b"".join(h + b"\r\n" for h in headers) + b"\r\n" + body


ANSWERS = {
    "with a length": [(answer(b"200 OK", [b"Content-Length: 5", b"X-A: 1"], b"hello"), False)],
    "chunked": [(answer(b"200 OK", [b"Transfer-Encoding: chunked"], b"5\r\nhello\r\n0\r\n\r\n"), False)],
    "empty 204": [(answer(b"204 No Content", [], b""), False)],
    "error status": [(answer(b"503 Server Busy", [b"Content-Length: 3"], b"bad"), False)],
    "redirect, not followed": [(answer(b"302 Found", [b"Location: /elsewhere", b"Content-Length: 0"], b""), False)],
    "cut short": [(answer(b"200 OK", [b"Content-Length: 10"], b"12345"), True)],
    "chunks cut short": [(answer(b"200 OK", [b"Transfer-Encoding: chunked"], b"5\r\nhel"), True)],
    "not HTTP": [(b"SSH-2.0-OpenSSH\r\n\r\n", True)],
    "closed before answering": [(b"", True)],
    "repeated headers": [(answer(b"200 OK", [b"X-B: 1", b"x-b: 2", b"Content-Length: 0"], b""), False)],
}


@pytest.mark.parametrize("name", sorted(ANSWERS))
@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("request_type", [HttpRequest, LegacyHttpRequest])
def test_answers_and_broken_answers_read_alike(wire, transports, name, stream, request_type):
    stock, lean = transports
    url = f"http://127.0.0.1:{wire.server_address[1]}/t"
    (stock_result, stock_sent), (lean_result, lean_sent) = both(wire, [
        lambda: stock.send(request_type("GET", url), stream=stream),
        lambda: lean.send(request_type("GET", url), stream=stream)], ANSWERS[name])
    assert lean_result == stock_result
    assert lean_sent == stock_sent


def test_a_refused_connection_and_a_read_timeout_raise_alike(wire):
    import socket

    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        refused = f"http://127.0.0.1:{unused.getsockname()[1]}/t"  # bound, never listening
        results = []
        for transport_class in (RequestsTransport, LeanRequestsTransport):
            with transport_class(**{**OPTIONS, "read_timeout": 0.3}) as sender:
                wire.answers = [(b"", False)]  # the request is read, never answered
                silent = outcome(lambda: sender.send(HttpRequest("GET", f"http://127.0.0.1:{wire.server_address[1]}/t")))
                results.append((outcome(lambda: sender.send(HttpRequest("GET", refused))), silent))
    assert results[0] == results[1]
    assert results[0][0][0] == "raised" and results[0][1][0] == "raised"


def test_a_cookie_an_answer_sets_is_sent_back_alike(wire, transports):
    url = f"http://127.0.0.1:{wire.server_address[1]}/t"
    sets_cookie = (answer(b"200 OK", [b"Set-Cookie: affinity=abc; Path=/", b"Content-Length: 0"], b""), False)
    runs = []
    for sender in transports:
        wire.requests.clear()
        wire.answers = [sets_cookie, OK]
        sender.send(HttpRequest("GET", url))
        sender.send(HttpRequest("GET", url))
        runs.append(list(wire.requests))
    assert b"Cookie: affinity=abc" in runs[0][1]
    assert runs[1] == runs[0]


# --------------------------------------------------- 3. the lean path taken
@pytest.fixture()
def session_request():
    """A spy on ``requests.Session.request``, requests' own path."""
    with mock.patch.object(requests.Session, "request", autospec=True, side_effect=requests.Session.request) as spy:
        yield spy


def test_a_plain_request_takes_the_lean_path(wire, transports, session_request):
    _, lean = transports
    url = f"http://127.0.0.1:{wire.server_address[1]}/t"
    wire.answers = [OK, OK]
    lean.send(HttpRequest("GET", url, headers={"Accept": "application/json"}))
    lean.send(HttpRequest("POST", url, content=b"{}"))
    assert session_request.call_count == 0


UNCOMMON = {
    "files": lambda url: HttpRequest("POST", url, files={"f": b"x"}),
    "a body of neither bytes nor text": lambda url: HttpRequest("POST", url, data={"form": "field"}),
    "user information in the URL": lambda url: HttpRequest("GET", url.replace("http://", "http://user:pw@")),
}


@pytest.mark.parametrize("name", sorted(UNCOMMON))
def test_an_uncommon_request_takes_requests_own_path(wire, transports, session_request, name):
    _, lean = transports
    wire.answers = [OK]
    lean.send(UNCOMMON[name](f"http://127.0.0.1:{wire.server_address[1]}/t"))
    assert session_request.call_count == 1


def test_proxies_a_header_without_value_and_a_session_with_state_take_requests_own_path(wire, session_request):
    url = f"http://127.0.0.1:{wire.server_address[1]}/t"
    session = LeanSession()
    wire.answer = OK
    try:
        session.request("GET", url, allow_redirects=False, proxies={"http": None})
        session.request("GET", url, allow_redirects=False, headers={"Accept": None})
        session.request("GET", url)  # redirects followed
        session.trust_env = False
        session.request("GET", url, allow_redirects=False)  # the lean path: not counted
        session.cookies.set("c", "v")
        session.request("GET", url, allow_redirects=False)
        session.cookies.clear()
        session.trust_env = True
        session.request("GET", url, allow_redirects=False)
    finally:
        wire.answer = (b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n", False)
        session.close()
    assert session_request.call_count == 5


def test_the_apps_storage_clients_send_through_the_lean_transport(storage_connection_string, session_request):
    from shared.storage.tables import Tables

    settings = replace(Settings.from_env(), connection_string=storage_connection_string, table_endpoint=None,
                       table_prefix="t" + uuid.uuid4().hex[:16])
    assert type(client_options(settings)["transport"]) is LeanRequestsTransport
    table = Tables(settings).table("probe")
    try:
        table.upsert_entity({"PartitionKey": "p", "RowKey": "r"})
        assert table.get_entity("p", "r")["RowKey"] == "r"
        assert [row["RowKey"] for row in table.query_entities("PartitionKey eq 'p'")] == ["r"]
        assert session_request.call_count == 0
    finally:
        table.delete_table()
