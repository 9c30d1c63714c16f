"""LongPort's values and ours, both ways. The SDK's enums (`OrderStatus.Filled`, ...) are not
hashable, so the tables are keyed by their member names, read with `name_of` and turned back
into SDK values with `sdk_value`: a member nobody mapped fails loudly, naming it."""

import re
from typing import Any

from tradebridge.brokers.mapping import Table
from tradebridge.domain.enums import MarketStatus, OrderStatus, OrderType, Side, TimeInForce
from tradebridge.domain.symbols import Market, Venue

STATUS: Table[str, OrderStatus] = Table(
    "longport order status",
    {
        # the SDK's reading of a status string it does not know: LongPort has the order, its
        # state is unknown (the engine keeps the order's own; fills still follow)
        "Unknown": OrderStatus.PENDING_NEW,
        "NotReported": OrderStatus.PENDING_NEW,
        "ReplacedNotReported": OrderStatus.PENDING_NEW,
        "ProtectedNotReported": OrderStatus.PENDING_NEW,
        "VarietiesNotReported": OrderStatus.PENDING_NEW,
        "DelayedNotReported": OrderStatus.PENDING_NEW,
        "WaitToNew": OrderStatus.PENDING_NEW,
        "New": OrderStatus.NEW,
        "WaitToReplace": OrderStatus.NEW,
        "PendingReplace": OrderStatus.NEW,
        "Replaced": OrderStatus.NEW,
        "PartialFilled": OrderStatus.PARTIALLY_FILLED,
        "Filled": OrderStatus.FILLED,
        "WaitToCancel": OrderStatus.PENDING_CANCEL,
        "PendingCancel": OrderStatus.PENDING_CANCEL,
        "Canceled": OrderStatus.CANCELED,
        "PartialWithdrawal": OrderStatus.CANCELED,  # partly filled, the rest withdrawn
        "Rejected": OrderStatus.REJECTED,
        "Expired": OrderStatus.EXPIRED,
    },
    preferred={
        OrderStatus.PENDING_NEW: "WaitToNew",
        OrderStatus.NEW: "New",
        OrderStatus.PENDING_CANCEL: "PendingCancel",
        OrderStatus.CANCELED: "Canceled",
    },
)
SIDE: Table[str, Side] = Table("longport side", {"Buy": Side.BUY, "Sell": Side.SELL})
ORDER_TYPE: Table[str, OrderType] = Table(
    "longport order type", {"LO": OrderType.LIMIT, "MO": OrderType.MARKET}
)
TIME_IN_FORCE: Table[str, TimeInForce] = Table(
    "longport time in force",
    {"Day": TimeInForce.DAY, "GoodTilCanceled": TimeInForce.GTC},
)
MARKET: Table[str, Market] = Table(
    "longport market",
    {"HK": Market.HK_STOCK, "US": Market.US_STOCK, "CN": Market.CN_STOCK},
)
SESSION_STATUS: Table[str, MarketStatus] = Table(
    "longport trade session",
    {
        "Intraday": MarketStatus.OPEN,
        "Pre": MarketStatus.PRE_HOURS,
        "Post": MarketStatus.AFTER_HOURS,
        "Overnight": MarketStatus.OVERNIGHT,
    },
)

ORDER_ID = re.compile(r"[0-9A-HJKMNP-TV-Z]{26}")
"""A tradebridge order id (`ids.IdGenerator`): a `remark` of this shape is our reference."""


class UnknownSymbol(ValueError):
    """A LongPort symbol tradebridge has no canonical form for (another venue, an option)."""


def name_of(value: Any) -> str:
    """The member name of an SDK enum value (`OrderStatus.Filled` -> `Filled`)."""
    return str(value).rpartition(".")[2]


def sdk_value(enum: Any, name: str) -> Any:
    """The SDK enum member `name` of `enum` (`OrderSide`, `OrderType`, ...)."""
    return getattr(enum, name)


def our_reference(remark: Any) -> str | None:
    """The tradebridge order id an order's `remark` carries, None for any other remark."""
    text = str(remark or "")
    return text if ORDER_ID.fullmatch(text) else None


def to_longport_symbol(symbol: str) -> str:
    """Ours to LongPort's: `00700.HK` -> `700.HK` (no leading zeros), others alike."""
    ticker, _, venue = symbol.rpartition(".")
    if venue == Venue.HK:
        ticker = ticker.lstrip("0") or "0"
    elif venue not in (Venue.US, Venue.SH, Venue.SZ):
        raise UnknownSymbol(f"LongPort does not trade {symbol}")
    return f"{ticker}.{venue}"


def to_our_symbol(symbol: str) -> str:
    """LongPort's to ours: `700.HK` -> `00700.HK`; US, SH and SZ keep theirs."""
    ticker, _, venue = symbol.rpartition(".")
    if venue == "HK" and ticker.isdigit():
        return f"{ticker.zfill(5)}.HK"
    if venue in ("US", "SH", "SZ") and ticker:
        return f"{ticker}.{venue}"
    raise UnknownSymbol(f"LongPort symbol {symbol!r} has no tradebridge form")
