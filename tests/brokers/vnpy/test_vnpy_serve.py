"""A `vnpy` account in a real `tradebridge serve`, its gateway (the fake one) in front of the
fake counter process: the whole order path through REST and the WebSocket, refusals,
orders placed elsewhere, a dropped front, the engine killed (-9) between a fill and its
report and while the gateway sends, and the vnpy WebTrader dialect in front of the account."""

import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.brokers.vnpy.counter_support import FAKE_GATEWAY, REPO, Counter, setting_file
from tests.compat.vnpy_support import ORDER_FIELDS, POSITION_FIELDS, TRADE_FIELDS, trader_login
from tests.conftest import Server, start_server, write_config
from tests.e2e.crash_support import kill_child, log_tail, wait_replaced
from tests.stream.stream_support import StreamClient, cid

ACCOUNT = "fut"
ORDERS = f"/api/v1/accounts/{ACCOUNT}/orders"
COPPER = "cu2601.SHFE"
WAIT_S = 30.0


def vnpy_account(directory: Path, counter: Counter, **setting: Any) -> str:
    path = setting_file(directory, counter, **setting)
    return f"""
[[accounts]]
id = "{ACCOUNT}"
broker = "vnpy"

[accounts.vnpy]
gateway = "{FAKE_GATEWAY}"
gateway_name = "FAKE"
setting_file = "{path}"
settle_s = 0.5
cancel_timeout_s = 2
"""


@contextmanager
def vnpy_serve(
    directory: Path, counter: Counter, extra: str = "", **setting: Any
) -> Iterator[Server]:
    config = write_config(directory, vnpy_account(directory, counter, **setting) + extra)
    server = start_server(config, env={"PYTHONPATH": str(REPO)})
    try:
        wait_for(server, lambda api: account_info(api)["connected"], "the account to connect")
        yield server
    finally:
        server.stop()
        print(f"--- serve log (tail) ---\n{log_tail(server)}")


def account_info(api: httpx.Client) -> dict[str, Any]:
    accounts = api.get("/api/v1/accounts").json()
    return next(a for a in accounts if a["id"] == ACCOUNT)


def wait_for(server: Server, condition: Any, what: str) -> Any:
    """Poll `condition(api)` (as admin) until it is truthy; its value."""
    deadline = time.monotonic() + WAIT_S
    with server.client(server.login()) as api:
        while time.monotonic() < deadline:
            try:
                found = condition(api)
            except (httpx.HTTPError, KeyError, StopIteration, IndexError):
                found = None
            if found:
                return found
            time.sleep(0.1)
    pytest.fail(f"gave up waiting for {what}\n{log_tail(server)}")


