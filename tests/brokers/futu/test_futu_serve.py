"""A real `tradebridge serve` with a futu account, the real futu-api in its engine, the fake
OpenD as a process of its own: REST, the WebSocket stream and the httptrading dialect."""

import asyncio
import os
import signal
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.brokers.futu.fake_support import HK_SIM, FakeOpenD
from tests.brokers.serve_support import WAIT_S, AccountApi, serving, wait_for
from tests.conftest import Server, start_server, write_config
from tests.e2e.crash_support import kill_child, serve_children, wait_replaced
from tests.e2e.lifecycle_support import start_alone
from tests.stream.stream_support import StreamClient

ACCOUNT = "futu"
ACCOUNT_API = AccountApi(ACCOUNT, "00700.HK", "f")
ORDERS, TRADES = ACCOUNT_API.orders, ACCOUNT_API.trades
buy, order_of, trades_of = ACCOUNT_API.buy, ACCOUNT_API.order_of, ACCOUNT_API.trades_of
connected = ACCOUNT_API.connected
INSTANCE = "FutuInstance00000001"
TOKEN = "futu-instance-token-01"


def futu_config(directory: Path, fake: FakeOpenD) -> Path:
    extra = f"""
[[accounts]]
id = "{ACCOUNT}"
broker = "futu"
httptrading_instance_id = "{INSTANCE}"
httptrading_tokens = ["{TOKEN}"]

[accounts.futu]
host = "127.0.0.1"
port = {fake.port}
trd_env = "simulate"
trd_market = "HK"
"""
    return write_config(directory, extra)


@pytest.fixture
def fake(tmp_path: Path) -> Iterator[FakeOpenD]:
    running = FakeOpenD(tmp_path / "opend").start()
    yield running
    running.stop()


@pytest.fixture
def served(tmp_path: Path, fake: FakeOpenD) -> Iterator[Server]:
    with serving(futu_config(tmp_path, fake)) as server:
        yield server


@pytest.fixture
def api(served: Server) -> Iterator[httpx.Client]:
    with ACCOUNT_API.client(served) as client:
        yield client


def fake_order(fake: FakeOpenD, remark: str) -> dict[str, Any]:
    return next(o for o in fake.state()["orders"].values() if o["remark"] == remark)


def filled_with_fees(
    client: httpx.Client, order_id: str, count: int
) -> list[dict[str, Any]] | None:
    trades = trades_of(client, order_id)
    done = order_of(client, order_id)["status"] == "filled"
    if done and len(trades) == count and all(t["fee"] is not None for t in trades):
        return trades
    return None


