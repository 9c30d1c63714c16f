"""What the tradebridge API answers, as typed values (API.md §3; field names as on the wire).

Money and prices are `Decimal`, read from the JSON text exactly as sent; times are aware
`datetime`s. Fields a newer server adds are ignored, so an older client keeps working.
"""

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

import msgspec


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
    """Futures position effect; stocks take none."""

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
    def is_open(self) -> bool:
        """Whether the order can still fill (or be canceled)."""
        return self not in _TERMINAL


_TERMINAL = frozenset(
    {OrderStatus.FILLED, OrderStatus.CANCELED, OrderStatus.REJECTED, OrderStatus.EXPIRED}
)


class TradingState(StrEnum):
    ACTIVE = "active"
    REDUCING = "reducing"
    HALTED = "halted"


class Struct(msgspec.Struct, frozen=True, kw_only=True):
    """Base of every value here: immutable, keyword-only."""


class Order(Struct, frozen=True, kw_only=True):
    id: str
    client_order_id: str
    account: str
    symbol: str
    side: Side
    offset: Offset | None
    type: OrderType
    time_in_force: TimeInForce
    qty: int
    limit_price: Decimal | None
    filled_qty: int
    avg_fill_price: Decimal | None
    status: OrderStatus
    reject_reason: str | None
    broker_order_id: str | None
    created_at: datetime
    updated_at: datetime

    @property
    def remaining_qty(self) -> int:
        return self.qty - self.filled_qty


class Trade(Struct, frozen=True, kw_only=True):
    id: str
    order_id: str
    client_order_id: str
    account: str
    symbol: str
    side: Side
    qty: int
    price: Decimal
    fee: Decimal
    time: datetime


class Position(Struct, frozen=True, kw_only=True):
    symbol: str
    qty: int
    available_qty: int
    """What can be sold (or closed) now: T+1 shares bought today are not."""
    avg_cost: Decimal
    last_price: Decimal
    market_value: Decimal
    unrealized_pnl: Decimal
    currency: str
    direction: Direction | None = None
    """Futures only: long and short positions are held apart."""


class Balance(Struct, frozen=True, kw_only=True):
    currency: str
    cash: Decimal
    available: Decimal
    frozen: Decimal


class AccountSummary(Struct, frozen=True, kw_only=True):
    """Totals in the account's base currency, with the balance of each currency."""

    account: str
    currency: str
    cash: Decimal
    available: Decimal
    frozen: Decimal
    market_value: Decimal
    equity: Decimal
    realized_pnl: Decimal
    unrealized_pnl: Decimal
    balances: list[Balance]


class Capabilities(Struct, frozen=True, kw_only=True):
    """What the account's broker supports: orders beyond these are refused `not_supported`."""

    markets: list[str] = msgspec.field(default_factory=list)
    """The markets the account trades (`cn_stock`, `hk_stock`, `us_stock`, `cn_futures`)."""
    market_orders: bool = True
    short_selling: bool = False
    broker_checks_funds: bool = False
    """Buys beyond the cash of their currency are the broker's to allow (IB's buying power)."""
    quote_streaming: bool = False
    bars: bool = False
    time_in_force: list[TimeInForce] = msgspec.field(default_factory=list)
    restores_from_journal: bool = False


class AccountInfo(Struct, frozen=True, kw_only=True):
    id: str
    broker: str
    base_currency: str
    connected: bool
    connection_message: str = ""
    """The broker's last connection news: why it is down, or what it connected to."""
    trading_state: TradingState
    capabilities: Capabilities


class Pong(Struct, frozen=True, kw_only=True):
    pong: bool
    latency_ms: float


class RiskState(Struct, frozen=True, kw_only=True):
    """Risk limits in force (None: no limit) and the trading state of an account."""

    trading_state: TradingState
    max_order_qty: int | None = None
    max_order_notional: Decimal | None = None
    max_orders_per_second: int | None = None
    max_open_orders: int | None = None
    price_band_pct: Decimal | None = None
    max_position_notional: Decimal | None = None


class Contract(Struct, frozen=True, kw_only=True):
    symbol: str
    name: str
    currency: str
    lot_size: int
    tick_size: Decimal
    pre_close: Decimal
    price_limit_pct: Decimal | None = None
    t_plus: int = 0
    multiplier: Decimal = Decimal(1)
    margin_rate: Decimal | None = None
    min_qty: int | None = None
    max_qty: int | None = None


class Quote(Struct, frozen=True, kw_only=True):
    symbol: str
    last: Decimal
    bid: Decimal | None
    ask: Decimal | None
    bid_size: int
    ask_size: int
    pre_close: Decimal | None
    time: datetime


class Bar(Struct, frozen=True, kw_only=True):
    """OHLCV of one interval starting at `time`."""

    symbol: str
    time: datetime
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: int


class VenueStatus(Struct, frozen=True, kw_only=True):
    venue: str
    status: str
    """Unified: unknown, pre_open, auction, open, break, closed, pre_hours, after_hours,
    overnight."""
    broker_status: str


class EngineHealth(Struct, frozen=True, kw_only=True):
    address: str
    link: str
    status: str
    """`up` or `down`."""
    version: str | None = None
    error: str | None = None
    accounts: list[dict[str, Any]] = msgspec.field(default_factory=list)


class Health(Struct, frozen=True, kw_only=True):
    status: str
    """`ok`, or `degraded` when the database, the engine or a broker is not up."""
    version: str
    database: str | None = None
    engines: list[EngineHealth] = msgspec.field(default_factory=list)


class Token(Struct, frozen=True, kw_only=True):
    access_token: str
    token_type: str
    expires_in: int


class ApiKey(Struct, frozen=True, kw_only=True):
    id: str
    user: str
    prefix: str
    scopes: list[str]
    account: str | None
    created_at: datetime
    revoked_at: datetime | None


class NewApiKey(ApiKey, frozen=True, kw_only=True):
    key: str
    """The key itself: shown only in this answer."""


class ClockState(Struct, frozen=True, kw_only=True):
    account: str
    now: datetime


class PaperReset(Struct, frozen=True, kw_only=True):
    account: str
    reset: bool


class AuditEntry(Struct, frozen=True, kw_only=True):
    id: int
    time: datetime
    actor: str | None
    role: str | None
    auth: str | None
    key_id: str | None
    client_ip: str | None
    method: str
    path: str
    action: str
    account: str | None
    target: str | None
    status: int
    result: str
    request_id: str


class StrategyInfo(Struct, frozen=True, kw_only=True):
    """A strategy the server hosts (`[[strategies]]`), and its child process."""

    name: str
    file: str
    account: str
    state: str
    """`running`, `starting` (waiting to be restarted), `stopped` or `failed`."""
    pid: int | None = None
    restarts: int = 0
    started_at: datetime | None = None
    last_exit: str | None = None
    """How the process last ended, e.g. `exited with status 1`."""
