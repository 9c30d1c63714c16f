"""The `qmt` adapter: an A-share account at a broker, through MiniQMT and xtquant.

- xtquant is imported on the adapter's own thread when the account first connects (its import
  asks PyPI for a newer version). `XtQuantTrader` is built on a thread of its own per connection
  (`session.QmtSession`); its callbacks arrive on the SDK's one callback thread and are posted to
  the engine loop (`reports.TraderCallbacks`), where they are translated and reported.
- Every order carries `tb:` + the last 16 characters of its id as `order_remark`
  (`mapping.remark_of`). An order whose answer does not come in time stays `pending_new` and is
  looked up by that remark (`find_order`); one answered -1 is looked up too before it is called
  refused: MiniQMT sometimes answers -1 for an order that is live. Nothing is ever sent twice.
- Status and fills come from the pushes (`on_stock_order`, `on_stock_trade`, `on_order_error`,
  `on_cancel_error`), balances and positions from `query_stock_asset`/`query_stock_positions`
  and their pushes, reconciliation from `query_stock_orders`/`query_stock_trades`.
- xtquant never reconnects: after `on_disconnected` (or a MiniQMT that stops answering) the
  `Reconnector` builds a new session with backoff and subscribes the account again; the engine
  reconciles after each connection.
- Quotes through xtdata (`get_full_tick`, `subscribe_quote`) on a thread of their own; market
  status from the exchange calendar (MiniQMT has no market status call).
"""

import asyncio
import contextlib
import importlib
import itertools
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from tradebridge.brokers.base import (
    Broker,
    BrokerOrder,
    BrokerSink,
    Capabilities,
    Fill,
    JournalSnapshot,
    OrderUpdate,
    VenueStatus,
)
from tradebridge.brokers.mapping import UnmappedValue
from tradebridge.brokers.paper.sessions import Sessions
from tradebridge.brokers.qmt import reports
from tradebridge.brokers.qmt.config import QmtSettings
from tradebridge.brokers.qmt.contracts import contract_of, kind_of, quote_of
from tradebridge.brokers.qmt.identity import OrderIdentity
from tradebridge.brokers.qmt.mapping import (
    STRATEGY_NAME,
    Tables,
    build_tables,
    remark_of,
    to_code,
)
from tradebridge.brokers.qmt.session import QmtSession, Sdk
from tradebridge.brokers.reconnect import Reconnector
from tradebridge.brokers.threads import LoopSink, SdkExecutor
from tradebridge.domain.enums import OrderStatus, OrderType, RejectReason, TimeInForce
from tradebridge.domain.errors import (
    BrokerUnavailable,
    NotCancelable,
    NotFound,
    OrderRejected,
    Timeout,
)
from tradebridge.domain.models import AccountSummary, Contract, Position, Quote
from tradebridge.domain.orders import Order
from tradebridge.domain.symbols import Market, venue_of

log = logging.getLogger(__name__)

FIRST_CONNECT_S = 12.0
SDK_IMPORT_S = 60.0
CALENDAR_LOAD_S = 30.0
WATCH_EVERY_S = 15.0
"""While connected, MiniQMT is asked for the asset this often; two unanswered in a row count
as a lost connection (a MiniQMT that hangs says nothing)."""
VENUE_SYMBOLS = ("600000.SH", "000001.SZ", "430047.BJ")
"""One symbol per venue QMT trades, for the market status of each."""

CAPABILITIES = Capabilities(
    markets=frozenset({Market.CN_STOCK}),
    market_orders=True,
    short_selling=False,
    quote_streaming=True,
    bars=False,
    time_in_force=frozenset({TimeInForce.DAY, TimeInForce.IOC}),
)
"""A-shares, ETFs and listed funds, convertible bonds; limit orders are day orders, market
orders take the best five levels and cancel the rest (so `ioc` is accepted for them)."""


def load_sdk() -> Sdk:
    """xtquant's modules (imported here and nowhere else)."""
    module = importlib.import_module
    return Sdk(
        xttrader=module("xtquant.xttrader"),
        xttype=module("xtquant.xttype"),
        xtconstant=module("xtquant.xtconstant"),
        xtdata=module("xtquant.xtdata"),
    )


