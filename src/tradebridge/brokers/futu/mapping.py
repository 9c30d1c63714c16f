"""Futu's values and ours, both ways. The tables are built from the SDK's own constants once
it is loaded (`tables(sdk)`), so a constant the SDK renames fails loudly; a value the SDK
sends that no table maps is an error naming it (`brokers.mapping.UnmappedValue`).

Symbols: ours `00700.HK`, `AAPL.US`, `600519.SH`, `000001.SZ`; Futu's `HK.00700`,
`US.AAPL`, `SH.600519`, `SZ.000001` (US tickers may hold a dot: `BRK.B.US` is `US.BRK.B`).
Futu quotes A-shares traded through Stock Connect in CNH; tradebridge books them in CNY.
"""

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from tradebridge.brokers.mapping import Table
from tradebridge.domain.enums import MarketStatus, OrderStatus, OrderType, Side, TimeInForce
from tradebridge.domain.symbols import Market, Venue, venue_of

VENUE_OF_FUTU: dict[str, Venue] = {"HK": Venue.HK, "US": Venue.US, "SH": Venue.SH, "SZ": Venue.SZ}
FUTU_OF_VENUE: dict[Venue, str] = {venue: prefix for prefix, venue in VENUE_OF_FUTU.items()}

MARKETS_OF: dict[str, frozenset[Market]] = {
    "HK": frozenset({Market.HK_STOCK}),
    "US": frozenset({Market.US_STOCK}),
    "CN": frozenset({Market.CN_STOCK}),
    "HKCC": frozenset({Market.CN_STOCK}),
}
"""What an account of each `trd_market` trades."""

GLOBAL_STATE_KEYS: dict[Venue, str] = {
    Venue.HK: "market_hk",
    Venue.US: "market_us",
    Venue.SH: "market_sh",
    Venue.SZ: "market_sz",
}
"""Where `get_global_state()` says each venue's market state."""

_EXCHANGE_TIME = {
    Venue.HK: ZoneInfo("Asia/Hong_Kong"),
    Venue.US: ZoneInfo("America/New_York"),
    Venue.SH: ZoneInfo("Asia/Shanghai"),
    Venue.SZ: ZoneInfo("Asia/Shanghai"),
}
"""Futu writes times in the market's own clock (US: New York, the others: Beijing time)."""

ORDER_ID = re.compile(r"[0-9A-HJKMNP-TV-Z]{26}")
"""A tradebridge order id (`ids.IdGenerator`): a `remark` of this shape is our reference."""


class UnknownSymbol(ValueError):
    """A symbol of a venue Futu does not quote (BJ, the futures exchanges)."""


def to_futu_code(symbol: str) -> str:
    venue = venue_of(symbol)
    prefix = FUTU_OF_VENUE.get(venue)
    if prefix is None:
        raise UnknownSymbol(f"Futu has no {venue.value} market ({symbol})")
    return f"{prefix}.{symbol.rpartition('.')[0]}"


def to_our_symbol(code: str) -> str:
    prefix, _, ticker = str(code).partition(".")
    venue = VENUE_OF_FUTU.get(prefix)
    if venue is None or not ticker:
        raise UnknownSymbol(f"Futu code {code!r} is of no market tradebridge trades")
    return f"{ticker}.{venue.value}"


def exchange_time(symbol: str, text: str) -> datetime:
    """A Futu time (`2025-01-02 09:30:00` or with `.fff`) of `symbol`'s market."""
    return datetime.fromisoformat(str(text).strip()).replace(
        tzinfo=_EXCHANGE_TIME[venue_of(symbol)]
    )


def our_reference(remark: Any) -> str | None:
    """The tradebridge order id an order's `remark` carries, None for any other remark."""
    text = str(remark or "")
    return text if ORDER_ID.fullmatch(text) else None


@dataclass(frozen=True, slots=True)
class Tables:
    status: Table[str, OrderStatus]
    side: Table[str, Side]
    order_type: Table[str, OrderType]
    time_in_force: Table[str, TimeInForce]
    market_status: Table[str, MarketStatus]
    currency: Table[str, str]
    env: Table[str, str]
    trd_market: Table[str, str]


