"""One account in the engine: its order book of record, its broker and its event sequence.

The account is the broker's sink: every update the adapter pushes is applied here through
the order state machine, journaled and numbered with the account's gap-free `seq`.
All methods run on the engine loop, so the in-memory state needs no locks.
"""

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, NoReturn, TypeVar

import msgspec
from sqlalchemy import Connection, Engine

from tradebridge.brokers.base import (
    BarInterval,
    Broker,
    BrokerOrder,
    BrokerSink,
    Fill,
    JournalSnapshot,
    OrderUpdate,
    VenueStatus,
)
from tradebridge.config import AccountSettings, RiskSettings
from tradebridge.domain.enums import (
    ConnectionState,
    EventType,
    OrderStatus,
    OrderType,
    Side,
    TradingState,
)
from tradebridge.domain.errors import (
    DuplicateClientOrderId,
    EngineUnavailable,
    IllegalTransition,
    NotCancelable,
    NotFound,
    OrderRejected,
    Timeout,
    TradebridgeError,
)
from tradebridge.domain.models import AccountSummary, Bar, Contract, Position, Quote, Trade
from tradebridge.domain.orders import (
    Order,
    OrderRequest,
    apply_fill,
    cancel_refused,
    new_order,
    transition,
)
from tradebridge.domain.symbols import venue_of
from tradebridge.domain.ticks import ladder_for
from tradebridge.engine.checks import (
    AccountView,
    Refusal,
    RiskLimits,
    check_order,
    validate_request,
)
from tradebridge.engine.journal import Journal, StagedEvent
from tradebridge.engine.protocol import (
    AccountEvent,
    AccountInfo,
    ListOrders,
    ListTrades,
    PlaceResult,
)
from tradebridge.ids import IdGenerator
from tradebridge.store import queries
from tradebridge.store.failures import DATABASE_ERRORS, database_error_reason

log = logging.getLogger(__name__)
T = TypeVar("T")

RECENT_CLOSED_ORDERS = 10_000
"""Closed orders kept in memory for quick reads and idempotent retries; older ones are read
from the database."""

_encode = msgspec.msgpack.Encoder().encode


def _now() -> datetime:
    return datetime.now(UTC)


def _key(position: Position) -> str:
    """Stock positions by symbol; futures long and short sides apart (`cu2601.SHFE:short`)."""
    if position.direction is None:
        return position.symbol
    return f"{position.symbol}:{position.direction.value}"


