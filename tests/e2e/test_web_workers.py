"""Several web worker processes in front of one engine: idempotency and the event stream hold
whichever worker a client reaches.

Which worker holds a connection is read from /proc: the worker process owning the server side
of that TCP connection. Connections are opened one at a time, each accepted before the next,
so every accept is a fresh race between the workers and both end up with some.
"""

import asyncio
import http.client
import json
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.conftest import Server, start_server, write_config
from tests.e2e.lifecycle_support import (
    ORDERS,
    WAIT_S,
    Alone,
    descendants,
    is_running,
    orders_with_client_id,
    port_of,
    start_alone,
    wait_until,
    web_server,
    with_settings,
)
from tests.stream.stream_support import (
    ACCOUNT_CHANNELS,
    StreamClient,
    assert_contiguous,
    child_pids,
    deep_market,
    filled,
    place,
    settle,
    socket_owner,
)

WORKERS = 2
CONCURRENT_POSTS = 64


def worker_pids(web_pid: int) -> list[int]:
    """The uvicorn worker processes of a web process (children running the server)."""
    return [pid for pid in child_pids(web_pid) if "spawn_main" in _cmdline(pid)]


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def wait_for_workers(web_pid: int, log: Any) -> list[int]:
    """Wait until the web process runs `WORKERS` workers that all finished starting up."""
    wait_until(
        lambda: (
            len(worker_pids(web_pid)) == WORKERS
            and log().count("Application startup complete.") >= WORKERS
        ),
        f"{WORKERS} web workers",
        log,
    )
    return worker_pids(web_pid)


def owner_of(workers: list[int], server_port: int, client_port: int, log: Any) -> int:
    """The worker that accepted the connection from `client_port` (waits for the accept)."""
    owner: list[int] = []

    def accepted() -> bool:
        found = socket_owner(workers, server_port, client_port)
        if found is not None:
            owner.append(found)
        return found is not None

    wait_until(accepted, f"a worker to accept the connection from port {client_port}", log)
    return owner[0]


@pytest.fixture
def two_worker_serve(tmp_path: Path) -> Iterator[Server]:
    """`tradebridge serve` with `[server] workers = 2`; it stops cleanly, workers too."""
    server = start_server(with_settings(write_config(tmp_path), "server", workers=WORKERS))
    yield server
    processes = descendants(server.process.pid)
    assert server.stop() == 0
    wait_until(
        lambda: not any(is_running(pid) for pid in processes),
        f"every process of serve to end ({sorted(processes)})",
        server.output,
    )


def test_concurrent_retries_through_two_workers_create_one_order(
    two_worker_serve: Server,
) -> None:
    server = two_worker_serve
    token = server.login()
    web = next(pid for pid in child_pids(server.process.pid) if "tradebridge web" in _cmdline(pid))
    workers = wait_for_workers(web, server.output)
    assert len(set(workers)) == WORKERS

    # Open connections until there are CONCURRENT_POSTS, both workers holding some.
    connections: list[tuple[http.client.HTTPConnection, int]] = []
    for _ in range(20 * CONCURRENT_POSTS):
        held = {owner for _, owner in connections}
        if len(connections) >= CONCURRENT_POSTS and held == set(workers):
            break
        connection = http.client.HTTPConnection("127.0.0.1", port_of(server), timeout=WAIT_S)
        connection.connect()
        assert connection.sock is not None
        client_port = connection.sock.getsockname()[1]
        connections.append(
            (connection, owner_of(workers, port_of(server), client_port, server.output))
        )
    assert {owner for _, owner in connections} == set(workers)

    client_order_id = f"w-{uuid.uuid4().hex[:20]}"
    body = json.dumps(
        {
            "symbol": "600519.SH",
            "side": "buy",
            "qty": 100,
            "limit_price": "1490.00",
            "client_order_id": client_order_id,
        }
    )
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    start = threading.Barrier(len(connections))
    answers: list[tuple[int, int, dict[str, Any]]] = []  # (worker, status, body)
    lock = threading.Lock()

    def post(connection: http.client.HTTPConnection, worker: int) -> None:
        start.wait()
        connection.request("POST", ORDERS, body=body, headers=headers)
        response = connection.getresponse()
        answer = (worker, response.status, json.loads(response.read()))
        with lock:
            answers.append(answer)

    threads = [threading.Thread(target=post, args=pair) for pair in connections]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT_S)
    for connection, _ in connections:
        connection.close()

    assert len(answers) == len(connections)
    statuses = sorted(status for _, status, _ in answers)
    assert statuses == [200] * (len(answers) - 1) + [201], statuses
    order_ids = {answer["id"] for _, _, answer in answers}
    assert len(order_ids) == 1
    assert {worker for worker, _, _ in answers} == set(workers)  # both workers answered

    (order_id,) = order_ids
    with server.client(token) as client:
        by_client_id = client.get(f"{ORDERS}:by_client_id/{client_order_id}")
        assert by_client_id.status_code == 200
        assert by_client_id.json()["id"] == order_id
        assert [o["id"] for o in orders_with_client_id(client, client_order_id)] == [order_id]


