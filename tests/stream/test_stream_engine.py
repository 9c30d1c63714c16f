"""The stream across process boundaries: an engine restart, and several web workers."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.conftest import Server, start_server, wait_healthy
from tests.stream.stream_support import (
    ACCOUNT_CHANNELS,
    StreamClient,
    assert_contiguous,
    child_pids,
    deep_market,
    filled,
    place,
    role_pid,
    settle,
    socket_owner,
    write_stream_config,
)

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("close_clients")]


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[Server]:
    running = start_server(write_stream_config(tmp_path))
    deep_market(running, running.login())
    yield running
    running.stop()


@pytest.fixture
def two_workers(tmp_path: Path) -> Iterator[Server]:
    running = start_server(
        write_stream_config(tmp_path, server={"workers": 2, "stream_heartbeat_ms": 30000})
    )
    deep_market(running, running.login())
    yield running
    running.stop()


async def test_an_engine_restart_is_reported_and_the_stream_goes_on(own_server: Server) -> None:
    token = own_server.login()
    client = await StreamClient.open(own_server, token)
    start = (await client.subscribe(ACCOUNT_CHANNELS))["data"]["since_seq"]
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=own_server.base_url, headers=headers) as api:
        order = await place(api)
        before = await client.events_until(filled(order["id"])) + await settle(client)
        assert_contiguous(before, start)

        os.kill(role_pid(own_server, "engine"), signal.SIGKILL)  # the supervisor restarts it
        down = await client.until(lambda m: m["type"] == "status", within=10)
        assert down == {"type": "status", "data": {"engine": "down"}}
        up = await client.until(lambda m: m["type"] == "status" and "engine" in m["data"], 30)
        assert up == {"type": "status", "data": {"engine": "up"}}
        wait_healthy(own_server)

        order = await place(api)
        after = await client.events_until(filled(order["id"]), within=10)
        after += await settle(client)
    # Numbering goes on from the database, and the same connection sees no gap.
    assert_contiguous(before + after, start)

    # A client that missed all of it resumes across the restart.
    late = await StreamClient.open(own_server, token)
    await late.send(op="resume", since_seq=start)
    replayed = await late.events_until(lambda e: e["seq"] == after[-1]["seq"])
    assert replayed == before + after
    await client.close()
    await late.close()


async def test_every_web_worker_delivers_every_event(two_workers: Server) -> None:
    token = two_workers.login()
    port = int(two_workers.base_url.rsplit(":", 1)[1])
    workers = child_pids(role_pid(two_workers, "web"))
    assert len(workers) >= 2
    clients: dict[int, list[StreamClient]] = {}
    for _ in range(60):  # until both workers serve some
        client = await StreamClient.open(two_workers, token)
        owner = socket_owner(workers, port, client.ws.local_address[1])
        assert owner is not None
        clients.setdefault(owner, []).append(client)
        if len(clients) == 2 and min(len(c) for c in clients.values()) >= 2:
            break
    assert len(clients) == 2, "every connection went to the same worker"
    everyone = [c for group in clients.values() for c in group]
    starts = [
        (await c.subscribe([*ACCOUNT_CHANNELS, "quotes:00700.HK"]))["data"]["since_seq"]
        for c in everyone
    ]
    assert len(set(starts)) == 1

    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=two_workers.base_url, headers=headers) as api:
        orders = [await place(api) for _ in range(3)]
        await api.post("/api/v1/paper/paper/quotes", json={"symbol": "00700.HK", "last": "481.2"})

    async def stream_of(client: StreamClient) -> list[dict[str, Any]]:
        return await client.events_until(filled(orders[-1]["id"])) + await settle(client)

    streams = await asyncio.gather(*(stream_of(c) for c in everyone))
    for client, events in zip(everyone, streams, strict=True):
        assert_contiguous(events, starts[0])
        assert events == streams[0]
        quotes = [m for m in client.received if m["type"] == "quote"]
        assert str(quotes[-1]["data"]["last"]) == "481.2"
