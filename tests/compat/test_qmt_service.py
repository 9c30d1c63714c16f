"""The MiniQMT HTTP service dialect (`[compat.qmt_service]`, document 001): its client calls
(`/trading/status`, `account-info`, `place-order` and `order`, `orders`, `positions`,
`cancel-order`) get its answers; a refusal is a 4xx with `success: false`."""

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import requests
from tests.compat.qmt_support import (
    BOND,
    MOUTAI,
    QMT,
    dialects_config,
    key_of,
    set_quote,
    v1_orders,
)
from tests.conftest import Server, start_server

STATUS_KEYS = ["connected", "account_id", "account_type"]
ACCOUNT_INFO_KEYS = [
    "account_id",
    "available_cash",
    "total_value",
    "market_value",
    "positions_count",
    "total_profit_loss",
]
ORDER_ANSWER_KEYS = ["success", "order_id", "message"]
ORDER_KEYS = [
    "order_id",
    "stock_code",
    "action",
    "order_type",
    "quantity",
    "price",
    "filled_quantity",
    "avg_price",
    "status",
    "message",
    "client_order_id",
    "created_at",
    "updated_at",
]
POSITION_KEYS = [
    "stock_code",
    "quantity",
    "available_quantity",
    "cost_price",
    "current_price",
    "market_value",
    "profit_loss",
]
BUY_MOUTAI = {
    "stock_code": MOUTAI,
    "action": "BUY",
    "quantity": 100,
    "price": 1500.0,
    "order_type": "LIMIT",
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = start_server(dialects_config(tmp_path_factory.mktemp("qmt")))
    yield running
    assert running.stop() == 0


@pytest.fixture(scope="module")
def token(server: Server) -> str:
    return server.login()


@pytest.fixture
def admin(server: Server, token: str) -> Iterator[httpx.Client]:
    """An admin client of /api/v1; the paper account starts each test as configured."""
    with server.client(token) as client:
        client.post("/api/v1/paper/paper/reset").raise_for_status()
        yield client


@pytest.fixture
def qmt(server: Server, token: str, admin: httpx.Client) -> Iterator[httpx.Client]:
    """A client of the dialect as document 001's front end is: a Bearer token."""
    with httpx.Client(
        base_url=server.base_url + QMT, headers={"Authorization": f"Bearer {token}"}, timeout=30
    ) as client:
        yield client


def placed(response: httpx.Response) -> int:
    assert response.status_code == 200, response.text
    body = response.json()
    assert list(body) == ORDER_ANSWER_KEYS
    assert body["success"] is True
    assert isinstance(body["order_id"], int)
    return int(body["order_id"])


def failed(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert list(body) == [*ORDER_ANSWER_KEYS, "detail", "error"]
    assert body["success"] is False
    assert body["message"] == body["detail"] == body["error"]["message"]
    assert body["message"]
    assert body["error"]["code"] == code
    return body


def listed(qmt: httpx.Client, order_id: int) -> dict[str, Any]:
    (order,) = [o for o in qmt.get("/orders").json() if o["order_id"] == order_id]
    assert list(order) == ORDER_KEYS
    return dict(order)


# --------------------------------------------------------------------------- the document


def test_the_documents_client_calls(server: Server, token: str, admin: httpx.Client) -> None:
    """Document 001's front end: status, account info, an order through `place-order` and
    through its alias `order`, the orders, the positions, a cancel."""
    base, auth = server.base_url + "/api/v1/trading", {"Authorization": f"Bearer {token}"}

    status = requests.get(f"{base}/status", headers=auth).json()
    assert status == {"connected": True, "account_id": "paper", "account_type": "STOCK"}
    assert list(status) == STATUS_KEYS

    info = requests.get(f"{base}/account-info", headers=auth).json()
    assert list(info) == ACCOUNT_INFO_KEYS
    assert info == {
        "account_id": "paper",
        "available_cash": 1_000_000.0,
        "total_value": 1_000_000.0,
        "market_value": 0.0,
        "positions_count": 0,
        "total_profit_loss": 0.0,
    }

    resting = requests.post(f"{base}/place-order", json=BUY_MOUTAI, headers=auth).json()
    assert list(resting) == ORDER_ANSWER_KEYS
    assert resting["success"] is True
    assert isinstance(resting["order_id"], int)
    assert resting["order_id"] > 0
    filled = requests.post(
        f"{base}/order", json={**BUY_MOUTAI, "price": 1500.01}, headers=auth
    ).json()
    assert filled["success"] is True
    assert filled["order_id"] == resting["order_id"] + 1

    orders = requests.get(f"{base}/orders", headers=auth).json()
    by_id = {o["order_id"]: o for o in orders}
    assert by_id[resting["order_id"]]["status"] == "new"
    assert by_id[filled["order_id"]]["status"] == "filled"
    assert by_id[filled["order_id"]]["avg_price"] == 1500.01

    (position,) = requests.get(f"{base}/positions", headers=auth).json()
    assert list(position) == POSITION_KEYS
    assert (position["stock_code"], position["quantity"], position["available_quantity"]) == (
        MOUTAI,
        100,
        0,  # T+1
    )

    canceled = requests.post(
        f"{base}/cancel-order", json={"order_id": resting["order_id"]}, headers=auth
    ).json()
    assert canceled == {"success": True, "order_id": resting["order_id"], "message": "canceled"}
    info = requests.get(f"{base}/account-info", headers=auth).json()
    assert info["positions_count"] == 1
    assert info["market_value"] == pytest.approx(150_000.0)
    assert info["total_value"] == pytest.approx(info["available_cash"] + info["market_value"])
    assert info["total_profit_loss"] < 0  # the fees paid


def test_an_api_key_works_as_on_api_v1(server: Server, token: str, admin: httpx.Client) -> None:
    key = key_of(server, token, "read", "trade")
    for headers in ({"X-API-Key": key}, {"Authorization": f"Bearer {key}"}):
        response = httpx.post(
            server.base_url + QMT + "/place-order", json=BUY_MOUTAI, headers=headers
        )
        placed(response)


# --------------------------------------------------------------------------- credentials

ROUTES = [
    ("GET", "/status", None),
    ("GET", "/account-info", None),
    ("GET", "/orders", None),
    ("GET", "/positions", None),
    ("POST", "/place-order", BUY_MOUTAI),
    ("POST", "/order", BUY_MOUTAI),
    ("POST", "/cancel-order", {"order_id": 1}),
]


@pytest.mark.parametrize(("method", "path", "body"), ROUTES, ids=[p for _, p, _ in ROUTES])
def test_every_route_needs_credentials(
    server: Server, admin: httpx.Client, method: str, path: str, body: Any
) -> None:
    before = len(v1_orders(admin))
    response = httpx.request(method, server.base_url + QMT + path, json=body)
    assert response.status_code == 401, response.text
    assert response.json()["error"]["code"] == "unauthorized"
    assert response.json()["detail"]
    assert len(v1_orders(admin)) == before


def test_a_viewer_may_look_but_not_trade(server: Server, token: str) -> None:
    headers = {"X-API-Key": key_of(server, token, "read")}
    with httpx.Client(base_url=server.base_url + QMT, headers=headers) as viewer:
        assert viewer.get("/status").status_code == 200
        assert viewer.post("/place-order", json=BUY_MOUTAI).status_code == 403
        assert viewer.post("/cancel-order", json={"order_id": 1}).status_code == 403


# --------------------------------------------------------------------------- placing


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"action": None}, "action"),
        ({"stock_code": None}, "stock_code"),
        ({"quantity": None}, "quantity"),
        ({"price": None}, "body"),
        ({"price": 0}, "body"),
        ({"price": -1500.0}, "price"),
        ({"price": "abc"}, "price"),
        ({"quantity": 100.5}, "quantity"),
        ({"quantity": "100"}, "quantity"),
        ({"quantity": 0}, "quantity"),
        ({"action": "HOLD"}, "action"),
        ({"order_type": "STOP"}, "order_type"),
        ({"stock_code": "600519"}, "stock_code"),
        ({"client_order_id": "has spaces"}, "client_order_id"),
    ],
)
def test_a_malformed_order_is_422_and_places_nothing(
    qmt: httpx.Client, admin: httpx.Client, change: dict[str, Any], field: str
) -> None:
    body = {k: v for k, v in {**BUY_MOUTAI, **change}.items() if v is not None}
    before = len(v1_orders(admin))
    response = qmt.post("/place-order", json=body)
    assert response.status_code == 422, response.text
    answer = response.json()
    assert answer["error"]["code"] == "validation_error"
    assert answer["error"]["details"]["errors"][0]["field"] == field
    assert isinstance(answer["detail"], list)  # FastAPI's field errors
    assert len(v1_orders(admin)) == before


