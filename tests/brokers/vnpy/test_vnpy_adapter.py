"""The vnpy adapter hosting the fake gateway (a BaseGateway with threads of its own, in front
of the fake counter process): the whole order path as reports to the sink, ids kept across a
restart, refusals with the gateway's words, disconnects, quotes and books."""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import msgspec
import pytest
from tests.brokers.vnpy.counter_support import Counter, until

from tradebridge.brokers.base import JournalSnapshot, OrderUpdate
from tradebridge.domain.enums import (
    ConnectionState,
    Direction,
    Offset,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
)
from tradebridge.domain.errors import BrokerUnavailable, NotCancelable, OrderRejected
from tradebridge.domain.orders import Order, OrderRequest, new_order

pytestmark = pytest.mark.anyio

COPPER = "cu2601.SHFE"


def an_order(
    order_id: str,
    symbol: str = COPPER,
    side: Side = Side.BUY,
    qty: int = 1,
    price: str | None = "86000",
    offset: Offset | None = Offset.OPEN,
    **more: Any,
) -> Order:
    request = OrderRequest(
        symbol=symbol,
        side=side,
        qty=qty,
        type=OrderType.LIMIT if price else OrderType.MARKET,
        limit_price=Decimal(price) if price else None,
        offset=offset,
        **more,
    )
    return new_order(
        request, order_id=order_id, client_order_id=order_id, account="fake", now=datetime.now(UTC)
    )


def updates(sink: Any, order_id: str | None = None) -> list[OrderUpdate]:
    return [u for u in sink.of("order") if order_id is None or u.order_id == order_id]


async def test_connects_with_books_and_contracts(host: Callable[..., Any]) -> None:
    async with host() as hosted:
        broker = hosted.broker
        assert await broker.ping()
        assert hosted.sink.of("connection")[-1] is ConnectionState.CONNECTED
        contract = await broker.contract(COPPER)
        assert contract is not None
        assert (contract.tick_size, contract.multiplier, contract.name) == (
            Decimal(10),
            Decimal(5),
            "沪铜2601",
        )
        listed = {c.symbol for c in await broker.contracts(None, None)}
        assert listed == {
            "cu2601.SHFE",
            "rb2601.SHFE",
            "IF2601.CFFEX",
            "m2601.DCE",
            "600519.SH",
            "000001.SZ",
        }  # the option is not listed
        assert {c.symbol for c in await broker.contracts("SHFE", "rb")} == {"rb2601.SHFE"}
        summary = await broker.query_account()
        assert summary.cash == Decimal(10_000_000)
        assert broker.capabilities.quote_streaming
        assert await broker.contract("ag2601.SHFE") is None


async def test_resting_order_partial_fills_then_filled(
    host: Callable[..., Any], counter: Counter
) -> None:
    async with host() as hosted:
        broker, sink = hosted.broker, hosted.sink
        order = an_order("o-1", qty=3)
        vt_orderid = await broker.send(order)
        assert vt_orderid.startswith("FAKE.1_")
        await until(lambda: any(u.status is OrderStatus.NEW for u in updates(sink, "o-1")))
        first = updates(sink, "o-1")[0]
        assert (first.status, first.broker_order_id) == (OrderStatus.PENDING_NEW, vt_orderid)
        assert sink.states[f"vt:{vt_orderid}"].startswith('{"order":"o-1"')
        counter.quote("cu2601", bid="85990", ask="86000", size=1)
        await until(lambda: len(sink.of("fill")) == 1)
        counter.quote("cu2601", bid="85990", ask="85990", size=5)
        await until(lambda: len(sink.of("fill")) == 2)
        fills = sink.of("fill")
        assert [(f.order_id, f.qty, f.price) for f in fills] == [
            ("o-1", 1, Decimal(86000)),
            ("o-1", 2, Decimal(85990)),
        ]
        assert fills[0].trade_id != fills[1].trade_id
        await until(lambda: updates(sink, "o-1")[-1].status is OrderStatus.FILLED)
        await until(lambda: any(p.qty == 3 for p in sink.of("position")))
        (position,) = await broker.query_positions()
        assert (position.symbol, position.direction, position.qty) == (COPPER, Direction.LONG, 3)
        (listed,) = await broker.query_orders()
        assert (listed.order_id, listed.status, listed.filled_qty) == ("o-1", OrderStatus.FILLED, 3)
        assert {f.trade_id for f in await broker.query_trades()} == {f.trade_id for f in fills}


