"""An `ib` account end to end: `tradebridge serve` with ib_async talking to the fake TWS (its
own process), driven through REST and the WebSocket stream. Orders rest, fill in parts with
their commissions, cancel and are refused with TWS's reason; TWS goes away and comes back
with fills done meanwhile; the engine is killed between fills."""

from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from tests.brokers.ib.fake_support import FakeTwsProcess
from tests.brokers.ib.serve_support import (
    ACCOUNT,
    ORDERS,
    TRADES,
    Subscriber,
    connected,
    ib_serve,
    wait_for,
)
from tests.conftest import Server
from tests.e2e.crash_support import kill_child, wait_replaced

CENT = Decimal("0.01")


def order_of(api: httpx.Client, order_id: str) -> dict[str, Any]:
    response = api.get(f"{ORDERS}/{order_id}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json(parse_float=Decimal)
    return body


def trades_of(api: httpx.Client, order_id: str) -> list[dict[str, Any]]:
    response = api.get(TRADES, params={"order_id": order_id})
    assert response.status_code == 200, response.text
    return list(response.json(parse_float=Decimal))


def wait_status(server: Server, api: httpx.Client, order_id: str, status: str) -> dict[str, Any]:
    wait_for(lambda: order_of(api, order_id)["status"] == status, f"order {status}", server)
    return order_of(api, order_id)


def commissions(tws: FakeTwsProcess, order_id: str) -> list[Decimal]:
    """TWS's commissions of the executions of our order `order_id`, in order."""
    return [Decimal(e["commission"]) for e in tws.executions() if e["order_ref"] == order_id]


def assert_books_equal_the_fake(api: httpx.Client, tws: FakeTwsProcess) -> None:
    summary = api.get(f"/api/v1/accounts/{ACCOUNT}").json(parse_float=Decimal)
    assert summary["currency"] == "USD"
    assert Decimal(summary["cash"]) == tws.account_value("TotalCashValue", "USD")
    assert Decimal(summary["equity"]) == tws.account_value("NetLiquidation", "USD")
    assert {b["currency"]: Decimal(b["cash"]) for b in summary["balances"]} == {
        currency: tws.account_value("CashBalance", currency) for currency in ("HKD", "USD")
    }
    positions = api.get(f"/api/v1/accounts/{ACCOUNT}/positions").json(parse_float=Decimal)
    held = tws.state_now()["positions"]
    assert {p["symbol"]: p["qty"] for p in positions} == {
        ("00700.HK" if s == "700" else f"{s}.US"): int(Decimal(h["qty"])) for s, h in held.items()
    }
    for position in positions:
        ib_symbol = "700" if position["symbol"] == "00700.HK" else position["symbol"][:-3]
        cost = Decimal(held[ib_symbol]["avg_cost"])
        assert abs(Decimal(position["avg_cost"]) - cost) < CENT, (position, cost)


def test_an_ib_account_through_rest_and_the_stream(tmp_path: Path) -> None:
    with ib_serve(tmp_path) as running:
        server, tws, api, token = running.server, running.tws, running.api, running.token
        (account,) = [a for a in api.get("/api/v1/accounts").json() if a["id"] == ACCOUNT]
        assert (account["broker"], account["connected"]) == ("ib", True)
        assert sorted(account["capabilities"]["markets"]) == ["hk_stock", "us_stock"]
        assert_books_equal_the_fake(api, tws)
        channels = ["orders", "trades", "positions", "account", "quotes:MSFT.US"]
        stream = Subscriber(server, token, channels)
        try:
            body = {"symbol": "AAPL.US", "side": "buy", "qty": 400, "limit_price": "229.00"}
            placed = api.post(ORDERS, json=body | {"client_order_id": "ib-e2e-1"})
            assert placed.status_code == 201, placed.text
            order = placed.json()
            (at_tws,) = tws.orders()
            assert at_tws["order_ref"] == order["id"]
            assert order["status"] == "new"
            assert order["broker_order_id"] == str(at_tws["perm_id"])

            tws.quote("AAPL", ask="228.90", ask_size=240)  # commission 1.20
            first = wait_status(server, api, order["id"], "partially_filled")
            assert first["filled_qty"] == 240
            tws.quote("AAPL", ask="228.95", ask_size=500)
            filled = wait_status(server, api, order["id"], "filled")
            assert filled["avg_fill_price"] == Decimal("228.92")  # 240 @ 228.90, 160 @ 228.95
            wait_for(
                lambda: all(t["fee"] is not None for t in trades_of(api, order["id"])),
                "the commissions",
                server,
            )
            trades = trades_of(api, order["id"])
            assert sorted((t["qty"], t["price"]) for t in trades) == [
                (160, Decimal("228.95")),
                (240, Decimal("228.90")),
            ]
            assert sorted(Decimal(t["fee"]) for t in trades) == sorted(
                commissions(tws, order["id"])
            )
            assert_books_equal_the_fake(api, tws)

            pushed = stream.wait(
                lambda m: m["type"] == "order" and m["data"]["status"] == "filled", "the fill"
            )
            assert pushed["data"]["id"] == order["id"]
            trade_events = stream.of("trade")
            assert {e["data"]["id"] for e in trade_events} == {t["id"] for t in trades}
            assert any(e["data"]["fee"] is None for e in trade_events)  # the execution first
            stream.wait(
                lambda m: m["type"] == "position" and m["data"]["symbol"] == "AAPL.US", "a position"
            )

            tws.quote("MSFT", bid="425.00", ask="425.02", last="425.01")
            streamed = stream.wait(
                lambda m: m["type"] == "quote" and m["data"]["last"] == Decimal("425.01"),
                "a quote streamed from TWS",
            )
            assert streamed["data"]["symbol"] == "MSFT.US"

            resting = api.post(
                ORDERS, json={"symbol": "00700.HK", "side": "buy", "qty": 100, "limit_price": "370"}
            ).json()
            canceled = api.delete(f"{ORDERS}/{resting['id']}")
            assert canceled.status_code == 200, canceled.text
            assert canceled.json()["status"] in ("pending_cancel", "canceled")
            wait_status(server, api, resting["id"], "canceled")

            beyond = {"symbol": "AAPL.US", "side": "buy", "qty": 1000, "limit_price": "230.00"}
            refused = api.post(ORDERS, json=beyond)  # beyond the cash: IB's to refuse
            assert refused.status_code == 422, refused.text
            assert "EQUITY WITH LOAN VALUE" in refused.json()["error"]["message"]

            short = {"symbol": "MSFT.US", "side": "sell", "qty": 10, "limit_price": "420.00"}
            refused = api.post(ORDERS, json=short)
            assert refused.status_code == 422, refused.text
            error = refused.json()["error"]
            assert (error["code"], error["details"]["reason"]) == (
                "order_rejected",
                "broker_refused",
            )
            assert "SHORT SALES ARE NOT ALLOWED" in error["message"]
            rejected = order_of(api, error["details"]["order_id"])
            assert rejected["status"] == "rejected"
            assert rejected["reject_reason"] == "broker_refused"
        finally:
            stream.close()


def test_tws_goes_away_and_comes_back_with_fills_done_meanwhile(tmp_path: Path) -> None:
    with ib_serve(tmp_path) as running:
        server, tws, api = running.server, running.tws, running.api
        body = {"symbol": "AAPL.US", "side": "buy", "qty": 30, "limit_price": "225.00"}
        order = api.post(ORDERS, json=body).json()
        assert order["status"] == "new"

        tws.kill()
        wait_for(lambda: not connected(api), "the account to be disconnected", server)
        refused = api.post(ORDERS, json=body)
        assert refused.status_code == 503, refused.text
        assert refused.json()["error"]["code"] == "broker_unavailable"
        assert api.get(f"/api/v1/accounts/{ACCOUNT}").status_code == 503

        tws.start(closed=True)  # TWS is back; the adapter cannot reach it yet
        tws.quote("AAPL", ask="224.50", ask_size=500)  # the order fills meanwhile
        (execution,) = tws.executions()
        typed = tws.command("enter_order", symbol="SPY", action="BUY", qty=4, price="580")
        tws.command("listen", on=True)
        wait_for(lambda: connected(api), "the account to reconnect by itself", server)
        filled = wait_status(server, api, order["id"], "filled")
        assert filled["filled_qty"] == 30
        (trade,) = trades_of(api, order["id"])
        assert (trade["qty"], trade["price"]) == (30, Decimal("224.50"))
        wait_for(lambda: trades_of(api, order["id"])[0]["fee"] is not None, "its fee", server)
        assert Decimal(trades_of(api, order["id"])[0]["fee"]) == Decimal(execution["commission"])

        external = external_orders(api)
        assert [(o["symbol"], o["qty"], o["status"]) for o in external] == [("SPY.US", 4, "new")]
        assert external[0]["broker_order_id"] == str(typed["perm_id"])

        tws.command("drop")  # and once more: nothing is booked twice
        wait_for(lambda: not connected(api), "the next loss", server)
        wait_for(lambda: connected(api), "the next reconnect", server)
        assert len(trades_of(api, order["id"])) == 1
        assert len(api.get(ORDERS).json()) == 2
        assert len(external_orders(api)) == 1
        assert_books_equal_the_fake(api, tws)


def external_orders(api: httpx.Client) -> list[dict[str, Any]]:
    """Orders placed outside tradebridge (in TWS): no client_order_id."""
    return [o for o in api.get(ORDERS).json() if o["client_order_id"] is None]


def test_the_engine_killed_between_fills_reconciles_after_its_restart(tmp_path: Path) -> None:
    with ib_serve(tmp_path) as running:
        server, tws, api = running.server, running.tws, running.api
        typed = tws.command("enter_order", symbol="SPY", action="BUY", qty=2, type="MKT")
        wait_for(lambda: tws.executions(), "the order typed in TWS to fill", server)
        tws.command("drop")  # the engine learns of it at its reconnection, and books it
        wait_for(lambda: len(external_orders(api)) == 1, "the order typed in TWS", server)
        (external,) = external_orders(api)
        wait_status(server, api, external["id"], "filled")

        tws.command("configure", commission_delay_s=60.0)  # none arrives before the kill
        body = {"symbol": "AAPL.US", "side": "buy", "qty": 400, "limit_price": "229.00"}
        order = api.post(ORDERS, json=body | {"client_order_id": "kill-1"}).json()
        tws.quote("AAPL", ask="228.90", ask_size=240)  # commission 1.20
        wait_status(server, api, order["id"], "partially_filled")
        (booked,) = trades_of(api, order["id"])
        assert booked["fee"] is None  # its commission is still on the way

        killed = kill_child(server, "engine")
        tws.quote("AAPL", ask="228.95", ask_size=500)  # the rest fills while the engine is down
        wait_replaced(server, "engine", {killed})
        wait_for(lambda: connected(api), "the restarted engine to connect", server)
        filled = wait_status(server, api, order["id"], "filled")
        assert filled["filled_qty"] == 400
        wait_for(
            lambda: all(t["fee"] is not None for t in trades_of(api, order["id"])),
            "the commissions, from TWS's list of the day's executions",
            server,
        )
        trades = trades_of(api, order["id"])
        assert len(trades) == 2
        assert sorted(Decimal(t["fee"]) for t in trades) == sorted(commissions(tws, order["id"]))
        assert sorted(str(o["client_order_id"]) for o in api.get(ORDERS).json()) == [
            "None",
            "kill-1",
        ]  # the completed order typed in TWS is not recorded again after the restart
        assert external_orders(api)[0]["broker_order_id"] == str(typed["perm_id"])
        assert len(trades_of(api, external["id"])) == 1
        assert_books_equal_the_fake(api, tws)
