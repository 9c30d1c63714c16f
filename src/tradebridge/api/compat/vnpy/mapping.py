"""vnpy's enums and exchange codes, and explicit tables between them and ours.

vnpy's enum values are display strings in Chinese (`Direction.LONG = "多"`); its English
locale spells them "Long", "Close Today", ... Requests may use either spelling; responses use
the configured `language`. Every table is written out both ways, and a value without an
entry is an error that names it.
"""

from enum import StrEnum
from typing import Literal, TypeVar

from tradebridge.domain.enums import Direction, Offset, OrderStatus, OrderType, Side, TimeInForce
from tradebridge.domain.errors import ValidationFailed
from tradebridge.domain.symbols import Market, Venue, market_of, parse_symbol

Language = Literal["zh", "en"]


class VnDirection(StrEnum):
    LONG = "多"
    SHORT = "空"
    NET = "净"


class VnOrderType(StrEnum):
    LIMIT = "限价"
    MARKET = "市价"
    STOP = "STOP"
    FAK = "FAK"
    FOK = "FOK"
    RFQ = "询价"


class VnOffset(StrEnum):
    NONE = ""
    OPEN = "开"
    CLOSE = "平"
    CLOSE_TODAY = "平今"
    CLOSE_YESTERDAY = "平昨"


class VnStatus(StrEnum):
    SUBMITTING = "提交中"
    NOT_TRADED = "未成交"
    PART_TRADED = "部分成交"
    ALL_TRADED = "全部成交"
    CANCELLED = "已撤销"
    REJECTED = "拒单"


class VnProduct(StrEnum):
    EQUITY = "股票"
    FUTURES = "期货"
    ETF = "ETF"
    BOND = "债券"


class VnExchange(StrEnum):
    SSE = "SSE"
    SZSE = "SZSE"
    BSE = "BSE"
    SEHK = "SEHK"
    SMART = "SMART"
    NASDAQ = "NASDAQ"
    NYSE = "NYSE"
    SHFE = "SHFE"
    DCE = "DCE"
    CZCE = "CZCE"
    CFFEX = "CFFEX"
    INE = "INE"
    GFEX = "GFEX"


ENGLISH: dict[str, str] = {
    VnDirection.LONG: "Long",
    VnDirection.SHORT: "Short",
    VnDirection.NET: "Net",
    VnOrderType.LIMIT: "Limit",
    VnOrderType.MARKET: "Market",
    VnOrderType.RFQ: "RFQ",
    VnOffset.OPEN: "Open",
    VnOffset.CLOSE: "Close",
    VnOffset.CLOSE_TODAY: "Close Today",
    VnOffset.CLOSE_YESTERDAY: "Close Yesterday",
    VnStatus.SUBMITTING: "Submitting",
    VnStatus.NOT_TRADED: "Not Traded",
    VnStatus.PART_TRADED: "Part Traded",
    VnStatus.ALL_TRADED: "All Traded",
    VnStatus.CANCELLED: "Cancelled",
    VnStatus.REJECTED: "Rejected",
    VnProduct.EQUITY: "Stock",
    VnProduct.FUTURES: "Futures",
    VnProduct.BOND: "Bond",
}
"""vnpy's English locale; values missing here (STOP, FAK, FOK, ETF, the empty offset) are
spelled the same in both languages."""

E = TypeVar("E", bound=StrEnum)


def spell(value: StrEnum, language: Language) -> str:
    """`value` as vnpy shows it in `language`."""
    return ENGLISH.get(value, value.value) if language == "en" else value.value


def read_enum(kind: type[E], text: str) -> E:
    """The member of `kind` spelled `text` in either language; `ValueError` naming the
    accepted spellings otherwise."""
    for member in kind:
        if text in (member.value, ENGLISH.get(member)):
            return member
    accepted = [m.value for m in kind] + [ENGLISH[m] for m in kind if m in ENGLISH]
    shown = ", ".join(repr(a) for a in accepted)
    raise ValueError(f"{text!r} is not a vnpy {kind.__name__[2:]}; use one of {shown}")


# --------------------------------------------------------------------------- orders

SIDE_DIRECTION: dict[Side, VnDirection] = {Side.BUY: VnDirection.LONG, Side.SELL: VnDirection.SHORT}
DIRECTION_SIDE: dict[VnDirection, Side] = {VnDirection.LONG: Side.BUY, VnDirection.SHORT: Side.SELL}
"""vnpy's `Net` is a position direction only; an order with it is refused."""

POSITION_DIRECTION: dict[Direction | None, VnDirection] = {
    Direction.LONG: VnDirection.LONG,
    Direction.SHORT: VnDirection.SHORT,
    None: VnDirection.NET,
}
"""Futures positions are long or short; a stock position (no direction) is net."""

OFFSET_VN: dict[Offset | None, VnOffset] = {
    None: VnOffset.NONE,
    Offset.OPEN: VnOffset.OPEN,
    Offset.CLOSE: VnOffset.CLOSE,
    Offset.CLOSE_TODAY: VnOffset.CLOSE_TODAY,
    Offset.CLOSE_YESTERDAY: VnOffset.CLOSE_YESTERDAY,
}
VN_OFFSET: dict[VnOffset, Offset | None] = {vn: ours for ours, vn in OFFSET_VN.items()}

ORDER_KIND: dict[VnOrderType, tuple[OrderType, TimeInForce]] = {
    VnOrderType.LIMIT: (OrderType.LIMIT, TimeInForce.DAY),
    VnOrderType.MARKET: (OrderType.MARKET, TimeInForce.DAY),
    VnOrderType.FAK: (OrderType.LIMIT, TimeInForce.IOC),
    VnOrderType.FOK: (OrderType.LIMIT, TimeInForce.FOK),
}
"""Order types we place; STOP and RFQ have no counterpart and are refused."""