async def test_cancel_and_a_refused_cancel(host: Callable[..., Any], counter: Counter) -> None:
    async with host() as hosted:
        broker, sink = hosted.broker, hosted.sink
        order = an_order("o-2")
        vt_orderid = await broker.send(order)
        await until(lambda: updates(sink, "o-2")[-1].status is OrderStatus.NEW)
        working = msgspec.structs.replace(order, broker_order_id=vt_orderid)
        await broker.cancel_order(working)
        await until(lambda: updates(sink, "o-2")[-1].status is OrderStatus.CANCELED)
        with pytest.raises(NotCancelable):
            await broker.cancel_order(working)
        # a cancel the counter refuses (the order filled meanwhile, not yet pushed)
        other = an_order("o-3")
        vt_other = await broker.send(other)
        await until(lambda: updates(sink, "o-3")[-1].status is OrderStatus.NEW)
        counter.call("ctl.hold", on=True)
        counter.quote("cu2601", bid="85990", ask="86000")
        await broker.cancel_order(msgspec.structs.replace(other, broker_order_id=vt_other))
        await until(lambda: sink.of("cancel_refused"), timeout_s=5)
        (refused,) = sink.of("cancel_refused")
        assert refused[:2] == ("o-3", vt_other)
        assert "交易撤单失败" in refused[2]
        counter.call("ctl.hold", on=False)
        await until(lambda: updates(sink, "o-3")[-1].status is OrderStatus.FILLED)


async def test_rejections_carry_the_gateways_words(
    host: Callable[..., Any], counter: Counter
) -> None:
    async with host(**{"流控": 1}) as hosted:
        broker, sink = hosted.broker, hosted.sink
        close = an_order("o-4", side=Side.SELL, offset=Offset.CLOSE)
        await broker.send(close)  # nothing to close: the counter refuses it
        await until(lambda: updates(sink, "o-4")[-1].status is OrderStatus.REJECTED)
        rejected = updates(sink, "o-4")[-1]
        assert rejected.reason is not None
        assert "平仓量超过持仓量" in rejected.reason
        with pytest.raises(OrderRejected) as refused:  # the gateway's flow control: ""
            await broker.send(an_order("o-5"))
        assert "错误代码：-3" in refused.value.message
        assert updates(sink, "o-5") == []
        with pytest.raises(OrderRejected, match="time_in_force gtc"):
            await broker.send(an_order("o-6", time_in_force=TimeInForce.GTC))


async def test_orders_placed_elsewhere_come_with_details(
    host: Callable[..., Any], counter: Counter
) -> None:
    async with host() as hosted:
        sink = hosted.sink
        counter.call(
            "ctl.external",
            symbol="rb2601",
            exchange="SHFE",
            direction="SHORT",
            offset="OPEN",
            type="LIMIT",
            price="3500",
            volume=2,
        )
        await until(lambda: updates(hosted.sink))
        (update,) = updates(sink)
        assert update.order_id is None
        assert update.details is not None
        details = update.details
        assert (details.symbol, details.side, details.qty, details.limit_price, details.offset) == (
            "rb2601.SHFE",
            Side.SELL,
            2,
            Decimal(3500),
            Offset.OPEN,
        )
        assert sink.states[f"vt:{update.broker_order_id}"].startswith('{"order":null')
        counter.quote("rb2601", bid="3500", ask="3510")
        await until(lambda: sink.of("fill"))
        assert sink.of("fill")[0].order_id is None
        assert all(u.details is None for u in updates(sink)[1:])


async def test_a_drop_is_noticed_and_the_login_replay_books_nothing_twice(
    host: Callable[..., Any], counter: Counter
) -> None:
    async with host() as hosted:
        broker, sink = hosted.broker, hosted.sink
        await broker.send(an_order("o-7"))
        counter.quote("cu2601", bid="85990", ask="86000")
        await until(lambda: sink.of("fill"))
        counter.call("ctl.drop", refuse_s=1.0)
        await until(lambda: sink.of("connection")[-1] is ConnectionState.DISCONNECTED)
        assert not await broker.ping()
        with pytest.raises(BrokerUnavailable):
            await broker.place_order(an_order("o-8"))
        await until(lambda: sink.of("connection")[-1] is ConnectionState.CONNECTED, 15)
        fills = sink.of("fill")
        assert len({f.trade_id for f in fills}) == 1  # replayed: the same trade id again
        assert all(f.order_id == "o-7" for f in fills)
        (listed,) = await broker.query_orders()
        assert listed.order_id == "o-7"


