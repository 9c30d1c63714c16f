"""Venue rules that do not depend on any broker: here, the price tick at a given price."""

from decimal import Decimal

from tradebridge.domain.models import Contract
from tradebridge.domain.symbols import Market, market_of

HK_TICK_BANDS: tuple[tuple[Decimal, Decimal], ...] = (
    (Decimal("0.25"), Decimal("0.001")),
    (Decimal("0.50"), Decimal("0.005")),
    (Decimal("10"), Decimal("0.01")),
    (Decimal("20"), Decimal("0.02")),
    (Decimal("100"), Decimal("0.05")),
    (Decimal("200"), Decimal("0.1")),
    (Decimal("500"), Decimal("0.2")),
    (Decimal("1000"), Decimal("0.5")),
    (Decimal("2000"), Decimal("1")),
    (Decimal("5000"), Decimal("2")),
)
"""(upper bound, tick) pairs of the HKEX spread table; at or above 5000 the tick is 5."""
HK_TOP_TICK = Decimal("5")


def hk_tick(price: Decimal) -> Decimal:
    for upper, tick in HK_TICK_BANDS:
        if price < upper:
            return tick
    return HK_TOP_TICK


def us_tick(price: Decimal) -> Decimal:
    return Decimal("0.01") if price >= 1 else Decimal("0.0001")


def tick_size_at(contract: Contract, price: Decimal) -> Decimal:
    """The tick a price must be a multiple of. HK and US ticks depend on the price itself."""
    market = market_of(contract.symbol)
    if market is Market.HK_STOCK:
        return hk_tick(price)
    if market is Market.US_STOCK:
        return us_tick(price)
    return contract.tick_size
