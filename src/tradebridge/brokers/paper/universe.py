"""The paper broker's instruments: the built-in universe, venue defaults and configured rows.

Every instrument is built the same way, from a `ContractRow` (built-in or from
`[[accounts.paper.contracts]]`) whose missing fields come from the defaults of its venue and
board (MARKET_RULES.md). A configured row for a built-in symbol overrides only the fields it
gives. A row for a new stock needs at least `pre_close` (and, on HK, `lot_size`); a row for a
new futures contract needs `multiplier`, `tick_size`, `margin_rate` and `pre_close`, and
`price_limit_pct` unless its product is in `FUTURES_PRICE_LIMIT_PCT`.

Ticks can depend on the price (the HK spread table, US sub-dollar quotes), so each instrument
carries a `TickLadder`; `Contract.tick_size` shows the tick at the contract's `pre_close`.
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from tradebridge.brokers.paper.config import ContractRow
from tradebridge.brokers.paper.fees import FeeTable
from tradebridge.domain.errors import ValidationFailed
from tradebridge.domain.models import Contract
from tradebridge.domain.symbols import MARKET_CURRENCY, Market, Venue, market_of, venue_of
from tradebridge.domain.ticks import HK_TICKS, US_TICKS, TickLadder

CN_STOCK_TICKS = TickLadder.fixed(Decimal("0.01"))
CN_FUND_TICKS = TickLadder.fixed(Decimal("0.001"))
CN_BOND_TICKS = TickLadder.fixed(Decimal("0.001"))


class CnBoard(StrEnum):
    """China A-share boards (and the other SH/SZ products traded like shares), which set
    lots, ticks, price limits, settlement and order sizes."""

    MAIN = "main"
    STAR = "star"
    CHINEXT = "chinext"
    BJ = "bj"
    FUND = "fund"
    CONVERTIBLE = "convertible"
    """Convertible bonds (SH 11xxxx, SZ 12xxxx): quoted per bond of 100 CNY face value."""


_CN_BOARD_PREFIXES: dict[Venue, tuple[tuple[str, CnBoard], ...]] = {
    Venue.SH: (
        ("600", CnBoard.MAIN),
        ("601", CnBoard.MAIN),
        ("603", CnBoard.MAIN),
        ("605", CnBoard.MAIN),
        ("688", CnBoard.STAR),
        ("689", CnBoard.STAR),
        ("5", CnBoard.FUND),
        ("11", CnBoard.CONVERTIBLE),
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
        ("12", CnBoard.CONVERTIBLE),
    ),
    Venue.BJ: (("4", CnBoard.BJ), ("8", CnBoard.BJ), ("920", CnBoard.BJ)),
}


def cn_board(symbol: str) -> CnBoard | None:
    """Board of a canonical SH/SZ/BJ symbol by its code; None for codes of no known board."""
    ticker = symbol.partition(".")[0]
    prefixes = _CN_BOARD_PREFIXES.get(venue_of(symbol), ())
    return next((board for prefix, board in prefixes if ticker.startswith(prefix)), None)


@dataclass(frozen=True, slots=True)
class _Defaults:
    """What a venue (and, in China, a board) gives a row that does not say otherwise."""

    ticks: TickLadder | None
    """None where the row must give `tick_size` (futures)."""
    lot_size: int | None
    """None where the venue has no common lot (HK: per stock)."""
    price_limit_pct: Decimal | None
    t_plus: int
    min_qty: int | None = None
    max_qty: int | None = None
    max_market_qty: int | None = None


_CN_BOARDS: dict[CnBoard, _Defaults] = {
    CnBoard.MAIN: _Defaults(CN_STOCK_TICKS, 100, Decimal(10), 1, max_qty=1_000_000),
    CnBoard.STAR: _Defaults(
        CN_STOCK_TICKS, 1, Decimal(20), 1, min_qty=200, max_qty=100_000, max_market_qty=50_000
    ),
    CnBoard.CHINEXT: _Defaults(
        CN_STOCK_TICKS, 100, Decimal(20), 1, max_qty=300_000, max_market_qty=150_000
    ),
    CnBoard.BJ: _Defaults(CN_STOCK_TICKS, 1, Decimal(30), 1, min_qty=100, max_qty=1_000_000),
    CnBoard.FUND: _Defaults(CN_FUND_TICKS, 100, Decimal(10), 1),
    CnBoard.CONVERTIBLE: _Defaults(CN_BOND_TICKS, 10, Decimal(20), 0),
}
"""STAR and BJ trade in single shares above a minimum (`lot_size` 1 with `min_qty`).
Convertible bonds trade T+0 in lots of 10 bonds, ±20% a day (the rule since August 2022)."""

FUTURES_PRICE_LIMIT_PCT: dict[str, Decimal] = {
    "cu": Decimal(7),
    "al": Decimal(7),
    "zn": Decimal(7),
    "rb": Decimal(6),
    "hc": Decimal(6),
    "m": Decimal(6),
    "IF": Decimal(10),
    "IH": Decimal(10),
    "IC": Decimal(10),
    "IM": Decimal(10),
    "TS": Decimal("0.5"),
    "TF": Decimal("1.2"),
    "T": Decimal(2),
}
"""Default daily limit of a futures product (the letters of its ticker), as set by its
exchange; exchanges change them, so a row's `price_limit_pct` wins."""

