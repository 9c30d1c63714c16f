"""An account's book of record: its orders, books and event sequence, in memory and staged.

Everything that changes an account goes through here: `store` makes an order's new state
current (index, reservations, journal, event), `book_trade` records a fill, `emit` numbers an
event with the account's gap-free `seq` and stages it with the changes it goes with. The
journal commits what is staged in groups (see `Journal`). All on the engine loop.
"""

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import msgspec
from sqlalchemy import Engine

from tradebridge.domain.enums import EventType, OrderStatus
from tradebridge.domain.errors import NotFound
from tradebridge.domain.forms import ladder_of, position_form
from tradebridge.domain.models import AccountSummary, Contract, Position, Trade
from tradebridge.domain.orders import Order
from tradebridge.domain.ticks import TickLadder
from tradebridge.engine.checks import AccountView
from tradebridge.engine.journal import Journal, StagedEvent
from tradebridge.engine.order_index import OrderIndex
from tradebridge.engine.reservations import Reservations
from tradebridge.ids import IdGenerator
from tradebridge.store import queries

_encode = msgspec.msgpack.Encoder().encode


class _EncodedEvent(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """`AccountEvent` as `Ledger.emit` encodes it: its `data` encoded in the same pass, not
    first on its own and then copied in as `Raw`. The bytes are those of an `AccountEvent`."""

    account: str
    seq: int
    type: EventType
    data: Any


def now() -> datetime:
    return datetime.now(UTC)


def position_key(position: Position) -> str:
    """Stock positions by symbol; futures long and short sides apart (`cu2601.SHFE:short`)."""
    if position.direction is None:
        return position.symbol
    return f"{position.symbol}:{position.direction.value}"


class Ledger:
    def __init__(self, account_id: str, journal: Journal, db: Engine, ids: IdGenerator) -> None:
        self.account_id = account_id
        self.journal = journal
        self.db = db
        self.ids = ids
        self.orders = OrderIndex()
        self.reserved = Reservations()
        self.contracts: dict[str, Contract] = {}
        """Instruments looked up so far (at the broker, on demand)."""
        self.positions: dict[str, Position] = {}
        self.summary: AccountSummary | None = None
        self.broker_trade_ids: set[str] = set()
        """Every fill booked, by the broker's trade id: a fill reported twice is booked once."""
        self.seq = 0

    def load(self) -> list[Order]:
        """The account as the database has it; returns the orders a previous run left open."""
        with self.db.connect() as conn:
            client_ids = queries.client_order_ids(conn, self.account_id)
            self.broker_trade_ids = queries.broker_trade_ids(conn, self.account_id)
            self.seq = queries.last_seq(conn, self.account_id)
            left_open = queries.open_orders(conn, self.account_id)
        self.orders.load(left_open, client_ids)
        return left_open

    def store(self, order: Order) -> None:
        """Make `order` the current state: journal it, emit its event and keep the in-memory
        indexes in step. A new order goes through `store_new` instead."""
        self.journal.stage_order(order)
        self._make_current(order)

    def store_new(self, order: Order) -> None:
        """`store` for an order the journal has not seen: staged once, as its insert."""
        self.journal.stage_new_order(order)
        self._make_current(order)

    def _make_current(self, order: Order) -> None:
        if order.id in self.reserved and order.status is not OrderStatus.PENDING_NEW:
            self.reserved.release(order.id)
        self.orders.put(order)
        self.emit(EventType.ORDER, order)

    def forget(self, order: Order) -> None:
        """Undo the in-memory traces of an order whose journal write failed."""
        self.orders.forget(order)
        self.reserved.release(order.id)

    def book_trade(self, trade: Trade, broker_trade_id: str) -> None:
        self.broker_trade_ids.add(broker_trade_id)
        self.journal.stage_trade(trade, broker_trade_id)
        self.emit(EventType.TRADE, trade)

    def ladder(self, symbol: str, seen: Decimal) -> TickLadder:
        """The tick ladder of `symbol` (guessed from the price `seen` if not looked up)."""
        return ladder_of(symbol, self.contracts.get(symbol), seen)

    def shown(self, position: Position) -> Position:
        """A position as the broker reports it, in the form of our numbers."""
        return position_form(position, self.ladder(position.symbol, position.last_price))

    def set_position(self, position: Position) -> None:
        """Take the broker's report of a position (put in our form here)."""
        position = self.shown(position)
        if position.qty == 0:
            self.positions.pop(position_key(position), None)
        else:
            self.positions[position_key(position)] = position
        self.emit(EventType.POSITION, position)

    def set_summary(self, summary: AccountSummary) -> None:
        self.summary = summary
        self.emit(EventType.ACCOUNT, summary)

    def emit(self, type: EventType, data: msgspec.Struct) -> None:
        self.seq += 1
        event = _EncodedEvent(account=self.account_id, seq=self.seq, type=type, data=data)
        self.journal.stage_event(StagedEvent(self.account_id, self.seq, type.value, _encode(event)))

    def get_order(self, order_id: str) -> Order:
        """From memory, else from the database (then kept in memory with the recent closed
        orders); `NotFound` if neither has it."""
        order = self.orders.get(order_id)
        if order is None:
            with self.db.connect() as conn:
                order = queries.get_order(conn, self.account_id, order_id)
            if order is not None and order.status.is_terminal:  # (open ones are all in memory)
                self.orders.put(order)  # an order read is soon read again: kept with the recent
        if order is None:
            raise NotFound(
                f"order {order_id} not found in account {self.account_id}",
                {"order_id": order_id},
            )
        return order

    def view(self) -> AccountView:
        balances = {b.currency: b for b in self.summary.balances} if self.summary else {}
        return AccountView(
            balances=balances,
            positions=self.positions,
            reserved_cash=self.reserved.cash,
            reserved_qty=self.reserved.qty,
            open_orders=self.orders.open,
        )