@pytest.fixture
def engine_and_two_workers(tmp_path: Path) -> Iterator[Server]:
    """`tradebridge engine` and `tradebridge web --workers 2`, each started alone."""
    config = write_config(tmp_path)
    engine = start_alone("engine", config)
    web: Alone | None = None
    try:
        web = start_alone("web", config, "--workers", str(WORKERS))
        yield web_server(config, web)
    finally:
        if web is not None:
            assert web.terminate() == 0, web.output()
        assert engine.terminate() == 0, engine.output()


@pytest.mark.anyio
async def test_stream_through_two_workers_sees_the_same_events_and_resumes(
    engine_and_two_workers: Server,
) -> None:
    server = engine_and_two_workers
    token = server.login()
    deep_market(server, token)
    workers = wait_for_workers(server.process.pid, server.output)

    async def connect() -> tuple[StreamClient, int]:
        client = await StreamClient.open(server, token)
        client_port = client.ws.local_address[1]
        owner = await asyncio.to_thread(
            owner_of, workers, port_of(server), client_port, server.output
        )
        return client, owner

    first, first_worker = await connect()
    opened = [first]
    try:
        for _ in range(100):
            second, second_worker = await connect()
            opened.append(second)
            if second_worker != first_worker:
                break
        assert {first_worker, second_worker} == set(workers)
        start = (await first.subscribe(ACCOUNT_CHANNELS))["data"]["since_seq"]
        assert (await second.subscribe(ACCOUNT_CHANNELS))["data"]["since_seq"] == start

        async with httpx.AsyncClient(
            base_url=server.base_url, headers={"Authorization": f"Bearer {token}"}, timeout=10
        ) as api:
            orders = [await place(api) for _ in range(4)]
        streams = []
        for client in (first, second):
            events = await client.events_until(filled(orders[-1]["id"]), within=WAIT_S)
            events += await settle(client)
            assert_contiguous(events, start)
            streams.append(events)
        assert streams[0] == streams[1]
        seen = streams[0]
        assert {"order", "trade", "position", "account"} <= {e["type"] for e in seen}

        # A third connection that saw the first half resumes and gets exactly the rest.
        half = seen[len(seen) // 2 - 1]["seq"]
        third, _ = await connect()
        opened.append(third)
        reply = await third.request(
            op="resume", account="paper", since_seq=half, channels=ACCOUNT_CHANNELS
        )
        assert reply["type"] == "subscribed"
        assert reply["data"]["since_seq"] == half
        missed = await third.events_until(lambda e: e["seq"] == seen[-1]["seq"], within=WAIT_S)
        missed += await settle(third)
        assert [(e["seq"], e["type"], e["data"]) for e in missed] == [
            (e["seq"], e["type"], e["data"]) for e in seen if e["seq"] > half
        ]
        assert_contiguous(missed, half)
    finally:
        for client in opened:
            await client.close()
