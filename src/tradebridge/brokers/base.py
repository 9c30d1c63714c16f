"""The interface every broker adapter implements, and the sink it reports through.

Required methods (abstract), and what the engine expects of each:
- `connect()`: start connecting; return when the first attempt has ended, either way. The
  state goes to `sink.on_connection`; an adapter whose link drops reconnects by itself with
  backoff (`brokers.reconnect.Reconnector`) until `close()`.
- `close()`: disconnect; stop every thread and task of the adapter.
- `ping()`: whether the broker answers now.
- `place_order(order)`: hand the order to the broker with `order.id` as its reference;
  raise `OrderRejected` if it was refused before it left, `BrokerUnavailable` if it
  certainly did not leave. The outcome arrives through the sink, possibly before this
  returns. Any other failure (or a timeout) leaves the outcome unknown: the engine looks the
  order up (`find_order`), never sends it twice.
- `cancel_order(order)`: ask the broker to cancel; raise `NotCancelable` if it refuses at
  once.
- `query_orders()`, `query_trades()`: today's orders and fills as the broker has them
  (reconciliation).
- `query_positions()`, `query_account()`: the books, as the broker reports them.
- `contract(symbol)`: one instrument, looked up on demand (the engine caches it); None if
  the broker does not know it.
- `quotes(symbols)`: snapshots.
- `market_status()`: per venue, the unified status and the broker's own value.

Optional methods (with a default):
- `find_order(order)`: one order by our reference; the default searches `query_orders()`.
- `contracts(venue, text)`: a listing for `/market/contracts`; the default lists none.
- `subscribe_quotes(symbols)`, `unsubscribe_quotes(symbols)`: streaming, with
  `capabilities.quote_streaming` (without it the engine polls `quotes()`).
- `bars(symbol, interval, limit)`: history, with `capabilities.bars`.
- `restore(snapshot)`: what the journal knows, before `connect()` (the fills only with
  `capabilities.restores_from_journal`).
- `simulator()`: the simulator controls of a simulated broker (the paper broker).

Threads: adapters are driven from the engine's event loop, and every `BrokerSink` method must
be called on the loop's thread. An SDK that calls back on threads of its own hands its
reports to the loop through `brokers.threads.LoopSink`; a blocking SDK call runs on the
adapter's own executor with a timeout (`brokers.threads.SdkExecutor.run`). With
`TRADEBRIDGE_CHECK_THREADS=1` (set by the test suite) the engine refuses a sink call made
from another thread.

Order identity: the engine's order id goes to the broker as its reference wherever the
broker has one, and comes back as `order_id` in reports; where it does not, reports carry
`broker_order_id` and the engine finds the order by it (it keeps that index). A report of
an order the engine does not know, with `details`, is an order placed outside tradebridge:
the engine records it with `client_order_id` null. Brokers that report a fill status before
the fill itself are fine: `partially_filled` and `filled` in an `OrderUpdate` only mean
"acknowledged"; filled quantities move with `Fill`s alone. A fee the broker reports after
the execution (IB's commission report) comes as `Fill.fee = None` and later `on_fee`.
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
    OrderType,
    RejectReason,
    Side,
    TimeInForce,
)
from tradebridge.domain.errors import NotFound, OrderRejected
from tradebridge.domain.models import AccountSummary, Bar, Contract, Position, Quote
from tradebridge.domain.orders import Order
from tradebridge.domain.symbols import Market, venue_of

BarInterval = Literal["1m", "5m", "1d"]


class OrderDetails(msgspec.Struct, frozen=True, kw_only=True):
    """What an order is, for one the engine did not place (entered in the broker's own app)."""

    symbol: str
    side: Side
    qty: int
    type: OrderType
    limit_price: Decimal | None
    time_in_force: TimeInForce = TimeInForce.DAY
    offset: Offset | None = None
    created_at: datetime


class OrderUpdate(msgspec.Struct, frozen=True, kw_only=True):
    """A status change reported by the broker (fills come as `Fill`).

    `order_id` is the engine's id where the broker echoes our reference; else the engine
    finds the order by `broker_order_id`. `details` describe an order placed outside
    tradebridge, so the engine can record it when it first hears of it."""

    status: OrderStatus
    order_id: str | None = None
    broker_order_id: str | None = None
    reason: str | None = None
    filled_qty: int | None = None
    """The broker's cumulative filled quantity, where it says: an order it reports ended
    (canceled with a partial fill) ends here only once those fills have arrived."""
    details: OrderDetails | None = None


class Fill(msgspec.Struct, frozen=True, kw_only=True):
    """One execution. `trade_id` is the broker's, unique within the account (a fill seen
    twice is booked once); `fee` None: reported later through `BrokerSink.on_fee`."""

    trade_id: str
    qty: int
    price: Decimal
    fee: Decimal | None
    time: datetime
    order_id: str | None = None
    broker_order_id: str | None = None


class VenueStatus(msgspec.Struct, frozen=True, kw_only=True):
    venue: str
    status: MarketStatus
    broker_status: str


class BrokerOrder(msgspec.Struct, frozen=True, kw_only=True):
    """The broker's view of one order, used for reconciliation; `order_id` is our reference
    as the broker echoes it (None for orders placed elsewhere or brokers without one)."""

    order_id: str | None
    broker_order_id: str | None
    status: OrderStatus
    filled_qty: int
    reason: str | None = None
    details: OrderDetails | None = None


class JournalFill(msgspec.Struct, frozen=True, kw_only=True):
    """A fill as the journal booked it, with what replaying it needs to know of its order."""

    broker_trade_id: str
    order_id: str
    client_order_id: str | None
    symbol: str
    side: Side
    offset: Offset | None
    qty: int
    price: Decimal
    fee: Decimal | None
    time: datetime


class JournalSnapshot(msgspec.Struct, frozen=True, kw_only=True):
    """What the journal knows of an account when the engine starts."""

    fills: list[JournalFill]
    """Every fill, in the order the engine booked them (only for adapters with
    `capabilities.restores_from_journal`; empty otherwise)."""
    open_orders: list[Order]
    """Orders that have not ended, oldest first, with the `broker_order_id` each was given
    (`pending_new` ones included: the broker may or may not have them)."""
    state: dict[str, str]
    """What the adapter last stored through `BrokerSink.on_state`."""


class Capabilities(msgspec.Struct, frozen=True, kw_only=True):
    """What an adapter supports natively, so the engine answers `not_supported` up front."""

    markets: frozenset[Market] = frozenset(Market)
    """The markets the account trades; an order for another is refused `not_supported`."""
    market_orders: bool = True
    short_selling: bool = False
    """Stock sells beyond the position are the broker's to allow (a margin account)."""
    broker_checks_funds: bool = False
    """Stock buys beyond the cash of their currency are the broker's to allow (margin,
    currency loans, as IB's buying power): the engine does not check funds first."""
    quote_streaming: bool = False
    """Quotes through `subscribe_quotes`; without it the engine polls `quotes()`."""
    bars: bool = False
    """Historical bars through `bars()`."""
    time_in_force: frozenset[TimeInForce] = frozenset(TimeInForce)
    restores_from_journal: bool = False
    """The adapter keeps its books in memory and rebuilds them from the journal's fills: a
    simulator that nothing outside the process knows (the paper broker). The engine then
    commits a new order together with what the broker did with it, in one commit."""


class BrokerSink(Protocol):
    """Where an adapter pushes what happens at the broker. Called on the engine loop thread."""

    def on_order_update(self, update: OrderUpdate) -> None: ...

    def on_fill(self, fill: Fill) -> None: ...

    def on_fee(self, trade_id: str, fee: Decimal) -> None:
        """The fee of a fill reported earlier with `fee=None` (by the broker's trade id)."""

    def on_cancel_refused(
        self, order_id: str | None, broker_order_id: str | None, reason: str
    ) -> None:
        """The broker refused a cancel it had accepted to consider: the order goes back to
        working (a refusal at once is `NotCancelable` from `cancel_order`)."""

    def on_position(self, position: Position) -> None: ...

    def on_account(self, summary: AccountSummary) -> None: ...

    def on_quote(self, quote: Quote) -> None: ...

    def on_connection(self, state: ConnectionState, message: str) -> None:
        """After each `connected`, the engine reads positions and the account again and
        reconciles its open orders and today's fills with the broker."""

    def on_state(self, key: str, value: str) -> None:
        """Keep `value` under `key` for this adapter, journaled with the changes pushed
        before it; it comes back in `JournalSnapshot.state` after a restart."""


class Simulator(Protocol):
    """Controls of a simulated market (`POST /paper/{id}/...`): only the paper broker has them."""

    def set_quote(
        self,
        symbol: str,
        *,
        last: Decimal,
        bid: Decimal | None = None,
        ask: Decimal | None = None,
        bid_size: int | None = None,
        ask_size: int | None = None,
        pre_close: Decimal | None = None,
    ) -> Quote: ...

    def advance_clock(
        self,
        *,
        advance: Literal["next_day", "next_session"] | None = None,
        to: datetime | None = None,
    ) -> datetime: ...

    def reset(self) -> None: ...


def filter_contracts(
    contracts: list[Contract], venue: str | None, text: str | None
) -> list[Contract]:
    """`contracts` of `venue` whose symbol or name holds `text` (case-insensitive)."""
    if venue is not None:
        contracts = [c for c in contracts if venue_of(c.symbol).value == venue]
    if text:
        needle = text.casefold()
        contracts = [
            c for c in contracts if needle in c.symbol.casefold() or needle in c.name.casefold()
        ]
    return contracts


class Broker(ABC):
    """One trading account at one broker. See the module docstring for the methods."""

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
        """The broker's view of `order`, by our reference or its broker order id; None if
        the broker never saw it. Adapters whose SDK can look one order up override this."""
        for found in await self.query_orders():
            if found.order_id == order.id or (
                order.broker_order_id is not None and found.broker_order_id == order.broker_order_id
            ):
                return found
        return None

    @abstractmethod
    async def query_trades(self) -> list[Fill]:
        """Today's fills as the broker has them, each with its order's reference."""

    async def restore(self, snapshot: JournalSnapshot) -> None:
        """What the journal knows of the account, before `connect`: the open orders (to map
        broker ids) and the adapter's stored state; the paper broker rebuilds its books."""
        return None

    @abstractmethod
    async def query_positions(self) -> list[Position]: ...

    @abstractmethod
    async def query_account(self) -> AccountSummary:
        """Cash per currency and the totals, as the broker reports them."""

    @abstractmethod
    async def contract(self, symbol: str) -> Contract | None:
        """The instrument `symbol` (canonical), or None if the broker does not know it."""

    async def contracts(self, venue: str | None, text: str | None) -> list[Contract]:
        """Instruments to list, filtered by venue and a case-insensitive part of the symbol or
        name; brokers with no listing (IB has no "all contracts") list none."""
        return []

    @abstractmethod
    async def quotes(self, symbols: list[str]) -> list[Quote]:
        """Snapshots of `symbols`; raise `NotFound` naming the ones the broker has not."""

    @abstractmethod
    async def market_status(self) -> list[VenueStatus]: ...

    async def subscribe_quotes(self, symbols: list[str]) -> None:
        """Push quotes of `symbols` through `sink.on_quote` from now on."""
        raise NotFound(f"the {self.name} adapter does not stream quotes")

    async def unsubscribe_quotes(self, symbols: list[str]) -> None:
        """Stop pushing quotes of `symbols`."""
        return None

    async def bars(self, symbol: str, interval: BarInterval, limit: int) -> list[Bar]:
        """Recent bars, oldest first. Optional: adapters that have them set `capabilities.bars`."""
        raise OrderRejected(
            RejectReason.NOT_SUPPORTED, f"the {self.name} adapter has no historical bars"
        )

    def simulator(self) -> Simulator | None:
        """The controls of a simulated market; None for a real broker."""
        return None
