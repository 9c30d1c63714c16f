"""Venue rules an order must meet before the paper broker accepts it (MARKET_RULES.md):
offsets, ticks, daily price limits, lots, minimum and maximum order sizes.

Cash, margin and position checks are not venue rules: the broker makes them against its
books. The one rule that needs the books is the odd-lot sell (`check_sell_qty`), given the
quantity the account can sell now.
"""

from decimal import Decimal
from typing import NamedTuple

from tradebridge.brokers.paper.universe import Instrument
from tradebridge.domain.enums import OrderType, RejectReason, Side
from tradebridge.domain.errors import OrderRejected, ValidationFailed
from tradebridge.domain.money import round_to_tick
from tradebridge.domain.orders import Order
from tradebridge.domain.ticks import TickLadder

HUNDRED = Decimal(100)


class PriceBand(NamedTuple):
    """Today's lowest and highest allowed prices, both inclusive."""

    lower: Decimal
    upper: Decimal

    def __contains__(self, price: object) -> bool:
        return isinstance(price, Decimal) and self.lower <= price <= self.upper

    def __str__(self) -> str:
        return f"{self.lower} to {self.upper}"


def price_band(ticks: TickLadder, pre_close: Decimal, pct: Decimal | None) -> PriceBand | None:
    """The daily limits `pre_close x (1 ± pct/100)`, rounded half up to the tick (as the
    exchanges publish them); None without a limit. The lower limit is at least one tick."""
    if pct is None:
        return None
    move = pre_close * pct / HUNDRED
    upper = pre_close + move
    lower = pre_close - move
    floor = ticks.tick_at(Decimal(0))
    return PriceBand(
        max(round_to_tick(lower, ticks.tick_at(lower)), floor) if lower > 0 else floor,
        round_to_tick(upper, ticks.tick_at(upper)),
    )


def check_order(instrument: Instrument, order: Order, band: PriceBand | None) -> None:
    """Raise `OrderRejected` (or `ValidationFailed` for a malformed order) if the venue
    would refuse `order` whatever the account holds; `band` is today's price limits."""
    _check_offset(instrument, order)
    if order.qty <= 0:
        raise ValidationFailed(f"qty must be positive, got {order.qty}", {"field": "qty"})
    if order.type is OrderType.LIMIT:
        _check_limit_price(instrument, order, band)
    _check_size(instrument, order)


def _check_offset(instrument: Instrument, order: Order) -> None:
    if instrument.is_futures:
        if order.offset is None:
            raise ValidationFailed(
                f"{order.symbol} is a futures contract: the order needs an offset "
                "(open, close, close_today or close_yesterday)",
                {"field": "offset"},
            )
    elif order.offset is not None:
        raise OrderRejected(
            RejectReason.NOT_SUPPORTED,
            f"{order.symbol} is not a futures contract: orders for it take no offset",
        )


def _check_limit_price(instrument: Instrument, order: Order, band: PriceBand | None) -> None:
    price = order.limit_price
    if price is None:
        raise ValidationFailed("a limit order needs a limit_price", {"field": "limit_price"})
    if not price.is_finite() or price <= 0:
        raise ValidationFailed(
            f"limit_price must be positive, got {price}", {"field": "limit_price"}
        )
    ticks = instrument.ticks
    if not ticks.is_on_tick(price):
        tick = ticks.tick_at(price)
        raise OrderRejected(
            RejectReason.INVALID_TICK_SIZE,
            f"limit price {price} is not a multiple of the {tick} {instrument.currency} "
            f"tick of {order.symbol} at that price",
            {"tick_size": str(tick)},
        )
    if band is not None and price not in band:
        raise OrderRejected(
            RejectReason.PRICE_OUT_OF_LIMITS,
            f"limit price {price} of {order.symbol} is outside today's price limits "
            f"{band} (lower limit {band.lower}, upper limit {band.upper})",
            {"lower_limit": str(band.lower), "upper_limit": str(band.upper)},
        )


def _check_size(instrument: Instrument, order: Order) -> None:
    """Maximum single order (lower for market orders where the board says so), then the
    lot and minimum of buys and futures orders."""
    contract = instrument.contract
    unit = instrument.unit
    largest, kind = contract.max_qty, "order"
    market_cap = instrument.max_market_qty
    if order.type is OrderType.MARKET and market_cap is not None:
        largest, kind = min(largest or market_cap, market_cap), "market order"
    if largest is not None and order.qty > largest:
        raise OrderRejected(
            RejectReason.INVALID_LOT_SIZE,
            f"{order.side.value} {order.qty} {order.symbol}: the maximum single {kind} is "
            f"{largest:,} {unit}",
            {"max_qty": largest},
        )
    if order.side is Side.SELL and not instrument.is_futures:
        return  # stock sells: `check_sell_qty`, which knows what the account holds
    lot = contract.lot_size
    if order.qty % lot:
        raise OrderRejected(
            RejectReason.INVALID_LOT_SIZE,
            f"{order.side.value} {order.qty} {order.symbol}: not a multiple of its lot of "
            f"{lot} {unit}" + (" (odd lots are not traded)" if instrument.board_lots_only else ""),
            {"lot_size": lot},
        )
    if contract.min_qty is not None and order.qty < contract.min_qty:
        raise OrderRejected(
            RejectReason.INVALID_LOT_SIZE,
            f"{order.side.value} {order.qty} {order.symbol}: needs at least "
            f"{contract.min_qty} {unit}, then any whole number",
            {"min_qty": contract.min_qty},
        )


def check_sell_qty(instrument: Instrument, qty: int, available: int) -> None:
    """Refuse a stock sell of `qty` (at most `available`, what can be sold now) that is not
    in whole lots, unless it sells the whole odd remainder in one order as the CN
    exchanges require (hold 150: 100, 50 or 150, not 120); or, on STAR/BJ, that is below
    the minimum without selling everything left."""
    contract = instrument.contract
    symbol, lot = contract.symbol, contract.lot_size
    if qty % lot:
        odd = available % lot
        if instrument.board_lots_only or qty % lot != odd:
            allowed = (
                "odd lots are not traded"
                if instrument.board_lots_only
                else f"an odd lot must be the whole odd {odd} of the {available} available"
                if odd
                else f"the {available} available hold no odd lot"
            )
            raise OrderRejected(
                RejectReason.INVALID_LOT_SIZE,
                f"sell {qty} {symbol}: not a multiple of its lot of {lot} {instrument.unit}; "
                f"{allowed}",
                {"lot_size": lot, "available_qty": available},
            )
    if contract.min_qty is not None and qty < contract.min_qty and qty != available:
        raise OrderRejected(
            RejectReason.INVALID_LOT_SIZE,
            f"sell {qty} {symbol}: a sell needs at least {contract.min_qty} shares unless it "
            f"sells all {available} available",
            {"min_qty": contract.min_qty, "available_qty": available},
        )