_FUTURES = _Defaults(None, 1, None, 0)


def _defaults(symbol: str) -> _Defaults:
    market = market_of(symbol)
    if market is Market.CN_STOCK:
        board = cn_board(symbol)
        if board is None:
            raise _invalid(symbol, "the code is not a stock or fund of a known board")
        return _CN_BOARDS[board]
    if market is Market.HK_STOCK:
        return _Defaults(HK_TICKS, None, None, 0)
    if market is Market.US_STOCK:
        return _Defaults(US_TICKS, 1, None, 0)
    return _FUTURES


@dataclass(frozen=True, slots=True)
class Instrument:
    """A contract with the tick ladder its prices are checked against."""

    contract: Contract
    ticks: TickLadder
    market: Market
    cost_quantum: Decimal
    """Average costs are shown to two decimals finer than the finest tick."""
    fee_table: FeeTable
    max_market_qty: int | None = None

    @property
    def symbol(self) -> str:
        return self.contract.symbol

    @property
    def currency(self) -> str:
        return self.contract.currency

    @property
    def is_futures(self) -> bool:
        return self.market is Market.CN_FUTURES

    @property
    def board_lots_only(self) -> bool:
        """HK trades whole board lots only (its odd-lot market is not simulated), so fills
        come in lots too. CN fills may be odd (an order meets odd-lot sellers), which is why
        odd-lot sells exist."""
        return self.market is Market.HK_STOCK

    @property
    def unit(self) -> str:
        """What a quantity counts, in messages."""
        if self.is_futures:
            return "lots"
        return "bonds" if self.fee_table is FeeTable.CN_BOND else "shares"


def _row(symbol: str, name: str, pre_close: str, lot_size: int | None = None) -> ContractRow:
    return ContractRow(symbol=symbol, name=name, pre_close=Decimal(pre_close), lot_size=lot_size)


def _futures_row(
    symbol: str, name: str, pre_close: str, multiplier: int, tick: str, margin_rate: str
) -> ContractRow:
    return ContractRow(
        symbol=symbol,
        name=name,
        pre_close=Decimal(pre_close),
        multiplier=Decimal(multiplier),
        tick_size=Decimal(tick),
        margin_rate=Decimal(margin_rate),
    )


