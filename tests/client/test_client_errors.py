"""Every error code of API.md §3 raised as its exception class by the Python client.

Against a real `tradebridge serve` wherever the server can be made to answer the code; the
two it cannot be driven to answer on purpose (`broker_unavailable`: the paper broker never
disconnects; `internal_error`: a bug) come from a small HTTP server on loopback that answers
as the API does, which also checks how the client reads non-JSON error pages.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from tests.client.conftest import admin_client, engine_down, engine_frozen
from tests.conftest import Server, free_port, start_server, write_config

from tradebridge_client import (
    NO_RETRIES,
    BadRequest,
    BrokerUnavailable,
    Client,
    ConnectionFailed,
    DuplicateClientOrderId,
    EngineUnavailable,
    Forbidden,
    InternalError,
    MethodNotAllowed,
    NotCancelable,
    NotFound,
    Order,
    OrderRejected,
    PayloadTooLarge,
    RateLimited,
    RetryableError,
    RetryPolicy,
    Timeout,
    TradebridgeError,
    Unauthorized,
    ValidationError,
)
from tradebridge_client._exchange import Call, Safety

SYMBOL = "600519.SH"


def _cid() -> str:
    return f"er-{uuid.uuid4().hex[:16]}"


def test_bad_request(admin: Client) -> None:
    form = Call("POST", "/accounts/paper/orders", Order, form={"symbol": SYMBOL})
    with pytest.raises(BadRequest) as raised:
        admin.call(form)
    assert (raised.value.status, raised.value.code) == (400, "bad_request")


def test_unauthorized(client_server: Server) -> None:
    with (
        Client(client_server.base_url, api_key="tb_not-a-key") as client,
        pytest.raises(Unauthorized) as raised,
    ):
        client.accounts()
    assert raised.value.status == 401


def test_a_login_with_a_wrong_password_is_unauthorized(client_server: Server) -> None:
    with (
        Client(client_server.base_url, username="admin", password="wrong") as client,
        pytest.raises(Unauthorized),
    ):
        client.accounts()


def test_forbidden(admin: Client, client_server: Server) -> None:
    read_only = admin.create_key(["read"])
    with (
        Client(client_server.base_url, api_key=read_only.key) as client,
        pytest.raises(Forbidden) as raised,
    ):
        client.buy("paper", SYMBOL, 100, limit_price="1500.01")
    assert raised.value.status == 403
    assert admin.orders("paper", status="all") == []  # nothing was placed


def test_not_found(admin: Client) -> None:
    with pytest.raises(NotFound):
        admin.order("paper", "01NOSUCHORDER0000000000000")
    with pytest.raises(NotFound):
        admin.balance("nosuchaccount")


def test_method_not_allowed(admin: Client) -> None:
    with pytest.raises(MethodNotAllowed) as raised:
        admin.call(Call("PATCH", "/accounts", list[object]))
    assert raised.value.status == 405


def test_duplicate_client_order_id(admin: Client) -> None:
    cid = _cid()
    first = admin.buy("paper", SYMBOL, 100, limit_price="1400.00", client_order_id=cid)
    with pytest.raises(DuplicateClientOrderId) as raised:
        admin.buy("paper", SYMBOL, 200, limit_price="1400.00", client_order_id=cid)
    assert raised.value.details["order_id"] == first.id
    assert [o.id for o in admin.orders("paper")] == [first.id]


def test_not_cancelable(admin: Client) -> None:
    filled = admin.buy("paper", SYMBOL, 100, limit_price="1500.01")
    with pytest.raises(NotCancelable):
        admin.cancel_order("paper", filled.id)


def test_payload_too_large(admin: Client) -> None:
    huge = Call("POST", "/accounts/paper/orders", Order, json={"symbol": "x" * (2 * 1024 * 1024)})
    with pytest.raises(PayloadTooLarge) as raised:
        admin.call(huge)
    assert raised.value.status == 413


def test_validation_error(admin: Client) -> None:
    with pytest.raises(ValidationError) as raised:
        admin.buy("paper", SYMBOL, 0, limit_price="1500.01")
    assert raised.value.status == 422
    assert raised.value.details["errors"][0]["field"] == "qty"


def test_order_rejected(admin: Client) -> None:
    with pytest.raises(OrderRejected) as raised:
        admin.sell("paper", SYMBOL, 100, limit_price="1499.99")
    refused = raised.value
    assert refused.reason == "insufficient_position"
    assert refused.order_id is not None
    assert admin.order("paper", refused.order_id).status == "rejected"


def test_a_retried_rejected_placement_raises_as_the_first_did(admin: Client) -> None:
    cid = _cid()
    with pytest.raises(OrderRejected) as first:
        admin.sell("paper", SYMBOL, 100, limit_price="1499.99", client_order_id=cid)
    with pytest.raises(OrderRejected) as again:
        admin.sell("paper", SYMBOL, 100, limit_price="1499.99", client_order_id=cid)
    assert again.value.order_id == first.value.order_id
    assert again.value.reason == "insufficient_position"


@pytest.fixture(scope="module")
def limited_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server allowing each caller 2 requests a second."""
    directory = tmp_path_factory.mktemp("limited")
    server = start_server(write_config(directory, '[rate_limits]\napi = "2/second"\n'))
    yield server
    assert server.stop() == 0