def vn_order_type(order_type: OrderType, time_in_force: TimeInForce) -> VnOrderType:
    """vnpy's type of one of our orders: a limit order that cannot rest is FAK or FOK."""
    if order_type is OrderType.MARKET:
        return VnOrderType.MARKET
    return {TimeInForce.IOC: VnOrderType.FAK, TimeInForce.FOK: VnOrderType.FOK}.get(
        time_in_force, VnOrderType.LIMIT
    )


ORDER_STATUS: dict[OrderStatus, VnStatus] = {
    OrderStatus.PENDING_NEW: VnStatus.SUBMITTING,
    OrderStatus.NEW: VnStatus.NOT_TRADED,
    OrderStatus.PARTIALLY_FILLED: VnStatus.PART_TRADED,
    OrderStatus.FILLED: VnStatus.ALL_TRADED,
    OrderStatus.CANCELED: VnStatus.CANCELLED,
    OrderStatus.REJECTED: VnStatus.REJECTED,
    OrderStatus.EXPIRED: VnStatus.CANCELLED,
}
"""vnpy has no word for an expired order (a day order at the close): it is cancelled."""


def vn_status(status: OrderStatus, filled_qty: int) -> VnStatus:
    """A cancel under way leaves the order working until the broker confirms (vnpy has no
    pending-cancel status)."""
    if status is OrderStatus.PENDING_CANCEL:
        return VnStatus.PART_TRADED if filled_qty else VnStatus.NOT_TRADED
    return ORDER_STATUS[status]


# --------------------------------------------------------------------------- symbols

VENUE_EXCHANGE: dict[Venue, VnExchange] = {
    Venue.SH: VnExchange.SSE,
    Venue.SZ: VnExchange.SZSE,
    Venue.BJ: VnExchange.BSE,
    Venue.HK: VnExchange.SEHK,
    Venue.US: VnExchange.SMART,
    Venue.SHFE: VnExchange.SHFE,
    Venue.DCE: VnExchange.DCE,
    Venue.CZCE: VnExchange.CZCE,
    Venue.CFFEX: VnExchange.CFFEX,
    Venue.INE: VnExchange.INE,
    Venue.GFEX: VnExchange.GFEX,
}
"""US stocks are shown on SMART, the exchange vnpy's IB gateway routes them to."""

EXCHANGE_VENUE: dict[VnExchange, Venue] = {
    VnExchange.SSE: Venue.SH,
    VnExchange.SZSE: Venue.SZ,
    VnExchange.BSE: Venue.BJ,
    VnExchange.SEHK: Venue.HK,
    VnExchange.SMART: Venue.US,
    VnExchange.NASDAQ: Venue.US,
    VnExchange.NYSE: Venue.US,
    VnExchange.SHFE: Venue.SHFE,
    VnExchange.DCE: Venue.DCE,
    VnExchange.CZCE: Venue.CZCE,
    VnExchange.CFFEX: Venue.CFFEX,
    VnExchange.INE: Venue.INE,
    VnExchange.GFEX: Venue.GFEX,
}


def read_exchange(text: str) -> VnExchange:
    """A vnpy exchange code, in any case (ASCII, no spaces); `ValueError` naming the known
    ones otherwise."""
    try:
        if not text.isascii():
            raise ValueError(text)
        return VnExchange(text.upper())
    except ValueError:
        known = ", ".join(e.value for e in VnExchange)
        raise ValueError(f"{text!r} is not a vnpy exchange; use one of {known}") from None


def canonical_symbol(ticker: str, exchange: VnExchange) -> str:
    """Our symbol for vnpy's `symbol` + `exchange`; `ValidationFailed` for a bad ticker."""
    return parse_symbol(f"{ticker}.{EXCHANGE_VENUE[exchange].value}")


def read_vt_symbol(vt_symbol: str) -> str:
    """Our symbol for a vnpy `vt_symbol` (`cu2601.SHFE`, `600519.SSE`); `ValidationFailed`
    when it is not one."""
    ticker, _, exchange_text = vt_symbol.rpartition(".")
    try:
        exchange = read_exchange(exchange_text)
    except ValueError as exc:
        raise ValidationFailed(str(exc), {"field": "vt_symbol", "value": vt_symbol}) from None
    return canonical_symbol(ticker, exchange)


def split_symbol(symbol: str) -> tuple[str, VnExchange]:
    """vnpy's `symbol` and `exchange` of one of our (canonical) symbols."""
    ticker, _, venue = symbol.rpartition(".")
    return ticker, VENUE_EXCHANGE[Venue(venue)]


def is_futures(symbol: str) -> bool:
    return market_of(symbol) is Market.CN_FUTURES


_CN_FUND_PREFIXES: dict[Venue, tuple[str, ...]] = {Venue.SH: ("5",), Venue.SZ: ("15", "16")}
"""Exchange-traded funds by their code, as the exchanges number them."""
_CN_BOND_PREFIXES: dict[Venue, tuple[str, ...]] = {Venue.SH: ("11",), Venue.SZ: ("12",)}
"""Convertible bonds by their code."""


def product_of(symbol: str) -> VnProduct:
    if is_futures(symbol):
        return VnProduct.FUTURES
    ticker, _, venue = symbol.rpartition(".")
    if ticker.startswith(_CN_FUND_PREFIXES.get(Venue(venue), ())):
        return VnProduct.ETF
    if ticker.startswith(_CN_BOND_PREFIXES.get(Venue(venue), ())):
        return VnProduct.BOND
    return VnProduct.EQUITY