def test_enum_words_are_read_in_any_case(qmt: httpx.Client) -> None:
    order_id = placed(
        qmt.post("/place-order", json={**BUY_MOUTAI, "action": "buy", "order_type": "limit"})
    )
    assert (listed(qmt, order_id)["action"], listed(qmt, order_id)["order_type"]) == (
        "BUY",
        "LIMIT",
    )


def test_order_type_left_out_is_limit(qmt: httpx.Client) -> None:
    body = {k: v for k, v in BUY_MOUTAI.items() if k != "order_type"}
    order = listed(qmt, placed(qmt.post("/place-order", json=body)))
    assert (order["order_type"], order["price"], order["status"]) == ("LIMIT", 1500.0, "new")


def test_a_market_order_needs_no_price(qmt: httpx.Client) -> None:
    body = {"stock_code": BOND, "action": "BUY", "quantity": 10, "order_type": "MARKET"}
    order = listed(qmt, placed(qmt.post("/place-order", json=body)))
    assert (order["order_type"], order["price"], order["status"]) == ("MARKET", 0.0, "filled")
    assert order["avg_price"] == 305.001


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"price": 2000.0}, "price_out_of_limits"),
        ({"price": 1500.001}, "invalid_tick_size"),
        ({"quantity": 150}, "invalid_lot_size"),
        ({"quantity": 100_000}, "insufficient_funds"),
        ({"action": "SELL"}, "insufficient_position"),
    ],
)
def test_a_refusal_is_422_with_success_false_and_the_reason(
    qmt: httpx.Client, change: dict[str, Any], reason: str
) -> None:
    response = qmt.post("/place-order", json={**BUY_MOUTAI, **change})
    body = failed(response, 422, "order_rejected")
    assert body["error"]["details"]["reason"] == reason
    assert response.headers["X-Reject-Reason"] == reason
    assert isinstance(body["order_id"], int)  # recorded as rejected, listed with its reason
    order = listed(qmt, body["order_id"])
    assert (order["status"], order["message"]) == ("rejected", reason)


