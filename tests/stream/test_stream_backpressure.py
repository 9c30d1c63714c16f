"""Slow clients against a real server: conflated quotes, 4409 past the backlog, others unharmed."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
from tests.conftest import Server, start_server
from tests.stream.stream_support import (
    ACCOUNT_CHANNELS,
    ACCOUNT_TYPES,
    StalledClient,
    StreamClient,
    assert_contiguous,
    deep_market,
    filled,
    place,
    settle,
    write_stream_config,
)

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("close_clients")]

BACKLOG = 50


@pytest.fixture(scope="module")
def tight_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    config = write_stream_config(
        tmp_path_factory.mktemp("tight"),
        # Long heartbeats: the slow clients here send nothing for a while on purpose.
        server={
            "stream_backlog": BACKLOG,
            "stream_heartbeat_ms": 10000,
            "stream_send_buffer": 4096,
        },
    )
    running = start_server(config)
    deep_market(running, running.login())
    yield running
    assert running.stop() == 0


async def test_a_client_past_its_backlog_is_closed_with_4409_while_a_fast_one_keeps_up(
    tight_server: Server,
) -> None:
    token = tight_server.login()
    slow = await StalledClient.open(tight_server, token, ACCOUNT_CHANNELS)
    fast = await StreamClient.open(tight_server, token)
    start = (await fast.subscribe(ACCOUNT_CHANNELS))["data"]["since_seq"]
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=tight_server.base_url, headers=headers) as api:

        async def trade() -> list[dict[str, Any]]:
            placed = []
            for _ in range(60):
                placed += await asyncio.gather(*(place(api) for _ in range(4)))
            return placed

        reading = asyncio.create_task(fast.quiet(3600))  # reads all along, answers pings
        placed = await trade()
        await asyncio.sleep(0.5)
        reading.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reading
        events = [m for m in fast.received if m["type"] in ACCOUNT_TYPES]
        events += await settle(fast)
    assert_contiguous(events, start)
    for order in placed:  # every order filled, and the fast client saw it
        assert any(filled(order["id"])(e) for e in events)

    messages, code = await slow.read_until_closed()
    assert code == 4409
    assert slow.close_reason == "too far behind; reconnect and resume from the last seq received"
    assert messages[-1]["type"] == "error"
    assert messages[-1]["data"]["code"] == "backlog_exceeded"
    slow_start = next(m for m in messages if m["type"] == "subscribed")["data"]["since_seq"]
    received = [m for m in messages if m["type"] in ACCOUNT_TYPES]
    assert_contiguous(received, slow_start)  # what it got is in order, from where it started
    received = [e for e in received if e["seq"] > start]
    assert len(received) < len(events)

    # It comes back and resumes from what it has: the rest arrives, in order.
    again = await StreamClient.open(tight_server, token)
    await again.send(op="resume", since_seq=received[-1]["seq"])
    rest = await again.events_until(lambda e: e["seq"] == events[-1]["seq"], within=30)
    assert received + rest == events
    await fast.close()
    await again.close()


async def test_a_client_that_stops_reading_gets_the_latest_quote_per_symbol(
    tight_server: Server,
) -> None:
    token = tight_server.login()
    symbols = ["601318.SH", "600036.SH"]
    headers = {"Authorization": f"Bearer {token}"}
    posted = 0
    async with httpx.AsyncClient(base_url=tight_server.base_url, headers=headers) as api:
        quotes = await api.get("/api/v1/market/quotes", params={"symbols": ",".join(symbols)})
        base = {q["symbol"]: Decimal(str(q["last"])) for q in quotes.json()}
        for symbol in symbols:  # seen by the server: sent at once to a new subscriber
            body = {"symbol": symbol, "last": str(base[symbol])}
            assert (await api.post("/api/v1/paper/paper/quotes", json=body)).status_code == 200
        slow = await StalledClient.open(tight_server, token, [f"quotes:{s}" for s in symbols])
        await slow.read_until(lambda _: sum(m["type"] == "quote" for m in slow.pending) == 2)
        slow.pending.clear()
        for i in range(600):
            for symbol in symbols:
                last = base[symbol] + Decimal(i - 300) / 100
                body = {"symbol": symbol, "last": str(last)}
                response = await api.post("/api/v1/paper/paper/quotes", json=body)
                assert response.status_code == 200
                posted += 1
        final = {s: str(base[s] + Decimal(299) / 100) for s in symbols}
        # Still connected: conflation is not a reason to close.
        await slow.send(op="ping")
        await slow.read_until(lambda m: m["type"] == "pong")
        for symbol in symbols:
            messages = await slow.read_until(
                lambda m, symbol=symbol: (
                    m["type"] == "quote"
                    and m["data"]["symbol"] == symbol
                    and str(m["data"]["last"]) == final[symbol]
                )
            )
    got: dict[str, list[str]] = {s: [] for s in symbols}
    for message in messages:
        if message["type"] == "quote":
            got[message["data"]["symbol"]].append(str(message["data"]["last"]))
    assert {s: prices[-1] for s, prices in got.items()} == final
    for symbol, prices in got.items():
        decimals = [Decimal(p) for p in prices]
        assert decimals == sorted(decimals), symbol  # in the order the market moved
    assert sum(len(p) for p in got.values()) < posted / 2  # most were conflated away
