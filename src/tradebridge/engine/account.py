"""One account in the engine: its order book of record, its broker and its event sequence.

Its parts: the `Ledger` (orders, books, events, staged into the journal), `BrokerReports`
(the sink the adapter reports through), the `Reconciler` (open orders against the broker),
the `QuoteFeed` (what the broker streams). All run on the engine loop, so the in-memory
state needs no locks.

The broker's connection decides what may be done: orders and cancels on an account whose
broker is not connected answer 503 `broker_unavailable` before anything is recorded or
sent. Each time the broker (re)connects, the account reads its books again and reconciles
the orders it has open and today's fills with the broker (`_synchronize`). An account whose
adapter cannot be built or restored stays in the engine, unavailable, with the reason.
"""

import asyncio
import contextlib
import logging
import threading
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, NoReturn, TypeVar

import msgspec
from sqlalchemy import Connection, Engine

from tradebridge.brokers.base import (
    BarInterval,
    Broker,
    BrokerSink,
    JournalSnapshot,
    VenueStatus,
)
from tradebridge.brokers.threads import ThreadCheckedSink, thread_checks_enabled
from tradebridge.brokers.unavailable import UnavailableBroker
from tradebridge.config import AccountBase, RiskSettings
from tradebridge.domain.enums import ConnectionState, OrderStatus, TradingState
from tradebridge.domain.errors import (
    BrokerUnavailable,
    DuplicateClientOrderId,
    EngineUnavailable,
    NotCancelable,
    NotFound,
    OrderRejected,
    Timeout,
    TradebridgeError,
)
from tradebridge.domain.forms import price_on
from tradebridge.domain.models import AccountSummary, Bar, Contract, Position, Quote, Trade
from tradebridge.domain.orders import (
    Order,
    OrderRequest,
    cancel_refused,
    new_order,
    transition,
)
from tradebridge.domain.ticks import ladder_for
from tradebridge.engine.checks import (
    Refusal,
    RiskLimits,
    check_order,
    needs_quote,
    validate_request,
)
from tradebridge.engine.journal import Journal
from tradebridge.engine.ledger import Ledger, now, position_key
from tradebridge.engine.protocol import (
    AccountInfo,
    ListOrders,
    ListTrades,
    PlaceResult,
)
from tradebridge.engine.quote_feed import QuoteFeed
from tradebridge.engine.reconcile import Reconciler
from tradebridge.engine.reports import BrokerReports
from tradebridge.ids import IdGenerator
from tradebridge.store import queries
from tradebridge.store.failures import DATABASE_ERRORS, database_error_reason

log = logging.getLogger(__name__)
T = TypeVar("T")


class _Vanished(Exception):
    """The order a retry waited for was never recorded (its placement failed early)."""