def test_a_client_order_id_makes_a_retry_find_the_order(
    qmt: httpx.Client, admin: httpx.Client
) -> None:
    body = {**BUY_MOUTAI, "client_order_id": "qmt-test-retry-1"}
    first = placed(qmt.post("/place-order", json=body))
    again = placed(qmt.post("/order", json=body))
    assert again == first
    assert [o["client_order_id"] for o in v1_orders(admin)].count("qmt-test-retry-1") == 1
    other = qmt.post("/place-order", json={**body, "quantity": 200})
    assert failed(other, 409, "duplicate_client_order_id")["order_id"] is None


def test_orders_without_a_client_order_id_get_one(qmt: httpx.Client, admin: httpx.Client) -> None:
    """Two equal orders are two orders, each with a client order id of the dialect."""
    first = placed(qmt.post("/place-order", json=BUY_MOUTAI))
    second = placed(qmt.post("/place-order", json=BUY_MOUTAI))
    assert second == first + 1
    ids = [listed(qmt, i)["client_order_id"] for i in (first, second)]
    assert all(i.startswith("qmt-") for i in ids)
    assert ids[0] != ids[1]


def test_cancel_of_what_cannot_be_canceled_says_why(qmt: httpx.Client, admin: httpx.Client) -> None:
    set_quote(admin, MOUTAI, "1500.00", bid="1499.99", ask="1500.01")
    filled = placed(qmt.post("/place-order", json={**BUY_MOUTAI, "price": 1500.01}))
    assert (
        failed(qmt.post("/cancel-order", json={"order_id": filled}), 409, "not_cancelable")[
            "order_id"
        ]
        == filled
    )
    assert (
        failed(qmt.post("/cancel-order", json={"order_id": 999_999}), 404, "not_found")["order_id"]
        == 999_999
    )
    for body in ({}, {"order_id": "1"}, {"order_id": 0}):
        assert qmt.post("/cancel-order", json=body).status_code == 422


def test_positions_and_orders_show_what_was_traded(qmt: httpx.Client) -> None:
    bond = {"stock_code": BOND, "action": "BUY", "quantity": 20, "price": 305.001}
    order = listed(qmt, placed(qmt.post("/place-order", json=bond)))
    assert (order["stock_code"], order["quantity"], order["filled_quantity"]) == (BOND, 20, 20)
    (position,) = qmt.get("/positions").json()
    assert (position["stock_code"], position["quantity"], position["available_quantity"]) == (
        BOND,
        20,
        20,  # T+0
    )
    assert position["current_price"] == 305.0
    assert position["market_value"] == pytest.approx(6100.0)
    assert position["profit_loss"] == pytest.approx(6100.0 - 6100.02 - 1.00)
