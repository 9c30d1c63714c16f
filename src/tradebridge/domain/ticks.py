"""Price ticks. Some venues tick by price band (HKEX spread table, US sub-dollar quotes), so a
tick is looked up on a `TickLadder` rather than read from one number."""

from dataclasses import dataclass
from decimal import Decimal

from tradebridge.domain.models import Contract
from tradebridge.domain.money import is_on_tick
from tradebridge.domain.symbols import Market, market_of


@dataclass(frozen=True, slots=True)
class TickLadder:
    """Price bands and the tick inside each: `(lower bound, tick)` pairs, rising from 0.

    A band's lower bound belongs to it. Band edges lie on the ticks of both neighbouring bands,
    so the step down from an edge uses the tick of the band below it.
    """

    bands: tuple[tuple[Decimal, Decimal], ...]

    @classmethod
    def fixed(cls, tick: Decimal) -> "TickLadder":
        return cls(((Decimal(0), tick),))

    def tick_at(self, price: Decimal) -> Decimal:
        """The tick of the band `price` (> 0) is in. (On every price the engine writes: a
        plain loop, and most ladders have one band.)"""
        bands = self.bands
        if len(bands) == 1:
            return bands[0][1]
        for lower, tick in reversed(bands):
            if lower <= price:
                return tick
        raise ValueError(f"no tick for price {price}")

    def is_on_tick(self, price: Decimal) -> bool:
        return is_on_tick(price, self.tick_at(price))

    def step_up(self, price: Decimal) -> Decimal:
        """The next valid price above `price` (which is on tick)."""
        return price + self.tick_at(price)

    def step_down(self, price: Decimal) -> Decimal | None:
        """The next valid price below `price` (which is on tick); None when that is not > 0."""
        below = price - next(tick for lower, tick in reversed(self.bands) if lower < price)
        return below if below > 0 else None

    @property
    def finest(self) -> Decimal:
        return min(tick for _, tick in self.bands)


def _bands(*pairs: tuple[str, str]) -> tuple[tuple[Decimal, Decimal], ...]:
    return tuple((Decimal(lower), Decimal(tick)) for lower, tick in pairs)


HK_TICKS = TickLadder(
    _bands(
        ("0", "0.001"),
        ("0.25", "0.005"),
        ("0.50", "0.01"),
        ("10", "0.02"),
        ("20", "0.05"),
        ("100", "0.1"),
        ("200", "0.2"),
        ("500", "0.5"),
        ("1000", "1"),
        ("2000", "2"),
        ("5000", "5"),
    )
)
"""The HKEX spread table (MARKET_RULES.md)."""

US_TICKS = TickLadder(_bands(("0", "0.0001"), ("1", "0.01")))
"""US stocks: a cent from $1, sub-penny below."""


def ladder_for(contract: Contract) -> TickLadder:
    """HK and US stocks follow their venue's ladder; everything else ticks by
    `contract.tick_size` at every price."""
    market = market_of(contract.symbol)
    if market is Market.HK_STOCK:
        return HK_TICKS
    if market is Market.US_STOCK:
        return US_TICKS
    return TickLadder.fixed(contract.tick_size)