async def test_after_a_restart_replayed_orders_are_matched(
    host: Callable[..., Any], counter: Counter
) -> None:
    async with host() as hosted:
        sent = await hosted.broker.send(an_order("o-9"))
        lost = an_order("o-10", qty=2)
        await hosted.broker.send(lost)  # the journal kept it without its vt_orderid
        await until(lambda: len(counter.orders()) == 2)  # at the counter before we leave
        states = dict(hosted.sink.states)
    del states[next(k for k, v in states.items() if '"o-10"' in v)]
    never_sent = an_order("o-11", qty=2)
    acknowledged = an_order("o-9")
    snapshot = JournalSnapshot(
        fills=[],
        open_orders=[
            msgspec.structs.replace(acknowledged, broker_order_id=sent),
            lost,
            never_sent,
        ],
        state=states,
    )
    async with host(snapshot=snapshot) as hosted:
        sink = hosted.sink
        ids = {(u.order_id, u.broker_order_id) for u in updates(sink)}
        assert ("o-9", sent) in ids
        adopted = [u for u in updates(sink) if u.order_id == "o-10"]
        assert adopted
        assert all(u.details is None for u in updates(sink))
        listed = {o.order_id for o in await hosted.broker.query_orders()}
        assert listed == {"o-9", "o-10"}  # o-11 was never received: the engine decides
        assert len(counter.orders()) == 2


async def test_quotes_stream_once_subscribed(host: Callable[..., Any], counter: Counter) -> None:
    async with host() as hosted:
        broker, sink = hosted.broker, hosted.sink
        counter.quote("cu2601", bid="85990", ask="86000", last="85990")
        (quote,) = await broker.quotes([COPPER])
        assert (quote.bid, quote.ask) == (Decimal(85990), Decimal(86000))
        await broker.subscribe_quotes([COPPER])
        counter.quote("cu2601", bid="86000", ask="86010")
        await until(lambda: any(q.bid == Decimal(86000) for q in sink.of("quote")))
        await broker.unsubscribe_quotes([COPPER])
        sink.clear()
        counter.quote("cu2601", bid="86010", ask="86020")
        await until(lambda: broker._book.ticks[COPPER].bid == Decimal(86010))
        assert sink.of("quote") == []


async def test_a_raising_handler_does_not_stop_the_event_thread(
    host: Callable[..., Any], counter: Counter
) -> None:
    async with host() as hosted:
        broker = hosted.broker
        engine = broker._engine

        def boom(event: Any) -> None:
            raise RuntimeError("a handler that raises")

        engine.register("eOrder.", boom)
        engine.put(broker._vn.Event("eOrder.", object()))  # our bridge cannot read it either
        await broker.send(an_order("o-12"))
        await until(lambda: updates(hosted.sink, "o-12")[-1].status is OrderStatus.NEW)
        assert engine.alive


async def test_old_ids_expire(host: Callable[..., Any]) -> None:
    stale = (datetime.now(UTC) - timedelta(days=8)).date().isoformat()
    snapshot = JournalSnapshot(
        fills=[], open_orders=[], state={"vt:FAKE.1_1_1": f'{{"order":"old","day":"{stale}"}}'}
    )
    async with host(snapshot=snapshot) as hosted:
        assert "FAKE.1_1_1" not in hosted.broker._book.ours


async def test_a_gateway_that_returns_no_id_is_followed_by_its_push(
    host: Callable[..., Any], counter: Counter
) -> None:
    async with host(**{"不返回委托号": True}) as hosted:
        vt_orderid = await hosted.broker.send(an_order("o-13"))
        assert vt_orderid.startswith("FAKE.1_")
        await until(lambda: updates(hosted.sink, "o-13")[-1].status is OrderStatus.NEW)
        assert {u.broker_order_id for u in updates(hosted.sink, "o-13")} == {vt_orderid}
