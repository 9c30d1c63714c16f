"""The interface every broker adapter implements, and the sink it reports through.

Required methods: `connect`, `close`, `ping`, `place_order`, `cancel_order`,
`query_orders`, `query_trades`, `query_positions`, `query_account`, `contracts`, `quotes`,
`market_status`, `subscribe_quotes`.

Adapters are driven from the engine's event loop. An adapter whose SDK blocks runs it on an
executor of its own, with a timeout on every call; an SDK that calls back on its own threads
hands events to the loop with `loop.call_soon_threadsafe`. Every `BrokerSink` method must be
called on the engine loop's thread.

`place_order` and `cancel_order` return once the request is handed to the broker; the
outcome (acknowledged, rejected, filled, canceled) arrives through the sink, possibly before
the call returns.
"""

from abc import ABC, abstractmethod
from datetime import datetime
from decimal import Decimal
from typing import Literal, Protocol

import msgspec

from tradebridge.domain.enums import (
    ConnectionState,
    MarketStatus,
    OrderStatus,
    RejectReason,
    TimeInForce,
)
from tradebridge.domain.errors import OrderRejected
from tradebridge.domain.models import AccountSummary, Bar, Contract, Position, Quote, Trade
from tradebridge.domain.orders import Order

BarInterval = Literal["1m", "5m", "1d"]


class OrderUpdate(msgspec.Struct, frozen=True, kw_only=True):
    """A status change reported by the broker (fills come as `Fill`)."""

    order_id: str
    status: OrderStatus
    broker_order_id: str | None = None
    reason: str | None = None


class Fill(msgspec.Struct, frozen=True, kw_only=True):
    order_id: str
    trade_id: str
    qty: int
    price: Decimal
    fee: Decimal
    time: datetime


class VenueStatus(msgspec.Struct, frozen=True, kw_only=True):
    venue: str
    status: MarketStatus
    broker_status: str


class BrokerOrder(msgspec.Struct, frozen=True, kw_only=True):
    """The broker's view of one order, used for reconciliation."""

    order_id: str
    broker_order_id: str | None
    status: OrderStatus
    filled_qty: int


class Capabilities(msgspec.Struct, frozen=True, kw_only=True):
    """What an adapter supports natively, so the API can answer `not_supported` up front."""

    market_orders: bool = True
    modify: bool = False
    short_selling: bool = False
    futures_offsets: bool = False
    quote_streaming: bool = False
    bars: bool = False
    """Historical bars through `bars()`."""
    time_in_force: frozenset[TimeInForce] = frozenset(TimeInForce)


class BrokerSink(Protocol):
    """Where an adapter pushes what happens at the broker. Called on the engine loop thread."""

    def on_order_update(self, update: OrderUpdate) -> None: ...

    def on_fill(self, fill: Fill) -> None: ...

    def on_position(self, position: Position) -> None: ...

    def on_account(self, summary: AccountSummary) -> None: ...

    def on_quote(self, quote: Quote) -> None: ...

    def on_connection(self, state: ConnectionState, message: str) -> None: ...


class Broker(ABC):
    """One trading account at one broker."""

    name: str
    capabilities: Capabilities

    def __init__(self, account_id: str, sink: BrokerSink) -> None:
        self.account_id = account_id
        self.sink = sink

    @abstractmethod
    async def connect(self) -> None: ...

    @abstractmethod
    async def close(self) -> None: ...

    @abstractmethod
    async def ping(self) -> bool:
        """Whether the broker answers now."""

    @abstractmethod
    async def place_order(self, order: Order) -> None: ...

    @abstractmethod
    async def cancel_order(self, order: Order) -> None: ...

    @abstractmethod
    async def query_orders(self) -> list[BrokerOrder]: ...

    @abstractmethod
    async def query_trades(self) -> list[Trade]: ...

    @abstractmethod
    async def query_positions(self) -> list[Position]: ...

    @abstractmethod
    async def query_account(self) -> AccountSummary:
        """Cash per currency and the totals, as the broker reports them."""

    @abstractmethod
    async def contracts(self) -> list[Contract]: ...

    @abstractmethod
    async def quotes(self, symbols: list[str]) -> list[Quote]: ...

    @abstractmethod
    async def market_status(self) -> list[VenueStatus]: ...

    @abstractmethod
    async def subscribe_quotes(self, symbols: list[str]) -> None: ...

    async def bars(self, symbol: str, interval: BarInterval, limit: int) -> list[Bar]:
        """Recent bars, oldest first. Optional: adapters that have them set `capabilities.bars`."""
        raise OrderRejected(
            RejectReason.NOT_SUPPORTED, f"the {self.name} adapter has no historical bars"
        )
