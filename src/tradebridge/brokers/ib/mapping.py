"""IB's values and ours, both ways: order statuses, actions, execution sides, order types,
times in force, market data types, and the symbols of contracts.

Symbols: `AAPL.US` is IB's stock `AAPL` routed through SMART in USD (a class share
`BRK.B.US` is IB's `BRK B`); `00700.HK` is IB's `700` on SEHK in HKD (IB writes HK stock
numbers without leading zeros). Any other contract has no tradebridge symbol: translating
one is an `UnmappedValue` that names it.
"""

import re
from dataclasses import dataclass

from tradebridge.brokers.mapping import Table, UnmappedValue
from tradebridge.domain.enums import OrderStatus, OrderType, Side, TimeInForce
from tradebridge.domain.symbols import Venue, venue_of

STATUS: Table[str, OrderStatus] = Table(
    "IB order status",
    {
        "ApiPending": OrderStatus.PENDING_NEW,
        "PendingSubmit": OrderStatus.PENDING_NEW,
        "PreSubmitted": OrderStatus.NEW,
        "Submitted": OrderStatus.NEW,
        "PendingCancel": OrderStatus.PENDING_CANCEL,
        "ApiCancelled": OrderStatus.CANCELED,
        "Cancelled": OrderStatus.CANCELED,
        "Filled": OrderStatus.FILLED,
        "Inactive": OrderStatus.REJECTED,
    },
    preferred={
        OrderStatus.PENDING_NEW: "PendingSubmit",
        OrderStatus.NEW: "Submitted",
        OrderStatus.CANCELED: "Cancelled",
    },
)
"""`Inactive`: TWS took the order but it is not working (refused, or not valid now)."""

SIDE: Table[str, Side] = Table("IB order action", {"BUY": Side.BUY, "SELL": Side.SELL})
EXECUTION_SIDE: Table[str, Side] = Table("IB execution side", {"BOT": Side.BUY, "SLD": Side.SELL})
ORDER_TYPE: Table[str, OrderType] = Table(
    "IB order type", {"LMT": OrderType.LIMIT, "MKT": OrderType.MARKET}
)
TIME_IN_FORCE: Table[str, TimeInForce] = Table(
    "IB time in force",
    {
        "DAY": TimeInForce.DAY,
        "GTC": TimeInForce.GTC,
        "IOC": TimeInForce.IOC,
        "FOK": TimeInForce.FOK,
    },
)
MARKET_DATA_TYPE: Table[int, str] = Table(
    "IB market data type", {1: "live", 2: "frozen", 3: "delayed", 4: "delayed_frozen"}
)

_OUR_ORDER_ID = re.compile(r"[0-9A-HJKMNP-TV-Z]{26}")
"""The form of a tradebridge order id (`ids.IdGenerator`), which goes to IB as `orderRef`."""


def our_reference(order_ref: str) -> str | None:
    """Our order id, if `orderRef` is one; None for an order placed elsewhere (in TWS, or by
    another API client with its own references)."""
    return order_ref if _OUR_ORDER_ID.fullmatch(order_ref) else None


@dataclass(frozen=True, slots=True)
class IbStock:
    """How IB names one of our symbols: the stock's symbol, where orders go, its currency."""

    symbol: str
    exchange: str
    currency: str


def ib_stock(symbol: str) -> IbStock | None:
    """IB's name of `symbol` (canonical); None for a venue IB is not used for here."""
    ticker = symbol.rpartition(".")[0]
    venue = venue_of(symbol)
    if venue is Venue.US:
        return IbStock(ticker.replace(".", " "), "SMART", "USD")
    if venue is Venue.HK:
        return IbStock(str(int(ticker)), "SEHK", "HKD")
    return None


def our_symbol(sec_type: str, ib_symbol: str, currency: str) -> str:
    """Our symbol of an IB stock; `UnmappedValue` naming the contract if there is none."""
    if sec_type == "STK" and currency == "USD" and ib_symbol:
        return f"{ib_symbol.replace(' ', '.')}.US"
    if sec_type == "STK" and currency == "HKD" and ib_symbol.isdigit():
        return f"{int(ib_symbol):05d}.HK"
    raise UnmappedValue(
        f"IB contract {ib_symbol!r} ({sec_type or 'no type'}, {currency or 'no currency'}) "
        "has no tradebridge symbol: only US stocks in USD and SEHK stocks in HKD are mapped"
    )
