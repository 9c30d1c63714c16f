"""One rule per field for how numbers are written (docs/README.md, "Numbers"), seen through a
real `tradebridge serve` by REST and the stream: prices with their tick's decimals, averages two
decimals finer, money to the cent, on a 0.01 tick (600519.SH), an HK band tick of 0.2 (00700.HK)
and a futures tick of 10 (cu2601.SHFE)."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.conftest import Server, start_server, write_config
from tests.stream.stream_support import ACCOUNT_CHANNELS, StreamClient, filled, settle

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("close_clients")]

ACCOUNT = "/api/v1/accounts/paper"
TICK_PLACES = {"600519.SH": 2, "00700.HK": 1, "cu2601.SHFE": 0}
"""Decimals of the tick where each symbol trades in this test (HK: 0.2 from 200 to 500)."""
QUOTES = [
    {"symbol": "600519.SH", "last": "1500.00", "bid": "1499.99", "ask": "1500.01"},
    {"symbol": "00700.HK", "last": "480.0", "bid": "479.8", "ask": "480.2"},
    {"symbol": "cu2601.SHFE", "last": "86000", "bid": "85990", "ask": "86010"},
]
ORDERS = [  # limit prices sent without the tick's form: too few decimals, too many zeros
    {"symbol": "600519.SH", "side": "buy", "qty": 300, "limit_price": 1540},
    {"symbol": "00700.HK", "side": "buy", "qty": 300, "limit_price": "482"},
    {"symbol": "cu2601.SHFE", "side": "buy", "qty": 2, "limit_price": "86100.00", "offset": "open"},
]
CLOSE = {
    "symbol": "cu2601.SHFE",
    "side": "sell",
    "qty": 2,
    "limit_price": "85990.0",
    "offset": "close_today",
}

read_numbers_as_text = functools.partial(json.loads, parse_float=str)
"""JSON with each non-integer number kept as the text the server wrote."""


class TextNumbersClient(StreamClient):
    decode = staticmethod(read_numbers_as_text)


def places(value: Any) -> int:
    """Decimals of a number as the server wrote it (integers come as int)."""
    text = str(value)
    assert text.lstrip("-").replace(".", "", 1).isdigit(), text
    return len(text.split(".")[1]) if "." in text else 0


def rest(api: httpx.Client, path: str) -> Any:
    response = api.get(f"{ACCOUNT}{path}")
    assert response.status_code == 200, response.text
    return read_numbers_as_text(response.text)


def check_order(order: dict[str, Any]) -> None:
    tick = TICK_PLACES[order["symbol"]]
    assert places(order["limit_price"]) == tick, order
    if order["avg_fill_price"] is not None:
        assert places(order["avg_fill_price"]) == tick + 2, order


def check_trade(trade: dict[str, Any]) -> None:
    assert places(trade["price"]) == TICK_PLACES[trade["symbol"]], trade
    assert places(trade["fee"]) == 2, trade


def check_position(position: dict[str, Any]) -> None:
    tick = TICK_PLACES[position["symbol"]]
    assert places(position["avg_cost"]) == tick + 2, position
    assert places(position["last_price"]) == tick, position
    assert places(position["market_value"]) == places(position["unrealized_pnl"]) == 2, position


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[Server]:
    running = start_server(write_config(tmp_path))
    yield running
    running.stop()


async def test_each_field_has_one_form_by_rest_and_the_stream(own_server: Server) -> None:
    token = own_server.login()
    client = await TextNumbersClient.open(own_server, token)
    await client.subscribe(ACCOUNT_CHANNELS)
    with own_server.client(token) as api:
        for quote in QUOTES:
            deep = quote | {"bid_size": 10**6, "ask_size": 10**6}
            assert api.post("/api/v1/paper/paper/quotes", json=deep).status_code == 200
        placed = []
        for body in [*ORDERS, CLOSE]:
            response = api.post(f"{ACCOUNT}/orders", json=body)
            assert response.status_code == 201, response.text
            order = read_numbers_as_text(response.text)
            assert order["status"] == "filled", order
            check_order(order)
            placed.append(order)
        events = await client.events_until(filled(placed[-1]["id"])) + await settle(client)

        orders = rest(api, "/orders")
        trades = rest(api, "/trades")
        positions = rest(api, "/positions")

    assert {o["id"] for o in orders} == {o["id"] for o in placed}
    for order in orders:
        check_order(order)
    assert {t["symbol"] for t in trades} == set(TICK_PLACES)
    for trade in trades:
        check_trade(trade)
    assert {p["symbol"] for p in positions} == {"600519.SH", "00700.HK"}
    for position in positions:
        check_position(position)
    by_symbol = {p["symbol"]: p for p in positions}
    assert str(by_symbol["600519.SH"]["last_price"]) == "1500.00"
    assert str(placed[0]["limit_price"]) == "1540.00"
    assert str(placed[1]["limit_price"]) == "482.0"
    assert str(placed[2]["limit_price"]) == "86100"
    assert str(placed[2]["avg_fill_price"]) == "86010.00"

    checks = {"order": check_order, "trade": check_trade, "position": check_position}
    seen = {kind: 0 for kind in checks}
    for event in events:
        if event["type"] in checks:
            checks[event["type"]](event["data"])
            seen[event["type"]] += 1
    assert seen["trade"] == len(trades)
    assert seen["order"] >= len(placed)
    closed = [
        e["data"]
        for e in events
        if e["type"] == "position" and e["data"]["symbol"] == "cu2601.SHFE" and not e["data"]["qty"]
    ]
    assert closed, "no event of the closed futures position"
    assert str(closed[-1]["avg_cost"]) == "0.00"
