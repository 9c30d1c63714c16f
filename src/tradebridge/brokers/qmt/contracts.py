"""What QMT trades for this adapter (A-shares, ETFs and other listed funds, convertible bonds),
the rules of each kind (MARKET_RULES.md), and xtdata's instrument details and ticks as
tradebridge contracts and quotes."""

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from tradebridge.brokers.paper.universe import cn_board
from tradebridge.domain.models import Contract, Quote
from tradebridge.domain.symbols import Venue, venue_of


class Kind(StrEnum):
    """The boards of `paper.universe.CnBoard` (same values) and convertible bonds."""

    MAIN = "main"
    STAR = "star"
    CHINEXT = "chinext"
    BJ = "bj"
    FUND = "fund"
    CONVERTIBLE_BOND = "convertible_bond"


_BOND_PREFIXES = {Venue.SH: ("110", "111", "113", "118"), Venue.SZ: ("123", "127", "128")}


def kind_of(symbol: str) -> Kind | None:
    """The kind of a canonical SH/SZ/BJ symbol by its code; None for what this adapter does
    not trade (indices, B-shares, repos, options, ...)."""
    ticker = symbol.partition(".")[0]
    if ticker.startswith(_BOND_PREFIXES.get(venue_of(symbol), ())):
        return Kind.CONVERTIBLE_BOND
    board = cn_board(symbol)
    return None if board is None else Kind(board.value)


@dataclass(frozen=True, slots=True)
class Rules:
    lot_size: int
    price_limit_pct: Decimal
    t_plus: int
    volume_unit: int
    """Shares (or bonds) in one lot of xtdata's tick volumes (手)."""
    min_qty: int | None = None
    max_qty: int | None = None


RULES: dict[Kind, Rules] = {
    Kind.MAIN: Rules(100, Decimal(10), 1, 100, max_qty=1_000_000),
    Kind.STAR: Rules(1, Decimal(20), 1, 100, min_qty=200, max_qty=100_000),
    Kind.CHINEXT: Rules(100, Decimal(20), 1, 100, max_qty=300_000),
    Kind.BJ: Rules(1, Decimal(30), 1, 100, min_qty=100, max_qty=1_000_000),
    Kind.FUND: Rules(100, Decimal(10), 1, 100),
    Kind.CONVERTIBLE_BOND: Rules(10, Decimal(20), 0, 10),
}
"""The venue's rules as defaults; the broker's counter has the last word on every order."""


def _decimal(value: Any) -> Decimal:
    """An SDK float as the decimal it prints as (not its binary expansion)."""
    return Decimal(str(value)) if value is not None else Decimal(0)


def contract_of(symbol: str, kind: Kind, detail: dict[str, Any]) -> Contract:
    """A contract from `xtdata.get_instrument_detail`: name, tick and previous close from
    MiniQMT, lots and limits from the kind's rules."""
    rules = RULES[kind]
    tick = _decimal(detail.get("PriceTick"))
    if tick <= 0:
        tick = Decimal("0.001") if kind in (Kind.FUND, Kind.CONVERTIBLE_BOND) else Decimal("0.01")
    return Contract(
        symbol=symbol,
        name=str(detail.get("InstrumentName") or symbol),
        currency="CNY",
        lot_size=rules.lot_size,
        tick_size=tick,
        pre_close=_decimal(detail.get("PreClose")),
        price_limit_pct=rules.price_limit_pct,
        t_plus=rules.t_plus,
        min_qty=rules.min_qty,
        max_qty=rules.max_qty,
    )


def _level(values: Any) -> Any:
    return values[0] if isinstance(values, list | tuple) and values else None


def quote_of(symbol: str, tick: dict[str, Any]) -> Quote:
    """A quote from an xtdata tick (`get_full_tick` or a `subscribe_quote` push): best bid and
    ask with their sizes in shares (xtdata counts lots), `time` in epoch milliseconds."""
    kind = kind_of(symbol)
    unit = RULES[kind].volume_unit if kind is not None else 100
    bid, ask = _decimal(_level(tick.get("bidPrice"))), _decimal(_level(tick.get("askPrice")))
    stamp = tick.get("time")
    return Quote(
        symbol=symbol,
        last=_decimal(tick.get("lastPrice")),
        bid=bid if bid > 0 else None,
        ask=ask if ask > 0 else None,
        bid_size=int(_level(tick.get("bidVol")) or 0) * unit,
        ask_size=int(_level(tick.get("askVol")) or 0) * unit,
        pre_close=_decimal(tick.get("lastClose")) or None,
        time=datetime.fromtimestamp(stamp / 1000, UTC) if stamp else datetime.now(UTC),
    )
