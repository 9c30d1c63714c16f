"""A real `tradebridge serve` with a tiger account, the real tigeropen in its engine, the fake
Tiger OpenAPI as a process of its own: REST, the WebSocket stream, the httptrading dialect,
and an audit of every address the processes of serve connected to or looked up."""

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.brokers.serve_support import WAIT_S, AccountApi, serving, wait_for
from tests.brokers.tiger.fake_support import ACCOUNT as TIGER_ACCOUNT
from tests.brokers.tiger.fake_support import TIGER_ID, FakeTiger
from tests.conftest import Server, write_config
from tests.e2e.crash_support import kill_child, wait_replaced
from tests.stream.stream_support import StreamClient

ACCOUNT = "tiger"
ACCOUNT_API = AccountApi(ACCOUNT, "AAPL.US", "t")
ORDERS, TRADES = ACCOUNT_API.orders, ACCOUNT_API.trades
buy, order_of, trades_of = ACCOUNT_API.buy, ACCOUNT_API.order_of, ACCOUNT_API.trades_of
connected = ACCOUNT_API.connected
INSTANCE = "TigerInstance0000001"
TOKEN = "tiger-instance-token-1"
AUDIT = Path(__file__).parent / "audit"
LOOPBACK = ("127.0.0.1", "::1", "localhost")


def tiger_config(directory: Path, fake: FakeTiger) -> Path:
    extra = f"""
[[accounts]]
id = "{ACCOUNT}"
broker = "tiger"
base_currency = "USD"
httptrading_instance_id = "{INSTANCE}"
httptrading_tokens = ["{TOKEN}"]

[accounts.tiger]
tiger_id = "{TIGER_ID}"
account = "{TIGER_ACCOUNT}"
private_key_file = "{fake.private_key}"
server_url = "{fake.server_url}"
socket_host_port = "{fake.socket_host_port}"
request_timeout_s = 5
"""
    return write_config(directory, extra)


def audited(audit_file: Path) -> dict[str, str]:
    """The environment that makes every Python process record its socket addresses."""
    path = os.pathsep.join(p for p in (str(AUDIT), os.environ.get("PYTHONPATH", "")) if p)
    return {"PYTHONPATH": path, "TIGER_AUDIT_FILE": str(audit_file)}


def foreign_addresses(audit_file: Path) -> list[str]:
    """Every audited address that is neither loopback nor a local (Unix) socket."""
    foreign: set[str] = set()
    for line in audit_file.read_text().splitlines():
        address = json.loads(line)["address"]
        if address.startswith(("'/", '"/', "b'")) or address in ("''", "None"):
            continue  # a Unix socket path
        local = address.startswith(("(None,", "('',"))
        if not local and not any(f"'{host}'" in address for host in LOOPBACK):
            foreign.add(address)
    return sorted(foreign)


@pytest.fixture
def fake(tmp_path: Path) -> Iterator[FakeTiger]:
    running = FakeTiger(tmp_path / "tiger").start()
    yield running
    running.stop()


@pytest.fixture
def audit_file(tmp_path: Path) -> Path:
    return tmp_path / "sockets.jsonl"


@pytest.fixture
def served(tmp_path: Path, fake: FakeTiger, audit_file: Path) -> Iterator[Server]:
    with serving(tiger_config(tmp_path, fake), env=audited(audit_file)) as server:
        yield server


@pytest.fixture
def api(served: Server) -> Iterator[httpx.Client]:
    with ACCOUNT_API.client(served) as client:
        yield client


