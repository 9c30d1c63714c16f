"""Faults that must stay inside their bounds (issue 12): a clock move far out is refused and
stored nowhere; an account whose broker cannot be restored is unavailable while the others
trade; a quote set by hand survives an engine kill -9."""

import sqlite3
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from tests.conftest import Server, start_server, write_config
from tests.e2e.crash_support import WAIT_S, crash_server, kill_child, wait_replaced
from tests.e2e.lifecycle_support import start_serve

SECOND_ACCOUNT = """
[[accounts]]
id = "second"

[accounts.paper]
market = "manual"
"""


def buy(client: httpx.Client, account: str, price: str = "1400.00") -> httpx.Response:
    body = {
        "symbol": "600519.SH",
        "side": "buy",
        "qty": 100,
        "limit_price": price,
        "client_order_id": uuid.uuid4().hex,
    }
    return client.post(f"/api/v1/accounts/{account}/orders", json=body)


def quote(client: httpx.Client, symbol: str) -> dict[str, Any]:
    response = client.get("/api/v1/market/quotes", params={"symbols": symbol})
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()[0]
    return found


def test_a_far_clock_move_is_422_and_leaves_nothing_behind(tmp_path: Path) -> None:
    with crash_server(tmp_path, "manual") as server, server.client(server.login()) as api:
        far = api.post("/api/v1/paper/paper/clock", json={"to": "9999-12-31T23:59:59Z"})
        assert far.status_code == 422, far.text
        assert far.json()["error"]["code"] == "validation_error"
        killed = kill_child(server, "engine")
        wait_replaced(server, "engine", {killed})  # the engine starts again, as before
        assert buy(api, "paper").status_code == 201
        reset = api.post("/api/v1/paper/paper/reset")
        assert reset.status_code == 200, reset.text
        assert api.get("/api/v1/accounts/paper/orders", params={"status": "open"}).json() == []


def set_walk_state(server: Server, account: str, value: str) -> None:
    database = server.config.parent / "data" / "tradebridge.db"
    with sqlite3.connect(database) as db:
        updated = db.execute(
            "UPDATE broker_state SET value = ? WHERE account = ? AND key = 'market'",
            (value, account),
        ).rowcount
    assert updated == 1


def engine_accounts(server: Server) -> dict[str, dict[str, Any]]:
    """The accounts as the engine lists them, once the web and the engine answer."""
    deadline = time.monotonic() + WAIT_S
    while True:
        try:
            with server.client(server.login()) as api:
                response = api.get("/api/v1/accounts")
            if response.status_code == 200:
                return {a["id"]: a for a in response.json()}
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, server.output()[-4000:]
        time.sleep(0.2)


def test_an_account_that_cannot_be_restored_is_unavailable_and_the_others_trade(
    tmp_path: Path,
) -> None:
    config = write_config(tmp_path, extra=SECOND_ACCOUNT)
    server = start_server(config)
    with server.client(server.login()) as api:
        for account in ("paper", "second"):
            moved = api.post(
                f"/api/v1/paper/{account}/quotes", json={"symbol": "600519.SH", "last": "1401"}
            )
            assert moved.status_code == 200, moved.text
    assert server.stop() == 0
    set_walk_state(server, "second", "{not json")  # what a damaged database holds

    server = start_serve(config, healthy=False)  # it will be degraded, not ok
    try:
        found = engine_accounts(server)
        with server.client(server.login()) as api:
            assert found["paper"]["connected"] is True
            assert found["second"]["connected"] is False
            assert "restore" in found["second"]["connection_message"]
            assert buy(api, "paper").status_code == 201
            refused = buy(api, "second")
            assert refused.status_code == 503, refused.text
            assert refused.json()["error"]["code"] == "broker_unavailable"
            health = api.get("/api/v1/health").json()
            assert health["status"] == "degraded"
    finally:
        server.stop()


def test_a_quote_set_by_hand_survives_an_engine_kill(tmp_path: Path) -> None:
    with crash_server(tmp_path, "manual") as server, server.client(server.login()) as api:
        body = {"symbol": "600519.SH", "last": "1500", "bid": "1499.5", "ask": "1500.5"}
        body |= {"bid_size": 300, "ask_size": 700}
        assert api.post("/api/v1/paper/paper/quotes", json=body).status_code == 200
        before = quote(api, "600519.SH")
        killed = kill_child(server, "engine")
        wait_replaced(server, "engine", {killed})
        after = quote(api, "600519.SH")
        fields = ("last", "bid", "ask", "bid_size", "ask_size")
        assert [after[f] for f in fields] == [before[f] for f in fields]
        assert [str(before[f]) for f in ("bid", "ask")] == ["1499.5", "1500.5"]
        resting = buy(api, "paper", price="1500.50")  # crosses the ask kept through the kill
        assert resting.status_code == 201
        assert resting.json()["status"] == "filled"
