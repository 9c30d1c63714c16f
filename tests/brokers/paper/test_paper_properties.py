"""Properties of the paper broker's books over random sequences of orders, cancels, quotes
and day rolls, across stocks (T+1 and T+0, lots, STAR minimums) and futures (SHFE, DCE).

After every step, from the sink's events alone:
- cash = initial - Σ signed stock fill amounts (price x qty, each settled to the cent) - Σ
  fees + futures P&L, where the futures P&L at the current price is Σ over fills of
  ±(last - price) x qty x multiplier less what is still unrealized in the positions;
- positions are the sum of the fills (stocks by symbol, futures by symbol and direction),
  never negative; `available_qty <= qty`, and what is not available is exactly the open sells
  or closes plus, under T+1, today's buys;
- every fill is inside the day's price limits; `filled_qty <= qty`;
- replaying each order's updates and fills through the domain state machine (`transition`,
  `apply_fill`) never fails and ends in the broker's status;
- frozen cash is zero whenever nothing is open and no futures are held;
- equity = initial cash + realized + unrealized P&L (to rounding).
At the end every order is canceled and every position closed: nothing stays frozen.
"""

import contextlib
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tradebridge.brokers.paper.broker import PaperBroker
from tradebridge.brokers.paper.config import PaperSettings
from tradebridge.brokers.paper.rules import PriceBand, price_band
from tradebridge.brokers.paper.universe import build_universe
from tradebridge.domain.enums import Direction, Offset, OrderStatus, OrderType, Side, TimeInForce
from tradebridge.domain.errors import NotCancelable, OrderRejected
from tradebridge.domain.money import round_money
from tradebridge.domain.orders import Order, OrderRequest, apply_fill, new_order, transition
from tradebridge.domain.ticks import TickLadder
from tradebridge.ids import IdGenerator

UNIVERSE = build_universe([])
UNIT = {
    "600519.SH": 100,
    "688981.SH": 100,  # STAR: plus an odd part, so some orders fall below 200
    "510300.SH": 1000,
    "00700.HK": 100,
    "AAPL.US": 25,
    "cu2601.SHFE": 1,
    "m2601.DCE": 1,
}
"""Order size step per symbol: a multiple of its lot, big enough to hit cash and depth."""
ODD = {"688981.SH"}
CASH = {"CNY": Decimal(2_000_000), "HKD": Decimal(300_000), "USD": Decimal(30_000)}
SYMBOLS = st.sampled_from(sorted(UNIT))
ZERO = Decimal(0)

place = st.tuples(
    st.just("place"),
    SYMBOLS,
    st.sampled_from([Side.BUY, Side.BUY, Side.SELL]),
    st.integers(1, 12),
    st.integers(0, 99),
    st.integers(-3, 3),
    st.sampled_from(TimeInForce),
    st.booleans(),
    st.sampled_from([Offset.OPEN, Offset.OPEN, Offset.OPEN, Offset.CLOSE]),
)
"""A new order: `(symbol, side, units, odd, steps, tif, market, offset)`; stocks ignore the
offset. Mostly buys and opens: sells and closes mostly come from `unwind`."""
cancel = st.tuples(st.just("cancel"), st.integers(0, 40))
move = st.tuples(
    st.just("quote"), SYMBOLS, st.integers(-4, 4), st.integers(0, 1500), st.integers(0, 1500)
)
to_limit = st.tuples(st.just("limit"), SYMBOLS, st.booleans())
unwind = st.tuples(
    st.just("unwind"),
    st.integers(0, 10),
    st.booleans(),
    st.integers(-3, 3),
    st.booleans(),
    st.sampled_from([Offset.CLOSE, Offset.CLOSE_TODAY, Offset.CLOSE_YESTERDAY]),
)
"""Sell or close (part of) a position held: `(pick, whole, steps, market, offset)`."""
roll = st.tuples(st.just("roll"))
OPS = st.lists(
    st.one_of(place, place, unwind, cancel, move, to_limit, roll), min_size=10, max_size=60
)


def shift(ticks: TickLadder, price: Decimal, steps: int) -> Decimal:
    for _ in range(abs(steps)):
        price = ticks.step_up(price) if steps > 0 else ticks.step_down(price) or price
    return price


def direction_of(order: Order) -> Direction:
    opens = order.offset is Offset.OPEN
    return Direction.LONG if (order.side is Side.BUY) == opens else Direction.SHORT


