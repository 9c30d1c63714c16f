"""The paper broker refuses and fills as the venues do, seen only through the API."""

from decimal import Decimal
from typing import Any

import httpx
import pytest

ORDERS = "/api/v1/accounts/paper/orders"


def dec(value: Any) -> Decimal:
    return Decimal(str(value))


def cash(api: httpx.Client, currency: str = "CNY") -> Decimal:
    balances = api.get("/api/v1/accounts/paper").json()["balances"]
    return dec(next(b["cash"] for b in balances if b["currency"] == currency))


def order(api: httpx.Client, **fields: Any) -> httpx.Response:
    return api.post(ORDERS, json={"side": "buy"} | fields)


def trade_of(api: httpx.Client, order_id: str) -> dict[str, Any]:
    (trade,) = api.get("/api/v1/accounts/paper/trades", params={"order_id": order_id}).json()
    return dict(trade)


def next_day(api: httpx.Client) -> None:
    response = api.post("/api/v1/paper/paper/clock", json={"advance": "next_day"})
    assert response.status_code == 200, response.text


def test_fees_to_the_cent_and_t_plus_one_on_moutai(api: httpx.Client) -> None:
    assert cash(api) == Decimal("1000000.00")
    bought = order(api, symbol="600519.SH", qty=100, limit_price="1500.01").json()
    assert bought["status"] == "filled"
    # 150,001.00: commission 0.025% = 37.50, transfer fee 0.001% = 1.50
    assert dec(trade_of(api, bought["id"])["fee"]) == Decimal("39.00")
    assert cash(api) == Decimal("849960.00")

    same_day = order(api, symbol="600519.SH", side="sell", qty=100, limit_price="1499.99")
    assert same_day.status_code == 422
    assert same_day.json()["error"]["details"]["reason"] == "insufficient_position"
    (position,) = api.get("/api/v1/accounts/paper/positions").json()
    assert (position["qty"], position["available_qty"]) == (100, 0)

    next_day(api)
    (position,) = api.get("/api/v1/accounts/paper/positions").json()
    assert position["available_qty"] == 100
    sold = order(api, symbol="600519.SH", side="sell", qty=100, limit_price="1499.99").json()
    assert sold["status"] == "filled"
    trade = trade_of(api, sold["id"])
    # 149,999.00: commission 37.50, transfer fee 1.50, stamp duty 0.05% = 75.00
    assert (dec(trade["price"]), dec(trade["fee"])) == (Decimal("1499.99"), Decimal("114.00"))
    assert cash(api) == Decimal("999845.00")


REFUSALS = [
    # SH main board: 600519.SH, pre_close 1500.00, lot 100, tick 0.01, ±10%
    (
        "main odd lot",
        {"symbol": "600519.SH", "qty": 150, "limit_price": "1500.01"},
        "invalid_lot_size",
    ),
    (
        "main off tick",
        {"symbol": "600519.SH", "qty": 100, "limit_price": "1500.001"},
        "invalid_tick_size",
    ),
    (
        "main over limit up",
        {"symbol": "600519.SH", "qty": 100, "limit_price": "1650.01"},
        "price_out_of_limits",
    ),
    (
        "main under limit down",
        {"symbol": "600519.SH", "qty": 100, "limit_price": "1349.99"},
        "price_out_of_limits",
    ),
    (
        "main funds",
        {"symbol": "600519.SH", "qty": 700, "limit_price": "1500.01"},
        "insufficient_funds",
    ),
    (
        "main max order size",
        {"symbol": "000001.SZ", "qty": 1_000_100, "limit_price": "11.50"},
        "invalid_lot_size",
    ),
    # STAR: 688981.SH, pre_close 90.00, at least 200, ±20%, at most 100,000
    (
        "star under 200",
        {"symbol": "688981.SH", "qty": 199, "limit_price": "90.01"},
        "invalid_lot_size",
    ),
    (
        "star over limit up",
        {"symbol": "688981.SH", "qty": 200, "limit_price": "108.01"},
        "price_out_of_limits",
    ),
    (
        "star off tick",
        {"symbol": "688981.SH", "qty": 200, "limit_price": "90.005"},
        "invalid_tick_size",
    ),
    (
        "star max order size",
        {"symbol": "688981.SH", "qty": 100_001, "limit_price": "72.00"},
        "invalid_lot_size",
    ),
    # HK: 00700.HK, pre_close 480.0, lot 100, tick 0.2 from 200 to 500, no daily limit
    ("hk odd lot", {"symbol": "00700.HK", "qty": 150, "limit_price": "480.2"}, "invalid_lot_size"),
    (
        "hk off tick band",
        {"symbol": "00700.HK", "qty": 100, "limit_price": "480.1"},
        "invalid_tick_size",
    ),
    ("hk funds", {"symbol": "00700.HK", "qty": 3000, "limit_price": "480.2"}, "insufficient_funds"),
]


