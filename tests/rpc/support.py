"""Helpers for the RPC transport tests: free loopback addresses, a tiny test service, and
:class:`Net`, which starts endpoints and closes them all at teardown.

Everything runs on real sockets on 127.0.0.1. Heartbeats are short (``HEARTBEAT_MS``) so that
link loss is detected in well under a second.
"""

from __future__ import annotations

import asyncio
import errno
import socket
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack

import msgspec
import pytest
import zmq

from tradebridge.domain.enums import RejectReason
from tradebridge.domain.errors import NotFound, OrderRejected
from tradebridge.rpc import EventPublisher, EventSubscriber, RpcClient, RpcServer

HEARTBEAT_MS = 100


class Echo(msgspec.Struct):
    value: int
    delay_ms: int = 0


class Echoed(msgspec.Struct):
    value: int
    served_by: str


class Order(msgspec.Struct):
    symbol: str
    qty: int
    price: float


def free_address() -> str:
    """A ``tcp://127.0.0.1:<port>`` address nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"tcp://127.0.0.1:{port}"


async def wait_for(predicate: Callable[[], bool], within: float = 2.0) -> None:
    """Poll ``predicate`` until it is true; fail the test after ``within`` seconds."""
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {within}s")
        await asyncio.sleep(0.005)


async def start_binding(start: Callable[[], Awaitable[None]]) -> None:
    """Run ``start`` (which binds), retrying briefly while the port is still being released:
    ZeroMQ closes a listener in its I/O thread, a moment after ``close()`` returns."""
    deadline = time.monotonic() + 2
    while True:
        try:
            await start()
            return
        except zmq.ZMQError as exc:
            if exc.errno != errno.EADDRINUSE or time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.01)


def register_test_service(server: RpcServer, name: str = "server") -> None:
    """echo, place (typed order), reject, missing, crash, none, bad_result."""

    async def echo(params: Echo) -> Echoed:
        if params.delay_ms:
            await asyncio.sleep(params.delay_ms / 1000)
        return Echoed(params.value, name)

    async def place(order: Order) -> dict[str, object]:
        return {"symbol": order.symbol, "notional": order.qty * order.price}

    async def reject(order: Order) -> None:
        raise OrderRejected(
            RejectReason.INSUFFICIENT_FUNDS,
            f"not enough cash for {order.qty} {order.symbol}",
            {"order_id": "ord-1", "needed": 1234.5},
        )

    async def missing(_: None) -> None:
        raise NotFound("no such order", {"order_id": "ord-404"})

    async def crash(_: None) -> None:
        secret = "db-password-hunter2"
        raise ZeroDivisionError(f"boom with {secret}")

    async def none(_: None) -> None:
        return None

    async def bad_result(_: None) -> object:
        return object()  # msgpack cannot encode this

    server.register("echo", Echo, echo)
    server.register("place", Order, place)
    server.register("reject", Order, reject)
    server.register("missing", type(None), missing)
    server.register("crash", type(None), crash)
    server.register("none", type(None), none)
    server.register("bad_result", type(None), bad_result)


class Net:
    """Starts servers, clients, publishers and subscribers; closes them all at teardown."""

    def __init__(self, stack: AsyncExitStack) -> None:
        self._stack = stack

    async def server(self, address: str, name: str = "server") -> RpcServer:
        server = RpcServer(address, heartbeat_ms=HEARTBEAT_MS)
        register_test_service(server, name)
        await start_binding(server.start)
        self._stack.push_async_callback(server.close)
        return server

    async def client(
        self,
        address: str,
        *,
        timeout_ms: int = 2000,
        wait: bool = True,
        heartbeat_ms: int = HEARTBEAT_MS,
    ) -> RpcClient:
        client = RpcClient(address, heartbeat_ms=heartbeat_ms, timeout_ms=timeout_ms)
        await client.start()
        self._stack.push_async_callback(client.close)
        if wait:
            assert await client.wait_connected(2000), "client did not connect"
        return client

    async def publisher(self, address: str) -> EventPublisher:
        publisher = EventPublisher(address, heartbeat_ms=HEARTBEAT_MS)
        await start_binding(publisher.start)
        self._stack.push_async_callback(publisher.close)
        return publisher

    async def subscriber(self, address: str, topics: list[str]) -> EventSubscriber:
        subscriber = EventSubscriber(address, topics, heartbeat_ms=HEARTBEAT_MS)
        await subscriber.start()
        self._stack.push_async_callback(subscriber.close)
        return subscriber

    def later(self, close: Callable[[], Awaitable[None]]) -> None:
        """Close something the test made itself at teardown (closing twice is fine)."""
        self._stack.push_async_callback(close)
