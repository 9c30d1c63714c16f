"""xtquant's values and ours, both ways. The tables are built from the SDK's own `xtconstant`
once it is loaded (`build_tables`), so a renamed constant fails loudly and a value nobody
mapped is an error naming it (`brokers.mapping.UnmappedValue`).

Also here: symbols (xtquant's codes are ours, `600000.SH`) and the order remark, the
tradebridge order id as MiniQMT keeps it.
"""

from dataclasses import dataclass
from typing import Any

from tradebridge.brokers.mapping import Table
from tradebridge.domain.enums import OrderStatus, OrderType, Side
from tradebridge.domain.symbols import Venue, parse_symbol, venue_of

REMARK_PREFIX = "tb:"
REMARK_ID_CHARS = 16
"""An order's remark is `tb:` and the last 16 characters of its id (19 in all). xtquant
documents no length limit for `order_remark` but passes it to the broker's counter, whose
limits vary, so the remark is kept short, ASCII and unique: the 16 characters are the id's 80
random bits (ULID), distinct between any two orders of an account."""

VENUES = frozenset({Venue.SH, Venue.SZ, Venue.BJ})


def remark_of(order_id: str) -> str:
    return REMARK_PREFIX + order_id[-REMARK_ID_CHARS:]


def is_ours(remark: str | None) -> bool:
    """Whether an order with this remark was placed by tradebridge (not in the terminal, nor
    by another program)."""
    return bool(remark) and str(remark).startswith(REMARK_PREFIX)


STRATEGY_NAME = "tradebridge"
"""`strategy_name` of every order we place: how the terminal shows where an order came from,
and how one of ours is still told apart should a counter drop its remark."""


def placed_by_us(remark: str | None, strategy_name: str | None) -> bool:
    return is_ours(remark) or strategy_name == STRATEGY_NAME


def to_code(symbol: str) -> str:
    """Our canonical symbol as an xtquant stock code (the same text, SH/SZ/BJ only)."""
    if venue_of(symbol) not in VENUES:
        raise ValueError(f"{symbol} is not traded through QMT")
    return symbol


def to_symbol(code: str) -> str:
    return parse_symbol(code)


@dataclass(frozen=True, slots=True)
class Tables:
    status: Table[int, OrderStatus]
    """`order_status` of an order."""
    side: Table[int, Side]
    """`order_type` of a stock or credit order (23 buy, 24 sell, the credit ones)."""
    price_type: Table[int, OrderType]
    market_price_type: dict[Venue, int]
    """The price type of a market order, by venue: best five levels, the rest canceled."""
    account_status: Table[int, str]
    """`XtAccountStatus.status`, as words for the log."""


