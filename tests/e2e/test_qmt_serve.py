"""A `qmt` account end to end: a real `tradebridge serve` whose engine imports the xtquant
stand-in (on its path only, through PYTHONPATH), trading a simulated MiniQMT that runs as its
own process, driven through REST and the WebSocket stream.

The tests of this module share one server and one MiniQMT and run in order: the last two
take MiniQMT away and kill the engine."""

import os
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from tests.brokers.qmt.qmt_support import (
    ACCOUNT,
    STANDIN,
    MiniQmtProcess,
    miniqmt,
    qmt_account_toml,
)
from tests.conftest import Server, start_server, write_config
from tests.e2e.crash_support import kill_child, log_tail, wait_replaced, wait_until
from tests.stream.stream_support import StreamClient

from tradebridge.brokers.qmt.mapping import remark_of

ORDERS = "/api/v1/accounts/qmt/orders"
Json = dict[str, Any]


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MiniQmtProcess]:
    with miniqmt(tmp_path_factory.mktemp("qmt") / "userdata") as running:
        running.call("set_cash", account=ACCOUNT, cash=1_000_000)
        running.call("set_position", account=ACCOUNT, code="601318.SH", volume=1000, avg_price=48)
        yield running


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, sim: MiniQmtProcess) -> Iterator[Server]:
    directory = tmp_path_factory.mktemp("qmt-serve")
    account = qmt_account_toml(sim.userdata, sim.data_address, request_timeout_s=1.0)
    config = write_config(directory, account)
    path = os.pathsep.join(p for p in (str(STANDIN), os.environ.get("PYTHONPATH")) if p)
    running = start_server(config, env={"PYTHONPATH": path})
    yield running
    running.stop()
    print(f"--- serve log (tail) ---\n{log_tail(running)}")


@pytest.fixture(scope="module")
def token(server: Server) -> str:
    return server.login()


@pytest.fixture
def api(server: Server, token: str) -> Iterator[httpx.Client]:
    with server.client(token) as client:
        yield client


def order_of(api: httpx.Client, order_id: str) -> Json:
    response = api.get(f"{ORDERS}/{order_id}")
    assert response.status_code == 200, response.text
    return dict(response.json())


def wait_status(api: httpx.Client, server: Server, order_id: str, status: str) -> Json:
    wait_until(lambda: order_of(api, order_id)["status"] == status, f"{order_id} {status}", server)
    return order_of(api, order_id)


def place(api: httpx.Client, **body: Any) -> httpx.Response:
    return api.post(ORDERS, json={"symbol": "600000.SH", "side": "buy", **body})


def trades_of(api: httpx.Client, order_id: str) -> list[Json]:
    return list(api.get("/api/v1/accounts/qmt/trades", params={"order_id": order_id}).json())


def trades_in(stream: StreamClient) -> int:
    return sum(1 for m in stream.received if m["type"] == "trade")


def qmt_connected(api: httpx.Client) -> bool:
    accounts = {a["id"]: a for a in api.get("/api/v1/accounts").json()}
    return bool(accounts["qmt"]["connected"])


def test_the_account_connects_with_the_brokers_books(
    api: httpx.Client, sim: MiniQmtProcess
) -> None:
    accounts = {a["id"]: a for a in api.get("/api/v1/accounts").json()}
    qmt = accounts["qmt"]
    assert (qmt["broker"], qmt["connected"]) == ("qmt", True)
    assert qmt["capabilities"]["markets"] == ["cn_stock"]
    summary = api.get("/api/v1/accounts/qmt").json()
    assert (summary["currency"], summary["available"], summary["frozen"]) == ("CNY", 1_000_000, 0)
    assert summary["market_value"] == 50_000  # 1000 601318.SH at the pre-close 50.00
    (position,) = api.get("/api/v1/accounts/qmt/positions").json()
    assert (position["symbol"], position["qty"], position["avg_cost"]) == ("601318.SH", 1000, 48)
    assert len(sim.state()["subscribed"]) == 1


