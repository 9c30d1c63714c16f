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

Recovery: at start the engine hands the adapter what the journal knows (`restore`; only
adapters that keep their books in memory, like the paper broker, use it), then reconciles
each order it has open with `find_order` and picks up fills it missed from `query_trades`.
"""

from abc import ABC, abstractmethod
from datetime import datetime
from decimal import Decimal
from typing import Literal, Protocol

import msgspec

from tradebridge.domain.enums import (
    ConnectionState,
    MarketStatus,
    Offset,
    OrderStatus,
    RejectReason,
    Side,
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


class JournalFill(msgspec.Struct, frozen=True, kw_only=True):
    """A fill as the journal booked it, with what replaying it needs to know of its order."""

    broker_trade_id: str
    order_id: str
    client_order_id: str
    symbol: str
    side: Side
    offset: Offset | None
    qty: int
    price: Decimal
    fee: Decimal
    time: datetime


class JournalSnapshot(msgspec.Struct, frozen=True, kw_only=True):
    """What the journal knows of an account when the engine starts."""

    fills: list[JournalFill]
    """Every fill, in the order the engine booked them."""
    open_orders: list[Order]
    """Orders the broker acknowledged that have not ended (`new`, `partially_filled`,
    `pending_cancel`), oldest first."""
    state: dict[str, str]
    """What the adapter last stored through `BrokerSink.on_state`."""


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
    restores_from_journal: bool = False
    """The adapter keeps its books in memory and rebuilds them with `restore` at start."""


class BrokerSink(Protocol):
    """Where an adapter pushes what happens at the broker. Called on the engine loop thread."""

    def on_order_update(self, update: OrderUpdate) -> None: ...

    def on_fill(self, fill: Fill) -> None: ...

    def on_position(self, position: Position) -> None: ...

    def on_account(self, summary: AccountSummary) -> None: ...

    def on_quote(self, quote: Quote) -> None: ...

    def on_connection(self, state: ConnectionState, message: str) -> None: ...

    def on_state(self, key: str, value: str) -> None:
        """Keep `value` under `key` for this adapter, journaled with the changes pushed
        before it; it comes back in `JournalSnapshot.state` after a restart."""


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

    async def find_order(self, order: Order) -> BrokerOrder | None:
        """The broker's view of `order`, looked up by its client order id (the engine's order
        id is what adapters send as the client reference); None if the broker never saw it.
        Adapters whose SDK can look one order up override this."""
        for found in await self.query_orders():
            if found.order_id == order.id:
                return found
        return None

    @abstractmethod
    async def query_trades(self) -> list[Trade]:
        """Today's fills as the broker has them: `id` is the broker's trade id, `order_id`
        the engine's order id."""

    async def restore(self, snapshot: JournalSnapshot) -> None:
        """Rebuild books kept in memory from the journal, before `connect`; called only for
        adapters with `capabilities.restores_from_journal` (real brokers keep their own)."""
        raise NotImplementedError(f"the {self.name} adapter keeps no books to restore")

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