def build_tables(xc: Any) -> Tables:
    """The tables, from xtquant's `xtconstant` module."""
    status = Table(
        "xtquant order_status",
        {
            xc.ORDER_UNREPORTED: OrderStatus.PENDING_NEW,
            xc.ORDER_WAIT_REPORTING: OrderStatus.PENDING_NEW,
            xc.ORDER_REPORTED: OrderStatus.NEW,
            xc.ORDER_REPORTED_CANCEL: OrderStatus.PENDING_CANCEL,
            xc.ORDER_PARTSUCC_CANCEL: OrderStatus.PENDING_CANCEL,
            xc.ORDER_PART_CANCEL: OrderStatus.CANCELED,
            xc.ORDER_CANCELED: OrderStatus.CANCELED,
            xc.ORDER_PART_SUCC: OrderStatus.PARTIALLY_FILLED,
            xc.ORDER_SUCCEEDED: OrderStatus.FILLED,
            xc.ORDER_JUNK: OrderStatus.REJECTED,
            # 未知: MiniQMT does not know yet; no change until it says (pending_new never
            # moves an order back)
            xc.ORDER_UNKNOWN: OrderStatus.PENDING_NEW,
        },
        preferred={
            OrderStatus.PENDING_NEW: xc.ORDER_WAIT_REPORTING,
            OrderStatus.PENDING_CANCEL: xc.ORDER_REPORTED_CANCEL,
            OrderStatus.CANCELED: xc.ORDER_CANCELED,
        },
    )
    side = Table(
        "xtquant order_type",
        {
            xc.STOCK_BUY: Side.BUY,  # = CREDIT_BUY, 担保品买入
            xc.STOCK_SELL: Side.SELL,  # = CREDIT_SELL, 担保品卖出
            xc.CREDIT_FIN_BUY: Side.BUY,
            xc.CREDIT_SLO_SELL: Side.SELL,
            xc.CREDIT_BUY_SECU_REPAY: Side.BUY,
            xc.CREDIT_SELL_SECU_REPAY: Side.SELL,
            xc.CREDIT_FIN_BUY_SPECIAL: Side.BUY,
            xc.CREDIT_SLO_SELL_SPECIAL: Side.SELL,
            xc.CREDIT_BUY_SECU_REPAY_SPECIAL: Side.BUY,
            xc.CREDIT_SELL_SECU_REPAY_SPECIAL: Side.SELL,
        },
        preferred={Side.BUY: xc.STOCK_BUY, Side.SELL: xc.STOCK_SELL},
    )
    limit_like = (
        xc.FIX_PRICE,
        xc.LATEST_PRICE,
        xc.PRTP_SALE5,
        xc.PRTP_SALE4,
        xc.PRTP_SALE3,
        xc.PRTP_SALE2,
        xc.PRTP_SALE1,
        xc.PRTP_BUY1,
        xc.PRTP_BUY2,
        xc.PRTP_BUY3,
        xc.PRTP_BUY4,
        xc.PRTP_BUY5,
    )
    market_like = (
        xc.PRTP_MARKET,
        xc.MARKET_SH_CONVERT_5_CANCEL,
        xc.MARKET_SH_CONVERT_5_LIMIT,
        xc.MARKET_PEER_PRICE_FIRST,
        xc.MARKET_MINE_PRICE_FIRST,
        xc.MARKET_SZ_INSTBUSI_RESTCANCEL,
        xc.MARKET_SZ_CONVERT_5_CANCEL,
        xc.MARKET_SZ_FULL_OR_CANCEL,
    )
    price_type = Table(
        "xtquant price_type",
        {
            **{value: OrderType.LIMIT for value in limit_like},
            **{value: OrderType.MARKET for value in market_like},
        },
        preferred={OrderType.LIMIT: xc.FIX_PRICE},
    )
    account_status = Table(
        "xtquant account status",
        {
            xc.ACCOUNT_STATUS_INVALID: "invalid",
            xc.ACCOUNT_STATUS_OK: "ok",
            xc.ACCOUNT_STATUS_WAITING_LOGIN: "waiting for login",
            xc.ACCOUNT_STATUSING: "logging in",
            xc.ACCOUNT_STATUS_FAIL: "failed",
            xc.ACCOUNT_STATUS_INITING: "initialising",
            xc.ACCOUNT_STATUS_CORRECTING: "refreshing its data",
            xc.ACCOUNT_STATUS_CLOSED: "closed after the market",
            xc.ACCOUNT_STATUS_ASSIS_FAIL: "secondary link down",
            xc.ACCOUNT_STATUS_DISABLEBYSYS: "disabled by the system",
            xc.ACCOUNT_STATUS_DISABLEBYUSER: "disabled by the user",
        },
    )
    return Tables(
        status=status,
        side=side,
        price_type=price_type,
        market_price_type={
            Venue.SH: xc.MARKET_SH_CONVERT_5_CANCEL,
            Venue.BJ: xc.MARKET_SH_CONVERT_5_CANCEL,
            Venue.SZ: xc.MARKET_SZ_CONVERT_5_CANCEL,
        },
        account_status=account_status,
    )