def test_books_orders_fills_fees_cancel_and_refusals(
    served: Server, api: httpx.Client, fake: FakeOpenD
) -> None:
    held = fake.state()["accounts"][str(HK_SIM)]
    summary = api.get(f"/api/v1/accounts/{ACCOUNT}").json(parse_float=Decimal)
    balances = {b["currency"]: b for b in summary["balances"]}
    assert Decimal(str(balances["HKD"]["cash"])) == Decimal(held["cash"]["HKD"])
    assert Decimal(str(balances["USD"]["cash"])) == Decimal(held["cash"]["USD"])
    positions = api.get(f"/api/v1/accounts/{ACCOUNT}/positions").json()
    assert [(p["symbol"], p["qty"]) for p in positions] == [("09988.HK", 500)]

    async def stream() -> None:
        token = api.headers["Authorization"].split(" ", 1)[1]
        ws = await StreamClient.open(served, token)
        try:
            await ws.subscribe(["orders", "trades"], account=ACCOUNT)
            placed = await asyncio.to_thread(buy, api, 200, "370.0")
            assert placed.status_code == 201, placed.text
            order = placed.json()
            assert order["status"] in ("pending_new", "new")
            assert fake_order(fake, order["id"])["status"] == 5  # resting: submitted
            await asyncio.to_thread(fake.price, "HK.00700", "369.8", 100)
            await asyncio.to_thread(fake.price, "HK.00700", "369.8", 100)
            seen = await ws.events_until(
                lambda m: (
                    m["type"] == "order"
                    and m["data"]["id"] == order["id"]
                    and m["data"]["status"] == "filled"
                ),
                within=WAIT_S,
            )
            trades = [m["data"] for m in seen if m["type"] == "trade"]
            assert trades
            assert {(t["qty"], Decimal(str(t["price"]))) for t in trades} == {
                (100, Decimal("370.0"))
            }
            await ws.events_until(  # the trade again, now with the fee Futu charged
                lambda m: (
                    m["type"] == "trade"
                    and m["data"]["order_id"] == order["id"]
                    and m["data"]["fee"] is not None
                ),
                within=WAIT_S,
            )
        finally:
            await ws.close()

    asyncio.run(stream())
    (order,) = [o for o in api.get(ORDERS, params={"limit": 1000}).json() if o["qty"] == 200]
    trades = wait_for(lambda: filled_with_fees(api, order["id"], 2), "fees on both trades", served)
    charged = Decimal(fake_order(fake, order["id"])["fee"])
    assert sum(Decimal(str(t["fee"])) for t in trades) == charged > 0
    summary = api.get(f"/api/v1/accounts/{ACCOUNT}").json()
    cash = {b["currency"]: Decimal(str(b["cash"])) for b in summary["balances"]}
    assert cash["HKD"] == Decimal(fake.state()["accounts"][str(HK_SIM)]["cash"]["HKD"])
    assert cash["HKD"] == Decimal("1000000.00") - Decimal("74000.0") - charged

    # cancel
    resting = buy(api, 100, "360.0").json()
    wait_for(lambda: order_of(api, resting["id"])["status"] == "new", "new", served)
    assert api.delete(f"{ORDERS}/{resting['id']}").status_code == 200
    wait_for(lambda: order_of(api, resting["id"])["status"] == "canceled", "canceled", served)
    assert fake_order(fake, resting["id"])["status"] == 15  # cancelled at Futu

    # a refusal only Futu knows of, with its message
    fake.call("fault", refuse="Trading of this stock is suspended")
    refused = buy(api, 100, "360.0")
    assert refused.status_code == 422, refused.text
    error = refused.json()["error"]
    assert error["code"] == "order_rejected"
    assert "Trading of this stock is suspended" in error["message"]
    assert order_of(api, error["details"]["order_id"])["status"] == "rejected"

    # an order entered in the Futu app
    placed = fake.call("external", acc=HK_SIM, code="HK.00700", side="buy", qty=100, price="350.0")
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
        100,
        "new",
    )


def test_opend_restart_reconnects_and_books_what_filled_meanwhile_once(
    served: Server, api: httpx.Client, fake: FakeOpenD
) -> None:
    order = buy(api, 100, "370.0").json()
    wait_for(lambda: order_of(api, order["id"])["status"] == "new", "new", served)
    fake.kill()
    wait_for(lambda: not connected(api), "connected: false", served)
    refused = buy(api, 100, "370.0")
    assert refused.status_code == 503, refused.text
    assert refused.json()["error"]["code"] == "broker_unavailable"
    assert len(api.get(ORDERS, params={"limit": 1000}).json()) == 1  # nothing recorded

    fake.start(paused=True)
    fake.price("HK.00700", "369.8")  # fills the resting order while tradebridge is away
    fake.call("listen")
    wait_for(lambda: connected(api), "reconnected", served)
    trades = wait_for(lambda: filled_with_fees(api, order["id"], 1), "the fill booked", served)
    assert [t["qty"] for t in trades] == [100]

    handshakes = fake.state()["requests"]["1001"]
    fake.call("drop")  # another reconnect: the same fill is not booked again
    wait_for(
        lambda: fake.state()["requests"]["1001"] >= handshakes + 2 and connected(api),
        "reconnected again",
        served,
    )
    time.sleep(1.0)
    assert [t["qty"] for t in trades_of(api, order["id"])] == [100]
    positions = {
        p["symbol"]: p["qty"] for p in api.get(f"/api/v1/accounts/{ACCOUNT}/positions").json()
    }
    assert positions["00700.HK"] == 100


def test_engine_killed_mid_fill_is_reconciled_after_restart(
    served: Server, api: httpx.Client, fake: FakeOpenD
) -> None:
    order = buy(api, 300, "370.0").json()
    wait_for(lambda: order_of(api, order["id"])["status"] == "new", "new", served)
    fake.price("HK.00700", "369.8", size=100)
    wait_for(lambda: order_of(api, order["id"])["filled_qty"] == 100, "the first fill", served)
    killed = kill_child(served, "engine")
    fake.price("HK.00700", "369.8", size=100)  # while the engine is dead
    fake.price("HK.00700", "369.8", size=100)
    wait_replaced(served, "engine", {killed})
    trades = wait_for(
        lambda: filled_with_fees(api, order["id"], 3), "all fills after restart", served
    )
    assert sorted(t["qty"] for t in trades) == [100, 100, 100]
    assert sum(Decimal(str(t["fee"])) for t in trades) == Decimal(
        fake_order(fake, order["id"])["fee"]
    )
    assert order_of(api, order["id"])["filled_qty"] == 300
    assert "engine" in serve_children(served)


