"""The paper market modes and exchange sessions, through the API of a real server."""

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from tests.conftest import Server, start_server, write_config

SHANGHAI = ZoneInfo("Asia/Shanghai")
ORDERS = "/api/v1/accounts/paper/orders"


def config_with(tmp_path: Path, paper: str) -> Path:
    path = write_config(tmp_path)
    path.write_text(path.read_text().replace('market = "manual"', paper))
    return path


@pytest.fixture
def walking(tmp_path: Path) -> Iterator[Server]:
    server = start_server(config_with(tmp_path, 'market = "random_walk"\nseed = 7'))
    yield server
    server.stop()


@pytest.fixture
def exchange(tmp_path: Path) -> Iterator[Server]:
    server = start_server(config_with(tmp_path, 'market = "manual"\nmarket_hours = "exchange"'))
    yield server
    server.stop()


def test_random_walk_moves_prices_on_the_tick(walking: Server) -> None:
    with walking.client(walking.login()) as api:
        symbols = "600519.SH,00700.HK,AAPL.US,510300.SH"
        first = api.get("/api/v1/market/quotes", params={"symbols": symbols}).json()
        time.sleep(1.5)
        later = api.get("/api/v1/market/quotes", params={"symbols": symbols}).json()
    assert [q["time"] for q in first] != [q["time"] for q in later]
    assert any(a["last"] != b["last"] for a, b in zip(first, later, strict=True))
    for quote in later:
        if quote["bid"] is not None and quote["ask"] is not None:
            assert quote["bid"] < quote["ask"]


def _shanghai(day: datetime, hour: int, minute: int) -> str:
    return day.replace(hour=hour, minute=minute, tzinfo=SHANGHAI).isoformat()


def test_exchange_hours_refuse_orders_when_closed_and_cancels_in_the_closing_auction(
    exchange: Server,
) -> None:
    # A Saturday two years on, then the Monday after: beyond the exchange calendar's known
    # holidays, so weekdays trade and the test does not depend on today's date.
    saturday = datetime.now(UTC) + timedelta(days=730)
    saturday += timedelta(days=(5 - saturday.weekday()) % 7)
    monday = saturday + timedelta(days=2)
    body = {"symbol": "600519.SH", "side": "buy", "qty": 100, "limit_price": "1400.00"}
    with exchange.client(exchange.login()) as api:

        def clock_to(when: str) -> None:
            response = api.post("/api/v1/paper/paper/clock", json={"to": when})
            assert response.status_code == 200, response.text

        clock_to(_shanghai(saturday, 10, 0))
        closed = api.post(ORDERS, json=body)
        assert closed.json()["error"]["details"]["reason"] == "market_closed"
        status = {s["venue"]: s for s in api.get("/api/v1/market/status").json()}
        assert (status["SH"]["status"], status["SH"]["broker_status"]) == ("closed", "weekend")

        clock_to(_shanghai(monday, 9, 35))
        resting = api.post(ORDERS, json=body)
        assert resting.status_code == 201, resting.text
        status = {s["venue"]: s for s in api.get("/api/v1/market/status").json()}
        assert status["SH"]["status"] == "open"

        clock_to(_shanghai(monday, 14, 58))
        refused = api.delete(f"{ORDERS}/{resting.json()['id']}")
        assert refused.status_code == 409
        assert refused.json()["error"]["code"] == "not_cancelable"
        market = api.post(ORDERS, json=body | {"type": "market", "limit_price": None})
        assert market.json()["error"]["details"]["reason"] == "market_closed"

        clock_to(_shanghai(monday + timedelta(days=1), 9, 0))
        expired = api.get(f"{ORDERS}/{resting.json()['id']}").json()
        assert expired["status"] == "expired"


def test_next_session_moves_to_continuous_trading(exchange: Server) -> None:
    with exchange.client(exchange.login()) as api:
        now = api.post("/api/v1/paper/paper/clock", json={"advance": "next_session"}).json()
        status = {s["venue"]: s["status"] for s in api.get("/api/v1/market/status").json()}
    assert "open" in status.values()
    assert datetime.fromisoformat(now["now"]) > datetime.now(UTC)