class AccountRuntime(BrokerSink):
    def __init__(
        self,
        settings: AccountSettings,
        *,
        broker_factory: Callable[[AccountSettings, BrokerSink], Broker],
        journal: Journal,
        db: Engine,
        ids: IdGenerator,
        publish_quote: Callable[[Quote], None],
        publish_connection: Callable[[str, ConnectionState, str], None],
        broker_timeout_s: float = 10.0,
    ) -> None:
        self.id = settings.id
        self.settings = settings
        self.broker = broker_factory(settings, self)
        self.connected = False
        self._journal = journal
        self._db = db
        self._ids = ids
        self._publish_quote = publish_quote
        self._publish_connection = publish_connection
        self._broker_timeout_s = broker_timeout_s
        self._risk = RiskLimits(settings.risk)
        self._risk_changes = asyncio.Lock()
        self._contracts: dict[str, Contract] = {}
        self._quotes: dict[str, Quote] = {}
        self._positions: dict[str, Position] = {}
        self._summary: AccountSummary | None = None
        self._open: dict[str, Order] = {}
        self._recent: OrderedDict[str, Order] = OrderedDict()
        self._by_client_id: dict[str, str] = {}
        self._submitting: dict[str, asyncio.Future[None]] = {}
        self._reserved_cash: dict[str, Decimal] = {}
        self._reserved_qty: dict[str, int] = {}
        self._reservations: dict[str, tuple[str, Decimal, int]] = {}
        self._broker_trade_ids: set[str] = set()
        self._seq = 0

    # ----------------------------------------------------------------- life cycle

    async def start(self) -> None:
        """Rebuild the account from the database, connect the broker, then settle every order
        a previous run left open with what the broker says of it (see `_reconcile`)."""
        with self._db.connect() as conn:
            self._by_client_id = queries.client_order_ids(conn, self.id)
            self._broker_trade_ids = queries.broker_trade_ids(conn, self.id)
            self._seq = queries.last_seq(conn, self.id)
            self._risk.settings = self._risk.updated(queries.risk_overrides(conn, self.id))
            left_open = queries.open_orders(conn, self.id)
            if self.broker.capabilities.restores_from_journal:
                await self.broker.restore(
                    JournalSnapshot(
                        fills=queries.journal_fills(conn, self.id),
                        open_orders=[
                            o for o in left_open if o.status is not OrderStatus.PENDING_NEW
                        ],
                        state=queries.broker_state_of(conn, self.id),
                    )
                )
        self._open = {order.id: order for order in left_open}
        await self.broker.connect()
        self._contracts = {c.symbol: c for c in await self.broker.contracts()}
        self._quotes = {q.symbol: q for q in await self.broker.quotes(list(self._contracts))}
        self._positions = {_key(p): p for p in await self.broker.query_positions()}
        self._summary = await self.broker.query_account()
        if left_open:
            await self._reconcile(left_open)
        await self._journal.commit()

    async def _reconcile(self, left_open: list[Order]) -> None:
        """Bring the orders a previous run left open in line with the broker.

        First the fills the broker has that the journal lacks are booked. Then each order:
        one the broker knows takes its status (an order the previous run did not see
        acknowledged becomes `new`; a cancel it did not see answered is sent again); one
        the broker never received (`pending_new`) is sent now if it is at most
        `resubmit_within_s` old, else expires; one the broker acknowledged but no longer
        knows expires (`unknown_to_broker`).
        """
        log.info("account %s: reconciling %d open orders with the broker", self.id, len(left_open))
        trades = await self._ask_broker(self.broker.query_trades(), "its trades")
        for trade in trades:
            if trade.id not in self._broker_trade_ids and trade.order_id in self._open:
                self.on_fill(
                    Fill(
                        order_id=trade.order_id,
                        trade_id=trade.id,
                        qty=trade.qty,
                        price=trade.price,
                        fee=trade.fee,
                        time=trade.time,
                    )
                )
        resubmit_after = _now() - timedelta(seconds=self.settings.resubmit_within_s)
        for order_id in [order.id for order in left_open]:
            order = self._open.get(order_id)
            if order is None:
                continue  # a fill just booked ended it
            try:
                found = await self._ask_broker(self.broker.find_order(order), "an order")
            except TradebridgeError as failed:
                log.error(
                    "account %s: order %s stays %s: %s",
                    self.id,
                    order_id,
                    order.status.value,
                    failed.message,
                )
                continue
            if found is not None:
                await self._adopt(order, found)
            elif order.status is not OrderStatus.PENDING_NEW:
                self._store(
                    transition(order, OrderStatus.EXPIRED, _now(), reason="unknown_to_broker")
                )
            elif order.created_at < resubmit_after or not self.settings.resubmit_within_s:
                self._store(
                    transition(order, OrderStatus.EXPIRED, _now(), reason="not_sent_before_restart")
                )
            else:
                log.info(
                    "account %s: sending order %s, never received by the broker", self.id, order_id
                )
                with contextlib.suppress(TradebridgeError):  # _send recorded the outcome
                    await self._send(order)

    async def _adopt(self, order: Order, found: BrokerOrder) -> None:
        """Take the broker's status for an order left open; send a pending cancel again."""
        if found.status.is_terminal:
            if found.status is OrderStatus.FILLED:
                log.error(
                    "account %s: the broker has order %s filled, but only %d of %d filled are "
                    "known; it stays open until the broker's fills arrive",
                    self.id,
                    order.id,
                    order.filled_qty,
                    order.qty,
                )
                return
            self.on_order_update(
                OrderUpdate(
                    order_id=order.id,
                    status=found.status,
                    broker_order_id=found.broker_order_id,
                    reason="reconciled at restart",
                )
            )
        elif order.status is OrderStatus.PENDING_NEW:
            self.on_order_update(
                OrderUpdate(
                    order_id=order.id, status=OrderStatus.NEW, broker_order_id=found.broker_order_id
                )
            )
        elif order.status is OrderStatus.PENDING_CANCEL:
            try:
                await self._ask_broker(self.broker.cancel_order(order), "the cancel")
            except NotCancelable:
                current = self._open.get(order.id)
                if current is not None and current.status is OrderStatus.PENDING_CANCEL:
                    self._store(cancel_refused(current, _now()))

    async def close(self) -> None:
        await self.broker.close()

    async def flush(self) -> None:
        """Wait until every change pushed so far (e.g. fills a new quote caused) is durable."""
        await self._journal.commit()

    @property
    def trading_state(self) -> TradingState:
        return self._risk.settings.trading_state

    def info(self) -> AccountInfo:
        return AccountInfo(
            id=self.id,
            broker=self.broker.name,
            base_currency=self.settings.base_currency,
            connected=self.connected,
            trading_state=self.trading_state,
            capabilities=self.broker.capabilities,
        )

    # ----------------------------------------------------------------- orders

    async def place(self, request: OrderRequest) -> PlaceResult:
        validate_request(request)
        if request.client_order_id is not None:
            existing = self._by_client_id.get(request.client_order_id)
            if existing is not None:
                return await self._retried(existing, request)
        order_id = self._ids.new_id()
        order = new_order(
            request,
            order_id=order_id,
            client_order_id=request.client_order_id or order_id,
            account=self.id,
            now=_now(),
        )
        self._by_client_id[order.client_order_id] = order.id
        contract = self._contracts.get(request.symbol)
        quote = self._quotes.get(request.symbol)
        try:
            check_order(
                request, contract, quote, self.broker.capabilities, self._view(), self._risk
            )
        except Refusal as refusal:
            await self._record_refusal(order, refusal)
        submitted: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._submitting[order.id] = submitted
        try:
            self._reserve(order, contract, quote)
            self._journal.stage_new_order(order)
            self._store(order)
            try:
                await self._journal.commit()
            except BaseException:
                self._forget(order)
                raise
            await self._send(order)
        finally:
            del self._submitting[order.id]
            submitted.set_result(None)
        return PlaceResult(order=self.get_order(order.id), created=True)

    async def _retried(self, order_id: str, request: OrderRequest) -> PlaceResult:
        """A POST with a client_order_id seen before: the original order, or a conflict."""
        pending = self._submitting.get(order_id)
        if pending is not None:
            await asyncio.shield(pending)
        order = self.get_order(order_id)
        if not request.same_parameters(order):
            raise DuplicateClientOrderId(
                f"client_order_id {order.client_order_id!r} was used for a different order",
                {"order_id": order.id, "client_order_id": order.client_order_id},
            )
        return PlaceResult(order=order, created=False)

    async def _record_refusal(self, order: Order, refusal: Refusal) -> NoReturn:
        rejected = transition(
            order, OrderStatus.REJECTED, order.created_at, reason=refusal.reason.value
        )
        self._journal.stage_new_order(rejected)
        self._store(rejected)
        try:
            await self._journal.commit()
        except BaseException:
            self._forget(rejected)
            raise
        raise OrderRejected(refusal.reason, refusal.message, {"order_id": order.id})

    async def _send(self, order: Order) -> None:
        """Hand the order to the broker. A refusal, or a failure that means the order never
        left, records it as rejected; a timeout leaves it `pending_new`: the broker may have
        it, and reconciliation settles which."""
        try:
            async with asyncio.timeout(self._broker_timeout_s):  # no extra task, unlike wait_for
                await self.broker.place_order(order)
        except TimeoutError:
            raise Timeout(
                f"the broker did not acknowledge order {order.id} in time; it stays pending_new "
                "until the broker answers",
                {"order_id": order.id},
            ) from None
        except TradebridgeError as refused:
            reason = refused.reason.value if isinstance(refused, OrderRejected) else refused.code
            current = self._open.get(order.id)
            if current is not None:
                self._store(transition(current, OrderStatus.REJECTED, _now(), reason=reason))
            await self._journal.commit()
            refused.details = {**refused.details, "order_id": order.id}
            raise
        await self._journal.commit()

    async def cancel(self, order_id: str) -> Order:
        pending = self._submitting.get(order_id)
        if pending is not None:
            await asyncio.shield(pending)
        order = self._open.get(order_id)
        if order is None:
            found = self.get_order(order_id)
            raise NotCancelable(
                f"order {order_id} is {found.status.value} and cannot be canceled",
                {"order_id": order_id, "status": found.status.value},
            )
        if order.status in (OrderStatus.PENDING_CANCEL, OrderStatus.PENDING_NEW):
            raise NotCancelable(
                f"order {order_id} is {order.status.value}; wait for the broker's answer",
                {"order_id": order_id, "status": order.status.value},
            )
        self._store(transition(order, OrderStatus.PENDING_CANCEL, _now()))
        await self._journal.commit()
        try:
            async with asyncio.timeout(self._broker_timeout_s):
                await self.broker.cancel_order(order)
        except NotCancelable as refused:
            current = self._open.get(order_id)
            if current is not None and current.status is OrderStatus.PENDING_CANCEL:
                self._store(cancel_refused(current, _now()))
            await self._journal.commit()
            raise NotCancelable(refused.message, {"order_id": order_id}) from None
        except TimeoutError:
            raise Timeout(
                f"the broker did not answer the cancel of {order_id} in time; "
                "the order stays pending_cancel until it does",
                {"order_id": order_id},
            ) from None
        await self._journal.commit()
        return self.get_order(order_id)

    async def cancel_all(self) -> list[Order]:
        results = []
        for order_id in list(self._open):
            try:
                results.append(await self.cancel(order_id))
            except (NotCancelable, NotFound):
                results.append(self.get_order(order_id))
        return results

    def get_order(self, order_id: str) -> Order:
        order = self._open.get(order_id) or self._recent.get(order_id)
        if order is None:
            with self._db.connect() as conn:
                order = queries.get_order(conn, self.id, order_id)
        if order is None:
            raise NotFound(
                f"order {order_id} not found in account {self.id}", {"order_id": order_id}
            )
        return order

    def get_order_by_client_id(self, client_order_id: str) -> Order:
        order_id = self._by_client_id.get(client_order_id)
        if order_id is None:
            raise NotFound(
                f"no order with client_order_id {client_order_id!r} in account {self.id}",
                {"client_order_id": client_order_id},
            )
        return self.get_order(order_id)

    def list_orders(self, query: ListOrders) -> list[Order]:
        with self._db.connect() as conn:
            return queries.list_orders(
                conn,
                self.id,
                status=query.status,
                symbol=query.symbol,
                limit=query.limit,
                after=query.after,
            )

    def list_trades(self, query: ListTrades) -> list[Trade]:
        with self._db.connect() as conn:
            return queries.list_trades(
                conn,
                self.id,
                symbol=query.symbol,
                order_id=query.order_id,
                limit=query.limit,
                after=query.after,
            )

    async def positions(self) -> list[Position]:
        """Asked of the broker, so prices and valuations are current."""
        positions = await self._ask_broker(self.broker.query_positions(), "positions")
        return sorted(positions, key=_key)

    async def summary(self) -> AccountSummary:
        return await self._ask_broker(self.broker.query_account(), "the account summary")

    async def _ask_broker(self, query: Awaitable[T], what: str) -> T:
        try:
            async with asyncio.timeout(self._broker_timeout_s):
                return await query
        except TimeoutError:
            raise Timeout(f"the broker did not send {what} in time") from None

    async def contracts(self, venue: str | None, text: str | None) -> list[Contract]:
        contracts = await self._ask_broker(self.broker.contracts(), "its contracts")
        if venue is not None:
            contracts = [c for c in contracts if venue_of(c.symbol).value == venue]
        if text:
            needle = text.casefold()
            contracts = [
                c for c in contracts if needle in c.symbol.casefold() or needle in c.name.casefold()
            ]
        return sorted(contracts, key=lambda c: c.symbol)

    async def market_status(self) -> list[VenueStatus]:
        return await self._ask_broker(self.broker.market_status(), "the market status")

    async def bars(self, symbol: str, interval: BarInterval, limit: int) -> list[Bar]:
        if symbol not in self._contracts:
            raise NotFound(f"unknown symbol {symbol}", {"symbol": symbol})
        return await self._ask_broker(self.broker.bars(symbol, interval, limit), "bars")

    def quotes(self, symbols: list[str]) -> list[Quote]:
        missing = [s for s in symbols if s not in self._quotes]
        if missing:
            raise NotFound(f"no quote for {', '.join(missing)}", {"symbols": missing})
        return [self._quotes[s] for s in symbols]

    # ----------------------------------------------------------------- risk

    def risk(self) -> RiskSettings:
        return self._risk.settings

    async def set_risk(self, changes: Mapping[str, Any]) -> RiskSettings:
        """Apply `changes` to the risk settings from the next order on, and store them so
        that they survive a restart (stored settings win over the config file)."""
        async with self._risk_changes:
            settings = self._risk.updated(changes)
            now = _now()
            await self._write_risk(
                lambda conn: queries.store_risk_overrides(conn, self.id, changes, now)
            )
            self._risk.settings = settings
        log.info("account %s: risk settings changed: %s", self.id, changes)
        return settings

    async def reset_risk(self) -> RiskSettings:
        """Back to the config file's risk settings, forgetting every stored change."""
        async with self._risk_changes:
            await self._write_risk(lambda conn: queries.clear_risk_overrides(conn, self.id))
            self._risk.settings = self.settings.risk
        return self.settings.risk

    async def _write_risk(self, write: Callable[[Connection], None]) -> None:
        """Run `write` in a transaction of its own, off the engine loop."""

        def transaction() -> None:
            with self._db.begin() as conn:
                write(conn)

        try:
            await asyncio.to_thread(transaction)
        except DATABASE_ERRORS as exc:
            raise EngineUnavailable(
                f"the risk settings could not be stored ({database_error_reason(exc)}); "
                "nothing changed",
                {"database_error": database_error_reason(exc)},
            ) from None

    # ----------------------------------------------------------------- broker sink

    def on_order_update(self, update: OrderUpdate) -> None:
        order = self._open.get(update.order_id)
        if order is None:
            log.warning(
                "account %s: broker update for unknown or closed order %s (%s) ignored",
                self.id,
                update.order_id,
                update.status.value,
            )
            return
        try:
            updated = transition(
                order,
                update.status,
                _now(),
                reason=update.reason,
                broker_order_id=update.broker_order_id,
            )
        except IllegalTransition as refused:
            log.warning("account %s: refused broker update: %s", self.id, refused.message)
            return
        self._store(updated)

    def on_fill(self, fill: Fill) -> None:
        if fill.trade_id in self._broker_trade_ids:
            log.info("account %s: fill %s already applied", self.id, fill.trade_id)
            return
        order = self._open.get(fill.order_id)
        if order is None:
            log.warning(
                "account %s: fill %s for unknown or closed order %s ignored",
                self.id,
                fill.trade_id,
                fill.order_id,
            )
            return
        contract = self._contracts[order.symbol]
        try:
            updated = apply_fill(
                order, fill.qty, fill.price, ladder_for(contract).tick_at(fill.price), fill.time
            )
        except IllegalTransition as refused:
            log.warning("account %s: refused fill: %s", self.id, refused.message)
            return
        trade = Trade(
            id=self._ids.new_id(),
            order_id=order.id,
            client_order_id=order.client_order_id,
            account=self.id,
            symbol=order.symbol,
            side=order.side,
            qty=fill.qty,
            price=fill.price,
            fee=fill.fee,
            time=fill.time,
        )
        self._broker_trade_ids.add(fill.trade_id)
        self._store(updated)
        self._journal.stage_trade(trade, fill.trade_id)
        self._emit(EventType.TRADE, trade)

    def on_position(self, position: Position) -> None:
        if position.qty == 0:
            self._positions.pop(_key(position), None)
        else:
            self._positions[_key(position)] = position
        self._emit(EventType.POSITION, position)

    def on_account(self, summary: AccountSummary) -> None:
        self._summary = summary
        self._emit(EventType.ACCOUNT, summary)

    def on_quote(self, quote: Quote) -> None:
        self._quotes[quote.symbol] = quote
        self._publish_quote(quote)

    def on_connection(self, state: ConnectionState, message: str) -> None:
        self.connected = state is ConnectionState.CONNECTED
        log.info("account %s: broker %s (%s)", self.id, state.value, message)
        self._publish_connection(self.id, state, message)

    def on_state(self, key: str, value: str) -> None:
        self._journal.stage_state(self.id, key, value)

    # ----------------------------------------------------------------- internals

    def _store(self, order: Order) -> None:
        """Make `order` the current state: journal it, emit its event and keep the in-memory
        indexes in step. New orders are staged with `stage_new_order` first."""
        if order.id in self._reservations and order.status is not OrderStatus.PENDING_NEW:
            self._release(order.id)
        if order.status.is_terminal:
            self._open.pop(order.id, None)
            self._recent[order.id] = order
            if len(self._recent) > RECENT_CLOSED_ORDERS:
                self._recent.popitem(last=False)
        else:
            self._open[order.id] = order
        self._journal.stage_order(order)
        self._emit(EventType.ORDER, order)

    def _forget(self, order: Order) -> None:
        """Undo the in-memory traces of an order whose journal write failed."""
        self._open.pop(order.id, None)
        self._recent.pop(order.id, None)
        self._by_client_id.pop(order.client_order_id, None)
        if order.id in self._reservations:
            self._release(order.id)

    def _emit(self, type: EventType, data: msgspec.Struct) -> None:
        self._seq += 1
        event = AccountEvent(
            account=self.id, seq=self._seq, type=type, data=msgspec.Raw(_encode(data))
        )
        self._journal.stage_event(StagedEvent(self.id, self._seq, type.value, _encode(event)))

    def _view(self) -> AccountView:
        balances = {b.currency: b for b in self._summary.balances} if self._summary else {}
        return AccountView(
            balances=balances,
            positions=self._positions,
            reserved_cash=self._reserved_cash,
            reserved_qty=self._reserved_qty,
            open_orders=self._open,
        )

    def _reserve(self, order: Order, contract: Contract | None, quote: Quote | None) -> None:
        """Hold cash (buys) or shares (sells) until the broker has acknowledged the order, so
        concurrent orders cannot spend the same money twice."""
        if contract is None or order.offset is not None:
            return  # futures: the broker freezes margin at once
        if order.side is Side.BUY:
            price = (
                order.limit_price
                if order.type is OrderType.LIMIT
                else (quote.ask or quote.last if quote else None)
            )
            amount = (price or Decimal(0)) * order.qty * contract.multiplier
            key = contract.currency
            self._reserved_cash[key] = self._reserved_cash.get(key, Decimal(0)) + amount
            self._reservations[order.id] = (key, amount, 0)
        else:
            key = order.symbol
            self._reserved_qty[key] = self._reserved_qty.get(key, 0) + order.qty
            self._reservations[order.id] = (key, Decimal(0), order.qty)

    def _release(self, order_id: str) -> None:
        key, amount, qty = self._reservations.pop(order_id)
        if qty:
            self._reserved_qty[key] -= qty
        else:
            self._reserved_cash[key] -= amount
