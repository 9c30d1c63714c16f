"""The written form of prices, one rule per field (docs/README.md, "Numbers"): prices with the
decimals of their tick, averages two decimals finer, money to the cent. Applied where values
enter the engine, so every API, the stream and the journal show the same digits."""

from decimal import Decimal

import msgspec

from tradebridge.domain.models import Contract, Position
from tradebridge.domain.money import CENT, average_form, price_form
from tradebridge.domain.symbols import Market, market_of
from tradebridge.domain.ticks import HK_TICKS, US_TICKS, TickLadder, ladder_for


def tick_shown_by(price: Decimal) -> Decimal:
    """The finest tick a price shows (`85970` → 1, `1500.52` → 0.01): the best guess of the
    tick of an instrument not looked up."""
    exponent = price.as_tuple().exponent
    return Decimal(1).scaleb(min(exponent, 0) if isinstance(exponent, int) else 0)


def ladder_of(symbol: str, contract: Contract | None, seen: Decimal) -> TickLadder:
    """The instrument's ladder; without its contract, the venue's ladder (HK, US) or the tick
    `seen` (a price the broker sent) shows."""
    if contract is not None:
        return ladder_for(contract)
    market = market_of(symbol)
    if market is Market.HK_STOCK:
        return HK_TICKS
    if market is Market.US_STOCK:
        return US_TICKS
    return TickLadder.fixed(tick_shown_by(seen))


def price_on(ladder: TickLadder, price: Decimal) -> Decimal:
    """`price` with the decimals of its band's tick (never a different value)."""
    return price_form(price, ladder.tick_at(abs(price)))


def position_form(position: Position, ladder: TickLadder) -> Position:
    """A broker's position in our form: `last_price` on its tick's decimals, `avg_cost` two
    decimals finer than the tick where it lies (where the market is, for a zero cost), money
    written to the cent (a broker's finer digits are kept)."""
    near = abs(position.avg_cost) or abs(position.last_price)
    return msgspec.structs.replace(
        position,
        avg_cost=average_form(position.avg_cost, ladder.tick_at(near)),
        last_price=price_on(ladder, position.last_price),
        market_value=price_form(position.market_value, CENT),
        unrealized_pnl=price_form(position.unrealized_pnl, CENT),
    )