def test_the_httptrading_routes_answer_for_a_futu_account(
    served: Server, api: httpx.Client
) -> None:
    base = f"{served.base_url}/httptrading/api/{INSTANCE}"
    with httpx.Client(base_url=base, headers={"HT-TOKEN": TOKEN}, timeout=15) as ht:

        def ok(response: httpx.Response, *fields: str) -> dict[str, Any]:
            assert response.status_code == 200, response.text
            body: dict[str, Any] = response.json()
            assert list(body) == [
                "type",
                "instanceId",
                "broker",
                "brokerDisplay",
                "time",
                "ex",
                *fields,
            ]
            assert (body["broker"], body["ex"]) == ("futu", None)
            return body

        assert ok(ht.get("/ping/state"), "pong")["pong"] is True
        quote = ok(ht.get("/market/quote", params={"region": "HK", "ticker": "700"}), "quote")[
            "quote"
        ]
        assert (quote["contract"]["ticker"], quote["currency"], quote["isTradable"]) == (
            "00700",
            "HKD",
            True,
        )
        assert Decimal(str(quote["latest"])) == Decimal("380.0")
        states = ok(ht.get("/market/state"), "marketStatus")["marketStatus"]["securities"]
        assert (states["HK"]["originStatus"], states["HK"]["unifiedStatus"]) == ("MORNING", "RTH")
        assert (states["CN"]["originStatus"], states["CN"]["unifiedStatus"]) == ("CLOSED", "CLOSED")
        cash = ok(ht.get("/cash/state"), "cash")["cash"]
        assert (cash["currency"], Decimal(str(cash["amount"]))) == ("HKD", Decimal("1780000.0"))
        usd = ok(ht.get("/cash/state", params={"currency": "USD"}), "cash")["cash"]
        assert Decimal(str(usd["amount"])) == Decimal("100000.0")
        positions = ok(ht.get("/position/state"), "positions")["positions"]
        assert [(p["contract"]["ticker"], p["qty"], p["broker"]) for p in positions] == [
            ("09988", 500, "futu")
        ]
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
        order_id = ok(ht.post("/order/place", json=body), "orderId", "args")["orderId"]
        state = ok(ht.get("/order/state", params={"orderId": order_id}), "order")["order"]
        assert (state["qty"], state["currency"], state["isCompleted"]) == (100, "HKD", False)
        wait_for(lambda: order_of(api, order_id)["status"] == "new", "new", served)
        canceled = ok(ht.post("/order/cancel", json={"orderId": order_id}), "canceled", "order")
        assert canceled["canceled"] is True
        wait_for(
            lambda: ok(ht.get("/order/state", params={"orderId": order_id}), "order")["order"][
                "isCanceled"
            ],
            "canceled",
            served,
        )


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT])
def test_serve_with_a_futu_account_stops_cleanly(
    tmp_path: Path, fake: FakeOpenD, stop: signal.Signals
) -> None:
    server = start_server(futu_config(tmp_path, fake))
    with server.client(server.login()) as client:
        wait_for(lambda: connected(client), "connected", server)
    server.process.send_signal(stop)
    assert server.process.wait(WAIT_S) == 0, server.output()
    assert "engine stopping" in server.output()


def test_the_engine_alone_stops_cleanly_on_sigint_despite_the_sdk(
    tmp_path: Path, fake: FakeOpenD
) -> None:
    """`import futu` would make Ctrl-C end the process at once, without its shutdown."""
    config = futu_config(tmp_path, fake)
    engine = start_alone("engine", config)
    try:
        deadline = time.monotonic() + WAIT_S
        while "account futu: broker connected" not in engine.output():
            assert time.monotonic() < deadline, engine.output()
            assert engine.process.poll() is None, engine.output()
            time.sleep(0.1)
        os.kill(engine.process.pid, signal.SIGINT)
        assert engine.process.wait(WAIT_S) == 0, engine.output()
    finally:
        engine.terminate()
    output = engine.output()
    assert "engine stopping" in output
    assert fake.state()["connections"] == 0
