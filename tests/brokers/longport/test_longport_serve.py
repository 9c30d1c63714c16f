"""A real `tradebridge serve` with a longport account, the real `longbridge` SDK in its
engine, the fake LongPort server as a process of its own: REST, the WebSocket stream and the
httptrading dialect."""

import asyncio
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.brokers.longport.fake_support import FakeLongport
from tests.brokers.serve_support import WAIT_S, AccountApi, serving, wait_for
from tests.conftest import Server, write_config
from tests.stream.stream_support import StreamClient

ACCOUNT = "lp"
ACCOUNT_API = AccountApi(ACCOUNT, "00700.HK", "lp")
ORDERS, TRADES = ACCOUNT_API.orders, ACCOUNT_API.trades
buy, order_of, trades_of = ACCOUNT_API.buy, ACCOUNT_API.order_of, ACCOUNT_API.trades_of
connected = ACCOUNT_API.connected
INSTANCE = "LongportInstance0001"
TOKEN = "longport-instance-token-1"


def longport_config(directory: Path, fake: FakeLongport) -> Path:
    extra = f"""
[[accounts]]
id = "{ACCOUNT}"
broker = "longport"
httptrading_instance_id = "{INSTANCE}"
httptrading_tokens = ["{TOKEN}"]

[accounts.longport]
{fake.settings_toml(directory / "secrets")}
"""
    return write_config(directory, extra)


@pytest.fixture
def fake(tmp_path: Path) -> Iterator[FakeLongport]:
    running = FakeLongport(tmp_path / "longport").start()
    yield running
    running.stop()


@pytest.fixture
def served(tmp_path: Path, fake: FakeLongport) -> Iterator[Server]:
    with serving(longport_config(tmp_path, fake)) as server:
        yield server


@pytest.fixture
def api(served: Server) -> Iterator[httpx.Client]:
    with ACCOUNT_API.client(served) as client:
        yield client


def test_books_orders_fills_cancel_refusals_and_app_orders(
    served: Server, api: httpx.Client, fake: FakeLongport
) -> None:
    summary = api.get(f"/api/v1/accounts/{ACCOUNT}").json()
    balances = {b["currency"]: Decimal(str(b["cash"])) for b in summary["balances"]}
    assert balances == {"HKD": Decimal("1000000.00"), "USD": Decimal("50000.00")}
    positions = api.get(f"/api/v1/accounts/{ACCOUNT}/positions").json()
    assert [(p["symbol"], p["qty"]) for p in positions] == [("09988.HK", 500)]

    async def stream() -> None:
        token = api.headers["Authorization"].split(" ", 1)[1]
        ws = await StreamClient.open(served, token)
        try:
            await ws.subscribe(["orders", "trades"], account=ACCOUNT)
            placed = await asyncio.to_thread(buy, api, 300, "370.0")
            assert placed.status_code == 201, placed.text
            order = placed.json()
            await ws.events_until(
                lambda m: (
                    m["type"] == "order"
                    and m["data"]["id"] == order["id"]
                    and m["data"]["status"] == "new"
                ),
                within=WAIT_S,
            )
            at_broker = fake.order(order["id"])  # our id is the order's remark
            assert at_broker["status"] == "NewStatus"
            await asyncio.to_thread(fake.call, "fill", order_id=at_broker["order_id"], qty=100)
            seen = await ws.events_until(
                lambda m: (
                    m["type"] == "order"
                    and m["data"]["id"] == order["id"]
                    and m["data"]["filled_qty"] == 100
                ),
                within=WAIT_S,
            )
            assert [m["data"]["status"] for m in seen if m["type"] == "order"][-1] == (
                "partially_filled"
            )
            await asyncio.to_thread(
                fake.call, "fill", order_id=at_broker["order_id"], qty=200, price="369.5"
            )
            seen = await ws.events_until(
                lambda m: (
                    m["type"] == "order"
                    and m["data"]["id"] == order["id"]
                    and m["data"]["status"] == "filled"
                ),
                within=WAIT_S,
            )
        finally:
            await ws.close()

    asyncio.run(stream())
    (order,) = api.get(ORDERS, params={"limit": 1000}).json()
    trades = trades_of(api, order["id"])
    assert sorted((t["qty"], Decimal(str(t["price"]))) for t in trades) == [
        (100, Decimal("370.0")),
        (200, Decimal("369.5")),
    ]
    assert len(fake.state()["executions"]) == 2  # each booked once

    # cancel
    resting = buy(api, 100, "360.0").json()
    wait_for(lambda: order_of(api, resting["id"])["status"] == "new", "new", served)
    assert api.delete(f"{ORDERS}/{resting['id']}").status_code == 200
    wait_for(lambda: order_of(api, resting["id"])["status"] == "canceled", "canceled", served)
    assert fake.order(resting["id"])["status"] == "CanceledStatus"

    # a refusal only LongPort knows of, with its message
    fake.call("refuse", code=602012, message="The stock is suspended from trading")
    refused = buy(api, 100, "360.0")
    assert refused.status_code == 422, refused.text
    error = refused.json()["error"]
    assert error["code"] == "order_rejected"
    assert "The stock is suspended from trading" in error["message"]
    assert order_of(api, error["details"]["order_id"])["status"] == "rejected"

    # an order entered in LongPort's own app
    placed = fake.call("external", symbol="700.HK", qty=200, price="350.0", remark="by hand")
    external = wait_for(
        lambda: [
            o
            for o in api.get(ORDERS, params={"limit": 1000}).json()
            if o["broker_order_id"] == placed["order_id"]
        ],
        "the app's order",
        served,
    )
    assert external[0]["client_order_id"] is None
    assert (external[0]["symbol"], external[0]["qty"], external[0]["status"]) == (
        "00700.HK",
        200,
        "new",
    )


