"""The HTTP edge of a real server, spoken to over raw sockets: request heads are capped, a
request must arrive whole in time (slowloris), and every answer is our JSON error (API.md §3),
the refusals of the HTTP and WebSocket layers below the app included."""

import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.conftest import Server, start_server, write_config
from tests.stream.stream_support import role_pid

READ_TIMEOUT_MS = 1500
MAX_HEAD = 4096
EDGE = f"""
[server]
request_read_timeout_ms = {READ_TIMEOUT_MS}
max_header_bytes = {MAX_HEAD}
"""
MIB = 1024 * 1024
HUGE_HEADER_CLIENTS = 16
WAIT_S = 15.0
"""How long a test waits for an answer the server owes (far above the read timeout)."""


@pytest.fixture(scope="module")
def edge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    config = write_config(tmp_path_factory.mktemp("edge"))
    config.write_text(config.read_text().replace("[server]\n", EDGE.lstrip()))
    server = start_server(config)
    yield server
    assert server.stop() == 0


def connect(server: Server) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", int(server.base_url.rsplit(":", 1)[1])))
    sock.settimeout(WAIT_S)
    return sock


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def error(self) -> dict[str, Any]:
        assert self.headers["content-type"] == "application/json", self
        error: dict[str, Any] = json.loads(self.body)["error"]
        return error


def read_answer(sock: socket.socket) -> Answer:
    """One HTTP answer (with a Content-Length) read from `sock`."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"closed without an answer after {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
    while len(body) < int(headers["content-length"]):
        chunk = sock.recv(65536)
        assert chunk, "closed in the middle of the body"
        body += chunk
    return Answer(int(status_line.split()[1]), headers, body)


def closed_by_server(sock: socket.socket) -> bool:
    """Whether the server ends the connection (EOF or reset) within `WAIT_S`."""
    try:
        while sock.recv(65536):
            pass
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False
    return True


# --------------------------------------------------------------------------- request heads


def test_a_head_over_the_cap_is_answered_431_before_it_ends(edge: Server) -> None:
    with connect(edge) as sock:
        sock.sendall(b"GET /api/v1/accounts HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ")
        sock.sendall(b"a" * 2 * MAX_HEAD)  # and no end of the head
        answer = read_answer(sock)
        assert answer.status == 431
        assert answer.error()["code"] == "headers_too_large"
        assert answer.headers["connection"] == "close"
        assert closed_by_server(sock)


def test_huge_headers_are_never_held_in_memory(edge: Server) -> None:
    """Clients each sending an 8 MB Authorization header: the web process does not grow by
    what they send (it was read in full, into memory, before anything looked at it)."""
    web = role_pid(edge, "web")
    before = peak_rss(web)

    def send_huge_header() -> None:
        with contextlib.suppress(OSError), connect(edge) as sock:
            sock.sendall(b"GET /api/v1/accounts HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ")
            for _ in range(8 * 16):
                sock.sendall(b"a" * 65536)

    threads = [threading.Thread(target=send_huge_header) for _ in range(HUGE_HEADER_CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT_S)
    grown = peak_rss(web) - before
    assert grown < HUGE_HEADER_CLIENTS * 8 * MIB // 4, f"the web process grew by {grown} bytes"


def peak_rss(pid: int) -> int:
    """The peak resident size of a process (VmHWM), in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise LookupError("no VmHWM")


