"""Resume: a client that reconnects gets exactly what it missed, then the live events; the
missed ones are read from the database, so every test runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from tests.conftest import Server
from tests.stream.stream_support import (
    ACCOUNT_CHANNELS,
    StreamClient,
    assert_contiguous,
    filled,
    place,
    settle,
)

from tradebridge.store import queries
from tradebridge.store.database import create_db_engine

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("close_clients")]


@pytest.fixture
async def api(
    each_db_stream_server: Server, each_db_stream_token: str
) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"Authorization": f"Bearer {each_db_stream_token}"}
    async with httpx.AsyncClient(
        base_url=each_db_stream_server.base_url, headers=headers, timeout=10
    ) as client:
        yield client


async def test_resume_after_a_disconnect_gets_exactly_the_missed_events_then_live_ones(
    each_db_stream_server: Server, each_db_stream_token: str, api: httpx.AsyncClient
) -> None:
    witness = await StreamClient.open(each_db_stream_server, each_db_stream_token)
    await witness.subscribe(ACCOUNT_CHANNELS)
    client = await StreamClient.open(each_db_stream_server, each_db_stream_token)
    start = (await client.subscribe(ACCOUNT_CHANNELS))["data"]["since_seq"]

    orders = [await place(api) for _ in range(2)]
    seen = await client.events_until(filled(orders[-1]["id"]))
    seen += await settle(client)
    assert_contiguous(seen, start)
    assert {"order", "trade", "position", "account"} <= {e["type"] for e in seen}
    last_seq = seen[-1]["seq"]
    await client.close()

    # While it is away, three orders fill.
    missed_orders = [await place(api) for _ in range(3)]
    assert all(o["status"] == "filled" for o in missed_orders)
    witnessed = await witness.events_until(filled(missed_orders[-1]["id"]))
    witnessed += await settle(witness)
    expected = [e for e in witnessed if e["seq"] > last_seq]

    again = await StreamClient.open(each_db_stream_server, each_db_stream_token)
    ack = await again.request(op="resume", account="paper", since_seq=last_seq, id="r1")
    assert ack == {
        "type": "subscribed",
        "id": "r1",
        "account": "paper",
        "data": {"channels": ["account", "orders", "positions", "trades"], "since_seq": last_seq},
    }
    replayed = await again.events_until(lambda e: e["seq"] == expected[-1]["seq"])
    assert replayed == expected  # the same messages, byte for byte as the live ones
    assert_contiguous(replayed, last_seq)
    for order in missed_orders:
        assert any(filled(order["id"])(e) for e in replayed)
        assert any(e["type"] == "trade" and e["data"]["order_id"] == order["id"] for e in replayed)
    assert await settle(again) == []  # nothing more, nothing twice

    live_order = await place(api)
    live = await again.events_until(filled(live_order["id"]))
    assert_contiguous(live, expected[-1]["seq"])
    for c in (witness, again):
        await c.close()


async def test_resume_while_orders_keep_coming_has_no_gap_and_no_duplicate(
    each_db_stream_server: Server, each_db_stream_token: str, api: httpx.AsyncClient
) -> None:
    witness = await StreamClient.open(each_db_stream_server, each_db_stream_token)
    await witness.subscribe(ACCOUNT_CHANNELS)
    first = await place(api)
    early = await witness.events_until(filled(first["id"]))
    since = early[0]["seq"] - 1  # a resume point before all of this test's events

    stop = asyncio.Event()

    async def trade_until_stopped() -> list[dict[str, Any]]:
        placed = []
        while not stop.is_set():
            placed += await asyncio.gather(*(place(api) for _ in range(4)))
        return placed

    trading = asyncio.create_task(trade_until_stopped())
    resumers = []
    for delay in (0.02, 0.1, 0.2):  # resume at different moments of the flow
        await asyncio.sleep(delay)
        client = await StreamClient.open(each_db_stream_server, each_db_stream_token)
        await client.send(op="resume", account="paper", since_seq=since)
        resumers.append(client)
    await asyncio.sleep(0.3)
    stop.set()
    placed = await trading
    last_order = max(placed, key=lambda o: o["id"])
    witnessed = early + await witness.events_until(filled(last_order["id"]), within=30)
    witnessed += await settle(witness)
    final = witnessed[-1]["seq"]

    for client in resumers:
        ack = await client.until(lambda m: m["type"] == "subscribed")
        assert ack["data"]["since_seq"] == since
        events = await client.events_until(lambda e: e["seq"] == final, within=30)
        assert_contiguous(events, since)
        assert events == [e for e in witnessed if e["seq"] > since]
        assert await settle(client, 0.2) == []
        await client.close()
    await witness.close()


async def test_resume_on_a_live_stream_restarts_it_at_since_seq(
    each_db_stream_server: Server, each_db_stream_token: str, api: httpx.AsyncClient
) -> None:
    client = await StreamClient.open(each_db_stream_server, each_db_stream_token)
    start = (await client.subscribe(ACCOUNT_CHANNELS))["data"]["since_seq"]
    order = await place(api)
    seen = await client.events_until(filled(order["id"])) + await settle(client)
    assert_contiguous(seen, start)
    ack = await client.request(op="resume", account="paper", since_seq=start)
    assert ack["data"]["since_seq"] == start
    again = await client.events_until(lambda e: e["seq"] == seen[-1]["seq"])
    assert again == seen
    await client.close()


async def test_resume_of_some_channels_chains_prev_seq_over_the_others(
    each_db_stream_server: Server, each_db_stream_token: str, api: httpx.AsyncClient
) -> None:
    witness = await StreamClient.open(each_db_stream_server, each_db_stream_token)
    since = (await witness.subscribe(ACCOUNT_CHANNELS))["data"]["since_seq"]
    orders = [await place(api) for _ in range(2)]
    everything = await witness.events_until(filled(orders[-1]["id"])) + await settle(witness)

    client = await StreamClient.open(each_db_stream_server, each_db_stream_token)
    ack = await client.request(op="resume", since_seq=since, channels=["orders"])
    assert ack["account"] == "paper"  # the default account
    assert ack["data"]["channels"] == ["orders"]
    expected = [e for e in everything if e["type"] == "order"]
    got = await client.events_until(lambda e: e["seq"] == expected[-1]["seq"])
    assert [e["seq"] for e in got] == [e["seq"] for e in expected]
    assert [e["prev_seq"] for e in got] == [since] + [e["seq"] for e in got[:-1]]
    assert all(e["type"] == "order" for e in got)
    for c in (witness, client):
        await c.close()


async def test_resume_from_before_the_retention_window_says_reload(
    each_db_stream_server: Server, each_db_stream_token: str, api: httpx.AsyncClient
) -> None:
    """Events of account `other` are pruned the way the engine's retention task does it."""
    client = await StreamClient.open(each_db_stream_server, each_db_stream_token)
    start = (await client.subscribe(ACCOUNT_CHANNELS, account="other"))["data"]["since_seq"]
    orders = [await place(api, account="other") for _ in range(2)]
    seen = await client.events_until(filled(orders[-1]["id"])) + await settle(client)
    assert_contiguous(seen, start)
    last = seen[-1]["seq"]

    db = create_db_engine(each_db_stream_server.database_url())
    with db.begin() as conn:
        queries.prune_events(conn, "other", datetime.now(UTC) + timedelta(days=1), 10**9)
        assert queries.seq_range(conn, "other") == (last, last)  # the last one always stays
    db.dispose()

    old = await client.request(op="resume", account="other", since_seq=start)
    assert old["type"] == "error"
    assert old["account"] == "other"
    assert old["data"]["code"] == "resume_too_old"
    assert old["data"]["details"] == {"since_seq": start, "first_seq": last}
    assert "reload state over REST" in old["data"]["message"]
    ahead = await client.request(op="resume", account="other", since_seq=last + 100)
    assert ahead["data"]["code"] == "resume_invalid"
    assert ahead["data"]["details"] == {"since_seq": last + 100, "last_seq": last}

    # From within the window it works, and the stream goes on live.
    ack = await client.request(op="resume", account="other", since_seq=last - 1)
    assert ack["type"] == "subscribed"
    (replayed,) = [e for e in await settle(client) if e["account"] == "other"]
    assert replayed == seen[-1]
    order = await place(api, account="other")
    live = await client.events_until(filled(order["id"]))
    assert_contiguous(live, last)
    await client.close()