def test_a_lost_submit_answer_is_found_by_its_remark(
    served: Server, api: httpx.Client, fake: FakeLongport
) -> None:
    fake.call("lose_reply")
    placed = buy(api, 100, "370.0")
    assert placed.status_code in (201, 202), placed.text
    order_id = placed.json()["id"] if placed.status_code == 201 else placed.json()["order_id"]
    wait_for(lambda: order_of(api, order_id)["status"] == "new", "the order found", served)
    assert len([o for o in fake.state()["orders"].values() if o["remark"] == order_id]) == 1


def test_fake_restart_reconnects_and_books_what_filled_meanwhile_once(
    served: Server, api: httpx.Client, fake: FakeLongport
) -> None:
    order = buy(api, 100, "370.0").json()
    wait_for(lambda: order_of(api, order["id"])["status"] == "new", "new", served)
    broker_id = fake.order(order["id"])["order_id"]
    fake.stop()
    wait_for(lambda: not connected(api), "connected: false", served)
    refused = buy(api, 100, "370.0")
    assert refused.status_code == 503, refused.text
    assert refused.json()["error"]["code"] == "broker_unavailable"
    assert len(api.get(ORDERS, params={"limit": 1000}).json()) == 1  # nothing recorded

    fake.start(paused=True)
    fake.call("fill", order_id=broker_id, qty=100)  # while tradebridge is away
    fake.call("listen")
    wait_for(lambda: connected(api), "reconnected", served)
    wait_for(lambda: order_of(api, order["id"])["status"] == "filled", "filled", served)
    assert [t["qty"] for t in trades_of(api, order["id"])] == [100]

    sockets = fake.state()["counts"]["ws /v2/trade"]
    fake.call("drop")  # the SDK reconnects by itself; the adapter notices and reconciles
    wait_for(
        lambda: fake.state()["counts"]["ws /v2/trade"] > sockets and connected(api),
        "reconnected again",
        served,
    )
    time.sleep(1.5)
    assert "lost LongPort" in served.output()
    assert [t["qty"] for t in trades_of(api, order["id"])] == [100]
    positions = {
        p["symbol"]: p["qty"] for p in api.get(f"/api/v1/accounts/{ACCOUNT}/positions").json()
    }
    assert positions["00700.HK"] == 100


def test_the_httptrading_routes_answer_for_a_longport_account(
    served: Server, api: httpx.Client
) -> None:
    base = f"{served.base_url}/httptrading/api/{INSTANCE}"
    with httpx.Client(base_url=base, headers={"HT-TOKEN": TOKEN}, timeout=15) as ht:

        def ok(response: httpx.Response, *fields: str) -> dict[str, Any]:
            assert response.status_code == 200, response.text
            body: dict[str, Any] = response.json()
            assert (body["broker"], body["ex"]) == ("longport", None)
            for field in fields:
                assert field in body, body
            return body

        assert ok(ht.get("/ping/state"), "pong")["pong"] is True
        quote = ok(ht.get("/market/quote", params={"region": "HK", "ticker": "700"}), "quote")[
            "quote"
        ]
        assert (quote["contract"]["ticker"], quote["currency"]) == ("00700", "HKD")
        assert Decimal(str(quote["latest"])) == Decimal("380.0")
        cash = ok(ht.get("/cash/state"), "cash")["cash"]
        assert (cash["currency"], Decimal(str(cash["amount"]))) == ("HKD", Decimal("1000000.00"))
        positions = ok(ht.get("/position/state"), "positions")["positions"]
        assert [(p["contract"]["ticker"], p["qty"]) for p in positions] == [("09988", 500)]
        body = {
            "tradeType": "Securities",
            "ticker": "00700",
            "region": "HK",
            "price": 360.0,
            "qty": 100,
            "orderType": "Limit",
            "timeInForce": "DAY",
            "lifecycle": "RTH",
            "direction": "BUY",
        }
        order_id = ok(ht.post("/order/place", json=body), "orderId")["orderId"]
        wait_for(lambda: order_of(api, order_id)["status"] == "new", "new", served)
        canceled = ok(ht.post("/order/cancel", json={"orderId": order_id}), "canceled")
        assert canceled["canceled"] is True
        wait_for(
            lambda: ok(ht.get("/order/state", params={"orderId": order_id}), "order")["order"][
                "isCanceled"
            ],
            "canceled",
            served,
        )
