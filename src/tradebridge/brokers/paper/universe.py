"""The paper broker's instruments: the built-in universe, venue defaults and configured rows.

Every instrument is built the same way, from a `ContractRow` (built-in or from
`[[accounts.paper.contracts]]`) whose missing fields come from the defaults of its venue and
board (MARKET_RULES.md). A configured row for a built-in symbol overrides only the fields it
gives; a row for a new symbol needs at least `pre_close` (and, on HK, `lot_size`).

Ticks can depend on the price (the HK spread table, US sub-dollar quotes), so each instrument
carries a `TickLadder`; `Contract.tick_size` shows the tick at the contract's `pre_close`.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from tradebridge.config import ContractRow
from tradebridge.domain.errors import ValidationFailed
from tradebridge.domain.models import Contract
from tradebridge.domain.symbols import MARKET_CURRENCY, Market, Venue, market_of, venue_of
from tradebridge.domain.ticks import HK_TICKS, US_TICKS, TickLadder

CN_STOCK_TICKS = TickLadder.fixed(Decimal("0.01"))
CN_FUND_TICKS = TickLadder.fixed(Decimal("0.001"))


class CnBoard(StrEnum):
    """China A-share boards, which set lots, price limits and order sizes."""

    MAIN = "main"
    STAR = "star"
    CHINEXT = "chinext"
    BJ = "bj"
    FUND = "fund"


_CN_BOARD_PREFIXES: dict[Venue, tuple[tuple[str, CnBoard], ...]] = {
    Venue.SH: (
        ("600", CnBoard.MAIN),
        ("601", CnBoard.MAIN),
        ("603", CnBoard.MAIN),
        ("605", CnBoard.MAIN),
        ("688", CnBoard.STAR),
        ("689", CnBoard.STAR),
        ("5", CnBoard.FUND),
    ),
    Venue.SZ: (
        ("000", CnBoard.MAIN),
        ("001", CnBoard.MAIN),
        ("002", CnBoard.MAIN),
        ("003", CnBoard.MAIN),
        ("300", CnBoard.CHINEXT),
        ("301", CnBoard.CHINEXT),
        ("15", CnBoard.FUND),
        ("16", CnBoard.FUND),
    ),
    Venue.BJ: (("4", CnBoard.BJ), ("8", CnBoard.BJ), ("920", CnBoard.BJ)),
}

_CN_PRICE_LIMIT_PCT: dict[CnBoard, Decimal] = {
    CnBoard.MAIN: Decimal(10),
    CnBoard.STAR: Decimal(20),
    CnBoard.CHINEXT: Decimal(20),
    CnBoard.BJ: Decimal(30),
    CnBoard.FUND: Decimal(10),
}


def cn_board(symbol: str) -> CnBoard | None:
    """Board of a canonical SH/SZ/BJ symbol by its code; None for codes of no known board."""
    ticker = symbol.partition(".")[0]
    prefixes = _CN_BOARD_PREFIXES.get(venue_of(symbol), ())
    return next((board for prefix, board in prefixes if ticker.startswith(prefix)), None)


@dataclass(frozen=True, slots=True)
class Instrument:
    """A contract with the tick ladder its prices are checked against."""

    contract: Contract
    ticks: TickLadder

    @property
    def symbol(self) -> str:
        return self.contract.symbol

    @property
    def currency(self) -> str:
        return self.contract.currency


def _row(symbol: str, name: str, pre_close: str, lot_size: int | None = None) -> ContractRow:
    return ContractRow(symbol=symbol, name=name, pre_close=Decimal(pre_close), lot_size=lot_size)


BUILT_IN: tuple[ContractRow, ...] = (
    _row("600519.SH", "贵州茅台", "1500.00"),
    _row("601318.SH", "中国平安", "52.00"),
    _row("600036.SH", "招商银行", "42.00"),
    _row("000001.SZ", "平安银行", "11.50"),
    _row("300750.SZ", "宁德时代", "250.00"),
    _row("688981.SH", "中芯国际", "90.00"),
    _row("510300.SH", "沪深300ETF", "4.000"),
    _row("159915.SZ", "创业板ETF", "2.200"),
    _row("00700.HK", "TENCENT", "480.0", lot_size=100),
    _row("00005.HK", "HSBC HOLDINGS", "95.00", lot_size=400),
    _row("AAPL.US", "Apple Inc.", "230.00"),
    _row("MSFT.US", "Microsoft Corporation", "420.00"),
)
"""The built-in universe: only what venue defaults cannot supply is given here."""


def build_universe(rows: Iterable[ContractRow]) -> dict[str, Instrument]:
    """The built-in universe with `rows` added or merged over it, keyed by symbol.

    Raises `ValidationFailed` naming the symbol of the first row that cannot be traded.
    """
    merged = {row.symbol: row for row in BUILT_IN}
    for row in rows:
        base = merged.get(row.symbol)
        merged[row.symbol] = (
            row if base is None else base.model_copy(update=row.model_dump(exclude_none=True))
        )
    return {symbol: _instrument(row) for symbol, row in merged.items()}


@dataclass(frozen=True, slots=True)
class _VenueDefaults:
    ticks: TickLadder
    lot_size: int | None
    """None where the venue has no common lot (HK: per stock)."""
    price_limit_pct: Decimal | None
    t_plus: int


def _invalid(symbol: str, problem: str) -> ValidationFailed:
    return ValidationFailed(
        f"paper contract {symbol}: {problem}", {"field": "contracts", "symbol": symbol}
    )


def _venue_defaults(symbol: str) -> _VenueDefaults:
    market = market_of(symbol)
    if market is Market.CN_STOCK:
        board = cn_board(symbol)
        if board is None:
            raise _invalid(symbol, "the code is not a stock or fund of a known board")
        ticks = CN_FUND_TICKS if board is CnBoard.FUND else CN_STOCK_TICKS
        return _VenueDefaults(ticks, 100, _CN_PRICE_LIMIT_PCT[board], 1)
    if market is Market.HK_STOCK:
        return _VenueDefaults(HK_TICKS, None, None, 0)
    if market is Market.US_STOCK:
        return _VenueDefaults(US_TICKS, 1, None, 0)
    raise _invalid(symbol, "futures are not simulated by the paper broker yet")


def _instrument(row: ContractRow) -> Instrument:
    symbol = row.symbol
    defaults = _venue_defaults(symbol)
    currency = MARKET_CURRENCY[market_of(symbol)]
    if row.currency is not None and row.currency.upper() != currency:
        raise _invalid(symbol, f"currency {row.currency} differs from the venue's {currency}")
    if (row.multiplier is not None and row.multiplier != 1) or row.margin_rate is not None:
        raise _invalid(symbol, "multiplier and margin_rate apply to futures only")
    if row.pre_close is None:
        raise _invalid(symbol, "pre_close is required for an instrument not built in")
    lot_size = row.lot_size or defaults.lot_size
    if lot_size is None:
        raise _invalid(symbol, "lot_size is required: HK board lots differ per stock")
    if row.tick_size is not None and market_of(symbol) in (Market.HK_STOCK, Market.US_STOCK):
        raise _invalid(symbol, "tick_size cannot be set: the venue's price ladder applies")
    ticks = TickLadder.fixed(row.tick_size) if row.tick_size is not None else defaults.ticks
    if not ticks.is_on_tick(row.pre_close):
        raise _invalid(
            symbol, f"pre_close {row.pre_close} is not on the {ticks.tick_at(row.pre_close)} tick"
        )
    if row.price_limit_pct == "none":
        price_limit_pct = None
    elif row.price_limit_pct is not None:
        price_limit_pct = row.price_limit_pct
    else:
        price_limit_pct = defaults.price_limit_pct
    contract = Contract(
        symbol=symbol,
        name=row.name or symbol,
        currency=currency,
        lot_size=lot_size,
        tick_size=ticks.tick_at(row.pre_close),
        pre_close=row.pre_close,
        price_limit_pct=price_limit_pct,
        t_plus=row.t_plus if row.t_plus is not None else defaults.t_plus,
    )
    return Instrument(contract, ticks)
