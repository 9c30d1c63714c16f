"""The fill model (API.md §6).

Orders trade against the displayed quote, never against each other: a buy takes the ask, a
sell hits the bid, at that quote's price (not at the limit), for at most the size it shows.
A quote has one price level per side, so one order executes at most once per quote.
"""

from decimal import Decimal
from typing import NamedTuple

from tradebridge.domain.enums import OrderType, Side, TimeInForce
from tradebridge.domain.models import Quote
from tradebridge.domain.orders import Order


class Execution(NamedTuple):
    qty: int
    price: Decimal


def executable(order: Order, remaining: int, quote: Quote, step: int) -> Execution | None:
    """What `order`, with `remaining` left, trades against `quote` now; None if nothing.

    A limit buy trades when the ask is at or below its limit, a limit sell when the bid is at
    or above it; a market order trades at whatever the opposite side shows. Only whole
    multiples of `step` of the displayed size trade (HK board lots). A fok order trades only
    when the whole remainder fits.
    """
    if order.side is Side.BUY:
        price, size = quote.ask, quote.ask_size
    else:
        price, size = quote.bid, quote.bid_size
    size -= size % step
    if price is None or size <= 0:
        return None
    limit = order.limit_price if order.type is OrderType.LIMIT else None
    if limit is not None and (price > limit if order.side is Side.BUY else price < limit):
        return None
    if order.time_in_force is TimeInForce.FOK and size < remaining:
        return None
    return Execution(min(remaining, size), price)


def rests(order: Order) -> bool:
    """Whether an unfilled remainder waits for the market (limit day/gtc) or is canceled."""
    return order.type is OrderType.LIMIT and order.time_in_force in (
        TimeInForce.DAY,
        TimeInForce.GTC,
    )
