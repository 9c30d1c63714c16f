"""Which symbols an account's broker streams: what web clients watch (as leases, so a web that
dies stops wanting them) and what the engine itself trades; a broker without streaming is
polled instead."""

import asyncio
from collections.abc import Awaitable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar

import pytest

from tradebridge.brokers.base import Capabilities
from tradebridge.domain.models import Quote
from tradebridge.engine.quote_feed import QuoteFeed

pytestmark = pytest.mark.anyio
T = TypeVar("T")


class Feed:
    """The quote side of a broker: it records (un)subscriptions and answers snapshots."""

    def __init__(self, streaming: bool) -> None:
        self.capabilities = Capabilities(quote_streaming=streaming)
        self.calls: list[tuple[str, list[str]]] = []

    async def subscribe_quotes(self, symbols: list[str]) -> None:
        self.calls.append(("subscribe", symbols))

    async def unsubscribe_quotes(self, symbols: list[str]) -> None:
        self.calls.append(("unsubscribe", symbols))

    async def quotes(self, symbols: list[str]) -> list[Quote]:
        self.calls.append(("quotes", symbols))
        return [
            Quote(
                symbol=s,
                last=Decimal(10),
                bid=None,
                ask=None,
                bid_size=0,
                ask_size=0,
                pre_close=None,
                time=datetime.now(UTC),
            )
            for s in symbols
        ]


async def ask(query: Awaitable[T], what: str) -> T:
    return await query


def feed_of(broker: Feed, published: list[Quote], poll_s: float = 0.02) -> QuoteFeed:
    fake: Any = broker
    return QuoteFeed(lambda: fake, published.append, ask, poll_interval_s=poll_s)


async def test_leases_of_web_processes_drive_the_subscriptions() -> None:
    broker = Feed(streaming=True)
    feed = feed_of(broker, [])
    await feed.lease("web-1", ["A.US", "B.US"], 30)
    await feed.lease("web-2", ["B.US", "C.US"], 30)
    await feed.lease("web-1", [], 30)  # its last watcher left
    assert broker.calls == [
        ("subscribe", ["A.US", "B.US"]),
        ("subscribe", ["C.US"]),
        ("unsubscribe", ["A.US"]),
    ]
    broker.calls.clear()
    await feed.resubscribe()  # a new broker session streams nothing until asked again
    assert broker.calls == [("subscribe", ["B.US", "C.US"])]


async def test_a_lease_not_renewed_ends() -> None:
    broker = Feed(streaming=True)
    feed = feed_of(broker, [])
    feed.start("t")
    try:
        await feed.lease("web-1", ["A.US"], 0.05)  # the web died: no renewal comes
        await asyncio.sleep(0.2)
    finally:
        await feed.stop()
    assert broker.calls == [("subscribe", ["A.US"]), ("unsubscribe", ["A.US"])]


async def test_a_broker_without_streaming_is_polled_for_what_is_wanted() -> None:
    broker = Feed(streaming=False)
    published: list[Quote] = []
    feed = feed_of(broker, published)
    feed.start("t")
    try:
        await feed.lease("web-1", ["A.US"], 30)
        feed.want(["B.US"])
        await asyncio.sleep(0.1)
    finally:
        await feed.stop()
    assert ("quotes", ["A.US", "B.US"]) in broker.calls
    assert not any(kind == "subscribe" for kind, _ in broker.calls)
    assert {q.symbol for q in published} == {"A.US", "B.US"}
