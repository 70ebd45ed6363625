"""The dev host (:mod:`scripts.devhost`) over real HTTP, with a small app built here.

Checks what the Functions host does and the dev host must match: route
prefix, most-specific-template routing with case-insensitive literals and
decoded parameters, methods, the request object (raw URL and query, params,
headers, body), the response (status, headers, Content-Type from mimetype),
plus what the dev host adds: keep-alive with TCP_NODELAY, body limits,
``Expect: 100-continue``, 411 for chunked bodies, 500 without details.
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import azure.functions as func
import pytest

from scripts.devhost import start_in_thread
from scripts.devhost_routing import build_router, read_route_prefix
from tests.log_scan import LOG_CAPTURE

ROOT = Path(__file__).resolve().parents[2]
SECRET = "do-not-leak-7f3a"

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)


def _echo(name: str, req: func.HttpRequest, status: int = 200) -> func.HttpResponse:
    payload = {
        "function": name,
        "method": req.method,
        "url": req.url,
        "params": dict(req.params),
        "route_params": dict(req.route_params),
        "body": req.get_body().decode("utf-8", "replace"),
        "x_custom": req.headers.get("x-custom"),
    }
    return func.HttpResponse(json.dumps(payload), status_code=status, mimetype="application/json")


@app.route(route="Users", methods=["GET", "POST"])
def users(req: func.HttpRequest) -> func.HttpResponse:
    if req.method == "POST":
        response = _echo("users", req, status=201)
        response.headers["Location"] = "http://example.test/Users/1"
        response.headers["Content-Type"] = "application/scim+json; charset=utf-8"
        return response
    return _echo("users", req)


@app.route(route="Users/.search", methods=[func.HttpMethod.POST])
def users_search(req: func.HttpRequest) -> func.HttpResponse:
    return _echo("users_search", req)


@app.route(route="Users/{id}")  # every method
async def user(req: func.HttpRequest) -> func.HttpResponse:
    return _echo("user", req)


@app.route(route="Schemas/{id}", methods=[func.HttpMethod.GET])
def schema(req: func.HttpRequest) -> func.HttpResponse:
    return _echo("schema", req)


@app.route(route="text", methods=["GET"])
def text(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("héllo")  # mimetype and charset defaults: text/plain; charset=utf-8


@app.route(route="boom", methods=["GET"])
def boom(req: func.HttpRequest) -> func.HttpResponse:
    raise RuntimeError(SECRET)


@app.route(route="{*path}", methods=["GET"])
def catch_all(req: func.HttpRequest) -> func.HttpResponse:
    return _echo("catch_all", req)


BODY_LIMIT = 1000  # the host refuses more than 4x this without reading it


@pytest.fixture(scope="module")
def host():
    server, base_url = start_in_thread(app, host="127.0.0.1", port=0, route_prefix="scim/v2",
                                       max_body_bytes=BODY_LIMIT)
    yield server, base_url
    server.shutdown()


@pytest.fixture
def conn(host):
    server, _ = host
    connection = http.client.HTTPConnection(*server.server_address[:2], timeout=10)
    yield connection
    connection.close()


def call(conn: http.client.HTTPConnection, method: str, path: str, body: bytes | None = None, headers=None):
    conn.request(method, path, body=body, headers=headers or {})
    response = conn.getresponse()
    return response, response.read()


def call_json(conn, method, path, body=None, headers=None):
    response, data = call(conn, method, path, body, headers)
    assert response.status < 300, (response.status, data)
    return json.loads(data)


def raw_exchange(server, data: bytes) -> bytes:
    """Send raw bytes on a fresh socket, return everything read until the server closes."""
    with socket.create_connection(server.server_address[:2], timeout=10) as sock:
        sock.sendall(data)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


# -- routing ---------------------------------------------------------------


def test_base_url_includes_the_prefix(host):
    server, base_url = host
    assert base_url == "http://127.0.0.1:%d/scim/v2" % server.server_address[1]


def test_literal_route_under_the_prefix(conn):
    assert call_json(conn, "GET", "/scim/v2/Users")["function"] == "users"


def test_paths_outside_the_prefix_are_404_plain_text(conn):
    for path in ("/Users", "/api/Users", "/scim/Users", "/scim/v3/Users"):
        response, data = call(conn, "GET", path)
        assert response.status == 404, path
        assert response.getheader("Content-Type").startswith("text/plain")
        assert data == b"Not Found"


def test_parameter_route_wins_over_the_catch_all(conn):
    result = call_json(conn, "GET", "/scim/v2/Users/2819c223")
    assert result["function"] == "user"
    assert result["route_params"] == {"id": "2819c223"}
    assert call_json(conn, "GET", "/scim/v2/Schemas/urn:x")["function"] == "schema"


def test_literal_segment_wins_over_a_parameter(conn):
    assert call_json(conn, "POST", "/scim/v2/Users/.search", b"{}")["function"] == "users_search"


def test_catch_all_takes_the_rest(conn):
    result = call_json(conn, "GET", "/scim/v2/Elsewhere/deeper/still")
    assert result["function"] == "catch_all"
    assert result["route_params"] == {"path": "Elsewhere/deeper/still"}


def test_literals_and_prefix_match_case_insensitively(conn):
    assert call_json(conn, "GET", "/SCIM/V2/users/abc")["function"] == "user"
    assert call_json(conn, "GET", "/scim/v2/USERS")["function"] == "users"


def test_route_parameters_are_url_decoded(conn):
    result = call_json(conn, "GET", "/scim/v2/Users/a%20b%2Fc%C3%A9")
    assert result["route_params"] == {"id": "a b/cé"}


def test_trailing_slash_is_tolerated(conn):
    assert call_json(conn, "GET", "/scim/v2/Users/")["function"] == "users"
    assert call_json(conn, "GET", "/scim/v2/Users/abc/")["function"] == "user"


def test_method_not_accepted_anywhere_is_405_with_allow(conn):
    response, _ = call(conn, "DELETE", "/scim/v2/Schemas/x")
    assert response.status == 405
    assert response.getheader("Allow") == "GET"


def test_method_falls_through_to_a_less_specific_route(conn):
    # Users accepts GET and POST only; Users/{id} accepts everything.
    assert call_json(conn, "PATCH", "/scim/v2/Users/x", b"{}")["function"] == "user"
    response, _ = call(conn, "PUT", "/scim/v2/Users")
    assert response.status == 405
    assert response.getheader("Allow") == "GET, POST"


def test_router_orders_most_specific_first():
    router = build_router(app, "scim/v2")
    templates = [route.template for route in router.routes]
    assert templates.index("Users/.search") < templates.index("Users/{id}") < templates.index("{*path}")
    assert templates[-1] == "{*path}"


def test_unsupported_template_fails_at_start():
    bad = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)

    @bad.route(route="Users/{id:regex(^a$)}")
    def handler(req):
        return func.HttpResponse("")

    with pytest.raises(ValueError, match="not supported"):
        build_router(bad, "")


def test_route_prefix_from_host_json(tmp_path):
    assert read_route_prefix(tmp_path / "missing.json") == "api"
    (tmp_path / "host.json").write_text('{"version": "2.0"}')
    assert read_route_prefix(tmp_path / "host.json") == "api"
    (tmp_path / "host.json").write_text('{"extensions": {"http": {"routePrefix": ""}}}')
    assert read_route_prefix(tmp_path / "host.json") == ""
    assert read_route_prefix(ROOT / "host.json") == ""


# -- the request object ----------------------------------------------------


def test_raw_url_and_query_params(host, conn):
    server, _ = host
    target = '/scim/v2/Users?filter=userName%20eq%20%22a%2Bb%40x%22&x=1&x=2&flag'
    result = call_json(conn, "GET", target)
    assert result["url"] == "http://127.0.0.1:%d%s" % (server.server_address[1], target)
    assert result["params"] == {"filter": 'userName eq "a+b@x"', "x": "2", "flag": ""}


def test_body_and_headers_reach_the_function(conn):
    body = json.dumps({"userName": "ada", "name": "Ädä"}).encode()
    result = call_json(conn, "POST", "/scim/v2/Users", body, {"X-Custom": "yes", "Content-Type": "application/json"})
    assert result["method"] == "POST"
    assert json.loads(result["body"]) == {"userName": "ada", "name": "Ädä"}
    assert result["x_custom"] == "yes"


def test_async_function_is_awaited(conn):
    assert call_json(conn, "DELETE", "/scim/v2/Users/abc")["function"] == "user"


# -- the response ----------------------------------------------------------


def test_status_headers_and_body_are_written(conn):
    response, data = call(conn, "POST", "/scim/v2/Users", b"{}")
    assert response.status == 201
    assert response.getheader("Location") == "http://example.test/Users/1"
    assert response.getheader("Content-Type") == "application/scim+json; charset=utf-8"
    assert int(response.getheader("Content-Length")) == len(data)
    assert json.loads(data)["function"] == "users"


def test_content_type_from_mimetype_and_charset(conn):
    response, data = call(conn, "GET", "/scim/v2/text")
    assert response.getheader("Content-Type") == "text/plain; charset=utf-8"
    assert data.decode("utf-8") == "héllo"


def test_head_has_length_but_no_body(conn):
    response, data = call(conn, "HEAD", "/scim/v2/Users/abc")
    assert response.status == 200
    assert int(response.getheader("Content-Length")) > 0
    assert data == b""
    assert call_json(conn, "GET", "/scim/v2/Users/abc")["function"] == "user"  # connection still in step


def test_logs_name_the_route_template_never_the_path_or_query(capsys, caplog):
    """Paths hold ids and queries filter values: the access log, a malformed
    request's log and a failed function's log give the template or the status only."""
    private = "jane.doe-private"
    server, _ = start_in_thread(app, host="127.0.0.1", port=0, route_prefix="scim/v2", access_log=True)
    try:
        connection = http.client.HTTPConnection(*server.server_address[:2], timeout=10)
        call(connection, "GET", f"/scim/v2/Users/{private}?filter=userName%20eq%20%22{private}%22")
        with caplog.at_level(logging.ERROR, logger="scripts.devhost"):
            call(connection, "GET", f"/scim/v2/boom?who={private}")
        connection.close()
        raw_exchange(server, f"GET /scim/v2/Users/{private} two words HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    finally:
        server.shutdown()
    logged = capsys.readouterr().err + caplog.text
    assert '"GET Users/{id}" 200' in logged and '"GET boom" 500' in logged, logged
    assert "code 400 Bad Request" in logged and "function 'boom' failed on GET boom" in logged, logged
    assert private not in logged, logged


def test_exception_is_500_without_details(conn, caplog):
    with caplog.at_level(logging.ERROR, logger="scripts.devhost"):
        response, data = call(conn, "GET", "/scim/v2/boom")
    assert response.status == 500
    assert response.getheader("Content-Type") == "application/json"
    assert SECRET.encode() not in data and b"Traceback" not in data
    assert json.loads(data)["status"] == "500"
    assert SECRET in caplog.text  # the traceback is logged, not sent
    assert call_json(conn, "GET", "/scim/v2/Users")["function"] == "users"  # keep-alive survives


# -- connection handling ---------------------------------------------------


def test_keep_alive_serves_many_requests_on_one_connection(host, conn):
    server, _ = host
    call_json(conn, "GET", "/scim/v2/Users")
    first_socket = conn.sock
    for index in range(20):
        result = call_json(conn, "GET", f"/scim/v2/Users/{index}")
        assert result["route_params"] == {"id": str(index)}
        assert conn.sock is first_socket  # http.client reconnects silently if the server closed


def test_accepted_sockets_have_tcp_nodelay(host, conn):
    server, _ = host
    call_json(conn, "GET", "/scim/v2/Users")
    local_port = conn.sock.getsockname()[1]
    accepted = [s for s in list(server._connections) if s.getpeername()[1] == local_port]
    assert len(accepted) == 1
    assert accepted[0].getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0


def test_huge_content_length_is_413_and_closes(host):
    server, _ = host
    reply = raw_exchange(server, b"POST /scim/v2/Users HTTP/1.1\r\nHost: x\r\n"
                                 b"Content-Length: 1000000000\r\n\r\n{")
    assert reply.startswith(b"HTTP/1.1 413 ")
    assert b"Connection: close" in reply


def test_body_over_the_app_limit_but_under_the_host_cap_reaches_the_app(conn):
    body = b"x" * (3 * BODY_LIMIT)
    assert len(call_json(conn, "POST", "/scim/v2/Users", body)["body"]) == len(body)


def test_chunked_body_is_411(host):
    server, _ = host
    reply = raw_exchange(server, b"POST /scim/v2/Users HTTP/1.1\r\nHost: x\r\n"
                                 b"Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 411 ")


def test_expect_100_continue(host):
    server, _ = host
    with socket.create_connection(server.server_address[:2], timeout=10) as sock:
        sock.sendall(b"POST /scim/v2/Users HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
                     b"Expect: 100-continue\r\n\r\n")
        assert sock.recv(100) == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(b"{}")
        reply = sock.recv(65536)
    assert reply.startswith(b"HTTP/1.1 201 ")


def test_expect_100_continue_refused_route_gets_final_answer(host):
    server, _ = host
    reply = raw_exchange(server, b"POST /nowhere HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                                 b"Expect: 100-continue\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 404 ")
    assert b"100 Continue" not in reply


# -- command line ----------------------------------------------------------


def test_import_does_not_load_azure_functions():
    code = "import sys, scripts.devhost; sys.exit('azure.functions' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT).returncode == 0


def test_command_line_serves_until_sigterm():
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(Path(__file__).parent), str(ROOT)]))
    process = subprocess.Popen(
        [sys.executable, "-m", "scripts.devhost", "--port", "0", "--app", "test_devhost:app"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        line = process.stdout.readline().strip()
        # No host.json next to this module: the Functions default prefix.
        assert line.startswith("Dev host listening on http://127.0.0.1:") and line.endswith("/api"), line
        port = int(line.rsplit(":", 1)[1].split("/")[0])
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        result = call_json(connection, "GET", "/api/Users/7")
        assert result["route_params"] == {"id": "7"}
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
        connection.close()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        LOG_CAPTURE.feed(process.stderr.read(), "devhost command line")  # its log goes to the scan too


def test_a_port_in_use_is_an_os_error(host):
    """werkzeug exits the process when it cannot bind; the dev host raises instead."""
    server, _ = host
    with pytest.raises(OSError, match="cannot listen"):
        start_in_thread(app, host="127.0.0.1", port=server.server_address[1], route_prefix="scim/v2")