@pytest.mark.parametrize(("case", "body", "reason"), REFUSALS, ids=[r[0] for r in REFUSALS])
def test_venue_refusals(api: httpx.Client, case: str, body: dict[str, Any], reason: str) -> None:
    response = order(api, **body)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert (error["code"], error["details"]["reason"]) == ("order_rejected", reason), error
    assert cash(api) == Decimal("1000000.00")


@pytest.mark.parametrize(
    "body",
    [
        {"symbol": "688981.SH", "qty": 201, "limit_price": "90.01"},  # STAR: any qty ≥ 200
        {"symbol": "00700.HK", "qty": 100, "limit_price": "960.0"},  # HK: no daily limit
        {"symbol": "600519.SH", "qty": 100, "limit_price": "1650.00"},  # at limit up
    ],
)
def test_orders_the_rules_allow(api: httpx.Client, body: dict[str, Any]) -> None:
    response = order(api, **body)
    assert response.status_code == 201, response.text
    assert response.json()["status"] == "filled"


def test_partial_fills_as_the_market_moves(api: httpx.Client) -> None:
    def quote(**fields: Any) -> None:
        body = {"symbol": "600519.SH", "last": "1500.00", "bid": "1499.99"} | fields
        assert api.post("/api/v1/paper/paper/quotes", json=body).status_code == 200

    quote(ask="1500.01", ask_size=300)
    placed = order(api, symbol="600519.SH", qty=500, limit_price="1500.01").json()
    assert (placed["status"], placed["filled_qty"]) == ("partially_filled", 300)
    url = f"{ORDERS}/{placed['id']}"

    quote(ask="1500.01", ask_size=100)
    assert api.get(url).json()["filled_qty"] == 400
    quote(ask="1500.02", ask_size=1000)  # above the limit: nothing more
    assert api.get(url).json()["filled_qty"] == 400
    quote(ask="1500.00", ask_size=1000)
    done = api.get(url).json()
    assert (done["status"], done["filled_qty"]) == ("filled", 500)
    assert dec(done["avg_fill_price"]) == Decimal("1500.008")
    fills = api.get("/api/v1/accounts/paper/trades", params={"order_id": placed["id"]}).json()
    assert [(t["qty"], dec(t["price"])) for t in fills] == [
        (300, Decimal("1500.01")),
        (100, Decimal("1500.01")),
        (100, Decimal("1500.00")),
    ]


def test_day_orders_expire_and_gtc_orders_stay_at_the_next_day(api: httpx.Client) -> None:
    day = order(api, symbol="600519.SH", qty=100, limit_price="1400.00").json()
    gtc = order(api, symbol="600519.SH", qty=100, limit_price="1400.00", time_in_force="gtc").json()
    next_day(api)
    assert api.get(f"{ORDERS}/{day['id']}").json()["status"] == "expired"
    assert api.get(f"{ORDERS}/{gtc['id']}").json()["status"] == "new"


def test_next_day_rolls_pre_close_to_the_last_price(api: httpx.Client) -> None:
    api.post(
        "/api/v1/paper/paper/quotes", json={"symbol": "601318.SH", "last": "55.00"}
    ).raise_for_status()
    next_day(api)
    (quote,) = api.get("/api/v1/market/quotes", params={"symbols": "601318.SH"}).json()
    assert dec(quote["pre_close"]) == Decimal("55.00")
    # the new limit up is 60.50
    refused = order(api, symbol="601318.SH", qty=100, limit_price="60.51")
    assert refused.json()["error"]["details"]["reason"] == "price_out_of_limits"


def test_futures_open_and_close_with_margin(api: httpx.Client) -> None:
    before = cash(api)
    opened = order(api, symbol="cu2601.SHFE", qty=1, type="market", offset="open")
    assert opened.status_code == 201, opened.text
    positions = api.get("/api/v1/accounts/paper/positions").json()
    (long,) = [p for p in positions if p["symbol"] == "cu2601.SHFE"]
    assert (long["direction"], long["qty"]) == ("long", 1)
    summary = api.get("/api/v1/accounts/paper").json()
    assert dec(summary["frozen"]) > 0  # margin
    closed = order(
        api, symbol="cu2601.SHFE", side="sell", qty=1, type="market", offset="close_today"
    )
    assert closed.status_code == 201, closed.text
    assert dec(api.get("/api/v1/accounts/paper").json()["frozen"]) == 0
    fees = sum(dec(t["fee"]) for t in api.get("/api/v1/accounts/paper/trades").json()[-2:])
    bought, sold = (trade_of(api, o.json()["id"]) for o in (opened, closed))
    pnl = (dec(sold["price"]) - dec(bought["price"])) * 5
    assert cash(api) == before + pnl - fees


def test_futures_need_an_offset(api: httpx.Client) -> None:
    response = order(api, symbol="cu2601.SHFE", qty=1, type="market")
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"