def test_books_a_resting_order_filled_in_parts_cancel_and_refusal(
    served: Server, api: httpx.Client, fake: FakeTiger
) -> None:
    summary = api.get(f"/api/v1/accounts/{ACCOUNT}").json()
    cash = {b["currency"]: Decimal(str(b["cash"])) for b in summary["balances"]}
    assert cash == {"HKD": Decimal("50000.00"), "USD": Decimal("100000.00")}
    positions = api.get(f"/api/v1/accounts/{ACCOUNT}/positions").json()
    assert [(p["symbol"], p["qty"]) for p in positions] == [("AAPL.US", 100)]

    async def stream() -> None:
        token = api.headers["Authorization"].split(" ", 1)[1]
        ws = await StreamClient.open(served, token)
        try:
            await ws.subscribe(["orders", "trades"], account=ACCOUNT)
            placed = await asyncio.to_thread(buy, api, 10, "189.50")
            assert placed.status_code == 201, placed.text
            order = placed.json()
            held = await asyncio.to_thread(fake.order, order["id"])
            assert (held["userMark"], held["status"]) == (order["id"], "Submitted")
            await ws.events_until(
                lambda m: m["type"] == "order" and m["data"]["status"] == "new", within=WAIT_S
            )
            await asyncio.to_thread(fake.call, "fill", user_mark=order["id"], qty=4)
            await ws.events_until(
                lambda m: m["type"] == "order" and m["data"]["status"] == "partially_filled",
                within=WAIT_S,
            )
            await asyncio.to_thread(fake.call, "fill", user_mark=order["id"], commission=3.0)
            await ws.events_until(
                lambda m: m["type"] == "order" and m["data"]["status"] == "filled", within=WAIT_S
            )
            await ws.events_until(
                lambda m: m["type"] == "trade" and m["data"]["qty"] == 6, within=WAIT_S
            )
            trades = {
                m["data"]["id"]: m["data"]["qty"] for m in ws.received if m["type"] == "trade"
            }
            assert sorted(trades.values()) == [4, 6]
            await ws.events_until(
                lambda m: m["type"] == "trade" and m["data"]["fee"] is not None, within=WAIT_S
            )
        finally:
            await ws.close()

    asyncio.run(stream())
    (order,) = [o for o in api.get(ORDERS, params={"limit": 1000}).json() if o["qty"] == 10]
    trades = wait_for(
        lambda: (t := trades_of(api, order["id"])) and all(t_["fee"] is not None for t_ in t) and t,
        "fees on both trades",
        served,
    )
    assert sum(Decimal(str(t["fee"])) for t in trades) == Decimal("3.00")
    positions = {
        p["symbol"]: p["qty"] for p in api.get(f"/api/v1/accounts/{ACCOUNT}/positions").json()
    }
    assert positions["AAPL.US"] == 110

    resting = buy(api, 100, "300.0", symbol="00700.HK").json()
    wait_for(lambda: order_of(api, resting["id"])["status"] == "new", "new", served)
    assert api.delete(f"{ORDERS}/{resting['id']}").status_code == 200
    wait_for(lambda: order_of(api, resting["id"])["status"] == "canceled", "canceled", served)
    assert fake.order(resting["id"])["status"] == "Cancelled"

    fake.call("refuse_next", code=1200, message="Order quantity exceeds the buying power")
    refused = buy(api, 100_000, "190.0")
    assert refused.status_code == 422, refused.text
    error = refused.json()["error"]
    assert error["code"] == "order_rejected"
    assert "Order quantity exceeds the buying power" in error["message"]
    assert order_of(api, error["details"]["order_id"])["status"] == "rejected"

    placed = fake.call("external", symbol="AAPL", action="BUY", qty=7, price=180.0)["order"]
    external = wait_for(
        lambda: [
            o
            for o in api.get(ORDERS, params={"limit": 1000}).json()
            if o["broker_order_id"] == str(placed["id"])
        ],
        "the app's order",
        served,
    )
    assert external[0]["client_order_id"] is None
    assert (external[0]["symbol"], external[0]["qty"]) == ("AAPL.US", 7)


def test_tiger_restart_reconnects_and_books_what_filled_meanwhile_once(
    served: Server, api: httpx.Client, fake: FakeTiger
) -> None:
    order = buy(api, 5, "189.0").json()
    wait_for(lambda: order_of(api, order["id"])["status"] == "new", "new", served)
    fake.kill()
    wait_for(lambda: not connected(api), "connected: false", served)
    refused = buy(api, 5, "189.0")
    assert refused.status_code == 503, refused.text
    assert refused.json()["error"]["code"] == "broker_unavailable"
    assert len(api.get(ORDERS, params={"limit": 1000}).json()) == 1  # nothing recorded

    fake.start()
    fake.call("fill", user_mark=order["id"], silent=True)  # filled while tradebridge was away
    wait_for(lambda: connected(api), "reconnected", served)
    wait_for(lambda: order_of(api, order["id"])["status"] == "filled", "the fill booked", served)
    fake.call("drop_push")  # another reconnect: the same fill is not booked again
    wait_for(lambda: fake.state()["seen"]["methods"]["prime_assets"] >= 4, "again", served)
    wait_for(lambda: connected(api), "reconnected again", served)
    time.sleep(1.0)
    assert [t["qty"] for t in trades_of(api, order["id"])] == [5]


