"""The longport adapter in this process (its asyncio contexts only: the loop keeps running),
with the real SDK, against the fake LongPort running as its own process: what reaches the
sink, for what a real server may do that the happy path does not show."""

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from datetime import time as clock
from decimal import Decimal
from pathlib import Path

import msgspec
import pytest
from tests.brokers.adapter_support import broker_order, until
from tests.brokers.longport.drive_adapter import settings
from tests.brokers.longport.fake_support import FakeLongport
from tests.brokers.sinks import RecordingSink

from tradebridge.brokers.base import Fill, OrderUpdate
from tradebridge.brokers.longport.adapter import (
    PING_INTERVAL_S,
    PING_TIMEOUT_S,
    SDK_RECONNECT_DELAY_S,
    LongportBroker,
    in_session,
)
from tradebridge.brokers.longport.sdk import load_sdk
from tradebridge.brokers.threads import ThreadCheckedSink
from tradebridge.domain.enums import OrderStatus
from tradebridge.domain.orders import Order

pytestmark = pytest.mark.anyio


@pytest.fixture
def fake(tmp_path: Path) -> Iterator[FakeLongport]:
    running = FakeLongport(tmp_path / "longport").start()
    yield running
    running.stop()


@pytest.fixture
async def longport(
    fake: FakeLongport, tmp_path: Path
) -> AsyncIterator[tuple[LongportBroker, RecordingSink]]:
    sink = RecordingSink()
    checked = ThreadCheckedSink(sink, threading.get_ident())
    broker = LongportBroker(
        "lp", settings(fake.port, tmp_path / "secrets"), checked, load_sdk(), base_currency="HKD"
    )
    await broker.connect()
    yield broker, sink
    await broker.close()


def an_order(qty: int, price: str, symbol: str = "00700.HK") -> Order:
    return broker_order("lp", symbol, qty, price)


def updates_of(sink: RecordingSink, order_id: str) -> list[OrderUpdate]:
    return [u for u in sink.of("order") if u.order_id == order_id]


def fills_of(sink: RecordingSink, order_id: str) -> list[Fill]:
    return [f for f in sink.of("fill") if f.order_id == order_id]


async def placed(broker: LongportBroker, sink: RecordingSink, order: Order) -> Order:
    await broker.place_order(order)
    broker_id = next(u.broker_order_id for u in updates_of(sink, order.id) if u.broker_order_id)
    return msgspec.structs.replace(order, broker_order_id=broker_id)


async def test_a_push_of_a_status_the_sdk_does_not_know_still_brings_its_fills(
    longport: tuple[LongportBroker, RecordingSink], fake: FakeLongport
) -> None:
    broker, sink = longport
    order = await placed(broker, sink, an_order(100, "370"))
    fake.call("fill", order_id=order.broker_order_id, qty=100, push_status="SomeNewStatus")
    (fill,) = await until(lambda: fills_of(sink, order.id), "the fill")
    assert (fill.qty, fill.price) == (100, Decimal("370"))
    pushed = updates_of(sink, order.id)[-1]
    assert pushed.status is OrderStatus.PENDING_NEW  # LongPort has it; the engine keeps its own
    assert pushed.filled_qty == 100


async def test_an_open_order_of_an_earlier_day_is_found_by_its_longport_id(
    longport: tuple[LongportBroker, RecordingSink], fake: FakeLongport
) -> None:
    broker, sink = longport
    order = await placed(broker, sink, an_order(100, "360", "AAPL.US"))
    fake.call("earlier_day", order_id=order.broker_order_id)  # a GTC order of yesterday
    assert order.id not in {o.order_id for o in await broker.query_orders()}
    found = await broker.find_order(order)
    assert found is not None
    assert (found.order_id, found.broker_order_id, found.status) == (
        order.id,
        order.broker_order_id,
        OrderStatus.NEW,
    )
    unknown = msgspec.structs.replace(an_order(100, "1"), broker_order_id="1")
    assert await broker.find_order(unknown) is None  # LongPort has no such id, nor remark


def test_a_session_that_ends_before_it_begins_runs_across_midnight() -> None:
    overnight = (clock(20, 0), clock(4, 0))
    assert in_session(*overnight, clock(23, 59))
    assert in_session(*overnight, clock(0, 30))
    assert not in_session(*overnight, clock(4, 0))
    assert not in_session(*overnight, clock(12, 0))
    assert in_session(clock(9, 30), clock(16, 0), clock(9, 30))
    assert not in_session(clock(9, 30), clock(16, 0), clock(16, 0))


