"""Properties of the paper broker's books over random sequences of orders, cancels, quotes."""

import contextlib
from collections import Counter
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tradebridge.brokers.paper import PaperBroker
from tradebridge.brokers.paper.universe import build_universe
from tradebridge.config import PaperSettings
from tradebridge.domain.enums import OrderType, Side, TimeInForce
from tradebridge.domain.errors import NotCancelable, OrderRejected
from tradebridge.domain.money import round_money
from tradebridge.domain.orders import Order, OrderRequest, new_order
from tradebridge.domain.ticks import TickLadder
from tradebridge.ids import IdGenerator

UNIVERSE = build_universe([])
UNIT = {"600519.SH": 100, "510300.SH": 1000, "00700.HK": 100, "AAPL.US": 25}
"""Order size step per symbol: a multiple of its lot, big enough to hit cash and depth."""
CASH = {"CNY": Decimal(1_000_000), "HKD": Decimal(300_000), "USD": Decimal(30_000)}
SYMBOLS = st.sampled_from(sorted(UNIT))

place = st.tuples(
    st.just("place"),
    SYMBOLS,
    st.sampled_from(Side),
    st.integers(1, 12),
    st.integers(-3, 3),
    st.sampled_from(TimeInForce),
    st.booleans(),
)
cancel = st.tuples(st.just("cancel"), st.integers(0, 40))
move = st.tuples(
    st.just("quote"), SYMBOLS, st.integers(-4, 4), st.integers(0, 1500), st.integers(0, 1500)
)


def shift(ticks: TickLadder, price: Decimal, steps: int) -> Decimal:
    for _ in range(abs(steps)):
        price = ticks.step_up(price) if steps > 0 else ticks.step_down(price) or price
    return price


async def check_books(broker: PaperBroker, orders: dict[str, Order]) -> None:
    """Nothing is negative, and every freeze is exactly what the open orders reserve."""
    frozen_cash: dict[str, Decimal] = {}
    frozen_qty: Counter[str] = Counter()
    for record in await broker.query_orders():
        order = orders[record.order_id]
        if record.status.is_open:
            assert order.type is OrderType.LIMIT  # only limit day/gtc orders rest
            assert order.limit_price is not None
            remaining = order.qty - record.filled_qty
            if order.side is Side.BUY:
                currency = UNIVERSE[order.symbol].currency
                reserved = order.limit_price * remaining
                frozen_cash[currency] = frozen_cash.get(currency, Decimal(0)) + reserved
            else:
                frozen_qty[order.symbol] += remaining
    for balance in (await broker.query_account()).balances:
        assert balance.cash >= 0
        assert balance.frozen >= 0
        assert balance.available >= 0
        assert balance.frozen == round_money(frozen_cash.get(balance.currency, Decimal(0)))
    for position in await broker.query_positions():
        assert 0 <= position.available_qty <= position.qty
        assert position.qty - position.available_qty == frozen_qty[position.symbol]


@pytest.mark.anyio
@settings(max_examples=150, deadline=None)
@given(ops=st.lists(st.one_of(place, cancel, move), max_size=40))
async def test_books_stay_consistent(new_sink, ops) -> None:
    sink = new_sink()
    broker = PaperBroker("paper", PaperSettings(cash=CASH), sink)
    ids = IdGenerator()
    orders: dict[str, Order] = {}
    for op in ops:
        if op[0] == "place":
            _, symbol, side, units, steps, tif, market = op
            (quote,) = await broker.quotes([symbol])
            price = shift(UNIVERSE[symbol].ticks, quote.last, steps)
            request = OrderRequest(
                symbol=symbol,
                side=side,
                qty=units * UNIT[symbol],
                type=OrderType.MARKET if market else OrderType.LIMIT,
                limit_price=None if market else price,
                time_in_force=tif,
            )
            order_id = ids.new_id()
            order = new_order(
                request,
                order_id=order_id,
                client_order_id=order_id,
                account="paper",
                now=quote.time,
            )
            calls_before = len(sink.calls)
            try:
                await broker.place_order(order)
            except OrderRejected:
                assert len(sink.calls) == calls_before
                continue
            orders[order.id] = order
        elif op[0] == "cancel":
            if orders:
                with contextlib.suppress(NotCancelable):
                    await broker.cancel_order(list(orders.values())[op[1] % len(orders)])
        else:
            _, symbol, steps, ask_size, bid_size = op
            (quote,) = await broker.quotes([symbol])
            broker.set_quote(
                symbol,
                last=shift(UNIVERSE[symbol].ticks, quote.last, steps),
                ask_size=ask_size,
                bid_size=bid_size,
            )
        await check_books(broker, orders)

    expected_cash = dict(CASH)
    expected_qty: Counter[str] = Counter()
    filled: Counter[str] = Counter()
    for fill in sink.of("fill"):
        order = orders[fill.order_id]
        currency = UNIVERSE[order.symbol].currency
        filled[order.id] += fill.qty
        if order.side is Side.BUY:
            expected_cash[currency] -= fill.price * fill.qty + fill.fee
            expected_qty[order.symbol] += fill.qty
        else:
            expected_cash[currency] += fill.price * fill.qty - fill.fee
            expected_qty[order.symbol] -= fill.qty
    balances = {b.currency: b for b in (await broker.query_account()).balances}
    assert {c: b.cash for c, b in balances.items()} == {
        c: round_money(amount) for c, amount in expected_cash.items()
    }
    assert {p.symbol: p.qty for p in await broker.query_positions()} == +expected_qty
    for record in await broker.query_orders():
        assert record.filled_qty == filled[record.order_id]
        if record.status.is_open:
            await broker.cancel_order(orders[record.order_id])
    assert all(b.frozen == 0 for b in (await broker.query_account()).balances)
    assert all(p.available_qty == p.qty for p in await broker.query_positions())
