"""The tiger adapter in process, with the real tigeropen, against the fake Tiger OpenAPI running
as its own process: what reaches the sink (on the loop's thread), and what the fake then holds."""

import asyncio
import functools
import threading
import time
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
import pytest
from tests.brokers.adapter_support import broker_order, until
from tests.brokers.sinks import RecordingSink
from tests.brokers.tiger.fake_support import ACCOUNT, TIGER_ID, FakeTiger

from tradebridge.brokers.base import Fill, OrderUpdate
from tradebridge.brokers.mapping import UnmappedValue
from tradebridge.brokers.threads import ThreadCheckedSink
from tradebridge.brokers.tiger import create
from tradebridge.brokers.tiger.adapter import TigerBroker, market_status_of
from tradebridge.brokers.tiger.config import TigerSettings
from tradebridge.brokers.tiger.mapping import STATUS, UnknownSymbol, to_our_symbol, to_tiger
from tradebridge.domain.enums import ConnectionState, MarketStatus, OrderStatus, Side
from tradebridge.domain.errors import BrokerUnavailable, NotCancelable, OrderRejected
from tradebridge.domain.orders import Order

pytestmark = pytest.mark.anyio

an_order = functools.partial(broker_order, "tiger")


class Account:
    def __init__(self, settings: TigerSettings) -> None:
        self.id = "tiger"
        self.tiger = settings
        self.base_currency = "USD"


@pytest.fixture
def fake(tmp_path: Path) -> Iterator[FakeTiger]:
    running = FakeTiger(tmp_path / "tiger").start()
    yield running
    running.stop()


def settings_of(fake: FakeTiger, **overrides: Any) -> TigerSettings:
    values: dict[str, Any] = {
        "tiger_id": TIGER_ID,
        "account": ACCOUNT,
        "private_key_file": fake.private_key,
        "server_url": fake.server_url,
        "socket_host_port": fake.socket_host_port,
        "request_timeout_s": 3,
        "read_retries": 0,
    } | overrides
    return TigerSettings(**values)


async def started(
    fake: FakeTiger, tmp_path: Path, **overrides: Any
) -> tuple[TigerBroker, RecordingSink]:
    sink = RecordingSink()
    checked = ThreadCheckedSink(sink, threading.get_ident())
    broker = create(Account(settings_of(fake, **overrides)), checked, tmp_path / "files")
    assert isinstance(broker, TigerBroker)
    await broker.connect()
    return broker, sink


@pytest.fixture
async def tiger(
    fake: FakeTiger, tmp_path: Path
) -> AsyncIterator[tuple[TigerBroker, RecordingSink]]:
    broker, sink = await started(fake, tmp_path)
    yield broker, sink
    await broker.close()


def updates_of(sink: RecordingSink, order_id: str) -> list[OrderUpdate]:
    return [u for u in sink.of("order") if u.order_id == order_id]


def fills_of(sink: RecordingSink, broker_order_id: str) -> list[Fill]:
    return [f for f in sink.of("fill") if f.broker_order_id == broker_order_id]


async def placed(broker: TigerBroker, sink: RecordingSink, order: Order) -> Order:
    """`order` placed, with the Tiger id the adapter reported for it."""
    await broker.place_order(order)
    (first, *_) = updates_of(sink, order.id)
    assert first.broker_order_id is not None
    return msgspec_replace(order, broker_order_id=first.broker_order_id)


def msgspec_replace(order: Order, **changes: Any) -> Order:
    return msgspec.structs.replace(order, **changes)


async def test_connects_and_reports_the_books_as_the_fake_holds_them(
    tiger: tuple[TigerBroker, RecordingSink], fake: FakeTiger
) -> None:
    broker, sink = tiger
    assert sink.of("connection")[-1] is ConnectionState.CONNECTED
    assert await broker.ping()
    summary = await broker.query_account()
    balances = {b.currency: b for b in summary.balances}
    assert balances["USD"].cash == Decimal("100000.00")
    assert balances["HKD"].cash == Decimal("50000.00")
    assert summary.equity == Decimal("100000.00") + 100 * Decimal("190.50")
    (position,) = await broker.query_positions()
    assert (position.symbol, position.qty, position.avg_cost) == ("AAPL.US", 100, Decimal("150.25"))
    statuses = {s.venue: s for s in await broker.market_status()}
    assert (statuses["US"].status, statuses["US"].broker_status) == (MarketStatus.OPEN, "TRADING")
    assert statuses["HK"].status is MarketStatus.CLOSED
    (quote,) = await broker.quotes(["00700.HK"])
    assert (quote.last, quote.bid, quote.ask) == (
        Decimal("320.2"),
        Decimal("320.15"),
        Decimal("320.25"),
    )
    contract = await broker.contract("00700.HK")
    assert contract is not None
    assert (contract.name, contract.lot_size, contract.tick_size) == (
        "Tencent",
        100,
        Decimal("0.2"),
    )
    seen = fake.state()["seen"]
    assert seen["push_connections"] >= 1
    assert {"prime_assets", "positions", "market_state", "brief"} <= set(seen["methods"])