BUILT_IN: tuple[ContractRow, ...] = (
    _row("600519.SH", "贵州茅台", "1500.00"),
    _row("601318.SH", "中国平安", "52.00"),
    _row("600036.SH", "招商银行", "42.00"),
    _row("000001.SZ", "平安银行", "11.50"),
    _row("300750.SZ", "宁德时代", "250.00"),
    _row("688981.SH", "中芯国际", "90.00"),
    _row("430047.BJ", "诺思兰德", "15.00"),
    _row("510300.SH", "沪深300ETF", "4.000"),
    _row("159915.SZ", "创业板ETF", "2.200"),
    _row("113025.SH", "明泰转债", "305.000"),
    _row("113050.SH", "南银转债", "120.000"),
    _row("128136.SZ", "立讯转债", "130.000"),
    _row("00700.HK", "TENCENT", "480.0", lot_size=100),
    _row("00005.HK", "HSBC HOLDINGS", "95.00", lot_size=400),
    _row("02800.HK", "TRACKER FUND", "26.00", lot_size=500),
    _row("09988.HK", "BABA-W", "160.0", lot_size=100),
    _row("AAPL.US", "Apple Inc.", "230.00"),
    _row("MSFT.US", "Microsoft Corporation", "420.00"),
    _row("QQQ.US", "Invesco QQQ Trust", "600.00"),
    _row("TSLA.US", "Tesla, Inc.", "430.00"),
    _futures_row("cu2601.SHFE", "沪铜2601", "86000", 5, "10", "0.10"),
    _futures_row("rb2601.SHFE", "螺纹钢2601", "3100", 10, "1", "0.10"),
    _futures_row("IF2512.CFFEX", "沪深300股指2512", "4600.0", 300, "0.2", "0.12"),
    _futures_row("m2601.DCE", "豆粕2601", "2950", 10, "1", "0.08"),
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


def _invalid(symbol: str, problem: str) -> ValidationFailed:
    return ValidationFailed(
        f"paper contract {symbol}: {problem}", {"field": "contracts", "symbol": symbol}
    )


def _futures_terms(row: ContractRow) -> tuple[Decimal, Decimal, Decimal | None]:
    """`(multiplier, margin_rate, default price_limit_pct)` of a futures row."""
    missing = [
        field
        for field in ("multiplier", "tick_size", "margin_rate", "pre_close")
        if getattr(row, field) is None
    ]
    if missing:
        raise _invalid(row.symbol, f"a futures contract needs {', '.join(missing)}")
    assert row.multiplier is not None
    assert row.margin_rate is not None
    if row.t_plus == 1:
        raise _invalid(row.symbol, "futures trade T+0: t_plus must be 0")
    product = re.match(r"[A-Za-z]+", row.symbol)
    default_limit = FUTURES_PRICE_LIMIT_PCT.get(product.group() if product else "")
    if row.price_limit_pct is None and default_limit is None:
        raise _invalid(row.symbol, "price_limit_pct is required (a number, or 'none' for no limit)")
    return row.multiplier, row.margin_rate, default_limit


_MARKET_FEES: dict[Market, FeeTable] = {
    Market.CN_STOCK: FeeTable.CN_STOCK,
    Market.HK_STOCK: FeeTable.HK_STOCK,
    Market.US_STOCK: FeeTable.US_STOCK,
    Market.CN_FUTURES: FeeTable.CN_FUTURES,
}
"""The fee table of each market; convertible bonds have their own."""


def _instrument(row: ContractRow) -> Instrument:
    symbol = row.symbol
    market = market_of(symbol)
    defaults = _defaults(symbol)
    currency = MARKET_CURRENCY[market]
    if row.currency is not None and row.currency.upper() != currency:
        raise _invalid(symbol, f"currency {row.currency} differs from the venue's {currency}")
    multiplier = Decimal(1)
    margin_rate: Decimal | None = None
    default_limit = defaults.price_limit_pct
    if market is Market.CN_FUTURES:
        multiplier, margin_rate, default_limit = _futures_terms(row)
    elif (row.multiplier is not None and row.multiplier != 1) or row.margin_rate is not None:
        raise _invalid(symbol, "multiplier and margin_rate apply to futures only")
    if row.pre_close is None:
        raise _invalid(symbol, "pre_close is required for an instrument not built in")
    lot_size = row.lot_size or defaults.lot_size
    if lot_size is None:
        raise _invalid(symbol, "lot_size is required: HK board lots differ per stock")
    if row.tick_size is not None and market in (Market.HK_STOCK, Market.US_STOCK):
        raise _invalid(symbol, "tick_size cannot be set: the venue's price ladder applies")
    ticks = TickLadder.fixed(row.tick_size) if row.tick_size is not None else defaults.ticks
    assert ticks is not None  # futures rows without tick_size were refused above
    if not ticks.is_on_tick(row.pre_close):
        raise _invalid(
            symbol, f"pre_close {row.pre_close} is not on the {ticks.tick_at(row.pre_close)} tick"
        )
    if row.price_limit_pct == "none":
        price_limit_pct = None
    elif row.price_limit_pct is not None:
        price_limit_pct = row.price_limit_pct
    else:
        price_limit_pct = default_limit
    contract = Contract(
        symbol=symbol,
        name=row.name or symbol,
        currency=currency,
        lot_size=lot_size,
        tick_size=ticks.tick_at(row.pre_close),
        pre_close=row.pre_close,
        price_limit_pct=price_limit_pct,
        t_plus=row.t_plus if row.t_plus is not None else defaults.t_plus,
        multiplier=multiplier,
        margin_rate=margin_rate,
        min_qty=row.min_qty or defaults.min_qty,
        max_qty=row.max_qty or defaults.max_qty,
    )
    return Instrument(
        contract,
        ticks,
        market,
        ticks.finest.scaleb(-2),
        FeeTable.CN_BOND if cn_board(symbol) is CnBoard.CONVERTIBLE else _MARKET_FEES[market],
        row.max_market_qty or defaults.max_market_qty,
    )