class QmtBroker(Broker):
    name = "qmt"
    capabilities = CAPABILITIES

    def __init__(
        self,
        account_id: str,
        settings: QmtSettings,
        sink: BrokerSink,
        load: Callable[[], Sdk] = load_sdk,
    ) -> None:
        super().__init__(account_id, sink)
        self._settings = settings
        self._load = load
        self._sdk: Sdk | None = None
        self._tables: Tables | None = None
        self._loop_sink: LoopSink | None = None
        self._ours = OrderIdentity()
        self._numbers = itertools.count(1)
        self._session: QmtSession | None = None
        self._watchdog: asyncio.Task[None] | None = None
        self._settling: set[asyncio.Task[None]] = set()
        self._stopping: set[asyncio.Task[None]] = set()
        """Sessions being closed: `close` waits for them even if whoever began it gave up."""
        self._data = SdkExecutor(f"qmt-data-{account_id}", timeout_s=settings.request_timeout_s)
        self._data_ready = False
        self._quote_subscriptions: dict[str, int] = {}
        self._market_hours = Sessions("exchange")
        self._reconnector = Reconnector(
            f"MiniQMT ({settings.userdata_path})",
            sink,
            self._connect_once,
            disconnect=self._drop_session,
        )

    # ----------------------------------------------------------------- connection

    async def restore(self, snapshot: JournalSnapshot) -> None:
        for order in snapshot.open_orders:
            self._ours.remember(order.id, order.broker_order_id)

    async def connect(self) -> None:
        self._loop_sink = LoopSink(self.sink, asyncio.get_running_loop())
        await self._reconnector.start(FIRST_CONNECT_S)

    async def _connect_once(self) -> str:
        if self._sdk is None:
            try:
                self._sdk = await self._data.run_within(SDK_IMPORT_S, self._load)
            except ImportError as missing:
                raise BrokerUnavailable(
                    f"xtquant cannot be loaded here ({missing}): its trading part runs on "
                    "Windows only; run the engine on the Windows host beside MiniQMT"
                ) from None
            self._tables = build_tables(self._sdk.xtconstant)
        await self._drop_session()
        settings = self._settings
        session = QmtSession(next(self._numbers), self._sdk, settings, self.account_id)
        callbacks = reports.callbacks_class(self._sdk.xttrader.XtQuantTraderCallback)(
            lambda kind, rec: self._posted(session, kind, rec)
        )
        self._session = session  # before it connects: its first pushes are this session's
        try:
            await session.open(callbacks)
        except BaseException:
            self._session = None
            await self._close_session(session)
            raise
        self._watchdog = asyncio.create_task(self._watch(session), name=f"watch {session.number}")
        return (
            f"connected to MiniQMT ({settings.userdata_path}) as {settings.account_type} "
            f"account {settings.account_id}, session {session.session_id}"
        )

    async def _drop_session(self) -> None:
        session, self._session = self._session, None
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        if session is not None:
            await self._close_session(session)

    async def _close_session(self, session: QmtSession) -> None:
        """Close `session` to the end even if the caller is cancelled meanwhile (a reconnect
        stopped by `close`): its trader must be stopped, or its connection and loop linger."""
        stopping = asyncio.create_task(session.close(), name=f"close session {session.number}")
        self._stopping.add(stopping)
        stopping.add_done_callback(self._stopping.discard)
        await asyncio.shield(stopping)

    async def _watch(self, session: QmtSession) -> None:
        """Ask for the asset now and then; two answers missed in a row: the link is lost."""
        missed = 0
        while True:
            await asyncio.sleep(WATCH_EVERY_S)
            try:
                await self._query(session, "query_stock_asset_async")
                missed = 0
            except (Timeout, BrokerUnavailable):
                missed += 1
                if missed >= 2:
                    self._reconnector.lost("MiniQMT stopped answering")
                    return

    async def close(self) -> None:
        await self._reconnector.stop()
        await self._drop_session()
        if self._stopping:
            await asyncio.wait(self._stopping)
        for task in self._settling:
            task.cancel()
        self._data.close()

    async def ping(self) -> bool:
        if not self._reconnector.connected or self._session is None:
            return False
        try:
            await self._query(self._session, "query_stock_asset_async")
        except (Timeout, BrokerUnavailable):
            return False
        return True

    def _live(self) -> tuple[QmtSession, Tables]:
        session = self._session
        if not self._reconnector.connected or session is None or self._tables is None:
            raise BrokerUnavailable(f"account {self.account_id}: MiniQMT is not connected")
        return session, self._tables

    # ----------------------------------------------------------------- reports (on the loop)

    def _posted(self, session: QmtSession, kind: str, rec: reports.Record) -> None:
        """On the SDK's callback thread: hand the record to the loop, nothing else."""
        assert self._loop_sink is not None
        self._loop_sink.post(self._on_report, session, kind, rec)

    def _on_report(self, session: QmtSession, kind: str, rec: reports.Record) -> None:
        if session is not self._session or self._tables is None:
            return  # a session given up: its last words are not this account's any more
        try:
            self._report(session, self._tables, kind, rec)
        except UnmappedValue as unknown:
            log.error(
                "account %s: MiniQMT reported %s with a value tradebridge does not know (%s); "
                "ignored: %s",
                self.account_id,
                kind,
                unknown,
                rec,
            )
        except Exception:
            log.exception("account %s: MiniQMT's %s unreadable: %s", self.account_id, kind, rec)

    def _report(self, session: QmtSession, tables: Tables, kind: str, rec: reports.Record) -> None:
        sink = self.sink
        if kind == "order":
            order_id = self._order_id_of(rec)
            update = reports.order_update(rec, tables, order_id)
            if order_id is not None and update.broker_order_id is not None:
                self._ours.told(order_id, update.broker_order_id)
            sink.on_order_update(update)
        elif kind == "trade":
            sink.on_fill(reports.fill(rec, tables, self._order_id_of(rec)))
        elif kind == "position":
            sink.on_position(reports.position(rec))
        elif kind == "asset":
            sink.on_account(reports.summary(self.account_id, rec))
        elif kind == "order_response":
            self._on_order_response(session, rec)
        elif kind == "cancel_response":
            session.cancel_answers.deliver(int(rec["seq"]), rec)
        elif kind == "order_error":
            self._on_order_error(session, rec)
        elif kind == "cancel_error":
            sink.on_cancel_refused(
                None, reports.broker_id(rec["order_id"]), rec["error_msg"] or "cancel refused"
            )
        elif kind == "account_status":
            state = tables.account_status.to_ours(rec["status"])
            log.info("account %s: MiniQMT says the account is %s", self.account_id, state)
        elif kind == "disconnected":
            self._reconnector.lost("MiniQMT closed the connection")

    def _on_order_response(self, session: QmtSession, rec: reports.Record) -> None:
        seq = int(rec["seq"])
        found = reports.broker_id(rec["order_id"])
        # the answer may come before `place_order` has the seq: the remark (MiniQMT echoes
        # the request's) names the order then
        by_remark = self._ours.order_id_of(rec["order_remark"], None)
        placing = session.placing.get(seq) or by_remark
        if placing is not None and found is not None:
            self._ours.learn(placing, found)  # before the pushes that may follow at once
        order_id = session.take_abandoned(seq, by_remark)
        if order_id is None:
            session.order_answers.deliver(seq, rec)
            return
        # the answer to a placement that was given up waiting for (the engine looks it up)
        if found is not None:
            self._ours.learn(order_id, found)
            pending = OrderStatus.PENDING_NEW
            self.sink.on_order_update(
                OrderUpdate(status=pending, order_id=order_id, broker_order_id=found)
            )
        else:
            task = asyncio.create_task(self._settle_late_refusal(session, order_id, rec))
            self._settling.add(task)
            task.add_done_callback(self._settling.discard)

    def _on_order_error(self, session: QmtSession, rec: reports.Record) -> None:
        seq = rec.get("seq")
        if seq in session.placing:
            session.order_errors[seq] = rec  # its place_order reports it
            return
        broker_order_id = reports.broker_id(rec["order_id"])
        order_id = self._ours.order_id_of(rec["order_remark"], broker_order_id)
        order_id = order_id or session.abandoned.get(seq or -1)
        if order_id is None and broker_order_id is None:
            log.warning("account %s: an order error for no known order: %s", self.account_id, rec)
            return
        self.sink.on_order_update(
            OrderUpdate(
                status=OrderStatus.REJECTED,
                order_id=order_id,
                broker_order_id=broker_order_id,
                reason=rec["error_msg"] or "refused by MiniQMT",
            )
        )

    def _order_id_of(self, rec: reports.Record) -> str | None:
        return self._ours.order_id_of(rec["order_remark"], reports.broker_id(rec["order_id"]))

    # ----------------------------------------------------------------- orders

    async def place_order(self, order: Order) -> None:
        session, tables = self._live()
        price_type, price = self._pricing(order, tables)
        remark = self._ours.remember(order.id)
        try:
            seq = await session.calls.run(
                session.trader.order_stock_async,
                session.account,
                to_code(order.symbol),
                tables.side.to_sdk(order.side),
                order.qty,
                price_type,
                price,
                STRATEGY_NAME,
                remark,
            )
        except (Timeout, asyncio.CancelledError):  # it may have been sent: its answer counts
            session.abandon(None, order.id)
            raise
        if seq is None or seq <= 0:
            await self._settle_refusal(session, order.id, "xtquant answered -1 (not placed)", None)
            return
        session.placing[seq] = order.id
        try:
            try:
                answer = await session.order_answers.wait(seq, session.timeout_s)
            except TimeoutError:
                session.abandon(seq, order.id)
                raise Timeout(
                    f"MiniQMT did not answer order {order.id} (within {session.timeout_s:g} s, "
                    f"or before the connection closed); it is looked up by its remark {remark}",
                    {"remark": remark},
                ) from None
            except asyncio.CancelledError:  # the engine gave up first: its answer is still wanted
                session.abandon(seq, order.id)
                raise
            broker_order_id = reports.broker_id(answer["order_id"])
            if broker_order_id is None:
                await self._settle_refusal(session, order.id, answer["error_msg"], seq)
                return
            if not self._ours.engine_knows(broker_order_id):  # else its pushes told it
                self.sink.on_order_update(
                    OrderUpdate(
                        status=OrderStatus.PENDING_NEW,
                        order_id=order.id,
                        broker_order_id=broker_order_id,
                    )
                )
            error = session.order_errors.get(seq)
            if error is not None:  # accepted by MiniQMT, then refused by the counter
                self.sink.on_order_update(
                    OrderUpdate(
                        status=OrderStatus.REJECTED,
                        order_id=order.id,
                        broker_order_id=broker_order_id,
                        reason=error["error_msg"] or "refused by MiniQMT",
                    )
                )
        finally:
            session.placing.pop(seq, None)
            session.order_errors.pop(seq, None)

    def _pricing(self, order: Order, tables: Tables) -> tuple[int, float]:
        """xtquant's price type and price of `order`."""
        if order.type is OrderType.MARKET:
            return tables.market_price_type[venue_of(order.symbol)], 0.0
        if order.time_in_force is not TimeInForce.DAY or order.limit_price is None:
            raise OrderRejected(
                RejectReason.NOT_SUPPORTED,
                "QMT limit orders are day orders (time_in_force day); ioc is for market orders",
            )
        return tables.price_type.to_sdk(OrderType.LIMIT), float(order.limit_price)

    async def _settle_refusal(
        self, session: QmtSession, order_id: str, message: str | None, seq: int | None
    ) -> None:
        """MiniQMT answered -1: refused, unless it has the order after all (then it is live
        and reported as such). The order error, if it came, says why. If MiniQMT cannot be
        asked, the outcome is unknown (`Timeout`: the engine looks the order up later), never
        `BrokerUnavailable`, which would call an order refused that may have left."""
        try:
            found = await self._look_up(session, order_id, None)
        except BrokerUnavailable as failed:
            raise Timeout(
                f"MiniQMT answered -1 for order {order_id} and could not be asked whether it "
                f"has it ({failed.message}); it is looked up by its remark {remark_of(order_id)}",
                {"remark": remark_of(order_id)},
            ) from None
        if found is not None and found.status is not OrderStatus.REJECTED:
            log.warning(
                "account %s: MiniQMT answered -1 for order %s but has it (%s, %s): it is live",
                self.account_id,
                order_id,
                found.broker_order_id,
                found.status.value,
            )
            self.sink.on_order_update(
                OrderUpdate(
                    status=found.status,
                    order_id=order_id,
                    broker_order_id=found.broker_order_id,
                    filled_qty=found.filled_qty,
                )
            )
            return
        error = session.order_errors.get(seq) if seq is not None else None
        reason = (
            (error and error["error_msg"])
            or (found and found.reason)
            or message
            or "MiniQMT refused the order"
        )
        raise OrderRejected(RejectReason.BROKER_REFUSED, reason)

    async def _settle_late_refusal(
        self, session: QmtSession, order_id: str, rec: reports.Record
    ) -> None:
        try:
            await self._settle_refusal(session, order_id, rec["error_msg"], int(rec["seq"]))
        except OrderRejected as refused:
            self.sink.on_order_update(
                OrderUpdate(status=OrderStatus.REJECTED, order_id=order_id, reason=refused.message)
            )
        except (Timeout, BrokerUnavailable) as failed:
            log.warning(
                "account %s: order %s answered -1 late, and looking it up failed (%s); the "
                "engine's own look-up settles it",
                self.account_id,
                order_id,
                failed.message,
            )

    async def cancel_order(self, order: Order) -> None:
        session, _ = self._live()
        broker_order_id = order.broker_order_id
        if broker_order_id is None:
            raise NotCancelable(f"order {order.id} has no MiniQMT order id yet")
        seq = await session.calls.run(
            session.trader.cancel_order_stock_async, session.account, int(broker_order_id)
        )
        if seq is None or seq <= 0:
            raise NotCancelable(f"xtquant answered -1 to the cancel of order {order.id}")
        try:
            answer = await session.cancel_answers.wait(seq, session.timeout_s)
        except TimeoutError:
            raise Timeout(f"MiniQMT did not answer the cancel of order {order.id}") from None
        if int(answer["cancel_result"]) != 0:
            reason = answer["error_msg"] or "no reason given"
            raise NotCancelable(f"MiniQMT refused to cancel order {order.id}: {reason}")

    # ----------------------------------------------------------------- queries

    async def _query(self, session: QmtSession, method: str) -> Any:
        assert self._loop_sink is not None
        answer = await session.query(self._loop_sink, method)
        if answer is None and method != "query_stock_asset_async":
            # xtquant: "None: the query failed or the list is empty". An empty list taken for
            # a failed query would expire live orders and send pending ones again: fail.
            raise BrokerUnavailable(f"MiniQMT answered {method} with nothing (a failed query)")
        return answer

    async def _orders(self, session: QmtSession, tables: Tables) -> list[BrokerOrder]:
        rows = reports.records(
            await self._query(session, "query_stock_orders_async"), reports.ORDER_FIELDS
        )
        return [reports.broker_order(rec, tables, self._order_id_of(rec)) for rec in rows]

    async def query_orders(self) -> list[BrokerOrder]:
        return await self._orders(*self._live())

    async def find_order(self, order: Order) -> BrokerOrder | None:
        session, _ = self._live()
        return await self._look_up(session, order.id, order.broker_order_id)

    async def _look_up(
        self, session: QmtSession, order_id: str, broker_order_id: str | None
    ) -> BrokerOrder | None:
        """Our order `order_id` as MiniQMT has it, found by its remark (or MiniQMT's id)."""
        assert self._tables is not None
        remark = remark_of(order_id)
        rows = reports.records(
            await self._query(session, "query_stock_orders_async"), reports.ORDER_FIELDS
        )
        for rec in rows:
            same = rec["order_remark"] == remark
            if same or (broker_order_id and reports.broker_id(rec["order_id"]) == broker_order_id):
                return reports.broker_order(rec, self._tables, order_id)
        return None

    async def query_trades(self) -> list[Fill]:
        session, tables = self._live()
        rows = reports.records(
            await self._query(session, "query_stock_trades_async"), reports.TRADE_FIELDS
        )
        return [reports.fill(rec, tables, self._order_id_of(rec)) for rec in rows]

    async def query_positions(self) -> list[Position]:
        session, _ = self._live()
        rows = reports.records(
            await self._query(session, "query_stock_positions_async"), reports.POSITION_FIELDS
        )
        return [reports.position(rec) for rec in rows if int(rec["volume"] or 0)]

    async def query_account(self) -> AccountSummary:
        session, _ = self._live()
        asset = await self._query(session, "query_stock_asset_async")
        if asset is None:
            raise BrokerUnavailable(f"MiniQMT has no asset for account {self._settings.account_id}")
        return reports.summary(self.account_id, reports.record(asset, reports.ASSET_FIELDS))

    # ----------------------------------------------------------------- market data (xtdata)

    def _xtdata(self) -> Any:
        """xtdata, connected (on the data thread)."""
        if self._sdk is None:
            raise BrokerUnavailable(f"account {self.account_id}: xtquant is not loaded yet")
        xtdata = self._sdk.xtdata
        if not self._data_ready:
            xtdata.enable_hello = False
            host, _, port = self._settings.xtdata_address.rpartition(":")
            if port:
                xtdata.connect(host, int(port))
            else:
                xtdata.connect()
            self._data_ready = True
        return xtdata

    async def _data_call(self, what: str, call: Callable[[Any], Any]) -> Any:
        def run() -> Any:
            return call(self._xtdata())

        try:
            return await self._data.run(run)
        except (Timeout, BrokerUnavailable):
            raise
        except Exception as failed:  # xtdata raises plain Exceptions ("无法连接xtquant服务")
            raise BrokerUnavailable(f"xtdata {what} failed: {failed}") from None

    async def contract(self, symbol: str) -> Contract | None:
        kind = kind_of(symbol)
        if kind is None:
            return None
        detail = await self._data_call(
            "get_instrument_detail", lambda xtdata: xtdata.get_instrument_detail(to_code(symbol))
        )
        return contract_of(symbol, kind, detail) if detail else None

    async def quotes(self, symbols: list[str]) -> list[Quote]:
        codes = [to_code(s) for s in symbols]
        ticks = await self._data_call("get_full_tick", lambda xtdata: xtdata.get_full_tick(codes))
        missing = [s for s in symbols if s not in (ticks or {})]
        if missing:
            raise NotFound(f"MiniQMT has no quote for {', '.join(missing)}", {"symbols": missing})
        return [quote_of(s, ticks[s]) for s in symbols]

    async def subscribe_quotes(self, symbols: list[str]) -> None:
        for symbol in symbols:
            await self._subscribe_quote(symbol)

    async def _subscribe_quote(self, symbol: str) -> None:
        on_tick = self._tick_callback(symbol)
        old = self._quote_subscriptions.pop(symbol, None)

        def subscribe(xtdata: Any) -> Any:
            if old is not None:  # subscribed before a reconnection: subscribe anew
                with contextlib.suppress(Exception):
                    xtdata.unsubscribe_quote(old)
            return xtdata.subscribe_quote(to_code(symbol), period="tick", count=0, callback=on_tick)

        seq = await self._data_call("subscribe_quote", subscribe)
        if not isinstance(seq, int) or seq <= 0:
            raise BrokerUnavailable(f"xtdata refused to subscribe {symbol} ({seq})")
        self._quote_subscriptions[symbol] = seq

    async def unsubscribe_quotes(self, symbols: list[str]) -> None:
        subscribed = self._quote_subscriptions
        seqs = [seq for symbol in symbols if (seq := subscribed.pop(symbol, None)) is not None]

        def unsubscribe(xtdata: Any) -> None:
            for seq in seqs:
                xtdata.unsubscribe_quote(seq)

        if seqs:
            await self._data_call("unsubscribe_quote", unsubscribe)

    def _tick_callback(self, symbol: str) -> Callable[[Any], None]:
        """xtdata's callback for `symbol`, on xtdata's thread: a quote to the loop."""
        loop_sink = self._loop_sink
        assert loop_sink is not None

        def on_tick(datas: dict[str, Any]) -> None:
            for ticks in datas.values():
                latest = ticks[-1] if isinstance(ticks, list) else ticks
                try:
                    loop_sink.on_quote(quote_of(symbol, latest))
                except Exception:
                    log.exception("an xtdata tick of %s could not be read: %s", symbol, latest)

        return on_tick

    async def market_status(self) -> list[VenueStatus]:
        # off the loop: the first call loads the exchange calendar (about a second)
        return await self._data.run_within(CALENDAR_LOAD_S, self._venue_states)

    def _venue_states(self) -> list[VenueStatus]:
        now = datetime.now(UTC)
        return [
            VenueStatus(venue=venue.value, status=state.status, broker_status=state.broker_status)
            for venue, state in self._market_hours.venues_status(VENUE_SYMBOLS, now)
        ]
