"""A paper account rebuilt from what the engine journals (its fills, its open orders and what
it kept through `on_state`) has the books of the account that ran, and goes on the same way,
over random histories of orders, cancels, quotes, new days and resets."""

import contextlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_paper_properties import CASH, UNIT, UNIVERSE, cancel, move, place, shift, unwind

from tradebridge.brokers.base import JournalFill, JournalSnapshot
from tradebridge.brokers.paper.broker import PaperBroker
from tradebridge.brokers.paper.config import PaperSettings
from tradebridge.domain.enums import Direction, OrderStatus, OrderType, Side
from tradebridge.domain.errors import NotCancelable, OrderRejected
from tradebridge.domain.orders import Order, OrderRequest, new_order
from tradebridge.ids import IdGenerator

pytestmark = pytest.mark.anyio

NOW = datetime(2025, 1, 6, 2, 0, tzinfo=UTC)

day = st.tuples(st.just("day"))
reset = st.tuples(st.just("reset"))
OPS = st.lists(st.one_of(place, place, unwind, cancel, move, day, reset), min_size=5, max_size=40)
LATER = st.lists(move, min_size=1, max_size=10)


class Account:
    """A paper broker and the journal an engine would keep of it."""

    def __init__(self, new_sink: Callable[[], Any]) -> None:
        self.sink = new_sink()
        self.broker = PaperBroker(
            "p", PaperSettings(cash=CASH, market="manual"), self.sink, clock=lambda: NOW
        )
        self.orders: dict[str, Order] = {}
        self.ids = IdGenerator()

    async def submit(self, request: OrderRequest) -> None:
        order_id = self.ids.new_id()
        order = new_order(
            request, order_id=order_id, client_order_id=order_id, account="p", now=NOW
        )
        with contextlib.suppress(OrderRejected):
            await self.broker.place_order(order)
            self.orders[order.id] = order

    def snapshot(self) -> JournalSnapshot:
        fills = [
            JournalFill(
                broker_trade_id=fill.trade_id,
                order_id=fill.order_id,
                client_order_id=fill.order_id,
                symbol=self.orders[fill.order_id].symbol,
                side=self.orders[fill.order_id].side,
                offset=self.orders[fill.order_id].offset,
                qty=fill.qty,
                price=fill.price,
                fee=fill.fee,
                time=fill.time,
            )
            for fill in self.sink.of("fill")
        ]
        status: dict[str, OrderStatus] = {}
        for kind, payload in self.sink.calls:
            if kind == "order":
                status[payload.order_id] = payload.status
        filled: dict[str, int] = {}
        for fill in fills:
            filled[fill.order_id] = filled.get(fill.order_id, 0) + fill.qty
        open_orders = [
            msgspec.structs.replace(order, status=status[order.id])
            for order in self.orders.values()
            if not status[order.id].is_terminal and filled.get(order.id, 0) < order.qty
        ]
        return JournalSnapshot(fills=fills, open_orders=open_orders, state=dict(self.sink.states))

    async def books(self) -> tuple[Any, ...]:
        broker = self.broker
        orders = sorted(
            (o.order_id, o.status, o.filled_qty)
            for o in await broker.query_orders()
            if not o.status.is_terminal
        )
        return await broker.query_account(), await broker.query_positions(), orders


async def play(account: Account, op: tuple[Any, ...]) -> None:
    broker = account.broker
    if op[0] == "place":
        _, symbol, side, units, odd, steps, tif, market, offset = op
        (quote,) = await broker.quotes([symbol])
        instrument = UNIVERSE[symbol]
        await account.submit(
            OrderRequest(
                symbol=symbol,
                side=side,
                qty=units * UNIT[symbol] + (odd if symbol == "688981.SH" else 0),
                type=OrderType.MARKET if market else OrderType.LIMIT,
                limit_price=None if market else shift(instrument.ticks, quote.last, steps),
                time_in_force=tif,
                offset=offset if instrument.is_futures else None,
            )
        )
    elif op[0] == "unwind":
        _, pick, whole, steps, market, offset = op
        positions = await broker.query_positions()
        if positions:
            held = positions[pick % len(positions)]
            qty = held.available_qty if whole else held.available_qty // 2
            (quote,) = await broker.quotes([held.symbol])
            if qty:
                long = held.direction in (None, Direction.LONG)
                await account.submit(
                    OrderRequest(
                        symbol=held.symbol,
                        side=Side.SELL if long else Side.BUY,
                        qty=qty,
                        type=OrderType.MARKET if market else OrderType.LIMIT,
                        limit_price=None
                        if market
                        else shift(UNIVERSE[held.symbol].ticks, quote.last, steps),
                        offset=None if held.direction is None else offset,
                    )
                )
    elif op[0] == "cancel":
        if account.orders:
            order = list(account.orders.values())[op[1] % len(account.orders)]
            with contextlib.suppress(NotCancelable):
                await broker.cancel_order(order)
    elif op[0] == "quote":
        _, symbol, steps, ask_size, bid_size = op
        (quote,) = await broker.quotes([symbol])
        last = shift(UNIVERSE[symbol].ticks, quote.last, steps)
        band = broker._market.band(symbol)
        if band is not None:
            last = min(max(last, band.lower), band.upper)
        broker.set_quote(symbol, last=last, ask_size=ask_size, bid_size=bid_size)
    elif op[0] == "day":
        broker.advance_clock(advance="next_day")
    else:
        broker.reset()


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=OPS, later=LATER)
async def test_a_restored_account_has_the_same_books_and_goes_on_the_same_way(
    new_sink: Callable[[], Any], ops: list[tuple[Any, ...]], later: list[tuple[Any, ...]]
) -> None:
    ran = Account(new_sink)
    for op in ops:
        await play(ran, op)
    restored = Account(new_sink)
    restored.orders = dict(ran.orders)
    await restored.broker.restore(ran.snapshot())
    assert restored.broker.clock.now() == ran.broker.clock.now()
    assert await restored.books() == await ran.books()
    for op in later:  # resting orders fill the same way in both
        await play(ran, op)
        await play(restored, op)
    assert await restored.books() == await ran.books()


async def test_a_restored_clock_and_day_roll_on_as_they_would_have(
    new_sink: Callable[[], Any],
) -> None:
    ran = Account(new_sink)
    await ran.submit(
        OrderRequest(symbol="600519.SH", side=Side.BUY, qty=100, type=OrderType.MARKET)
    )
    ran.broker.advance_clock(advance="next_day")
    await ran.submit(
        OrderRequest(symbol="600519.SH", side=Side.BUY, qty=100, type=OrderType.MARKET)
    )
    restored = Account(new_sink)
    await restored.broker.restore(ran.snapshot())
    (position,) = await restored.broker.query_positions()
    assert (position.qty, position.available_qty) == (200, 100)  # today's 100 wait for T+1
    assert restored.broker.clock.offset >= timedelta(hours=24) - timedelta(seconds=1)
    restored.broker.advance_clock(advance="next_day")
    (position,) = await restored.broker.query_positions()
    assert position.available_qty == 200
    assert (await restored.broker.query_account()).cash < Decimal(CASH["CNY"])