@pytest.mark.anyio
async def test_a_limit_buy_fills_in_two_parts(
    api: httpx.Client, server: Server, token: str, sim: MiniQmtProcess
) -> None:
    stream = await StreamClient.open(server, token)
    try:
        await stream.subscribe(["orders", "trades"], account="qmt")
        response = place(api, qty=200, limit_price=10.00, client_order_id="qmt-two-parts")
        assert response.status_code == 201, response.text
        order_id = response.json()["id"]
        wait_status(api, server, order_id, "new")
        for _ in range(2):
            sim.call("set_quote", code="600000.SH", last=10, ask="9.99", ask_size=100)
        events = await stream.events_until(
            lambda m: m["type"] == "trade" and trades_in(stream) == 2,
            within=20,
        )
    finally:
        await stream.ws.close()
    trades = [e["data"] for e in events if e["type"] == "trade"]
    assert [(t["order_id"], t["qty"], t["price"]) for t in trades] == [(order_id, 100, 9.99)] * 2
    assert [t["client_order_id"] for t in trades] == ["qmt-two-parts"] * 2
    filled = order_of(api, order_id)
    assert (filled["filled_qty"], filled["avg_fill_price"]) == (200, 9.99)
    (placed,) = sim.order_by_remark(remark_of(order_id))
    assert filled["broker_order_id"] == str(placed["order_id"])
    assert len(trades_of(api, order_id)) == 2


def test_cancel(api: httpx.Client, server: Server) -> None:
    order_id = place(api, qty=100, limit_price=9.00).json()["id"]
    wait_status(api, server, order_id, "new")
    response = api.delete(f"{ORDERS}/{order_id}")
    assert response.status_code == 200, response.text
    assert response.json()["status"] in ("pending_cancel", "canceled")
    wait_status(api, server, order_id, "canceled")
    assert api.delete(f"{ORDERS}/{order_id}").status_code == 409


def test_a_refusal_through_on_order_error_keeps_its_message(
    api: httpx.Client, server: Server, sim: MiniQmtProcess
) -> None:
    message = "[COUNTER] [251099][该证券今日暂停交易]"
    sim.call("next_order", how="refuse", error_id=251099, error_msg=message)
    response = place(api, qty=100, limit_price=10.00)
    assert response.status_code == 201, response.text
    rejected = wait_status(api, server, response.json()["id"], "rejected")
    assert rejected["reject_reason"] == message


def test_minus_one_is_refused_after_looking_the_order_up(
    api: httpx.Client, sim: MiniQmtProcess
) -> None:
    sim.call("next_order", how="minus_one", error_msg="[COUNTER] 系统忙")
    response = place(api, qty=100, limit_price=10.00, client_order_id="qmt-minus-one")
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert (error["code"], error["details"]["reason"]) == ("order_rejected", "broker_refused")
    assert "系统忙" in error["message"]
    assert sim.order_by_remark(remark_of(error["details"]["order_id"])) == []


def test_a_lost_answer_is_found_by_remark_and_never_sent_twice(
    api: httpx.Client, server: Server, sim: MiniQmtProcess
) -> None:
    sim.call("next_order", how="drop_response")
    body = {"qty": 100, "limit_price": 9.50, "client_order_id": "qmt-lost-answer"}
    first = place(api, **body)
    assert first.status_code == 504, first.text
    order_id = first.json()["error"]["details"]["order_id"]
    wait_status(api, server, order_id, "new")  # the engine's look-up found it by remark
    again = place(api, **body)  # the careful client's retry
    assert again.status_code == 200, again.text
    assert again.json()["id"] == order_id
    (placed,) = sim.order_by_remark(remark_of(order_id))
    assert order_of(api, order_id)["broker_order_id"] == str(placed["order_id"])


@pytest.mark.anyio
async def test_an_order_placed_in_the_terminal_shows_with_no_client_order_id(
    api: httpx.Client, server: Server, token: str, sim: MiniQmtProcess
) -> None:
    stream = await StreamClient.open(server, token)
    try:
        await stream.subscribe(["orders"], account="qmt")
        broker_id = sim.call(
            "terminal_order", account=ACCOUNT, code="510300.SH", side="buy", volume=1000, price=3.9
        )
        (event,) = await stream.events_until(
            lambda m: m["data"].get("broker_order_id") == str(broker_id), within=10
        )
    finally:
        await stream.ws.close()
    order = event["data"]
    assert (order["client_order_id"], order["symbol"], order["qty"]) == (None, "510300.SH", 1000)
    assert (order["side"], order["limit_price"], order["status"]) == ("buy", 3.9, "new")
    assert order_of(api, order["id"])["client_order_id"] is None