@dataclass
class Model:
    """What the sink's events say the books must be."""

    orders: dict[str, Order] = field(default_factory=dict)
    """Accepted orders as replayed through the state machine."""
    seen: int = 0
    """Sink calls processed so far."""
    fills: list[tuple[Order, Any]] = field(default_factory=list)
    bought_today: Counter[str] = field(default_factory=Counter)

    def replay(self, calls: list[tuple[str, Any]], bands: dict[str, PriceBand | None]) -> None:
        """Apply the sink calls not seen yet: status updates and fills through the state
        machine (which raises on anything it does not allow)."""
        for kind, payload in calls[self.seen :]:
            if kind == "order":
                current = self.orders[payload.order_id]
                self.orders[current.id] = transition(
                    current, payload.status, current.updated_at, reason=payload.reason
                )
            elif kind == "fill":
                current = self.orders[payload.order_id]
                tick = UNIVERSE[current.symbol].ticks.tick_at(payload.price)
                self.orders[current.id] = apply_fill(
                    current, payload.qty, payload.price, tick, current.updated_at
                )
                self.fills.append((current, payload))
                band = bands.get(current.symbol)
                assert band is None or band.lower <= payload.price <= band.upper
                if current.side is Side.BUY and UNIVERSE[current.symbol].contract.t_plus:
                    self.bought_today[current.symbol] += payload.qty
        self.seen = len(calls)


async def check_books(broker: PaperBroker, model: Model) -> None:
    quotes = {q.symbol: q for q in await broker.quotes(sorted(UNIT))}
    stock_qty: Counter[str] = Counter()
    futures_qty: Counter[tuple[str, Direction]] = Counter()
    cash = dict(CASH)
    marked_pnl: dict[str, Decimal] = {}
    for order, fill in model.fills:
        contract = UNIVERSE[order.symbol].contract
        currency = contract.currency
        sign = 1 if order.side is Side.BUY else -1
        cash[currency] -= fill.fee
        if order.offset is None:
            stock_qty[order.symbol] += sign * fill.qty
            cash[currency] -= sign * round_money(fill.price * fill.qty)  # settled to the cent
        else:
            opens = order.offset is Offset.OPEN
            futures_qty[(order.symbol, direction_of(order))] += fill.qty if opens else -fill.qty
            last = quotes[order.symbol].last
            move = sign * (last - fill.price) * fill.qty * contract.multiplier
            marked_pnl[currency] = marked_pnl.get(currency, ZERO) + move

    positions = await broker.query_positions()
    open_close: Counter[Any] = Counter()
    for record in await broker.query_orders():
        order = model.orders[record.order_id]
        assert record.status is order.status
        assert record.filled_qty == order.filled_qty <= order.qty
        if order.status.is_open and order.side is Side.SELL and order.offset is None:
            open_close[order.symbol] += order.remaining_qty
        elif order.status.is_open and order.offset not in (None, Offset.OPEN):
            open_close[(order.symbol, direction_of(order))] += order.remaining_qty
    unrealized_futures: dict[str, Decimal] = {}
    for p in positions:
        assert 0 <= p.available_qty <= p.qty
        if p.direction is None:
            assert p.qty == stock_qty[p.symbol] > 0
            today = model.bought_today[p.symbol]
            assert p.qty - p.available_qty == open_close[p.symbol] + today
        else:
            key = (p.symbol, p.direction)
            assert p.qty == futures_qty[key] > 0
            assert p.qty - p.available_qty == open_close[key]
            unrealized_futures[p.currency] = (
                unrealized_futures.get(p.currency, ZERO) + p.unrealized_pnl
            )
    assert {p.symbol for p in positions if p.direction is None} == set(+stock_qty)
    assert {(p.symbol, p.direction) for p in positions if p.direction} == set(+futures_qty)

    for currency, pnl in marked_pnl.items():
        cash[currency] += pnl - unrealized_futures.get(currency, ZERO)
    summary = await broker.query_account()
    balances = {b.currency: b for b in summary.balances}
    assert {c: b.cash for c, b in balances.items()} == {c: round_money(v) for c, v in cash.items()}
    nothing_open = all(not o.status.is_open for o in model.orders.values())
    for balance in balances.values():
        assert balance.frozen >= 0
        assert balance.available == balance.cash - balance.frozen
        if nothing_open and not futures_qty:
            assert balance.frozen == 0
    identity = CASH[summary.currency] + summary.realized_pnl + summary.unrealized_pnl
    assert abs(summary.equity - identity) <= Decimal("0.03")


async def band_of(broker: PaperBroker, symbol: str) -> PriceBand | None:
    """Today's price limits, from the quote's `pre_close`."""
    (quote,) = await broker.quotes([symbol])
    assert quote.pre_close is not None
    instrument = UNIVERSE[symbol]
    return price_band(instrument.ticks, quote.pre_close, instrument.contract.price_limit_pct)


def check_expiry(open_before: list[Order]) -> None:
    """At the end of the day every day order is gone; gtc orders stay unless they filled,
    except SHFE closes of today's lots."""
    for order in open_before:
        todays_close = order.offset is Offset.CLOSE_TODAY and order.symbol.endswith(".SHFE")
        if order.time_in_force is TimeInForce.DAY or todays_close:
            assert order.status is OrderStatus.EXPIRED
        else:
            assert order.status is not OrderStatus.EXPIRED