async def test_a_resting_order_fills_in_two_parts_and_gets_its_commission(
    tiger: tuple[TigerBroker, RecordingSink], fake: FakeTiger
) -> None:
    broker, sink = tiger
    order = await placed(broker, sink, an_order("AAPL.US", 10, "189.5"))
    held = fake.order(order.id)
    assert (held["userMark"], held["totalQuantity"], held["limitPrice"]) == (order.id, 10, 189.5)
    assert order.broker_order_id == str(held["id"])
    await until(
        lambda: any(u.status is OrderStatus.NEW for u in updates_of(sink, order.id)), "the ack"
    )
    fake.call("fill", user_mark=order.id, qty=4, price="189.4")
    fake.call("fill", user_mark=order.id, qty=6, price="189.5", commission=2.5)
    fills = await until(
        lambda: len(fills_of(sink, str(held["id"]))) == 2 and fills_of(sink, str(held["id"])),
        "both fills",
    )
    assert [(f.qty, f.price, f.fee) for f in fills] == [
        (4, Decimal("189.4"), None),
        (6, Decimal("189.5"), None),
    ]
    await until(
        lambda: any(u.status is OrderStatus.FILLED for u in updates_of(sink, order.id)), "filled"
    )
    fees = await until(lambda: len(sink.of("fee")) == 2 and sink.of("fee"), "the fees")
    assert dict(fees) == {fills[0].trade_id: Decimal("1.00"), fills[1].trade_id: Decimal("1.50")}
    positions = [p for p in sink.of("position") if p.symbol == "AAPL.US"]
    assert positions[-1].qty == 110
    assert sink.of("account"), "the asset push made the adapter read the account again"
    assert [f.trade_id for f in await broker.query_trades()] == [f.trade_id for f in fills]
    (listed,) = [o for o in await broker.query_orders() if o.order_id == order.id]
    assert (listed.status, listed.filled_qty) == (OrderStatus.FILLED, 10)


async def test_executions_no_push_brought_are_read_from_tiger_once(
    tiger: tuple[TigerBroker, RecordingSink], fake: FakeTiger
) -> None:
    broker, sink = tiger
    order = await placed(broker, sink, an_order("AAPL.US", 10, "189.5"))
    broker_id = order.broker_order_id or ""
    fake.call("fill", user_mark=order.id, qty=4, push_execution=False)  # the status push only
    (first,) = await until(lambda: fills_of(sink, broker_id), "the fill read from Tiger")
    assert (first.qty, first.price, first.fee) == (4, Decimal("189.5"), None)
    fake.call("fill", user_mark=order.id, qty=6)  # with its execution push, as usual
    await until(lambda: len(fills_of(sink, broker_id)) == 2, "the pushed fill")
    await until(lambda: len(sink.of("fee")) == 2, "the fees of the ended order")
    await asyncio.sleep(1.0)  # the reads after the status pushes found nothing new
    assert sorted(f.qty for f in fills_of(sink, broker_id)) == [4, 6]


async def test_a_refusal_carries_tiger_s_message_and_a_cancel_cancels(
    tiger: tuple[TigerBroker, RecordingSink], fake: FakeTiger
) -> None:
    broker, sink = tiger
    fake.call("refuse_next", code=1010, message="insufficient buying power")
    with pytest.raises(OrderRejected, match="insufficient buying power"):
        await broker.place_order(an_order("AAPL.US", 10_000, "190"))
    order = await placed(broker, sink, an_order("00700.HK", 100, "300"))
    assert fake.order(order.id)["currency"] == "HKD"
    await broker.cancel_order(order)
    await until(
        lambda: any(u.status is OrderStatus.CANCELED for u in updates_of(sink, order.id)),
        "the cancel",
    )
    with pytest.raises(NotCancelable, match="Cancelled"):
        await broker.cancel_order(order)
    with pytest.raises(OrderRejected, match="US and HK"):
        await broker.place_order(an_order("600000.SH", 100, "10"))