def order_of(api: httpx.Client, order_id: str) -> dict[str, Any]:
    response = api.get(f"{ORDERS}/{order_id}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def status_is(order_id: str, status: str) -> Any:
    return lambda api: order_of(api, order_id)["status"] == status


def place(api: httpx.Client, **fields: Any) -> dict[str, Any]:
    body = {
        "symbol": COPPER,
        "side": "buy",
        "qty": 1,
        "limit_price": "86000",
        "offset": "open",
        "client_order_id": cid(),
    } | fields
    response = api.post(ORDERS, json=body)
    assert response.status_code == 201, response.text
    order: dict[str, Any] = response.json()
    return order


def trades_of(api: httpx.Client, order_id: str) -> list[dict[str, Any]]:
    trades: list[dict[str, Any]] = api.get(
        f"/api/v1/accounts/{ACCOUNT}/trades", params={"order_id": order_id}
    ).json()
    return trades


@pytest.mark.anyio
async def test_orders_through_rest_and_the_websocket(tmp_path: Path, counter: Counter) -> None:
    with vnpy_serve(tmp_path, counter) as server:
        token = server.login()
        stream = await StreamClient.open(server, token)
        await stream.subscribe(["orders", "trades", "positions", "account"], account=ACCOUNT)
        with server.client(token) as api:
            info = account_info(api)
            assert (info["broker"], info["connected"]) == ("vnpy", True)
            order = place(api, qty=3)
            assert order["status"] in ("pending_new", "new")
            wait_for(server, status_is(order["id"], "new"), "the gateway's acknowledgment")
            counter.quote("cu2601", bid="85990", ask="86000", size=1)
            wait_for(server, status_is(order["id"], "partially_filled"), "a partial fill")
            counter.quote("cu2601", bid="85990", ask="85990", size=10)
            seen: list[dict[str, Any]] = []

            def second_trade(message: dict[str, Any]) -> bool:
                seen.append(message)
                return sum(m["type"] == "trade" for m in seen) == 2

            events = await stream.events_until(second_trade, within=20)
            statuses = [m["data"]["status"] for m in events if m["type"] == "order"]
            assert statuses[-3:] == ["new", "partially_filled", "filled"]
            trades = [m["data"] for m in events if m["type"] == "trade"]
            assert [(t["qty"], Decimal(str(t["price"]))) for t in trades] == [
                (1, Decimal(86000)),
                (2, Decimal(85990)),
            ]
            assert {t["order_id"] for t in trades} == {order["id"]}
            filled = order_of(api, order["id"])
            assert filled["filled_qty"] == 3
            # the engine writes an average two decimals finer than the tick (here 1)
            assert Decimal(str(filled["avg_fill_price"])) == Decimal("85993.33")
            assert filled["broker_order_id"].startswith("FAKE.1_")

            positions = wait_for(
                server,
                lambda a: [
                    p
                    for p in a.get(f"/api/v1/accounts/{ACCOUNT}/positions").json()
                    if p["qty"] == 3
                ],
                "the position of 3",
            )
            assert [(p["symbol"], p["direction"], p["qty"]) for p in positions] == [
                (COPPER, "long", 3)
            ]
            summary = api.get(f"/api/v1/accounts/{ACCOUNT}").json()
            assert Decimal(str(summary["cash"])) == Decimal(10_000_000)

            resting = place(api, limit_price="85000")
            wait_for(server, status_is(resting["id"], "new"), "the resting order")
            assert api.delete(f"{ORDERS}/{resting['id']}").status_code == 200
            wait_for(server, status_is(resting["id"], "canceled"), "the cancel")

            too_many = place(api, side="sell", qty=10, offset="close_today")
            wait_for(server, status_is(too_many["id"], "rejected"), "the counter's refusal")
            assert "平仓量超过持仓量" in order_of(api, too_many["id"])["reject_reason"]

            counter.call(
                "ctl.external",
                symbol="rb2601",
                exchange="SHFE",
                direction="LONG",
                offset="OPEN",
                type="LIMIT",
                price="3500",
                volume=4,
            )
            external = wait_for(
                server,
                lambda a: [o for o in a.get(ORDERS).json() if o["client_order_id"] is None],
                "the order placed elsewhere",
            )
            assert [(o["symbol"], o["qty"], o["status"]) for o in external] == [
                ("rb2601.SHFE", 4, "new")
            ]
        await stream.close()
        assert len(counter.orders()) == 3  # ours once each (the refused one is not kept), the app's


def test_a_dropped_front_answers_503_then_reconnects(tmp_path: Path, counter: Counter) -> None:
    with vnpy_serve(tmp_path, counter) as server, server.client(server.login()) as api:
        order = place(api)
        counter.quote("cu2601", bid="85990", ask="86000")
        wait_for(server, status_is(order["id"], "filled"), "the fill")
        counter.call("ctl.drop", refuse_s=2.0)
        wait_for(server, lambda a: not account_info(a)["connected"], "the drop to be noticed")
        refused = api.post(
            ORDERS,
            json={
                "symbol": COPPER,
                "side": "buy",
                "qty": 1,
                "limit_price": "86000",
                "offset": "open",
            },
        )
        assert refused.status_code == 503, refused.text
        assert refused.json()["error"]["code"] == "broker_unavailable"
        wait_for(server, lambda a: account_info(a)["connected"], "the login after the drop")
        assert len(trades_of(api, order["id"])) == 1  # replayed at login, booked once
        assert len(counter.orders()) == 1


def test_engine_killed_between_a_fill_and_its_report(tmp_path: Path, counter: Counter) -> None:
    with vnpy_serve(tmp_path, counter) as server:
        with server.client(server.login()) as api:
            order = place(api, qty=2)
            wait_for(server, status_is(order["id"], "new"), "the acknowledgment")
            counter.call("ctl.hold", on=True)  # the counter fills it but says nothing yet
            counter.quote("cu2601", bid="85990", ask="86000")
            assert len(counter.trades()) == 1
        killed = {kill_child(server, "engine")}
        counter.call("ctl.hold", on=False)  # told to no one: the engine is dead
        wait_replaced(server, "engine", killed)
        wait_for(server, status_is(order["id"], "filled"), "the fill replayed at login")
        with server.client(server.login()) as api:
            (trade,) = trades_of(api, order["id"])
            assert (trade["qty"], Decimal(str(trade["price"]))) == (2, Decimal(86000))
        killed.add(kill_child(server, "engine"))  # the fill booked this time
        wait_replaced(server, "engine", killed)
        wait_for(server, lambda a: account_info(a)["connected"], "the login")
        with server.client(server.login()) as api:
            assert len(trades_of(api, order["id"])) == 1
            assert order_of(api, order["id"])["status"] == "filled"
        assert len(counter.orders()) == 1


def test_engine_killed_while_the_gateway_sends(tmp_path: Path, counter: Counter) -> None:
    """The gateway's `send_order` blocks after the order went out (下单延迟): killed then,
    the journal has the order but not the gateway's id; the order the gateway replays at the
    next login is adopted, not sent a second time."""
    with vnpy_serve(tmp_path, counter, **{"下单延迟": 5.0}) as server:
        token = server.login()
        client_order_id = cid()
        body = {
            "symbol": COPPER,
            "side": "buy",
            "qty": 2,
            "limit_price": "86000",
            "offset": "open",
            "client_order_id": client_order_id,
        }

        def post() -> None:
            with server.client(token) as api, pytest.raises(httpx.HTTPError):
                api.post(ORDERS, json=body).raise_for_status()

        posting = threading.Thread(target=post)
        posting.start()
        deadline = time.monotonic() + WAIT_S
        while not counter.orders():
            assert time.monotonic() < deadline, log_tail(server)
            time.sleep(0.05)
        killed = {kill_child(server, "engine")}
        posting.join(WAIT_S)
        wait_replaced(server, "engine", killed)
        with server.client(token) as api:
            listed = wait_for(
                server,
                lambda a: [o for o in a.get(ORDERS).json() if o["status"] == "new"],
                "the replayed order to be adopted",
            )
            assert [(o["client_order_id"], o["qty"]) for o in listed] == [(client_order_id, 2)]
            assert listed[0]["broker_order_id"] == f"FAKE.{counter.orders()[0]['key']}"
            counter.quote("cu2601", bid="85990", ask="86000")
            wait_for(server, status_is(listed[0]["id"], "filled"), "the fill")
            assert len(trades_of(api, listed[0]["id"])) == 1
        assert len(counter.orders()) == 1  # never sent twice


def test_the_webtrader_dialect_in_front_of_a_vnpy_account(tmp_path: Path, counter: Counter) -> None:
    dialect = f'\n[compat.vnpy]\nenabled = true\naccount = "{ACCOUNT}"\n'
    with vnpy_serve(tmp_path, counter, extra=dialect) as server:
        trader = trader_login(server)
        order_req = {
            "symbol": "cu2601",
            "exchange": "SHFE",
            "direction": "多",
            "type": "限价",
            "volume": 1,
            "price": 86010.0,
            "offset": "开",
            "reference": "WebTrader",
        }
        counter.quote("cu2601", bid="86000", ask="86010")
        with trader.connect_ws() as pushes:
            vt_orderid = trader.send_order(order_req)
            assert re.fullmatch(r"VNPY\.[0-9A-Z]{26}", vt_orderid)
            orderid = vt_orderid.split(".", 1)[1]
            filled = pushes.until("order", lambda d: d["orderid"] == orderid and d["traded"] == 1)
            assert set(filled) == ORDER_FIELDS
            assert (filled["status"], filled["direction"], filled["offset"]) == (
                "全部成交",
                "多",
                "开",
            )
            trade = pushes.until("trade", lambda d: d["orderid"] == orderid)
            assert set(trade) == TRADE_FIELDS
            assert (trade["price"], trade["volume"]) == (86010.0, 1)
            position = pushes.until("position", lambda d: d["volume"] == 1)
            assert set(position) == POSITION_FIELDS
            assert position["vt_positionid"] == "VNPY.cu2601.SHFE.多"

            close = {**order_req, "direction": "空", "price": 86000.0, "offset": "平今"}
            closing = trader.send_order(close).split(".", 1)[1]
            closed = pushes.until("trade", lambda d: d["orderid"] == closing)
            assert (closed["direction"], closed["offset"]) == ("空", "平今")

            resting = trader.send_order({**order_req, "price": 85000.0})
            resting_id = resting.split(".", 1)[1]
            pushes.until("order", lambda d: d["orderid"] == resting_id and d["status"] == "未成交")
            assert trader.cancel(resting) is None
            pushes.until("order", lambda d: d["orderid"] == resting_id and d["status"] == "已撤销")
        orders = {o["vt_orderid"]: o for o in trader.get("/order")}
        assert orders[vt_orderid]["status"] == "全部成交"
        assert orders[resting]["status"] == "已撤销"
        assert len(trader.get("/account")) == 1
        assert "cu2601.SHFE" in {c["vt_symbol"] for c in trader.get("/contract")}
        offsets = [o["offset"] for o in counter.orders()]
        assert offsets == ["OPEN", "CLOSETODAY", "OPEN"]  # SHFE: close today as asked
