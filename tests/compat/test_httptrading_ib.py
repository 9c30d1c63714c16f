"""The httptrading dialect's eight routes against an `ib` account (ib_async and the fake
TWS), shaped as they are for paper (`test_httptrading_api.py`): the same envelope, objects
and failures; the values are the broker's."""

from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
from tests.brokers.ib.serve_support import INSTANCE, TOKEN, IbServe, ib_serve, wait_for
from tests.compat.test_httptrading_api import (
    CASH,
    CONTRACT,
    ENVELOPE,
    ERROR,
    MARKET_STATUS,
    ORDER,
    PLACE_EXAMPLE,
    POSITION,
    QUOTE,
)


@pytest.fixture(scope="module")
def ib(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IbServe]:
    with ib_serve(tmp_path_factory.mktemp("ht-ib")) as running:
        yield running


@pytest.fixture
def ht(ib: IbServe) -> Iterator[httpx.Client]:
    base = f"{ib.server.base_url}/httptrading/api/{INSTANCE}"
    with httpx.Client(base_url=base, headers={"HT-TOKEN": TOKEN}, timeout=10) as client:
        yield client


def ok(response: httpx.Response, *fields: str) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert list(body) == ENVELOPE + list(fields)
    assert (body["type"], body["instanceId"], body["ex"]) == ("apiResponse", INSTANCE, None)
    assert (body["broker"], body["brokerDisplay"]) == ("ib", "盈透证券")
    assert datetime.fromisoformat(body["time"]).utcoffset() is not None
    return body