def test_quotes_and_market_status(api: httpx.Client, sim: MiniQmtProcess) -> None:
    sim.call("set_quote", code="000001.SZ", last="11.02", bid="11.01", ask="11.03", bid_size=800)
    params = {"symbols": "000001.SZ", "account": "qmt"}
    response = api.get("/api/v1/market/quotes", params=params)
    assert response.status_code == 200, response.text
    (quote,) = response.json()
    assert (quote["last"], quote["bid"], quote["bid_size"]) == (11.02, 11.01, 800)
    response = api.get("/api/v1/market/status", params={"account": "qmt"})
    assert response.status_code == 200, response.text
    assert {v["venue"] for v in response.json()} == {"SH", "SZ", "BJ"}


@pytest.mark.anyio
async def test_quotes_stream_from_xtdata_pushes(
    server: Server, token: str, sim: MiniQmtProcess
) -> None:
    stream = await StreamClient.open(server, token)
    try:
        await stream.subscribe(["quotes:000001.SZ"], account="qmt")
        wait_until(
            lambda: "000001.SZ" in sim.state()["quote_subscriptions"], "the subscription", server
        )
        sim.call("set_quote", code="000001.SZ", last="11.05", bid="11.04", ask="11.06")
        pushed = await stream.until(
            lambda m: m["type"] == "quote" and m["data"]["last"] == 11.05, within=10
        )
    finally:
        await stream.ws.close()
    assert pushed["data"]["symbol"] == "000001.SZ"


def test_miniqmt_gone_means_broker_unavailable_until_it_reconnects_by_itself(
    api: httpx.Client, server: Server, sim: MiniQmtProcess
) -> None:
    sim.call("disconnect")
    wait_until(lambda: not qmt_connected(api), "the account to show disconnected", server)
    refused = place(api, qty=100, limit_price=9.00)
    assert refused.status_code == 503, refused.text
    assert refused.json()["error"]["code"] == "broker_unavailable"
    time.sleep(1.0)
    sim.call("accept")
    wait_until(lambda: qmt_connected(api), "the account to reconnect", server)
    order_id = place(api, qty=100, limit_price=9.00).json()["id"]
    wait_status(api, server, order_id, "new")
    assert api.delete(f"{ORDERS}/{order_id}").status_code == 200


def test_fills_while_the_engine_is_dead_are_booked_once_after_restart(
    api: httpx.Client, server: Server, sim: MiniQmtProcess
) -> None:
    order_id = place(api, qty=300, limit_price=11.00, client_order_id="qmt-killed").json()["id"]
    placed = wait_status(api, server, order_id, "new")
    broker_id = int(placed["broker_order_id"])
    sim.call("fill", order_id=broker_id, volume=100, price="10.98")
    wait_status(api, server, order_id, "partially_filled")

    killed = {kill_child(server, "engine")}
    sim.wait(lambda: sim.state()["sessions"] == [], "the killed engine's session to end")
    sim.call("accept", on=False)  # keep the new engine out until the fills are in
    sim.call("fill", order_id=broker_id, volume=150, price="10.97")
    sim.call("fill", order_id=broker_id, volume=50, price="10.96")
    sim.call("accept")
    wait_replaced(server, "engine", killed)
    filled = wait_status(api, server, order_id, "filled")
    assert filled["filled_qty"] == 300

    assert sorted(t["qty"] for t in trades_of(api, order_id)) == [50, 100, 150]
    killed.add(kill_child(server, "engine"))  # and once more: nothing is booked twice
    wait_replaced(server, "engine", killed)
    wait_until(lambda: qmt_connected(api), "the account to reconnect", server)
    assert sorted(t["qty"] for t in trades_of(api, order_id)) == [50, 100, 150]
    assert len(sim.state()["trades"]) == 5  # the two of the first test, these three
