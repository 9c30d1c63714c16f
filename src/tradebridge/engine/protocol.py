"""The engine's RPC methods: names, parameters and results, shared with the web process.

Only message types live here (no logic), so the web can speak to the engine without
importing any of its machinery.
"""

from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

import msgspec
from msgspec import UNSET, UnsetType

from tradebridge.brokers.base import BarInterval, Capabilities
from tradebridge.domain.enums import ConnectionState, EventType, TradingState
from tradebridge.domain.orders import Order, OrderRequest

OrderStatusFilter = Literal["open", "closed", "all"]


class AccountRef(msgspec.Struct, frozen=True):
    account: str


class AccountInfo(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    broker: str
    base_currency: str
    connected: bool
    connection_message: str
    """The broker's last connection news: why it is down, or what it connected to."""
    trading_state: TradingState
    capabilities: Capabilities


class PlaceOrder(msgspec.Struct, frozen=True):
    account: str
    request: OrderRequest


class PlaceResult(msgspec.Struct, frozen=True):
    order: Order
    created: bool
    """False when a retry with the same client_order_id returned the existing order."""


class OrderRef(msgspec.Struct, frozen=True):
    account: str
    order_id: str


class ClientOrderRef(msgspec.Struct, frozen=True):
    account: str
    client_order_id: str


class ListOrders(msgspec.Struct, frozen=True, kw_only=True):
    account: str
    status: OrderStatusFilter = "all"
    symbol: str | None = None
    limit: int = 100
    after: str | None = None


class ListTrades(msgspec.Struct, frozen=True, kw_only=True):
    account: str
    symbol: str | None = None
    order_id: str | None = None
    limit: int = 100
    after: str | None = None


class Pong(msgspec.Struct, frozen=True):
    pong: bool
    latency_ms: float


class EngineStatus(msgspec.Struct, frozen=True, kw_only=True):
    version: str
    accounts: list[AccountInfo]


class QuotesRequest(msgspec.Struct, frozen=True):
    account: str
    symbols: list[str]


class SetQuote(msgspec.Struct, frozen=True, kw_only=True):
    account: str
    symbol: str
    last: Decimal
    bid: Decimal | None = None
    ask: Decimal | None = None
    bid_size: int | None = None
    ask_size: int | None = None
    pre_close: Decimal | None = None


class WatchQuotes(msgspec.Struct, frozen=True, kw_only=True):
    """A web process's quote subscriptions on one account, as a lease it renews: the
    symbols its WebSocket clients want streamed (all of them each time; empty: none)."""

    owner: str
    account: str
    symbols: list[str]
    lease_s: float


class ContractQuery(msgspec.Struct, frozen=True, kw_only=True):
    account: str
    venue: str | None = None
    q: str | None = None
    """Case-insensitive part of the symbol or the name."""


class BarsRequest(msgspec.Struct, frozen=True, kw_only=True):
    account: str
    symbol: str
    interval: BarInterval
    limit: int = 200


class ClockRequest(msgspec.Struct, frozen=True, kw_only=True):
    """Exactly one of `advance` and `to`."""

    account: str
    advance: Literal["next_day", "next_session"] | None = None
    to: datetime | None = None


class ClockState(msgspec.Struct, frozen=True, kw_only=True):
    account: str
    now: datetime


class RiskState(msgspec.Struct, frozen=True, kw_only=True):
    """An account's risk limits in force (None: no limit) and its trading state; exactly the
    fields a `PUT …/risk` body may carry, so what is read can be written back."""

    trading_state: TradingState
    max_order_qty: int | None
    max_order_notional: Decimal | None
    max_orders_per_second: int | None
    max_open_orders: int | None
    price_band_pct: Decimal | None
    max_position_notional: Decimal | None


class RiskUpdate(msgspec.Struct, frozen=True, kw_only=True):
    """Changes to an account's risk settings: only the fields given (not UNSET) change;
    None clears a limit."""

    account: str
    trading_state: TradingState | UnsetType = UNSET
    max_order_qty: int | UnsetType | None = UNSET
    max_order_notional: Decimal | UnsetType | None = UNSET
    max_orders_per_second: int | UnsetType | None = UNSET
    max_open_orders: int | UnsetType | None = UNSET
    price_band_pct: Decimal | UnsetType | None = UNSET
    max_position_notional: Decimal | UnsetType | None = UNSET

    def changes(self) -> dict[str, Any]:
        return {
            name: value
            for name in self.__struct_fields__
            if name != "account" and (value := getattr(self, name)) is not UNSET
        }


class AccountEvent(msgspec.Struct, frozen=True, kw_only=True):
    """A numbered change to an account, as stored and as published.

    `data` is the msgpack of the `Order`, `Trade`, `Position` or `AccountSummary`.
    """

    account: str
    seq: int
    type: EventType
    data: msgspec.Raw


class ConnectionEvent(msgspec.Struct, frozen=True, kw_only=True):
    account: str
    state: ConnectionState
    message: str


class StrategyRef(msgspec.Struct, frozen=True):
    name: str


class StrategyInfo(msgspec.Struct, frozen=True, kw_only=True):
    """A hosted strategy (`[[strategies]]`) and its child process."""

    name: str
    file: str
    account: str
    state: Literal["running", "starting", "stopped", "failed"]
    """`starting`: waiting to be (re)started; `failed`: it cannot start (a wrong file or
    class) and waits to be started again."""
    pid: int | None
    restarts: int
    """How often it was started again after dying, since the engine started."""
    started_at: datetime | None
    last_exit: str | None
    """How the process last ended, e.g. `exited with status 1`."""


def account_topic(account: str) -> str:
    """PUB/SUB topic of an account's events; the trailing dot keeps `a` from matching `ab`."""
    return f"acct.{account}."


def quote_topic(account: str, symbol: str) -> str:
    """Quotes are an account's: a paper account's simulated price is not the real one."""
    return f"quote.{account}.{symbol}."


STATUS_TOPIC = "status."


class Method:
    """RPC method names."""

    STATUS = "engine.status"
    ACCOUNTS = "accounts.list"
    SUMMARY = "account.summary"
    POSITIONS = "account.positions"
    PING = "account.ping"
    GET_RISK = "account.risk"
    SET_RISK = "account.set_risk"
    PLACE = "orders.place"
    GET_ORDER = "orders.get"
    GET_BY_CLIENT_ID = "orders.by_client_id"
    LIST_ORDERS = "orders.list"
    CANCEL = "orders.cancel"
    CANCEL_ALL = "orders.cancel_all"
    LIST_TRADES = "trades.list"
    QUOTES = "market.quotes"
    WATCH_QUOTES = "market.watch_quotes"
    CONTRACTS = "market.contracts"
    MARKET_STATUS = "market.status"
    BARS = "market.bars"
    PAPER_SET_QUOTE = "paper.set_quote"
    PAPER_CLOCK = "paper.clock"
    PAPER_RESET = "paper.reset"
    STRATEGIES = "strategies.list"
    STRATEGY_START = "strategies.start"
    STRATEGY_STOP = "strategies.stop"