def _key(server: Server) -> str:
    with admin_client(server) as admin:
        return admin.create_key(["read"]).key


def test_rate_limited_with_retry_after(limited_server: Server) -> None:
    key = _key(limited_server)
    with Client(limited_server.base_url, api_key=key, retry=NO_RETRIES) as client:
        limited = _first_refusal(client)
    assert limited.status == 429
    assert limited.retry_after is not None
    assert limited.retry_after >= 1
    assert isinstance(limited, RetryableError)


def _first_refusal(client: Client) -> RateLimited:
    for _ in range(10):
        try:
            client.accounts()
        except RateLimited as limited:
            return limited
    pytest.fail("10 calls in a row at 2 a second were never rate limited")


def test_rate_limited_calls_are_retried_after_retry_after(limited_server: Server) -> None:
    key = _key(limited_server)
    with Client(limited_server.base_url, api_key=key) as client:
        started = time.monotonic()
        for _ in range(5):  # 2 a second: the 3rd waits for the next second, the 5th for one more
            assert client.accounts()[0].id == "paper"
        assert time.monotonic() - started >= 1.0


def test_engine_unavailable(own_server: Server) -> None:
    with admin_client(own_server, retry=NO_RETRIES) as client:
        client.accounts()  # logged in
        with engine_down(own_server):
            time.sleep(1.0)  # a few missed heartbeats: the web knows the engine is down
            with pytest.raises(EngineUnavailable) as raised:
                client.accounts()
    assert raised.value.status == 503


def test_timeout(own_server: Server) -> None:
    with admin_client(own_server, retry=NO_RETRIES) as client:
        client.accounts()
        with engine_frozen(own_server), pytest.raises(Timeout) as raised:
            client.accounts()  # the web waits rpc_timeout_ms (300) before the link looks down
    assert raised.value.status == 504


def test_connection_failed() -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    with (
        Client(nowhere, api_key="k", retry=NO_RETRIES) as client,
        pytest.raises(ConnectionFailed) as raised,
    ):
        client.accounts()
    assert raised.value.details["sent"] is False
    assert raised.value.status is None


# --------------------------------------------------------------------------- an API double


class _Answers(BaseHTTPRequestHandler):
    """Answers each request with the next of `server.answers`: (status, headers, body)."""

    server: _AnswerServer

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        self.server.requests.append((self.command, self.path))
        status, headers, body = self.server.answers.pop(0)
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_DELETE = _answer  # noqa: N815 (the names http.server calls)

    def log_message(self, format: str, *args: object) -> None:
        pass


class _AnswerServer(ThreadingHTTPServer):
    answers: list[tuple[int, dict[str, str], bytes]]
    requests: list[tuple[str, str]]