async def run(broker: PaperBroker, sink: Any, model: Model, ops: list[tuple[Any, ...]]) -> None:
    ids = IdGenerator()

    async def submit(request: OrderRequest) -> None:
        order_id = ids.new_id()
        order = new_order(
            request, order_id=order_id, client_order_id=order_id, account="p", now=broker_now
        )
        calls_before = len(sink.calls)
        model.orders[order.id] = order
        try:
            await broker.place_order(order)
        except OrderRejected:
            del model.orders[order.id]
            assert len(sink.calls) == calls_before

    async def price(symbol: str, steps: int, market: bool) -> Decimal | None:
        (quote,) = await broker.quotes([symbol])
        return None if market else shift(UNIVERSE[symbol].ticks, quote.last, steps)

    broker_now = (await broker.quotes(["AAPL.US"]))[0].time
    for op in ops:
        if op[0] == "place":
            _, symbol, side, units, odd, steps, tif, market, offset = op
            request = OrderRequest(
                symbol=symbol,
                side=side,
                qty=units * UNIT[symbol] + (odd if symbol in ODD else 0),
                type=OrderType.MARKET if market else OrderType.LIMIT,
                limit_price=await price(symbol, steps, market),
                time_in_force=tif,
                offset=offset if UNIVERSE[symbol].is_futures else None,
            )
            await submit(request)
        elif op[0] == "unwind":
            _, pick, whole, steps, market, offset = op
            positions = await broker.query_positions()
            if positions:
                held = positions[pick % len(positions)]
                qty = held.available_qty if whole else held.available_qty // 2
                if qty:
                    long = held.direction in (None, Direction.LONG)
                    request = OrderRequest(
                        symbol=held.symbol,
                        side=Side.SELL if long else Side.BUY,
                        qty=qty,
                        type=OrderType.MARKET if market else OrderType.LIMIT,
                        limit_price=await price(held.symbol, steps, market),
                        offset=None if held.direction is None else offset,
                    )
                    await submit(request)
        elif op[0] == "cancel":
            if model.orders:
                with contextlib.suppress(NotCancelable):
                    await broker.cancel_order(
                        list(model.orders.values())[op[1] % len(model.orders)]
                    )
        elif op[0] == "quote":
            _, symbol, steps, ask_size, bid_size = op
            (quote,) = await broker.quotes([symbol])
            last = shift(UNIVERSE[symbol].ticks, quote.last, steps)
            band = await band_of(broker, symbol)
            if band is not None:
                last = min(max(last, band.lower), band.upper)
            broker.set_quote(symbol, last=last, ask_size=ask_size, bid_size=bid_size)
        elif op[0] == "limit":
            _, symbol, up = op
            band = await band_of(broker, symbol)
            if band is not None:
                broker.set_quote(symbol, last=band.upper if up else band.lower)
        else:
            open_before = [o.id for o in model.orders.values() if o.status.is_open]
            broker.roll_day()
            model.bought_today.clear()
        model.replay(sink.calls, {s: await band_of(broker, s) for s in UNIT})
        if op[0] == "roll":
            check_expiry([model.orders[i] for i in open_before])
        await check_books(broker, model)


async def close_everything(broker: PaperBroker, sink: Any, model: Model) -> None:
    """Cancel every open order, then sell every stock and close every futures position at
    the market, on a fresh day with deep quotes."""
    for order in list(model.orders.values()):
        if order.status.is_open:
            await broker.cancel_order(order)
    broker.roll_day()
    model.bought_today.clear()
    ids = IdGenerator()
    for position in await broker.query_positions():
        (quote,) = await broker.quotes([position.symbol])
        assert quote.pre_close is not None
        broker.set_quote(position.symbol, last=quote.pre_close, bid_size=10**6, ask_size=10**6)
        long = position.direction in (None, Direction.LONG)
        request = OrderRequest(
            symbol=position.symbol,
            side=Side.SELL if long else Side.BUY,
            qty=position.qty,
            type=OrderType.MARKET,
            offset=None if position.direction is None else Offset.CLOSE,
        )
        order_id = ids.new_id()
        order = new_order(
            request, order_id=order_id, client_order_id=order_id, account="p", now=quote.time
        )
        model.orders[order.id] = order
        await broker.place_order(order)
    model.replay(sink.calls, {})
    await check_books(broker, model)
    assert await broker.query_positions() == []
    for balance in (await broker.query_account()).balances:
        assert balance.frozen == 0
        assert balance.available == balance.cash
    assert {o.status for o in model.orders.values()} <= {
        OrderStatus.FILLED,
        OrderStatus.CANCELED,
        OrderStatus.EXPIRED,
    }


@pytest.mark.anyio
@settings(max_examples=300, deadline=None)
@given(ops=OPS)
async def test_books_follow_the_fills(new_sink, ops) -> None:
    sink = new_sink()
    broker = PaperBroker("paper", PaperSettings(cash=CASH), sink)
    model = Model()
    await run(broker, sink, model, ops)
    await close_everything(broker, sink, model)
