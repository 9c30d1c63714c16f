"""Event bus over real PUB/SUB sockets: order, filtering, heartbeat, liveness, never blocking."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest
import zmq
import zmq.asyncio

from tradebridge.rpc import EventPublisher, EventSubscriber, events

from .support import HEARTBEAT_MS, Net, free_address, wait_for

pytestmark = pytest.mark.anyio


async def receive_n(subscriber: EventSubscriber, n: int) -> list[tuple[str, bytes]]:
    return [await asyncio.wait_for(subscriber.receive(), 2) for _ in range(n)]


async def test_events_arrive_in_order_and_heartbeats_are_never_returned(
    net: Net, address: str
) -> None:
    publisher = await net.publisher(address)
    subscriber = await net.subscriber(address, [""])
    await wait_for(lambda: subscriber.alive)  # the subscription is in place

    for seq in range(2000):
        publisher.publish(f"orders.acc{seq % 3}", seq.to_bytes(4, "big"))
    received = await receive_n(subscriber, 2000)
    assert [int.from_bytes(payload, "big") for _, payload in received] == list(range(2000))
    assert received[4] == ("orders.acc1", (4).to_bytes(4, "big"))

    await asyncio.sleep(3 * HEARTBEAT_MS / 1000)  # heartbeats keep coming meanwhile
    publisher.publish("orders.acc0", b"last")
    assert await asyncio.wait_for(subscriber.receive(), 2) == ("orders.acc0", b"last")
    assert subscriber.alive


async def test_a_batch_arrives_as_its_events_in_order(net: Net, address: str) -> None:
    publisher = await net.publisher(address)
    subscriber = await net.subscriber(address, ["acct.a."])
    await wait_for(lambda: subscriber.alive)

    publisher.publish_batch("acct.b.", [b"not subscribed"])
    publisher.publish_batch("acct.a.", [b"1", b"2", b"3"])
    publisher.publish("acct.a.", b"4")
    received = await receive_n(subscriber, 4)
    assert received == [("acct.a.", b"1"), ("acct.a.", b"2"), ("acct.a.", b"3"), ("acct.a.", b"4")]


async def test_subscriber_gets_only_its_topic_prefixes(net: Net, address: str) -> None:
    publisher = await net.publisher(address)
    orders = await net.subscriber(address, ["orders.", "trades.acc1"])
    await wait_for(lambda: orders.alive)

    for topic in ["quotes.600000", "orders.acc1", "trades.acc2", "trades.acc1", "orders.acc2"]:
        publisher.publish(topic, topic.encode())
    publisher.publish("orders.end", b"")
    received = await receive_n(orders, 4)
    assert [topic for topic, _ in received] == [
        "orders.acc1",
        "trades.acc1",
        "orders.acc2",
        "orders.end",
    ]


async def test_alive_follows_the_publisher(net: Net, address: str) -> None:
    publisher = await net.publisher(address)
    subscriber = await net.subscriber(address, ["orders."])  # heartbeats arrive regardless
    assert not subscriber.alive  # nothing seen yet
    await wait_for(lambda: subscriber.alive)

    await publisher.close()
    stopped = time.monotonic()
    await wait_for(lambda: not subscriber.alive)
    assert time.monotonic() - stopped < 4 * HEARTBEAT_MS / 1000 + 0.1

    # A new publisher on the same address: the subscriber reconnects by itself.
    publisher = await net.publisher(address)
    await wait_for(lambda: subscriber.alive)
    publisher.publish("orders.acc1", b"again")
    assert await asyncio.wait_for(subscriber.receive(), 2) == ("orders.acc1", b"again")


async def test_publish_never_blocks_on_a_subscriber_that_does_not_read(address: str) -> None:
    """A raw SUB socket that never reads: ZeroMQ queues up to the high-water mark, then drops
    for that subscriber; publish() returns at once every time."""
    publisher = EventPublisher(address, heartbeat_ms=HEARTBEAT_MS)
    await publisher.start()
    sub = zmq.asyncio.Context.instance().socket(zmq.SUB)
    sub.setsockopt(zmq.LINGER, 0)
    sub.setsockopt(zmq.RCVHWM, 10)
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    sub.connect(address)
    try:
        await asyncio.sleep(0.1)
        payload = b"x" * 1000
        started = time.perf_counter()
        for _ in range(60_000):
            publisher.publish("quotes.600000", payload)
        assert time.perf_counter() - started < 3.0
    finally:
        sub.close(linger=0)
        await publisher.close()


async def test_subscriber_whose_owner_lags_drops_and_recovers(
    net: Net, address: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(events, "SUBSCRIBER_QUEUE", 10)
    caplog.set_level(logging.WARNING, logger="tradebridge.rpc.events")
    publisher = await net.publisher(address)
    subscriber = await net.subscriber(address, ["e"])
    await wait_for(lambda: subscriber.alive)

    for seq in range(25):
        publisher.publish("e", bytes([seq]))
    await asyncio.sleep(0.1)  # the owner is busy; the subscriber keeps reading the socket
    assert subscriber.alive
    assert [payload[0] for _, payload in await receive_n(subscriber, 10)] == list(range(10))
    warnings = [r.getMessage() for r in caplog.records]
    assert sum("dropping" in w for w in warnings) == 1  # once per episode, not per event

    publisher.publish("e", b"\xff")
    assert await asyncio.wait_for(subscriber.receive(), 2) == ("e", b"\xff")
    assert "after dropping 15 events" in caplog.text


async def test_garbage_on_the_bus_is_dropped(net: Net, address: str) -> None:
    subscriber = await net.subscriber(address, [""])
    pub = zmq.asyncio.Context.instance().socket(zmq.PUB)
    pub.setsockopt(zmq.LINGER, 0)
    pub.bind(address)
    try:
        await wait_for_subscription(pub, subscriber)
        await pub.send_multipart([b"only-a-topic"])
        await pub.send_multipart([b"\xff\xfe", b"bad topic"])
        await pub.send_multipart([b"fine", b"payload", b"and another"])  # a batch: two events
        assert await receive_n(subscriber, 2) == [("fine", b"payload"), ("fine", b"and another")]
    finally:
        pub.close(linger=0)


async def wait_for_subscription(pub: zmq.asyncio.Socket, subscriber: EventSubscriber) -> None:
    """Send heartbeats from a raw PUB until the subscriber sees one (its subscription is live)."""
    deadline = time.monotonic() + 2
    while not subscriber.alive:
        assert time.monotonic() < deadline, "subscription never became active"
        await pub.send_multipart([events.HEARTBEAT_TOPIC.encode(), b""])
        await asyncio.sleep(0.01)


async def test_lifecycle_errors() -> None:
    address = free_address()
    publisher = EventPublisher(address)
    with pytest.raises(RuntimeError, match="not started"):
        publisher.publish("x", b"")
    subscriber = EventSubscriber(address, ["x"])
    await subscriber.start()
    waiting = asyncio.create_task(subscriber.receive())
    await asyncio.sleep(0.01)
    await subscriber.close()
    with pytest.raises(RuntimeError, match="closed"):
        await asyncio.wait_for(waiting, 1)
    with pytest.raises(RuntimeError, match="closed"):
        await subscriber.receive()
    await subscriber.close()
    await publisher.close()