def test_engine_killed_while_a_fill_arrives_books_it_once_after_restart(
    served: Server, api: httpx.Client, fake: FakeTiger
) -> None:
    order = buy(api, 10, "189.5").json()
    wait_for(lambda: order_of(api, order["id"])["status"] == "new", "new", served)
    fake.call("fill", user_mark=order["id"], qty=4)
    wait_for(lambda: order_of(api, order["id"])["filled_qty"] == 4, "the first fill", served)
    killed = kill_child(served, "engine")  # kill -9: nothing is flushed, nothing closed
    fake.call("fill", user_mark=order["id"], qty=6, commission=2.5)  # pushed to no one
    wait_replaced(served, "engine", {killed})
    wait_for(lambda: connected(api), "the tiger account connected again", served)
    wait_for(lambda: order_of(api, order["id"])["status"] == "filled", "filled", served)
    trades = wait_for(
        lambda: (t := trades_of(api, order["id"])) and all(x["fee"] is not None for x in t) and t,
        "the fees of both trades",
        served,
    )
    assert sorted((t["qty"], Decimal(str(t["fee"]))) for t in trades) == [
        (4, Decimal("1.00")),
        (6, Decimal("1.50")),
    ]
    assert len(fake.state()["executions"]) == 2
    assert fake.state()["seen"]["methods"]["place_order"] == 1  # the restart sent nothing again
    assert order_of(api, order["id"])["filled_qty"] == 10


def test_the_httptrading_routes_answer_for_a_tiger_account(
    served: Server, api: httpx.Client
) -> None:
    base = f"{served.base_url}/httptrading/api/{INSTANCE}"
    with httpx.Client(base_url=base, headers={"HT-TOKEN": TOKEN}, timeout=15) as ht:

        def ok(response: httpx.Response, field: str) -> Any:
            assert response.status_code == 200, response.text
            body: dict[str, Any] = response.json()
            assert (body["broker"], body["instanceId"]) == ("tiger", INSTANCE)
            return body[field]

        assert ok(ht.get("/ping/state"), "pong") is True
        quote = ok(ht.get("/market/quote", params={"region": "US", "ticker": "AAPL"}), "quote")
        assert (quote["currency"], Decimal(str(quote["latest"]))) == ("USD", Decimal("190.5"))
        cash = ok(ht.get("/cash/state"), "cash")
        assert (cash["currency"], Decimal(str(cash["amount"]))) == ("USD", Decimal("100000.0"))
        positions = ok(ht.get("/position/state"), "positions")
        assert [(p["contract"]["ticker"], p["qty"]) for p in positions] == [("AAPL", 100)]
        body = {
            "tradeType": "Securities",
            "ticker": "AAPL",
            "region": "US",
            "price": 185.0,
            "qty": 3,
            "orderType": "Limit",
            "timeInForce": "DAY",
            "lifecycle": "RTH",
            "direction": "BUY",
        }
        order_id = ok(ht.post("/order/place", json=body), "orderId")
        wait_for(lambda: order_of(api, order_id)["status"] == "new", "new", served)
        state = ok(ht.get("/order/state", params={"orderId": order_id}), "order")
        assert (state["qty"], state["currency"], state["isCompleted"]) == (3, "USD", False)
        assert ok(ht.post("/order/cancel", json={"orderId": order_id}), "canceled") is True
        wait_for(
            lambda: ok(ht.get("/order/state", params={"orderId": order_id}), "order")["isCanceled"],
            "canceled",
            served,
        )


def test_serve_reaches_nothing_but_loopback(
    served: Server, api: httpx.Client, fake: FakeTiger, audit_file: Path
) -> None:
    placed = buy(api, 1, "189.0")
    assert placed.status_code == 201, placed.text
    wait_for(lambda: order_of(api, placed.json()["id"])["status"] == "new", "new", served)
    lines = audit_file.read_text()
    assert f"{fake.http_port})" in lines, "the gateway's connections were audited"
    assert f"{fake.push_port})" in lines, "the push channel's connections were audited"
    assert foreign_addresses(audit_file) == []


def test_the_audit_catches_an_address_that_is_not_loopback(tmp_path: Path) -> None:
    """The check above can fail: a connect to another host is recorded and reported."""
    audit_file = tmp_path / "sockets.jsonl"
    script = (
        "import socket\n"
        "try:\n"
        "    socket.create_connection(('192.0.2.1', 9883), timeout=0.2)\n"
        "except OSError:\n"
        "    pass\n"
    )
    env = {**os.environ, **audited(audit_file)}
    subprocess.run([sys.executable, "-c", script], env=env, check=True, timeout=30)
    assert foreign_addresses(audit_file) == ["('192.0.2.1', 9883)"]
