"""Venue rules an order must meet before the paper broker accepts it (MARKET_RULES.md).

v0 checks lots and ticks. Price limits, T+1 availability, maximum order sizes and the
STAR/BJ quantity rules belong here too and come with the next issue. Cash and position
checks are not venue rules: the broker makes them against its books.
"""

from tradebridge.brokers.paper.universe import Instrument
from tradebridge.domain.enums import OrderType, RejectReason
from tradebridge.domain.errors import OrderRejected, ValidationFailed
from tradebridge.domain.orders import Order


def check_order(instrument: Instrument, order: Order) -> None:
    """Raise `OrderRejected` (or `ValidationFailed` for a malformed order) if the venue
    would refuse `order`."""
    symbol = order.symbol
    if order.offset is not None:
        raise OrderRejected(
            RejectReason.NOT_SUPPORTED,
            f"{symbol} is not a futures contract: orders for it take no offset",
        )
    if order.qty <= 0:
        raise ValidationFailed(f"qty must be positive, got {order.qty}", {"field": "qty"})
    lot_size = instrument.contract.lot_size
    if order.qty % lot_size:
        raise OrderRejected(
            RejectReason.INVALID_LOT_SIZE,
            f"{order.qty} {symbol} is not a multiple of its lot of {lot_size}",
            {"lot_size": lot_size},
        )
    if order.type is OrderType.LIMIT:
        price = order.limit_price
        if price is None:
            raise ValidationFailed("a limit order needs a limit_price", {"field": "limit_price"})
        if not price.is_finite() or price <= 0:
            raise ValidationFailed(
                f"limit_price must be positive, got {price}", {"field": "limit_price"}
            )
        tick = instrument.ticks.tick_at(price)
        if not instrument.ticks.is_on_tick(price):
            raise OrderRejected(
                RejectReason.INVALID_TICK_SIZE,
                f"limit price {price} is not a multiple of the {tick} {instrument.currency} "
                f"tick of {symbol} at that price",
                {"tick_size": str(tick)},
            )