async def test_an_order_s_charges_are_split_over_its_fills_once_it_has_ended(
    longport: tuple[LongportBroker, RecordingSink], fake: FakeLongport
) -> None:
    broker, sink = longport
    order = await placed(broker, sink, an_order(300, "370"))
    fake.call("fill", order_id=order.broker_order_id, qty=100)
    await until(lambda: fills_of(sink, order.id), "the first fill")
    await asyncio.sleep(0.5)
    assert sink.of("fee") == [], "no charges while the order works"
    fake.call("fill", order_id=order.broker_order_id, qty=200, price="369.5")
    fills = await until(
        lambda: len(fills_of(sink, order.id)) == 2 and fills_of(sink, order.id), "both fills"
    )
    assert [f.fee for f in fills] == [None, None]
    fees = dict(await until(lambda: len(sink.of("fee")) == 2 and sink.of("fee"), "the fees"))
    # 0.03% of 110,900 (33.27) and 0.00565% (6.27) = 39.54, by quantity: 1/3 and the rest
    assert fees == {fills[0].trade_id: Decimal("13.18"), fills[1].trade_id: Decimal("26.36")}


async def test_charges_worked_out_late_are_read_again_and_at_the_next_connect(
    longport: tuple[LongportBroker, RecordingSink], fake: FakeLongport, tmp_path: Path
) -> None:
    broker, sink = longport
    fake.call("hold_charges", on=True)
    order = await placed(broker, sink, an_order(100, "370"))
    fake.call("fill", order_id=order.broker_order_id, qty=100)
    (fill,) = await until(lambda: fills_of(sink, order.id), "the fill")
    await asyncio.sleep(1.0)
    assert sink.of("fee") == []
    fake.call("hold_charges", on=False)
    fees = await until(lambda: sink.of("fee"), "the fee, read again", within=8)
    # 0.03% of 37,000 (11.10) and 0.00565% (2.09)
    assert fees == [(fill.trade_id, Decimal("13.19"))]

    fake.call("hold_charges", on=True)
    other = await placed(broker, sink, an_order(100, "371"))
    fake.call("fill", order_id=other.broker_order_id, qty=100)
    (other_fill,) = await until(lambda: fills_of(sink, other.id), "the other fill")
    await broker.close()  # gone before LongPort worked the charges out
    fake.call("hold_charges", on=False)
    again = RecordingSink()
    broker = LongportBroker(
        "lp", settings(fake.port, tmp_path / "secrets"), again, load_sdk(), base_currency="HKD"
    )
    await broker.connect()
    try:
        booked = await until(lambda: len(again.of("fee")) == 2 and again.of("fee"), "at connect")
        # 11.13 + 2.10; the one booked before again, the same (the engine keeps the first)
        assert dict(booked) == {
            other_fill.trade_id: Decimal("13.23"),
            fill.trade_id: Decimal("13.19"),
        }
    finally:
        await broker.close()


async def test_quotes_carry_the_best_bid_and_ask_and_positions_the_last_price(
    longport: tuple[LongportBroker, RecordingSink], fake: FakeLongport
) -> None:
    broker, _ = longport
    (quote,) = await broker.quotes(["00700.HK"])
    assert (quote.last, quote.bid, quote.bid_size, quote.ask, quote.ask_size) == (
        Decimal("380.0"),
        Decimal("379.8"),
        500,
        Decimal("380.2"),
        1000,
    )
    (position,) = await broker.query_positions()
    assert (position.symbol, position.qty, position.avg_cost) == ("09988.HK", 500, Decimal("80"))
    assert (position.last_price, position.market_value, position.unrealized_pnl) == (
        Decimal("85.0"),
        Decimal("42500"),
        Decimal("2500"),
    )


def test_the_sdk_still_gives_no_disconnect_signal_so_the_watch_times_a_ping() -> None:
    """If longbridge grows a disconnect callback or a session state, use it (adapter.py)."""
    sdk = load_sdk()
    for context in (sdk.AsyncTradeContext, sdk.AsyncQuoteContext):
        callbacks = {name for name in dir(context) if name.startswith("set_on_")}
        assert not {n for n in callbacks if "connect" in n or "state" in n or "close" in n}
        assert not {n for n in dir(context) if "session_state" in n or n == "is_connected"}
    # the first ping after a drop is held at least the SDK's delay less one interval
    assert PING_TIMEOUT_S < SDK_RECONNECT_DELAY_S - PING_INTERVAL_S
