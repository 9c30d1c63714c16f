"""Fees a broker charges per order (Futu's `order_fee_query`, Tiger's order commission,
LongPort's order charges), booked by tradebridge per trade.

Once an order has ended, its total fee is split over its fills in proportion to their
quantity, rounded to the fee's own precision (cents at least), the last fill (by time, then
fill id) taking what rounding left. The split depends only on what the broker reports, so it
comes out the same after a restart or a reconnect, when it is worked out again for the fills
the engine booked without a fee.
"""

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal

CENT = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class FillShare:
    trade_id: str
    qty: int
    time: datetime


def split_fee(total: Decimal, fills: list[FillShare]) -> dict[str, Decimal]:
    """Each fill's share of the order's `total` fee; the shares add up to `total` exactly."""
    if not fills:
        return {}
    ordered = sorted(fills, key=lambda f: (f.time, f.trade_id.rjust(32, "0")))
    exponent = total.as_tuple().exponent
    quantum = min(CENT, Decimal(1).scaleb(exponent)) if isinstance(exponent, int) else CENT
    quantity = sum(f.qty for f in ordered)
    shares: dict[str, Decimal] = {}
    given = Decimal(0)
    for fill in ordered[:-1]:
        share = (
            (total * fill.qty / quantity).quantize(quantum, ROUND_HALF_EVEN)
            if quantity
            else Decimal(0)
        )
        shares[fill.trade_id] = share
        given += share
    shares[ordered[-1].trade_id] = total - given
    return shares