async def test_an_order_entered_in_the_tiger_app_carries_its_details(
    tiger: tuple[TigerBroker, RecordingSink], fake: FakeTiger
) -> None:
    broker, sink = tiger
    external = fake.call("external", symbol="00700", action="SELL", qty=200, price=330.0)["order"]
    update = await until(
        lambda: next(
            (u for u in sink.of("order") if u.broker_order_id == str(external["id"])), None
        ),
        "the app order's push",
    )
    assert update.order_id is None
    assert update.details is not None
    assert (update.details.symbol, update.details.side, update.details.qty) == (
        "00700.HK",
        Side.SELL,
        200,
    )
    assert update.details.limit_price == Decimal("330")
    (listed,) = [o for o in await broker.query_orders() if o.broker_order_id == str(external["id"])]
    assert listed.order_id is None
    assert listed.details is not None


async def test_an_answer_lost_on_the_way_is_looked_up_before_it_counts_as_failed(
    tiger: tuple[TigerBroker, RecordingSink], fake: FakeTiger
) -> None:
    broker, sink = tiger
    fake.call("silence_next_place")
    order = an_order("AAPL.US", 5, "188")
    await broker.place_order(order)  # the SDK's request timed out; the look-up found it
    held = str(fake.order(order.id)["id"])
    assert {u.broker_order_id for u in updates_of(sink, order.id)} == {held}
    update = updates_of(sink, order.id)[0]
    assert fake.state()["seen"]["methods"]["place_order"] == 1, "never sent twice"
    found = await broker.find_order(msgspec_replace(order, broker_order_id=update.broker_order_id))
    assert found is not None
    assert found.order_id == order.id


async def test_tiger_gone_is_disconnected_and_back_is_reconnected(
    tiger: tuple[TigerBroker, RecordingSink], fake: FakeTiger
) -> None:
    broker, sink = tiger
    order = await placed(broker, sink, an_order("AAPL.US", 3, "189"))
    fake.kill()
    await until(lambda: sink.of("connection")[-1] is ConnectionState.DISCONNECTED, "the loss")
    assert not await broker.ping()
    with pytest.raises(BrokerUnavailable):
        await broker.place_order(an_order("AAPL.US", 1, "189"))
    fake.start()
    fake.call("fill", user_mark=order.id, silent=True)  # while the adapter was away
    await until(lambda: sink.of("connection")[-1] is ConnectionState.CONNECTED, "reconnected")
    (fill,) = [f for f in await broker.query_trades() if f.order_id == order.id]
    assert fill.qty == 3
    again = await placed(broker, sink, an_order("AAPL.US", 2, "189"))
    fake.call("fill", user_mark=again.id)
    await until(lambda: fills_of(sink, again.broker_order_id or ""), "a push on the new session")


async def test_tiger_down_at_start_is_reported_at_once_and_a_wrong_key_is_refused(
    fake: FakeTiger, tmp_path: Path
) -> None:
    fake.stop()
    started_at = time.monotonic()
    broker, sink = await started(fake, tmp_path)
    try:
        assert time.monotonic() - started_at < 5
        assert sink.of("connection")[-1] is ConnectionState.DISCONNECTED
        fake.start()
        await until(lambda: sink.of("connection")[-1] is ConnectionState.CONNECTED, "connected")
    finally:
        await broker.close()
    other = FakeTiger(tmp_path / "other")  # its key pair is not the one the fake checks
    broker, sink = await started(fake, tmp_path, private_key_file=other.private_key)
    try:
        assert sink.of("connection")[-1] is ConnectionState.DISCONNECTED
        assert await broker.ping() is False
    finally:
        await broker.close()


def test_symbols_and_unknown_values() -> None:
    assert to_tiger("00700.HK") == ("00700", "HK", "HKD")
    assert to_our_symbol("AAPL", "US") == "AAPL.US"
    assert to_our_symbol("00700", None, "HKD") == "00700.HK"
    with pytest.raises(UnknownSymbol):
        to_tiger("600000.SH")
    with pytest.raises(UnmappedValue, match="'SOMETHING'"):
        STATUS.to_ours("SOMETHING")


def test_market_status_strings_are_tiger_s_and_a_new_one_is_unknown() -> None:
    documented = {
        "NOT_YET_OPEN": MarketStatus.CLOSED,
        "PRE_HOUR_TRADING": MarketStatus.PRE_HOURS,
        "TRADING": MarketStatus.OPEN,
        "MIDDLE_CLOSE": MarketStatus.BREAK,
        "POST_HOUR_TRADING": MarketStatus.AFTER_HOURS,
        "CLOSING": MarketStatus.CLOSED,
        "EARLY_CLOSED": MarketStatus.CLOSED,
        "MARKET_CLOSED": MarketStatus.CLOSED,
    }
    assert {value: market_status_of(value) for value in documented} == documented
    assert market_status_of("OVERNIGHT_TRADING") is MarketStatus.UNKNOWN
    assert market_status_of("") is MarketStatus.UNKNOWN