def _error(status: int, code: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
    body = json.dumps({"error": {"code": code, "message": f"test {code}", "details": {}}})
    return status, {"Content-Type": "application/json", **headers}, body.encode()


@pytest.fixture
def double() -> Iterator[_AnswerServer]:
    server = _AnswerServer(("127.0.0.1", 0), _Answers)
    server.answers, server.requests = [], []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _client(double: _AnswerServer, retry: RetryPolicy = NO_RETRIES) -> Client:
    return Client(f"http://127.0.0.1:{double.server_address[1]}", api_key="k", retry=retry)


def test_broker_unavailable(double: _AnswerServer) -> None:
    double.answers = [_error(503, "broker_unavailable")]
    with _client(double) as client, pytest.raises(BrokerUnavailable) as raised:
        client.positions("paper")
    assert isinstance(raised.value, RetryableError)


def test_internal_error(double: _AnswerServer) -> None:
    double.answers = [_error(500, "internal_error")]
    with _client(double) as client, pytest.raises(InternalError):
        client.positions("paper")


def test_a_non_json_error_page_is_read_by_its_status(double: _AnswerServer) -> None:
    page = (502, {"Content-Type": "text/html"}, b"<html>Bad Gateway</html>")
    double.answers = [page]
    with _client(double) as client, pytest.raises(EngineUnavailable):
        client.positions("paper")


def test_an_unknown_code_keeps_its_name(double: _AnswerServer) -> None:
    double.answers = [_error(418, "brand_new_code")]
    with _client(double) as client, pytest.raises(TradebridgeError) as raised:
        client.positions("paper")
    assert raised.value.code == "brand_new_code"
    assert not isinstance(raised.value, RetryableError)


def test_retries_stop_after_the_policy_s_attempts(double: _AnswerServer) -> None:
    double.answers = [_error(503, "broker_unavailable")] * 3
    policy = RetryPolicy(attempts=3, first_delay_s=0.01)
    with _client(double, policy) as client, pytest.raises(BrokerUnavailable):
        client.positions("paper")
    assert len(double.requests) == 3


def test_the_retry_after_header_sets_the_wait(double: _AnswerServer) -> None:
    ok = (200, {"Content-Type": "application/json"}, b"[]")
    double.answers = [_error(429, "rate_limited", **{"Retry-After": "1"}), ok]
    with _client(double, RetryPolicy(first_delay_s=0.01)) as client:
        started = time.monotonic()
        assert client.positions("paper") == []
        assert time.monotonic() - started >= 1.0


def test_unsafe_calls_are_not_retried_after_a_timeout(double: _AnswerServer) -> None:
    double.answers = [_error(504, "timeout")]
    clock = Call("POST", "/paper/paper/clock", dict[str, str], json={}, safety=Safety.UNSAFE)
    with _client(double, RetryPolicy(first_delay_s=0.01)) as client, pytest.raises(Timeout):
        client.call(clock)
    assert len(double.requests) == 1


def test_a_cancel_retried_after_no_answer_finds_the_order_canceled(
    double: _AnswerServer,
) -> None:
    order = {
        "id": "O1",
        "client_order_id": "c",
        "account": "paper",
        "symbol": SYMBOL,
        "side": "buy",
        "offset": None,
        "type": "limit",
        "time_in_force": "day",
        "qty": 100,
        "limit_price": 1400,
        "filled_qty": 0,
        "avg_fill_price": None,
        "status": "canceled",
        "reject_reason": None,
        "broker_order_id": None,
        "created_at": "2026-01-05T09:30:00+08:00",
        "updated_at": "2026-01-05T09:31:00+08:00",
    }
    ok = (200, {"Content-Type": "application/json"}, json.dumps(order).encode())
    double.answers = [_error(504, "timeout"), _error(409, "not_cancelable"), ok]
    with _client(double, RetryPolicy(first_delay_s=0.01)) as client:
        assert client.cancel_order("paper", "O1").status == "canceled"
    assert [m for m, _ in double.requests] == ["DELETE", "DELETE", "GET"]
