"""vnpy's enums and ours, both ways, keyed by enum MEMBER.

vnpy's enum values are translated at import (`Status.ALLTRADED.value` is 全部成交 or
"All Traded" depending on LANG/LANGUAGE), so nothing here ever looks at `.value` but for
`Exchange`, whose values are codes. The tables are built from the loaded vnpy constants
(`tables(constant)`), so a renamed or new member fails loudly.
"""

from dataclasses import dataclass
from typing import Any

from tradebridge.brokers.mapping import Table
from tradebridge.domain.enums import Direction, Offset, OrderStatus, OrderType, Side, TimeInForce
from tradebridge.domain.symbols import Venue, parse_symbol

TODAY_APART = frozenset({Venue.SHFE, Venue.INE})
"""Venues whose closes tell today's lots from yesterday's (MARKET_RULES.md): there `close`
closes yesterday's, and `close_today` / `close_yesterday` go to the exchange as they are.
Elsewhere every close takes yesterday's lots first, so all three are vnpy's `CLOSE`."""

FUTURES_VENUES = frozenset({Venue.SHFE, Venue.DCE, Venue.CZCE, Venue.CFFEX, Venue.INE, Venue.GFEX})


@dataclass(frozen=True, slots=True)
class Tables:
    status: Table[Any, OrderStatus]
    side: Table[Any, Side]
    position_direction: Table[Any, Direction | None]
    offset: Table[Any, Offset | None]
    order_type: Table[Any, tuple[OrderType, TimeInForce]]
    exchange: Table[Any, Venue]
    product: Table[Any, str]
    """Products we list (others, options, spreads and indexes, are not tradable here)."""


def tables(constant: Any) -> Tables:
    """The tables over vnpy's loaded `vnpy.trader.constant`."""
    S, D, F, T, E, P = (  # noqa: N806 - vnpy's enum classes (F: offsets)
        constant.Status,
        constant.Direction,
        constant.Offset,
        constant.OrderType,
        constant.Exchange,
        constant.Product,
    )
    us = [E.SMART, E.NYSE, E.NASDAQ, E.ARCA, E.AMEX, E.BATS, E.IEX, E.EDGEA, E.ISLAND, E.IBKRATS]
    return Tables(
        status=Table(
            "vnpy order status",
            {
                S.SUBMITTING: OrderStatus.PENDING_NEW,
                S.NOTTRADED: OrderStatus.NEW,
                S.PARTTRADED: OrderStatus.PARTIALLY_FILLED,
                S.ALLTRADED: OrderStatus.FILLED,
                S.CANCELLED: OrderStatus.CANCELED,
                S.REJECTED: OrderStatus.REJECTED,
            },
        ),
        side=Table("vnpy direction", {D.LONG: Side.BUY, D.SHORT: Side.SELL}),
        position_direction=Table(
            "vnpy position direction",
            {D.LONG: Direction.LONG, D.SHORT: Direction.SHORT, D.NET: None},
        ),
        offset=Table(
            "vnpy offset",
            {
                F.NONE: None,
                F.OPEN: Offset.OPEN,
                F.CLOSE: Offset.CLOSE,
                F.CLOSETODAY: Offset.CLOSE_TODAY,
                F.CLOSEYESTERDAY: Offset.CLOSE_YESTERDAY,
            },
        ),
        order_type=Table(
            "vnpy order type",
            {
                T.LIMIT: (OrderType.LIMIT, TimeInForce.DAY),
                T.MARKET: (OrderType.MARKET, TimeInForce.DAY),
                T.FAK: (OrderType.LIMIT, TimeInForce.IOC),
                T.FOK: (OrderType.LIMIT, TimeInForce.FOK),
            },
        ),
        exchange=Table(
            "vnpy exchange",
            {
                E.SSE: Venue.SH,
                E.SZSE: Venue.SZ,
                E.BSE: Venue.BJ,
                E.SEHK: Venue.HK,
                E.SHHK: Venue.HK,
                E.SZHK: Venue.HK,
                **dict.fromkeys(us, Venue.US),
                E.CFFEX: Venue.CFFEX,
                E.SHFE: Venue.SHFE,
                E.DCE: Venue.DCE,
                E.CZCE: Venue.CZCE,
                E.INE: Venue.INE,
                E.GFEX: Venue.GFEX,
            },
            preferred={Venue.HK: E.SEHK, Venue.US: E.SMART},
        ),
        product=Table(
            "vnpy product",
            {
                P.EQUITY: "equity",
                P.FUTURES: "futures",
                P.ETF: "etf",
                P.FUND: "fund",
                P.BOND: "bond",
            },
        ),
    )


def sdk_offset(tables: Tables, offset: Offset | None, venue: Venue) -> Any:
    """Our offset as vnpy's for an order on `venue` (stocks carry none: vnpy's `NONE`)."""
    if offset in (Offset.CLOSE_TODAY, Offset.CLOSE_YESTERDAY) and venue not in TODAY_APART:
        offset = Offset.CLOSE
    return tables.offset.to_sdk(offset)


def same_offset(ours: Offset | None, theirs: Offset | None, venue: Venue) -> bool:
    """Whether an order placed with `ours` is the order vnpy shows with `theirs`."""
    if venue in TODAY_APART:
        return ours is theirs
    closes = (Offset.CLOSE, Offset.CLOSE_TODAY, Offset.CLOSE_YESTERDAY)
    return ours is theirs or (ours in closes and theirs in closes)


def our_symbol(tables: Tables, symbol: str, exchange: Any) -> str:
    """vnpy's `symbol` + `exchange` as our canonical symbol; raises `UnmappedValue` or
    `ValidationFailed` for one we cannot represent (an option, a foreign exchange)."""
    return parse_symbol(f"{symbol}.{tables.exchange.to_ours(exchange).value}")
