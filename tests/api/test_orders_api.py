"""The order path over HTTP against a real `tradebridge serve` (engine + web processes),
once on SQLite and once on PostgreSQL."""

import uuid
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import httpx
import pytest

ORDERS = "/api/v1/accounts/paper/orders"
SYMBOL = "600519.SH"  # paper pre_close 1500.00: bid 1499.99, ask 1500.01


@pytest.fixture
def api(each_db_api: httpx.Client) -> httpx.Client:
    """Every test here runs on both databases."""
    return each_db_api


def cid() -> str:
    return f"t-{uuid.uuid4().hex[:20]}"


def cash(api: httpx.Client, currency: str = "CNY") -> Decimal:
    summary = api.get("/api/v1/accounts/paper").json()
    balance = next(b for b in summary["balances"] if b["currency"] == currency)
    return Decimal(str(balance["cash"]))


def place(api: httpx.Client, **fields: Any) -> httpx.Response:
    body = {"symbol": SYMBOL, "side": "buy", "qty": 100, "limit_price": "1500.01"} | fields
    return api.post(ORDERS, json=body)


def test_marketable_buy_fills_at_the_ask_and_books_balance(api: httpx.Client) -> None:
    before = cash(api)
    response = place(api, limit_price="1510", client_order_id=cid())
    assert response.status_code == 201
    order = response.json()
    assert order["status"] == "filled"
    assert order["filled_qty"] == 100
    assert Decimal(str(order["avg_fill_price"])) == Decimal("1500.01")

    trades = api.get("/api/v1/accounts/paper/trades", params={"order_id": order["id"]}).json()
    assert [(t["qty"], Decimal(str(t["price"]))) for t in trades] == [(100, Decimal("1500.01"))]
    fee = Decimal(str(trades[0]["fee"]))
    assert cash(api) == before - Decimal("150001.00") - fee

    positions = {p["symbol"]: p for p in api.get("/api/v1/accounts/paper/positions").json()}
    assert positions[SYMBOL]["qty"] == 100


def test_resting_order_fills_when_the_market_moves_through_it(api: httpx.Client) -> None:
    order = place(api, limit_price="1490.00", client_order_id=cid()).json()
    assert order["status"] == "new"
    quote = api.post(
        "/api/v1/paper/paper/quotes",
        json={"symbol": SYMBOL, "last": "1489.00", "bid": "1488.99", "ask": "1489.01"},
    )
    assert quote.status_code == 200
    filled = api.get(f"{ORDERS}/{order['id']}").json()
    assert filled["status"] == "filled"
    assert Decimal(str(filled["avg_fill_price"])) == Decimal("1489.01")


def test_cancel_then_cancel_again_is_not_cancelable(api: httpx.Client) -> None:
    order = place(api, limit_price="1400.00", client_order_id=cid()).json()
    open_ids = [o["id"] for o in api.get(ORDERS, params={"status": "open"}).json()]
    assert order["id"] in open_ids

    canceled = api.delete(f"{ORDERS}/{order['id']}")
    assert canceled.status_code == 200
    assert canceled.json()["status"] == "canceled"

    again = api.delete(f"{ORDERS}/{order['id']}")
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "not_cancelable"
    closed_ids = [o["id"] for o in api.get(ORDERS, params={"status": "closed"}).json()]
    assert order["id"] in closed_ids
    assert cash(api) == Decimal("1000000.00")


def test_cancel_all_cancels_every_open_order(api: httpx.Client) -> None:
    ids = {
        place(api, limit_price=f"14{i}0.00", client_order_id=cid()).json()["id"] for i in range(3)
    }
    response = api.delete(ORDERS)
    assert response.status_code == 200
    statuses = {o["id"]: o["status"] for o in response.json()}
    assert ids <= set(statuses)
    assert {statuses[i] for i in ids} == {"canceled"}
    assert api.get(ORDERS, params={"status": "open"}).json() == []


def test_get_by_id_and_by_client_order_id(api: httpx.Client) -> None:
    key = cid()
    order = place(api, limit_price="1400.00", client_order_id=key).json()
    assert api.get(f"{ORDERS}/{order['id']}").json() == order
    by_client = api.get(f"/api/v1/accounts/paper/orders:by_client_id/{key}")
    assert by_client.status_code == 200
    assert by_client.json()["id"] == order["id"]
    missing = api.get("/api/v1/accounts/paper/orders:by_client_id/nope-never-used")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"


def test_retry_with_same_client_order_id_returns_the_original(api: httpx.Client) -> None:
    key = cid()
    first = place(api, limit_price="1400.00", client_order_id=key)
    second = place(api, limit_price="1400.00", client_order_id=key)
    assert (first.status_code, second.status_code) == (201, 200)
    assert second.json()["id"] == first.json()["id"]
    matching = [
        o for o in api.get(ORDERS, params={"limit": 1000}).json() if o["client_order_id"] == key
    ]
    assert len(matching) == 1


def test_same_client_order_id_with_other_parameters_conflicts(api: httpx.Client) -> None:
    key = cid()
    first = place(api, limit_price="1400.00", client_order_id=key).json()
    conflict = place(api, limit_price="1401.00", client_order_id=key)
    assert conflict.status_code == 409
    error = conflict.json()["error"]
    assert error["code"] == "duplicate_client_order_id"
    assert error["details"]["order_id"] == first["id"]


def test_concurrent_retries_create_one_order(api: httpx.Client, admin_token: str) -> None:
    key = cid()
    body = {
        "symbol": SYMBOL,
        "side": "buy",
        "qty": 100,
        "limit_price": "1400.00",
        "client_order_id": key,
    }

    def post(_: int) -> httpx.Response:
        with httpx.Client(base_url=str(api.base_url), headers=dict(api.headers)) as c:
            return c.post(ORDERS, json=body)

    with ThreadPoolExecutor(16) as pool:
        responses = list(pool.map(post, range(32)))
    codes = sorted(r.status_code for r in responses)
    assert codes.count(201) == 1
    assert codes.count(200) == 31
    assert len({r.json()["id"] for r in responses}) == 1


def test_refused_order_is_recorded_as_rejected(api: httpx.Client) -> None:
    response = place(api, qty=100_000, limit_price="1500.01", client_order_id=cid())
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "order_rejected"
    assert error["details"]["reason"] == "insufficient_funds"
    recorded = api.get(f"{ORDERS}/{error['details']['order_id']}").json()
    assert recorded["status"] == "rejected"
    assert recorded["reject_reason"] == "insufficient_funds"
    assert cash(api) == Decimal("1000000.00")


def test_list_pages_ascending_with_after(api: httpx.Client) -> None:
    ids = [place(api, limit_price="1360.00", client_order_id=cid()).json()["id"] for _ in range(4)]
    latest_two = api.get(ORDERS, params={"limit": 2}).json()
    assert [o["id"] for o in latest_two] == ids[2:]
    page = api.get(ORDERS, params={"after": ids[0], "limit": 2}).json()
    assert [o["id"] for o in page] == ids[1:3]