def failed(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert list(body) == [*ENVELOPE, "error"]
    assert list(body["error"]) == ERROR
    assert body["error"]["code"] == code
    assert body["ex"] == body["error"]["message"]
    return body


def test_ping(ht: httpx.Client) -> None:
    assert ok(ht.get("/ping/state"), "pong")["pong"] is True


def test_market_state_per_region_of_the_account(ht: httpx.Client) -> None:
    status = ok(ht.get("/market/state"), "marketStatus")["marketStatus"]
    assert status["type"] == "marketStatusMap"
    assert sorted(status["securities"]) == ["HK", "US"]
    for region, state in status["securities"].items():
        assert list(state) == MARKET_STATUS
        assert state["region"] == region
        assert state["originStatus"]
        assert state["unifiedStatus"] in ("RTH", "REST", "CLOSED", "PRE_HOURS", "AFTER_HOURS",
                                          "OVERNIGHT", "UNKNOWN")  # fmt: skip


def test_quote_from_tws(ht: httpx.Client, ib: IbServe) -> None:
    ib.tws.quote("MSFT", bid="421.00", ask="421.02", last="421.01")
    quote = ok(ht.get("/market/quote", params={"region": "US", "ticker": "MSFT"}), "quote")["quote"]
    assert list(quote) == QUOTE
    assert list(quote["contract"]) == CONTRACT
    assert (quote["contract"]["region"], quote["contract"]["ticker"]) == ("US", "MSFT")
    assert quote["currency"] == "USD"
    assert Decimal(str(quote["latest"])) == Decimal("421.01")
    assert Decimal(str(quote["preClose"])) == Decimal("417.30")
    assert isinstance(quote["isTradable"], bool)
    assert (quote["highPrice"], quote["lowPrice"], quote["openPrice"]) == (None, None, None)
    hk = ok(ht.get("/market/quote", params={"region": "HK", "ticker": "700"}), "quote")["quote"]
    assert (hk["contract"]["ticker"], hk["currency"]) == ("00700", "HKD")
    failed(ht.get("/market/quote", params={"region": "US", "ticker": "NOSUCH"}), 404, "not_found")


def test_cash_is_the_account_s(ht: httpx.Client, ib: IbServe) -> None:
    cash = ok(ht.get("/cash/state"), "cash")["cash"]
    assert list(cash) == CASH
    assert cash["currency"] == "USD"
    assert Decimal(str(cash["amount"])) == ib.tws.account_value("AvailableFunds", "USD")
    hkd = ok(ht.get("/cash/state", params={"currency": "HKD"}), "cash")["cash"]
    assert Decimal(str(hkd["amount"])) == ib.tws.account_value("CashBalance", "HKD")
    failed(ht.get("/cash/state", params={"currency": "EUR"}), 404, "not_found")


def test_place_state_cancel_as_in_the_document(ht: httpx.Client, ib: IbServe) -> None:
    placed = ok(ht.post("/order/place", json=PLACE_EXAMPLE), "orderId", "args")
    assert placed["args"] == PLACE_EXAMPLE
    order_id = placed["orderId"]
    (at_tws,) = [o for o in ib.tws.orders() if o["order_ref"] == order_id]
    assert (at_tws["symbol"], Decimal(at_tws["qty"]), at_tws["action"]) == ("AAPL", 12, "BUY")
    order = ok(ht.get("/order/state", params={"orderId": order_id}), "order")["order"]
    assert list(order) == ORDER
    assert order == {
        "type": "order",
        "orderId": order_id,
        "currency": "USD",
        "qty": 12,
        "filledQty": 0,
        "avgPrice": 0,
        "errorReason": "",
        "isCanceled": False,
        "isFilled": False,
        "isCompleted": False,
        "isCancelable": True,
    }
    canceled = ok(ht.post("/order/cancel", json={"orderId": order_id}), "canceled", "order")
    assert canceled["canceled"] is True
    wait_for(
        lambda: ok(ht.get("/order/state", params={"orderId": order_id}), "order")["order"][
            "isCanceled"
        ],
        "the cancel at TWS",
        ib.server,
    )
    failed(ht.post("/order/cancel", json={"orderId": order_id}), 409, "not_cancelable")


def test_a_fill_shows_in_order_cash_and_positions(ht: httpx.Client, ib: IbServe) -> None:
    before = Decimal(str(ok(ht.get("/cash/state"), "cash")["cash"]["amount"]))
    body = {**PLACE_EXAMPLE, "ticker": "SPY", "orderType": "Market", "qty": 10}
    body.pop("price")
    order_id = ok(ht.post("/order/place", json=body), "orderId", "args")["orderId"]

    def state() -> dict[str, Any]:
        return ok(ht.get("/order/state", params={"orderId": order_id}), "order")["order"]

    wait_for(lambda: state()["isFilled"], "the fill", ib.server)
    order = state()
    assert (order["filledQty"], Decimal(str(order["avgPrice"]))) == (10, Decimal("590.01"))
    assert (order["isCompleted"], order["isCanceled"]) == (True, False)
    wait_for(
        lambda: Decimal(str(ok(ht.get("/cash/state"), "cash")["cash"]["amount"])) < before,
        "the cash to be spent",
        ib.server,
    )
    spent = before - Decimal(str(ok(ht.get("/cash/state"), "cash")["cash"]["amount"]))
    assert spent == Decimal("5900.10") + Decimal("1.00")  # the price and IB's commission
    positions = ok(ht.get("/position/state"), "positions")["positions"]
    (spy,) = [p for p in positions if p["contract"]["ticker"] == "SPY"]
    assert list(spy) == POSITION
    assert (spy["broker"], spy["brokerDisplay"], spy["unit"]) == ("ib", "盈透证券", "Share")
    assert (spy["currency"], spy["qty"]) == ("USD", 10)


def test_a_refusal_by_tws_is_422_with_its_reason(ht: httpx.Client) -> None:
    body = {**PLACE_EXAMPLE, "ticker": "MSFT", "direction": "SELL", "price": 430.0}
    refused = failed(ht.post("/order/place", json=body), 422, "order_rejected")
    assert refused["error"]["details"]["reason"] == "broker_refused"
    assert "SHORT SALES ARE NOT ALLOWED" in refused["ex"]
    order_id = refused["error"]["details"]["order_id"]
    order = ok(ht.get("/order/state", params={"orderId": order_id}), "order")["order"]
    assert (order["isCompleted"], order["isFilled"]) == (True, False)
    assert order["errorReason"] == "broker_refused"


def test_a_wrong_token_is_401(ib: IbServe) -> None:
    base = f"{ib.server.base_url}/httptrading/api/{INSTANCE}"
    with httpx.Client(base_url=base, headers={"HT-TOKEN": "not-the-token-0000"}) as client:
        failed(client.get("/position/state"), 401, "unauthorized")
