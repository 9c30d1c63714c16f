"""Enumerations with English wire values. Dialects translate at their own edge."""

from enum import StrEnum


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"


class OrderType(StrEnum):
    LIMIT = "limit"
    MARKET = "market"


class TimeInForce(StrEnum):
    DAY = "day"
    GTC = "gtc"
    IOC = "ioc"
    FOK = "fok"


class Offset(StrEnum):
    """Futures position effect; stocks carry no offset."""

    OPEN = "open"
    CLOSE = "close"
    CLOSE_TODAY = "close_today"
    CLOSE_YESTERDAY = "close_yesterday"


class Direction(StrEnum):
    LONG = "long"
    SHORT = "short"


class OrderStatus(StrEnum):
    PENDING_NEW = "pending_new"
    NEW = "new"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    PENDING_CANCEL = "pending_cancel"
    CANCELED = "canceled"
    REJECTED = "rejected"
    EXPIRED = "expired"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_STATUSES

    @property
    def is_open(self) -> bool:
        return self not in TERMINAL_STATUSES


TERMINAL_STATUSES = frozenset(
    {OrderStatus.FILLED, OrderStatus.CANCELED, OrderStatus.REJECTED, OrderStatus.EXPIRED}
)


class RejectReason(StrEnum):
    """Why an order was refused; the `details.reason` of an `order_rejected` error."""

    INSUFFICIENT_FUNDS = "insufficient_funds"
    INSUFFICIENT_POSITION = "insufficient_position"
    INVALID_LOT_SIZE = "invalid_lot_size"
    INVALID_TICK_SIZE = "invalid_tick_size"
    PRICE_OUT_OF_LIMITS = "price_out_of_limits"
    MARKET_CLOSED = "market_closed"
    RISK_LIMIT = "risk_limit"
    TRADING_HALTED = "trading_halted"
    UNKNOWN_SYMBOL = "unknown_symbol"
    NOT_SUPPORTED = "not_supported"
    BROKER_REFUSED = "broker_refused"
    """The broker refused it; the message is the broker's."""


class TradingState(StrEnum):
    ACTIVE = "active"
    REDUCING = "reducing"
    HALTED = "halted"


class MarketStatus(StrEnum):
    UNKNOWN = "unknown"
    PRE_OPEN = "pre_open"
    AUCTION = "auction"
    OPEN = "open"
    BREAK = "break"
    CLOSED = "closed"
    PRE_HOURS = "pre_hours"
    AFTER_HOURS = "after_hours"
    OVERNIGHT = "overnight"


class ConnectionState(StrEnum):
    CONNECTING = "connecting"
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"


class EventType(StrEnum):
    """Kinds of account events; each is numbered with the account's gap-free `seq`."""

    ORDER = "order"
    TRADE = "trade"
    POSITION = "position"
    ACCOUNT = "account"