def test_a_head_within_the_cap_is_served(edge: Server) -> None:
    with httpx.Client(base_url=edge.base_url) as client:
        response = client.get("/api/v1/health", headers={"X-Padding": "p" * (MAX_HEAD // 2)})
    assert response.status_code == 200


# --------------------------------------------------------------------------- slow requests


def test_a_trickled_head_is_answered_408_and_closed(edge: Server) -> None:
    """Slowloris: one header byte every 0.2 s keeps the connection busy forever unless the
    request as a whole has a deadline."""
    with connect(edge) as sock:
        sock.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n")
        sock.setblocking(False)
        received = b""
        deadline = time.monotonic() + WAIT_S
        while not received and time.monotonic() < deadline:
            try:
                sock.send(b"X-Slow: a\r\n"[:1])
            except (BrokenPipeError, ConnectionResetError):
                break
            time.sleep(0.2)
            with contextlib.suppress(BlockingIOError):
                received = sock.recv(65536)
        assert received.startswith(b"HTTP/1.1 408 "), received[:200]
        assert json.loads(received.partition(b"\r\n\r\n")[2])["error"]["code"] == "request_timeout"
        sock.settimeout(WAIT_S)
        assert closed_by_server(sock)


def test_a_half_sent_body_is_answered_408(edge: Server, admin_token: str) -> None:
    with connect(edge) as sock:
        sock.sendall(
            b"POST /api/v1/accounts/paper/orders HTTP/1.1\r\nHost: x\r\n"
            b"Authorization: Bearer " + admin_token.encode() + b"\r\n"
            b"Content-Type: application/json\r\nContent-Length: 200\r\n\r\n"
            b'{"symbol": "600519.SH",'
        )
        answer = read_answer(sock)
        assert answer.status == 408
        assert answer.error()["code"] == "request_timeout"
        assert closed_by_server(sock)


def test_a_connection_that_sends_nothing_is_closed(edge: Server) -> None:
    with connect(edge) as sock:
        started = time.monotonic()
        assert closed_by_server(sock)
        assert time.monotonic() - started < WAIT_S


def test_requests_on_a_kept_alive_connection_each_get_their_own_deadline(edge: Server) -> None:
    """A client that pauses between requests (within uvicorn's keep-alive) is not timed out
    for the pause."""
    with connect(edge) as sock:
        for _ in range(2):
            sock.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
            assert read_answer(sock).status == 200
            time.sleep(READ_TIMEOUT_MS / 1000 * 0.8)


# --------------------------------------------------------------------------- how answers leave


def test_an_answer_leaves_in_one_write(edge: Server) -> None:
    """The head is held for the body (`server_protocol._HeadWithBody`): one read gets both."""
    with connect(edge) as sock:
        for _ in range(20):
            sock.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
            data = sock.recv(65536)
            head, _, body = data.partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 200 "), data
            length = next(
                int(line.split(b":")[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            )
            assert len(body) == length, data
            assert json.loads(body)["status"], data


def test_an_answer_without_a_body_still_leaves(edge: Server) -> None:
    """HEAD: the held head has no body to go with; it leaves on the loop's next turn."""
    with connect(edge) as sock:
        sock.sendall(b"HEAD /api/v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            assert chunk, data
            data += chunk
        assert data.startswith(b"HTTP/1.1 "), data
        sock.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n\r\n")  # still usable
        assert read_answer(sock).status == 200


def test_an_interim_100_continue_is_not_held(edge: Server, admin_token: str) -> None:
    """A client that waits for `100 Continue` before its body gets it at once."""
    body = b'{"symbol": "600519.SH", "side": "buy", "qty": 100, "limit_price": "1.00"}'
    with connect(edge) as sock:
        sock.sendall(
            b"POST /api/v1/accounts/paper/orders HTTP/1.1\r\nHost: x\r\n"
            b"Authorization: Bearer " + admin_token.encode() + b"\r\n"
            b"Content-Type: application/json\r\nExpect: 100-continue\r\n"
            b"Content-Length: %d\r\n\r\n" % len(body)
        )
        sock.settimeout(READ_TIMEOUT_MS / 1000 / 2)
        interim = sock.recv(65536)
        assert interim.startswith(b"HTTP/1.1 100 "), interim
        sock.settimeout(WAIT_S)
        sock.sendall(body)
        answer = read_answer(sock)
        assert answer.status in (200, 201, 422), answer
        assert json.loads(answer.body)


def test_pipelined_requests_are_answered_in_order(edge: Server) -> None:
    with connect(edge) as sock:
        sock.sendall(
            b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n\r\n"
            b"GET /api/v1/nowhere HTTP/1.1\r\nHost: x\r\n\r\n"
            b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n\r\n"
        )
        assert [read_answer(sock).status for _ in range(3)] == [200, 404, 200]


@pytest.fixture(scope="module")
def admin_token(edge: Server) -> str:
    return edge.login()


# --------------------------------------------------------------------------- every answer JSON


@pytest.mark.parametrize(
    "path", ["/api/v1/accounts/", "/api/v1/health/", "/docs/", "/api/v1/stream/"]
)
def test_a_trailing_slash_is_a_json_404_never_a_redirect(edge: Server, path: str) -> None:
    """Starlette's redirect for a trailing slash answered 307 with a Location built from the
    client's Host header."""
    with httpx.Client(base_url=edge.base_url, follow_redirects=False) as client:
        response = client.get(path, headers={"Host": "evil.example"})
    assert response.status_code == 404, response.headers
    assert "location" not in response.headers
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GARBAGE\r\n\r\n",
        b"GET /api/v1/health HTTP/9.9\r\nHost: x\r\n\r\n",
        b"GET /api/v1/health HTTP/1.1\r\nBad Header Name: x\r\n\r\n",
        b"POST /api/v1/auth/token HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
    ],
    ids=["no request line", "unknown version", "space in a header name", "bad length"],
)
def test_malformed_http_is_a_json_400(edge: Server, request_bytes: bytes) -> None:
    with connect(edge) as sock:
        sock.sendall(request_bytes)
        answer = read_answer(sock)
    assert answer.status == 400
    assert answer.error()["code"] == "bad_request"


UPGRADE = b"Host: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
KEY = b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"


@pytest.mark.parametrize(
    ("request_bytes", "status", "code"),
    [
        (b"GET /api/v1/stream HTTP/1.1\r\n" + UPGRADE + b"\r\n", 400, "bad_request"),
        (b"GET /api/v1/accounts HTTP/1.1\r\n" + UPGRADE + KEY + b"\r\n", 404, "not_found"),
        (b"GET /nowhere HTTP/1.1\r\n" + UPGRADE + KEY + b"\r\n", 404, "not_found"),
    ],
    ids=["handshake without a key", "websocket to a REST route", "websocket to no route"],
)
def test_refused_websocket_handshakes_are_json(
    edge: Server, request_bytes: bytes, status: int, code: str
) -> None:
    with connect(edge) as sock:
        sock.sendall(request_bytes)
        answer = read_answer(sock)
    assert answer.status == status
    assert answer.error()["code"] == code
    assert answer.error()["message"]