def tables(sdk: Any) -> Tables:
    status, side, kind = sdk.OrderStatus, sdk.TrdSide, sdk.OrderType
    state = sdk.MarketState
    return Tables(
        status=Table(
            "futu order status",
            {
                status.UNSUBMITTED: OrderStatus.PENDING_NEW,
                status.WAITING_SUBMIT: OrderStatus.PENDING_NEW,
                status.SUBMITTING: OrderStatus.PENDING_NEW,
                status.TIMEOUT: OrderStatus.PENDING_NEW,  # Futu itself does not know yet
                status.SUBMITTED: OrderStatus.NEW,
                status.FILLED_PART: OrderStatus.PARTIALLY_FILLED,
                status.FILLED_ALL: OrderStatus.FILLED,
                status.CANCELLING_PART: OrderStatus.PENDING_CANCEL,
                status.CANCELLING_ALL: OrderStatus.PENDING_CANCEL,
                status.CANCELLED_PART: OrderStatus.CANCELED,
                status.CANCELLED_ALL: OrderStatus.CANCELED,
                status.DELETED: OrderStatus.CANCELED,
                status.FILL_CANCELLED: OrderStatus.CANCELED,
                status.SUBMIT_FAILED: OrderStatus.REJECTED,
                status.FAILED: OrderStatus.REJECTED,
                status.DISABLED: OrderStatus.EXPIRED,
            },
            preferred={
                OrderStatus.PENDING_NEW: status.SUBMITTING,
                OrderStatus.PENDING_CANCEL: status.CANCELLING_ALL,
                OrderStatus.CANCELED: status.CANCELLED_ALL,
                OrderStatus.REJECTED: status.FAILED,
            },
        ),
        side=Table(
            "futu side",
            {
                side.BUY: Side.BUY,
                side.SELL: Side.SELL,
                side.SELL_SHORT: Side.SELL,
                side.BUY_BACK: Side.BUY,
            },
            preferred={Side.BUY: side.BUY, Side.SELL: side.SELL},
        ),
        order_type=Table(
            "futu order type",
            {
                kind.NORMAL: OrderType.LIMIT,
                kind.ABSOLUTE_LIMIT: OrderType.LIMIT,
                kind.AUCTION_LIMIT: OrderType.LIMIT,
                kind.SPECIAL_LIMIT: OrderType.LIMIT,
                kind.SPECIAL_LIMIT_ALL: OrderType.LIMIT,
                kind.STOP_LIMIT: OrderType.LIMIT,
                kind.LIMIT_IF_TOUCHED: OrderType.LIMIT,
                kind.TRAILING_STOP_LIMIT: OrderType.LIMIT,
                kind.MARKET: OrderType.MARKET,
                kind.AUCTION: OrderType.MARKET,
                kind.STOP: OrderType.MARKET,
                kind.MARKET_IF_TOUCHED: OrderType.MARKET,
                kind.TRAILING_STOP: OrderType.MARKET,
            },
            preferred={OrderType.LIMIT: kind.NORMAL, OrderType.MARKET: kind.MARKET},
        ),
        time_in_force=Table(
            "futu time in force",
            {
                sdk.TimeInForce.DAY: TimeInForce.DAY,
                sdk.TimeInForce.GTC: TimeInForce.GTC,
                sdk.TimeInForce.GTD: TimeInForce.GTC,  # lives past today: the nearest of ours
            },
            preferred={TimeInForce.GTC: sdk.TimeInForce.GTC},
        ),
        market_status=Table(
            "futu market state",
            {
                "N/A": MarketStatus.UNKNOWN,  # OpenD sent none for this market
                state.NONE: MarketStatus.CLOSED,
                state.AUCTION: MarketStatus.AUCTION,
                state.WAITING_OPEN: MarketStatus.PRE_OPEN,
                state.MORNING: MarketStatus.OPEN,
                state.REST: MarketStatus.BREAK,
                state.AFTERNOON: MarketStatus.OPEN,
                state.CLOSED: MarketStatus.CLOSED,
                state.PRE_MARKET_BEGIN: MarketStatus.PRE_HOURS,
                state.PRE_MARKET_END: MarketStatus.PRE_OPEN,
                state.AFTER_HOURS_BEGIN: MarketStatus.AFTER_HOURS,
                state.AFTER_HOURS_END: MarketStatus.CLOSED,
                state.NIGHT_OPEN: MarketStatus.OPEN,
                state.NIGHT_END: MarketStatus.CLOSED,
                state.NIGHT: MarketStatus.OPEN,
                state.OVERNIGHT: MarketStatus.OVERNIGHT,
                state.TRADE_AT_LAST: MarketStatus.AFTER_HOURS,
                state.HK_CAS: MarketStatus.AUCTION,
                state.FUTURE_DAY_OPEN: MarketStatus.OPEN,
                state.FUTURE_DAY_BREAK: MarketStatus.BREAK,
                state.FUTURE_DAY_CLOSE: MarketStatus.CLOSED,
                state.FUTURE_DAY_WAIT_OPEN: MarketStatus.PRE_OPEN,
                state.FUTURE_NIGHT_WAIT: MarketStatus.PRE_OPEN,
                state.FUTURE_AFTERNOON: MarketStatus.OPEN,
                state.FUTURE_SWITCH_DATE: MarketStatus.CLOSED,
                state.FUTURE_OPEN: MarketStatus.OPEN,
                state.FUTURE_BREAK: MarketStatus.BREAK,
                state.FUTURE_BREAK_OVER: MarketStatus.OPEN,
                state.FUTURE_CLOSE: MarketStatus.CLOSED,
                state.STIB_AFTER_HOURS_WAIT: MarketStatus.BREAK,
                state.ASHARE_AFTER_HOURS_WAIT: MarketStatus.BREAK,
                state.STIB_AFTER_HOURS_BEGIN: MarketStatus.AFTER_HOURS,
                state.ASHARE_AFTER_HOURS_BEGIN: MarketStatus.AFTER_HOURS,
                state.STIB_AFTER_HOURS_END: MarketStatus.CLOSED,
                state.ASHARE_AFTER_HOURS_END: MarketStatus.CLOSED,
            },
        ),
        currency=Table(
            "futu currency",
            {
                sdk.Currency.HKD: "HKD",
                sdk.Currency.USD: "USD",
                sdk.Currency.CNH: "CNY",
                sdk.Currency.JPY: "JPY",
                sdk.Currency.SGD: "SGD",
                sdk.Currency.AUD: "AUD",
                sdk.Currency.CAD: "CAD",
                sdk.Currency.MYR: "MYR",
                sdk.Currency.NZD: "NZD",
            },
        ),
        env=Table(
            "futu trading environment", {sdk.TrdEnv.SIMULATE: "simulate", sdk.TrdEnv.REAL: "real"}
        ),
        trd_market=Table(
            "futu trading market",
            {
                sdk.TrdMarket.HK: "HK",
                sdk.TrdMarket.US: "US",
                sdk.TrdMarket.CN: "CN",
                sdk.TrdMarket.HKCC: "HKCC",
            },
        ),
    )