class AccountRuntime:
    def __init__(
        self,
        settings: AccountBase,
        *,
        broker_factory: Callable[[Any, BrokerSink], Broker],
        journal: Journal,
        db: Engine,
        ids: IdGenerator,
        publish_quote: Callable[[str, Quote], None],
        publish_connection: Callable[[str, ConnectionState, str], None],
        broker_timeout_s: float = 10.0,
        connect_timeout_s: float = 15.0,
    ) -> None:
        self.id = settings.id
        self.settings = settings
        self.connected = False
        self.connection_message = "not connected yet"
        self._journal = journal
        self._db = db
        self._ledger = Ledger(self.id, journal, db, ids)
        self._quotes = QuoteFeed(
            lambda: self.broker, lambda quote: publish_quote(self.id, quote), self._ask_broker
        )
        self.reports = BrokerReports(
            self._ledger, on_quote=self._quotes.on_quote, on_connection=self._on_connection
        )
        """The sink the adapter reports through."""
        self._sink: BrokerSink = (
            ThreadCheckedSink(self.reports, threading.get_ident())
            if thread_checks_enabled()
            else self.reports
        )
        try:
            self.broker = broker_factory(settings, self._sink)
        except TradebridgeError as failed:
            self.broker = self._unavailable(failed.message)
        self._reconciler = Reconciler(
            self._ledger,
            self.reports,
            broker=lambda: self.broker,
            ask=self._ask_broker,
            contract=self._contract,
            send=self._send,
            connected=lambda: self.connected,
            resubmit_within_s=settings.resubmit_within_s,
        )
        self._publish_connection = publish_connection
        self._broker_timeout_s = broker_timeout_s
        self._connect_timeout_s = connect_timeout_s
        self._risk = RiskLimits(settings.risk)
        self._risk_changes = asyncio.Lock()
        self._submitting: dict[str, asyncio.Future[None]] = {}
        self._left_open: list[str] = []
        """Orders a previous run left open: reconciled at the first connection."""
        self._sync_lock = asyncio.Lock()
        self._sync_task: asyncio.Task[None] | None = None
        self._synced_once = False

    def _unavailable(self, reason: str) -> UnavailableBroker:
        log.error("account %s: unavailable: %s", self.id, reason)
        return UnavailableBroker(self.id, self._sink, self.settings.broker, reason)

    # ----------------------------------------------------------------- life cycle

    async def start(self) -> None:
        """Rebuild the account from the database, hand the adapter what the journal knows,
        connect the broker, then settle every order a previous run left open with what the
        broker says of it (`Reconciler`). A broker that cannot be restored or reached leaves
        the account unavailable, not the engine stopped; database errors propagate."""
        left_open = self._ledger.load()
        self._left_open = [order.id for order in left_open]
        with self._db.connect() as conn:
            self.reports.fee_pending = queries.trades_without_fee(conn, self.id)
            self._risk.settings = self._risk.updated(queries.risk_overrides(conn, self.id))
            restores = self.broker.capabilities.restores_from_journal
            snapshot = JournalSnapshot(
                fills=queries.journal_fills(conn, self.id) if restores else [],
                open_orders=left_open,
                state=queries.broker_state_of(conn, self.id),
            )
        try:
            await self.broker.restore(snapshot)
        except Exception as failed:
            log.exception("account %s: restoring the broker's books failed", self.id)
            self.broker = self._unavailable(f"its books could not be restored: {_reason(failed)}")
        self._quotes.start(self.id)
        try:
            async with asyncio.timeout(self._connect_timeout_s):
                await self.broker.connect()
        except TimeoutError:
            log.warning("account %s: the broker is still connecting", self.id)
        except Exception as failed:
            log.error("account %s: connecting the broker failed: %s", self.id, _reason(failed))
            self._on_connection(
                ConnectionState.DISCONNECTED, f"connecting failed: {_reason(failed)}"
            )
        if self._sync_task is not None:
            await self._sync_task
        await self._journal.commit()

    def _on_connection(self, state: ConnectionState, message: str) -> None:
        was_connected = self.connected
        self.connected = state is ConnectionState.CONNECTED
        self.connection_message = message
        log.info("account %s: broker %s (%s)", self.id, state.value, message)
        self._publish_connection(self.id, state, message)
        if self.connected and not was_connected:
            self._sync_task = asyncio.get_running_loop().create_task(
                self._synchronize(), name=f"synchronize {self.id}"
            )

    async def _synchronize(self) -> None:
        """After each connection: the books as the broker has them, then the orders left
        open (by a previous run, or while the broker was away) and the fills missed."""
        async with self._sync_lock:
            try:
                positions = await self._ask_broker(self.broker.query_positions(), "positions")
                await self._look_up_contracts(positions)
                summary = await self._ask_broker(self.broker.query_account(), "the account")
                first = not self._synced_once
                self._reconciler.take_books(positions, summary, announce=not first)
                open_ids = self._left_open if first else list(self._ledger.orders.open)
                await self._reconciler.reconcile(open_ids, restarted=first)
                self._synced_once = True
                self._left_open = []
                await self._quotes.resubscribe()
            except DATABASE_ERRORS:
                raise
            except Exception as failed:
                log.error(
                    "account %s: reading the broker's books after connecting failed (%s); "
                    "tried again at the next connection",
                    self.id,
                    _reason(failed),
                    exc_info=not isinstance(failed, TradebridgeError),
                )
            with contextlib.suppress(EngineUnavailable):  # the engine stops; logged there
                await self._journal.commit()

    async def close(self) -> None:
        self._reconciler.close()
        self.reports.close()
        await self._quotes.stop()
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
            connection_message=self.connection_message,
            trading_state=self.trading_state,
            capabilities=self.broker.capabilities,
        )

    def _require_connection(self, doing: str) -> None:
        if not self.connected:
            raise BrokerUnavailable(
                f"account {self.id}: the {self.broker.name} broker is not connected "
                f"({self.connection_message}); nothing was {doing}",
                {"account": self.id, "connection": self.connection_message},
            )

    # ----------------------------------------------------------------- orders

    async def place(self, request: OrderRequest) -> PlaceResult:
        validate_request(request)
        while request.client_order_id is not None:
            existing = self._ledger.orders.by_client_id.get(request.client_order_id)
            if existing is None:
                break
            with contextlib.suppress(_Vanished):
                return await self._retried(existing, request)
        self._require_connection("sent")
        order_id = self._ledger.ids.new_id()
        client_order_id = request.client_order_id or order_id
        self._ledger.orders.by_client_id[client_order_id] = order_id  # a concurrent retry waits
        submitted: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._submitting[order_id] = submitted
        recorded = False
        try:
            contract = await self._contract(request.symbol)
            if contract is not None and request.limit_price is not None:
                shown = price_on(ladder_for(contract), request.limit_price)  # the same value
                request = msgspec.structs.replace(request, limit_price=shown)
            quote = await self._quote_for_checks(request)
            order = new_order(
                request,
                order_id=order_id,
                client_order_id=client_order_id,
                account=self.id,
                now=now(),
            )
            try:
                check_order(
                    request,
                    contract,
                    quote,
                    self.broker.capabilities,
                    self._ledger.view(),
                    self._risk,
                )
            except Refusal as refusal:
                recorded = True
                await self._record_refusal(order, refusal)
            assert contract is not None  # check_order refused an unknown symbol
            self._ledger.reserved.hold(order, contract, quote)
            self._ledger.store_new(order)
            recorded = True
            if not self.broker.capabilities.restores_from_journal:
                try:  # durable before any broker outside this process can have it
                    await self._journal.commit()
                except BaseException:
                    self._ledger.forget(order)
                    raise
                await self._send(order)
            else:
                # A simulator rebuilt from the journal (paper) keeps the order only if this
                # commit lands: the order and what the broker did with it commit together.
                try:
                    await self._send(order)
                except EngineUnavailable:  # the journal failed: the engine stops, nothing kept
                    self._ledger.forget(order)
                    raise
        finally:
            if not recorded:
                self._ledger.orders.by_client_id.pop(client_order_id, None)
            del self._submitting[order_id]
            submitted.set_result(None)
        return PlaceResult(order=self.get_order(order_id), created=True)

    async def _retried(self, order_id: str, request: OrderRequest) -> PlaceResult:
        """A POST with a client_order_id seen before: the original order, or a conflict."""
        pending = self._submitting.get(order_id)
        if pending is not None:
            await asyncio.shield(pending)
        if request.client_order_id not in self._ledger.orders.by_client_id:
            raise _Vanished
        order = self.get_order(order_id)
        if not request.same_parameters(order):
            raise DuplicateClientOrderId(
                f"client_order_id {order.client_order_id!r} was used for a different order",
                {"order_id": order.id, "client_order_id": order.client_order_id},
            )
        return PlaceResult(order=order, created=False)

    async def _contract(self, symbol: str) -> Contract | None:
        """The instrument, from the cache or looked up at the broker (and cached)."""
        contract = self._ledger.contracts.get(symbol)
        if contract is None:
            contract = await self._ask_broker(self.broker.contract(symbol), f"contract {symbol}")
            if contract is not None:
                self._ledger.contracts[symbol] = contract
        return contract

    async def _quote_for_checks(self, request: OrderRequest) -> Quote | None:
        """The quote, where the checks need one (else None: no round trip to the broker)."""
        if not needs_quote(request, self._risk):
            self._quotes.want([request.symbol])
            return None
        try:
            (quote,) = await self._quotes.snapshot([request.symbol])
        except NotFound:
            return None
        return quote

    async def _record_refusal(self, order: Order, refusal: Refusal) -> NoReturn:
        rejected = transition(
            order, OrderStatus.REJECTED, order.created_at, reason=refusal.reason.value
        )
        self._ledger.store_new(rejected)
        try:
            await self._journal.commit()
        except BaseException:
            self._ledger.forget(rejected)
            raise
        raise OrderRejected(refusal.reason, refusal.message, {"order_id": order.id})

    async def _send(self, order: Order) -> None:
        """Hand the order to the broker. A refusal, or a failure that means the order never
        left (`BrokerUnavailable` from the adapter), records it as rejected. No answer in
        time, or a failure of unknown outcome, leaves it `pending_new`: the broker may have
        it, so it is looked up (`_look_up_later`), never sent again."""
        try:
            async with asyncio.timeout(self._broker_timeout_s):  # no extra task, unlike wait_for
                await self.broker.place_order(order)
        except (TimeoutError, Timeout):
            self._reconciler.look_up_later(order.id)
            await self._journal.commit()
            raise Timeout(
                f"the broker did not acknowledge order {order.id} in time; it stays pending_new "
                "until the broker answers: look it up by its client_order_id, do not send it "
                "again under a new one",
                {"order_id": order.id, "client_order_id": order.client_order_id},
            ) from None
        except TradebridgeError as refused:
            reason = refused.reason.value if isinstance(refused, OrderRejected) else refused.code
            current = self._ledger.orders.open.get(order.id)
            if current is not None and current.status is OrderStatus.PENDING_NEW:
                self._ledger.store(transition(current, OrderStatus.REJECTED, now(), reason=reason))
            await self._journal.commit()
            refused.details = {**refused.details, "order_id": order.id}
            raise
        except Exception:
            log.exception(
                "account %s: the %s adapter failed placing order %s; the outcome is unknown, "
                "the order is looked up at the broker",
                self.id,
                self.broker.name,
                order.id,
            )
            self._reconciler.look_up_later(order.id)
            await self._journal.commit()
            raise Timeout(
                f"placing order {order.id} failed with an unknown outcome; it stays pending_new "
                "until the broker reports it: look it up by its client_order_id",
                {"order_id": order.id, "client_order_id": order.client_order_id},
            ) from None
        await self._journal.commit()

    async def cancel(self, order_id: str) -> Order:
        pending = self._submitting.get(order_id)
        if pending is not None:
            await asyncio.shield(pending)
        order = self._ledger.orders.open.get(order_id)
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
        self._require_connection("canceled")
        self._ledger.store(transition(order, OrderStatus.PENDING_CANCEL, now()))
        await self._journal.commit()
        try:
            async with asyncio.timeout(self._broker_timeout_s):
                await self.broker.cancel_order(order)
        except NotCancelable as refused:
            current = self._ledger.orders.open.get(order_id)
            if current is not None and current.status is OrderStatus.PENDING_CANCEL:
                self._ledger.store(cancel_refused(current, now()))
            await self._journal.commit()
            raise NotCancelable(refused.message, {"order_id": order_id}) from None
        except (TimeoutError, Timeout):
            raise Timeout(
                f"the broker did not answer the cancel of {order_id} in time; "
                "the order stays pending_cancel until it does",
                {"order_id": order_id},
            ) from None
        except TradebridgeError as failed:  # never reached the broker: the order works on
            current = self._ledger.orders.open.get(order_id)
            if current is not None and current.status is OrderStatus.PENDING_CANCEL:
                self._ledger.store(cancel_refused(current, now()))
            await self._journal.commit()
            failed.details = {**failed.details, "order_id": order_id}
            raise
        await self._journal.commit()
        return self.get_order(order_id)

    async def cancel_all(self) -> list[Order]:
        self._require_connection("canceled")
        results = []
        for order_id in list(self._ledger.orders.open):
            try:
                results.append(await self.cancel(order_id))
            except (NotCancelable, NotFound):
                results.append(self.get_order(order_id))
        return results

    def get_order(self, order_id: str) -> Order:
        return self._ledger.get_order(order_id)

    def get_order_by_client_id(self, client_order_id: str) -> Order:
        order_id = self._ledger.orders.by_client_id.get(client_order_id)
        if order_id is None or order_id in self._submitting:
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
        await self._look_up_contracts(positions)
        return sorted(map(self._ledger.shown, positions), key=position_key)

    async def _look_up_contracts(self, positions: list[Position]) -> None:
        """The instruments of positions not looked up yet, so their prices get their ticks'
        form (a failed lookup leaves the tick to be guessed from the prices)."""
        for symbol in sorted({p.symbol for p in positions} - self._ledger.contracts.keys()):
            with contextlib.suppress(TradebridgeError):
                await self._contract(symbol)

    async def summary(self) -> AccountSummary:
        return await self._ask_broker(self.broker.query_account(), "the account summary")

    async def _ask_broker(self, query: Awaitable[T], what: str) -> T:
        try:
            async with asyncio.timeout(self._broker_timeout_s):
                return await query
        except TimeoutError:
            raise Timeout(f"the broker did not send {what} in time") from None

    async def contracts(self, venue: str | None, text: str | None) -> list[Contract]:
        contracts = await self._ask_broker(self.broker.contracts(venue, text), "its contracts")
        return sorted(contracts, key=lambda c: c.symbol)

    async def market_status(self) -> list[VenueStatus]:
        return await self._ask_broker(self.broker.market_status(), "the market status")

    async def bars(self, symbol: str, interval: BarInterval, limit: int) -> list[Bar]:
        if await self._contract(symbol) is None:
            raise NotFound(f"unknown symbol {symbol}", {"symbol": symbol})
        return await self._ask_broker(self.broker.bars(symbol, interval, limit), "bars")

    async def quotes(self, symbols: list[str]) -> list[Quote]:
        return await self._quotes.snapshot(symbols)

    async def watch_quotes(self, owner: str, symbols: list[str], lease_s: float) -> None:
        """A web process's clients want `symbols` streamed, for `lease_s` seconds."""
        await self._quotes.lease(owner, symbols, lease_s)

    # ----------------------------------------------------------------- risk

    def risk(self) -> RiskSettings:
        return self._risk.settings

    async def set_risk(self, changes: Mapping[str, Any]) -> RiskSettings:
        """Apply `changes` to the risk settings from the next order on, and store them so
        that they survive a restart (stored settings win over the config file)."""
        async with self._risk_changes:
            settings = self._risk.updated(changes)
            changed_at = now()
            await self._write_risk(
                lambda conn: queries.store_risk_overrides(conn, self.id, changes, changed_at)
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


def _reason(failed: BaseException) -> str:
    return failed.message if isinstance(failed, TradebridgeError) else repr(failed)
