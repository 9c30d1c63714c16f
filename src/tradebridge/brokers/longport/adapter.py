"""The `longport` adapter: one LongPort (Longbridge) account through the SDK's asyncio
contexts.

- Why async: the SDK's Rust core holds the GIL for the whole of a blocking call (a thread
  ticking every 10 ms got one tick in 30 s), so the sync contexts must not run in the engine
  process at all. Its `AsyncTradeContext`/`AsyncQuoteContext` return awaitables that leave
  the loop running while they wait (`tests/brokers/longport` checks it against a server that
  holds its answer); each is awaited with the adapter's timeout.
- Orders go out with `remark` (and `client_request_id`, LongPort's ten-minute idempotency
  key) = the tradebridge order id. A submit whose answer is lost (timeout, dropped link) or
  refused is looked up in today's orders by that remark before it counts as failed; never
  sent again.
- Status follows the trade connection's order-changed pushes (`reports.py`); a push carries
  no execution id, so the fills it announces are read from today's executions, by order.
- The connection: the SDK reconnects its WebSocket by itself, silently, and pushes sent
  meanwhile are lost. longbridge 5.x gives no signal of it: its contexts have no disconnect
  callback and no session state (only `set_on_order_changed`/`set_on_grid_order_changed`),
  and the only trace is its own log file (`Config(log_path=...)`: "trade disconnected"),
  which also records every request and response body and the WebSocket auth token, so it is
  not turned on to be watched. The adapter notices by timing instead (`_watch`): the SDK's
  trade core answers no command while it reconnects, and waits `SDK_RECONNECT_DELAY_S`
  before each attempt, so a subscribe request (answered at once on a live link) held longer
  than `PING_TIMEOUT_S` means the link dropped: the `Reconnector` drops the context and
  opens a new one, and the engine reconciles (`today_orders`, `today_executions`). A real
  server slower than that to answer costs a needless reconnect and reconciliation, never a
  lost or doubled order or fill.
"""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import UTC, datetime, time
from decimal import Decimal
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from tradebridge.brokers.base import (
    Broker,
    BrokerOrder,
    BrokerSink,
    Capabilities,
    Fill,
    OrderUpdate,
    VenueStatus,
)
from tradebridge.brokers.fees import FillShare, split_fee
from tradebridge.brokers.longport.config import LongportSettings
from tradebridge.brokers.longport.mapping import (
    MARKET,
    ORDER_TYPE,
    SESSION_STATUS,
    SIDE,
    STATUS,
    TIME_IN_FORCE,
    UnknownSymbol,
    name_of,
    our_reference,
    sdk_value,
    to_longport_symbol,
    to_our_symbol,
)
from tradebridge.brokers.longport.reports import (
    OrderPushes,
    execution_fill,
    listed_order,
    quantity,
    utc,
)
from tradebridge.brokers.longport.sdk import sdk_config
from tradebridge.brokers.mapping import UnmappedValue
from tradebridge.brokers.reconnect import Reconnector
from tradebridge.brokers.threads import LoopSink
from tradebridge.domain.enums import MarketStatus, OrderStatus, OrderType, RejectReason, TimeInForce
from tradebridge.domain.errors import (
    BrokerUnavailable,
    NotCancelable,
    NotFound,
    OrderRejected,
    Timeout,
    TradebridgeError,
)
from tradebridge.domain.models import AccountSummary, Balance, Contract, Position, Quote
from tradebridge.domain.orders import Order
from tradebridge.domain.symbols import MARKET_CURRENCY, Market, market_of

log = logging.getLogger(__name__)

T = TypeVar("T")

FIRST_CONNECT_S = 10.0
SDK_RECONNECT_DELAY_S = 2.0
"""`RECONNECT_DELAY` of the SDK's trade core (`rust/src/trade/core.rs`): how long it waits
after a drop before it tries again, answering no command meanwhile."""
PING_INTERVAL_S = 1.0
PING_TIMEOUT_S = 0.8
"""A ping held longer than this is one the SDK holds while it reconnects: the first ping
after a drop is sent within `PING_INTERVAL_S` of it, so it waits at least
`SDK_RECONNECT_DELAY_S - PING_INTERVAL_S`; this leaves a margin below that."""
FILL_DELAYS_S = (0.0, 0.3, 1.0, 3.0)
"""When the executions of an order whose push counted new fills are read (again, while
LongPort lists fewer than the push counted)."""
FEE_DELAYS_S = (0.0, 2.0, 10.0, 60.0)
"""When the charges of an order that ended with fills are read (each wait after the one
before), while LongPort has not worked them out."""

MARKET_TIMEZONE = {
    Market.HK_STOCK: ZoneInfo("Asia/Hong_Kong"),
    Market.US_STOCK: ZoneInfo("America/New_York"),
    Market.CN_STOCK: ZoneInfo("Asia/Shanghai"),
}
MARKET_VENUES = {Market.HK_STOCK: ("HK",), Market.US_STOCK: ("US",), Market.CN_STOCK: ("SH", "SZ")}


class Refused(Exception):
    """LongPort answered with an error code: it did not act on the request."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"{message} (code {code})")
        self.code = code


class Unanswered(Exception):
    """The call failed without LongPort's answer (transport, timeout): outcome unknown."""


class LongportBroker(Broker):
    name = "longport"

    def __init__(
        self,
        account_id: str,
        settings: LongportSettings,
        sink: BrokerSink,
        sdk: Any,
        *,
        base_currency: str,
    ) -> None:
        super().__init__(account_id, sink)
        self._settings = settings
        self._sdk = sdk
        self._base_currency = base_currency
        self.capabilities = Capabilities(
            markets=frozenset({Market.HK_STOCK, Market.US_STOCK, Market.CN_STOCK}),
            time_in_force=frozenset({TimeInForce.DAY, TimeInForce.GTC}),
        )
        self._where = f"LongPort {settings.http_url or 'OpenAPI'}"
        self._reconnector = Reconnector(
            self._where, sink, self._connect_once, disconnect=self._disconnect
        )
        self._trade: Any = None
        self._quote: Any = None
        self._config: Any = None
        self._watcher: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._fills_reported: set[str] = set()
        self._fees_booked: set[str] = set()
        """LongPort ids of the orders whose charges were booked."""

    # ----------------------------------------------------------------- calls

    async def _call(self, awaitable: Awaitable[T], what: str) -> T:
        """One SDK call within the timeout: `Refused` with LongPort's code and message,
        `Unanswered` for anything else."""
        try:
            return await asyncio.wait_for(awaitable, self._settings.request_timeout_s)
        except TimeoutError:
            raise Unanswered(
                f"no answer to {what} within {self._settings.request_timeout_s:g} s"
            ) from None
        except self._sdk.OpenApiException as failed:
            code, message = getattr(failed, "code", None), getattr(failed, "message", "")
            if code is not None:
                raise Refused(int(code), str(message or failed)) from None
            raise Unanswered(f"{what}: {message or failed}") from None

    async def _query(self, awaitable: Awaitable[T], what: str) -> T:
        """A read: any failure is `BrokerUnavailable` naming it."""
        try:
            return await self._call(awaitable, what)
        except (Refused, Unanswered) as failed:
            raise BrokerUnavailable(
                f"LongPort {what}: {failed}", {"account": self.account_id}
            ) from None

    def _live(self) -> Any:
        trade = self._trade
        if trade is None or not self._reconnector.connected:
            raise BrokerUnavailable(f"account {self.account_id}: not connected to LongPort")
        return trade

    # ----------------------------------------------------------------- connection

    async def connect(self) -> None:
        await self._reconnector.start(FIRST_CONNECT_S)

    async def _connect_once(self) -> str:
        sdk = self._sdk
        config = sdk_config(sdk, self._settings)
        loop = asyncio.get_running_loop()
        trade = sdk.AsyncTradeContext.create(config, loop)
        trade.set_on_order_changed(OrderPushes(LoopSink(self.sink, loop), self._order_pushed))
        try:
            await self._call(trade.subscribe([sdk.TopicType.Private]), "subscribe")
            await self._call(trade.account_balance(), "account_balance")
        except (Refused, Unanswered) as failed:
            trade.set_on_order_changed(_ignore)
            raise ConnectionError(str(failed)) from None
        self._trade, self._config = trade, config
        self._watcher = asyncio.create_task(
            self._watch(trade), name=f"longport watch {self.account_id}"
        )
        self._spawn(self._settle_fees_of_today(trade))
        return f"connected to {self._where}"

    async def _watch(self, trade: Any) -> None:
        """Ping the trade connection; one held too long means the SDK is reconnecting."""
        topics = [self._sdk.TopicType.Private]
        while True:
            await asyncio.sleep(PING_INTERVAL_S)
            try:
                await asyncio.wait_for(trade.subscribe(topics), PING_TIMEOUT_S)
            except TimeoutError:
                self._reconnector.lost("the trade connection stopped answering")
                return
            except Exception as failed:  # the SDK's OpenApiException, a closed context
                self._reconnector.lost(f"the trade connection failed: {failed}")
                return

    async def _disconnect(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            self._watcher = None
        for context in (self._trade, self._quote):
            if context is not None and hasattr(context, "set_on_order_changed"):
                context.set_on_order_changed(_ignore)  # the callback held the adapter
        # the SDK closes a context's connection when the context is dropped
        self._trade = self._quote = None

    async def close(self) -> None:
        await self._reconnector.stop()
        for task in list(self._tasks):
            task.cancel()
        await self._disconnect()

    async def ping(self) -> bool:
        return self._reconnector.connected and self._trade is not None

    def _spawn(self, work: Awaitable[None]) -> None:
        async def run() -> None:
            await work

        task = asyncio.create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ----------------------------------------------------------------- orders

    async def place_order(self, order: Order) -> None:
        trade, sdk = self._live(), self._sdk
        try:
            symbol = to_longport_symbol(order.symbol)
        except UnknownSymbol as unknown:
            raise OrderRejected(RejectReason.UNKNOWN_SYMBOL, str(unknown)) from None
        price = {"submitted_price": order.limit_price} if order.type is OrderType.LIMIT else {}
        submit = trade.submit_order(
            symbol,
            sdk_value(sdk.OrderType, ORDER_TYPE.to_sdk(order.type)),
            sdk_value(sdk.OrderSide, SIDE.to_sdk(order.side)),
            Decimal(order.qty),
            sdk_value(sdk.TimeInForceType, TIME_IN_FORCE.to_sdk(order.time_in_force)),
            remark=order.id,  # our reference: how a lost answer is found again
            client_request_id=order.id,  # LongPort's idempotency key, for ten minutes
            **price,
        )
        try:
            placed = await self._call(submit, "submit_order")
        except Refused as refused:
            found = await self._placed_despite(order, str(refused))
            if found is None:
                raise OrderRejected(RejectReason.BROKER_REFUSED, f"LongPort: {refused}") from None
            self.sink.on_order_update(_as_update(found))
            return
        except Unanswered as lost:
            found = await self._placed_despite(order, str(lost))
            if found is None:
                raise Timeout(
                    f"LongPort did not answer order {order.id} ({lost}); it is looked up again",
                    {"order_id": order.id},
                ) from None
            self.sink.on_order_update(_as_update(found))
            return
        self.sink.on_order_update(
            OrderUpdate(
                status=OrderStatus.PENDING_NEW,
                order_id=order.id,
                broker_order_id=str(placed.order_id),
            )
        )

    async def _placed_despite(self, order: Order, failure: str) -> BrokerOrder | None:
        """The order LongPort holds under `order`'s remark although submitting failed, None
        if it has none; `Timeout` if it cannot be asked."""
        try:
            found = await self.find_order(order)
        except TradebridgeError as unasked:
            raise Timeout(
                f"submitting order {order.id} failed ({failure}) and LongPort could not be "
                f"asked whether it has it ({unasked.message})",
                {"order_id": order.id},
            ) from None
        if found is not None:
            log.warning("longport: order %s failed (%s) but LongPort has it", order.id, failure)
        return found

    async def find_order(self, order: Order) -> BrokerOrder | None:
        """By LongPort's id where the order has one (`order_detail`: also a GTC order of an
        earlier day, which `today_orders` does not list), else by its remark among today's."""
        if order.broker_order_id is not None:
            try:
                detail = await self._call(
                    self._live().order_detail(order.broker_order_id), "order_detail"
                )
            except Refused as refused:  # not LongPort's id (any longer): look by the remark
                log.info("longport: order_detail %s: %s", order.broker_order_id, refused)
            except Unanswered as failed:
                raise BrokerUnavailable(
                    f"LongPort order_detail: {failed}", {"account": self.account_id}
                ) from None
            else:
                return listed_order(detail)
        for found in await self.query_orders():
            if found.order_id == order.id or (
                order.broker_order_id is not None and found.broker_order_id == order.broker_order_id
            ):
                return found
        return None

    async def cancel_order(self, order: Order) -> None:
        trade = self._live()
        if order.broker_order_id is None:
            raise NotCancelable(f"order {order.id} has no LongPort order id yet")
        try:
            await self._call(trade.cancel_order(order.broker_order_id), "cancel_order")
        except Refused as refused:
            raise NotCancelable(f"LongPort refused the cancel: {refused}") from None
        except Unanswered as lost:
            raise Timeout(f"LongPort did not answer the cancel of {order.id}: {lost}") from None

    def _order_pushed(self, update: OrderUpdate) -> None:
        """An order push, on the loop: the status to the engine, then the fills it counts
        and, once it has ended, their fees."""
        self.sink.on_order_update(update)
        if update.filled_qty and update.broker_order_id:
            self._spawn(
                self._follow_fills(
                    update.broker_order_id,
                    update.order_id,
                    update.filled_qty,
                    ended=update.status.is_terminal,
                )
            )

    async def _follow_fills(
        self, broker_order_id: str, reference: str | None, counted: int, *, ended: bool
    ) -> None:
        if await self._fetch_fills(broker_order_id, reference, counted) and ended:
            await self._settle_fee(broker_order_id)

    async def _fetch_fills(self, broker_order_id: str, reference: str | None, counted: int) -> bool:
        """Report the executions of one order until they add up to what its push counted
        (True once they do)."""
        for delay in FILL_DELAYS_S:
            await asyncio.sleep(delay)
            if self._trade is None:
                return False  # the next connection's reconciliation reads them
            try:
                executions = await self._query(
                    self._trade.today_executions(order_id=broker_order_id), "today_executions"
                )
            except BrokerUnavailable as failed:
                log.info("longport: fills of %s not read yet (%s)", broker_order_id, failed)
                continue
            for execution in executions:
                fill = execution_fill(execution, reference)
                if fill.trade_id not in self._fills_reported:
                    self._fills_reported.add(fill.trade_id)
                    self.sink.on_fill(fill)
            if sum(quantity(e.quantity) for e in executions) >= counted:
                return True
        log.warning(
            "longport: order %s counts %d filled, fewer executions", broker_order_id, counted
        )
        return False

    # ----------------------------------------------------------------- fees

    async def _settle_fee(self, broker_order_id: str) -> None:
        """Book the charges of an order that ended with fills, read again while LongPort
        has not worked them out (the next connect tries again after the last)."""
        for delay in FEE_DELAYS_S:
            await asyncio.sleep(delay)
            trade = self._trade
            if trade is None or broker_order_id in self._fees_booked:
                return
            try:
                if await self._book_fee(trade, broker_order_id):
                    return
            except BrokerUnavailable as failed:
                log.info("longport: charges of %s not read yet (%s)", broker_order_id, failed)

    async def _settle_fees_of_today(self, trade: Any) -> None:
        """At connect: the charges of today's orders that ended with fills, not booked yet
        (their fills were booked while away, or before a restart, with `fee` None)."""
        try:
            for order in await self._query(trade.today_orders(), "today_orders"):
                broker_id = str(order.order_id)
                if broker_id in self._fees_booked or not quantity(order.executed_quantity):
                    continue
                status = name_of(order.status)
                if STATUS.knows(status) and STATUS.to_ours(status).is_terminal:
                    await self._book_fee(trade, broker_id)
        except BrokerUnavailable as failed:
            log.info("longport: charges not read at connect (%s)", failed)

    async def _book_fee(self, trade: Any, broker_order_id: str) -> bool:
        """The order's charges (`order_detail`'s charge detail) over its executions by
        quantity, each to the engine (`on_fee`); False while LongPort has none for it yet."""
        detail = await self._query(trade.order_detail(broker_order_id), "order_detail")
        charges, status = detail.charge_detail, name_of(detail.status)
        if charges is None or not (STATUS.knows(status) and STATUS.to_ours(status).is_terminal):
            return False
        executions = await self._query(
            trade.today_executions(order_id=broker_order_id), "today_executions"
        )
        shares = [
            FillShare(str(e.trade_id), quantity(e.quantity), utc(e.trade_done_at))
            for e in executions
        ]
        if sum(share.qty for share in shares) < quantity(detail.executed_quantity):
            return False  # an execution not listed yet
        for trade_id, fee in split_fee(Decimal(str(charges.total_amount)), shares).items():
            self.sink.on_fee(trade_id, fee)
        self._fees_booked.add(broker_order_id)
        return True

    async def query_orders(self) -> list[BrokerOrder]:
        orders = await self._query(self._live().today_orders(), "today_orders")
        found = []
        for order in orders:
            try:
                found.append(listed_order(order))
            except (UnknownSymbol, UnmappedValue) as unknown:
                if our_reference(order.remark):
                    raise BrokerUnavailable(f"LongPort order {order.order_id}: {unknown}") from None
                log.warning("longport: order %s left out: %s", order.order_id, unknown)
        return found

    async def query_trades(self) -> list[Fill]:
        trade = self._live()
        references = {
            str(o.order_id): our_reference(o.remark)
            for o in await self._query(trade.today_orders(), "today_orders")
        }
        fills = []
        for execution in await self._query(trade.today_executions(), "today_executions"):
            try:
                to_our_symbol(execution.symbol)
            except UnknownSymbol as unknown:
                log.warning("longport: execution %s left out: %s", execution.trade_id, unknown)
                continue
            fills.append(execution_fill(execution, references.get(str(execution.order_id))))
        return fills

    # ----------------------------------------------------------------- books

    async def query_positions(self) -> list[Position]:
        response = await self._query(self._live().stock_positions(), "stock_positions")
        held_rows: list[tuple[str, Any]] = []
        for channel in response.channels:
            for held in channel.positions:
                try:
                    symbol = to_our_symbol(held.symbol)
                except UnknownSymbol as unknown:
                    log.warning("longport: position left out: %s", unknown)
                    continue
                held_rows.append((symbol, held))
        prices = await self._last_prices([symbol for symbol, _ in held_rows])
        positions = []
        for symbol, held in held_rows:
            qty, cost = quantity(held.quantity), Decimal(str(held.cost_price))
            last = prices.get(symbol, cost)
            positions.append(
                Position(
                    symbol=symbol,
                    qty=qty,
                    available_qty=quantity(held.available_quantity),
                    avg_cost=cost,
                    last_price=last,
                    market_value=last * qty,
                    unrealized_pnl=(last - cost) * qty,
                    currency=str(held.currency) or MARKET_CURRENCY[market_of(symbol)],
                )
            )
        return positions

    async def _last_prices(self, symbols: list[str]) -> dict[str, Decimal]:
        """The last price of each of `symbols` LongPort quotes (`stock_positions` has none);
        those it cannot quote now are left out (their cost stands in)."""
        known = self._longport_symbols(symbols)
        if not known:
            return {}
        try:
            found = await self._call(self._quotes_context().quote(list(known)), "quote")
        except (Refused, Unanswered) as failed:
            log.info("longport: positions priced at cost (%s)", failed)
            return {}
        return {
            known[str(q.symbol)]: Decimal(str(q.last_done))
            for q in found
            if str(q.symbol) in known and q.last_done
        }

    async def query_account(self) -> AccountSummary:
        balances = await self._query(
            self._live().account_balance(self._base_currency), "account_balance"
        )
        if not balances:
            raise BrokerUnavailable(f"LongPort reported no balance in {self._base_currency}")
        balance = balances[0]
        held = [
            Balance(
                currency=str(info.currency),
                cash=Decimal(str(info.withdraw_cash)) + Decimal(str(info.frozen_cash)),
                available=Decimal(str(info.available_cash)),
                frozen=Decimal(str(info.frozen_cash)),
            )
            for info in balance.cash_infos
        ]
        cash = Decimal(str(balance.total_cash))
        frozen = sum((b.frozen for b in held if b.currency == self._base_currency), Decimal(0))
        equity = Decimal(str(balance.net_assets))
        return AccountSummary(
            account=self.account_id,
            currency=str(balance.currency) or self._base_currency,
            cash=cash,
            available=cash - frozen,
            frozen=frozen,
            market_value=equity - cash,
            equity=equity,
            realized_pnl=Decimal(0),
            unrealized_pnl=Decimal(0),
            balances=held,
        )

    # ----------------------------------------------------------------- market data

    def _quotes_context(self) -> Any:
        """The quote context, opened on first use (its own WebSocket) with this connection's
        config, and dropped with it."""
        self._live()
        if self._quote is None:
            self._quote = self._sdk.AsyncQuoteContext.create(
                self._config, asyncio.get_running_loop()
            )
        return self._quote

    def _longport_symbols(self, symbols: list[str]) -> dict[str, str]:
        known = {}
        for symbol in symbols:
            with contextlib.suppress(UnknownSymbol):
                known[to_longport_symbol(symbol)] = symbol
        return known

    async def contract(self, symbol: str) -> Contract | None:
        known = self._longport_symbols([symbol])
        if not known:
            return None
        context = self._quotes_context()
        infos = await self._query(context.static_info(list(known)), "static_info")
        if not infos:
            return None
        (info,) = infos[:1]
        quotes = await self._query(context.quote(list(known)), "quote")
        return Contract(
            symbol=symbol,
            name=str(info.name_en or info.name_hk or info.name_cn or symbol),
            currency=str(info.currency) or MARKET_CURRENCY[market_of(symbol)],
            lot_size=max(int(info.lot_size), 1),
            tick_size=Decimal("0.01")
            if market_of(symbol) is not Market.HK_STOCK
            else Decimal("0.001"),
            pre_close=Decimal(str(quotes[0].prev_close)) if quotes else Decimal(0),
        )

    async def quotes(self, symbols: list[str]) -> list[Quote]:
        known = self._longport_symbols(symbols)
        found = (
            await self._query(self._quotes_context().quote(list(known)), "quote") if known else []
        )
        context = self._quotes_context()
        books = await asyncio.gather(*(self._best_prices(context, str(q.symbol)) for q in found))
        quotes = [
            Quote(
                symbol=known.get(str(q.symbol), to_our_symbol(str(q.symbol))),
                last=Decimal(str(q.last_done)),
                bid=book.bid,
                ask=book.ask,
                bid_size=book.bid_size,
                ask_size=book.ask_size,
                pre_close=Decimal(str(q.prev_close)),
                time=utc(q.timestamp),
            )
            for q, book in zip(found, books, strict=True)
        ]
        missing = sorted(set(symbols) - {q.symbol for q in quotes})
        if missing:
            raise NotFound(f"LongPort has no quote for {', '.join(missing)}", {"symbols": missing})
        return quotes

    async def _best_prices(self, context: Any, longport_symbol: str) -> "Book":
        """The best bid and ask of one symbol from its depth (`quote` has neither); none
        where LongPort gives no depth (no permission for the market, a rate limit)."""
        try:
            depth = await self._call(context.depth(longport_symbol), "depth")
        except (Refused, Unanswered) as failed:
            log.info("longport: no bid/ask for %s (%s)", longport_symbol, failed)
            return Book()
        return Book.of(depth.bids, depth.asks)

    async def market_status(self) -> list[VenueStatus]:
        """Each venue open or closed by the trading sessions LongPort lists for its market
        (LongPort has no market-state call); `broker_status` names the session or `Closed`."""
        markets = await self._query(self._quotes_context().trading_session(), "trading_session")
        statuses = []
        for market in markets:
            try:
                ours = MARKET.to_ours(name_of(market.market))
            except UnmappedValue:
                continue
            local = datetime.now(UTC).astimezone(MARKET_TIMEZONE[ours]).time()
            session = next(
                (
                    name_of(s.trade_session)
                    for s in market.trade_sessions
                    if in_session(s.begin_time, s.end_time, local)
                ),
                None,
            )
            status = SESSION_STATUS.to_ours(session) if session else MarketStatus.CLOSED
            for venue in MARKET_VENUES[ours]:
                statuses.append(
                    VenueStatus(venue=venue, status=status, broker_status=session or "Closed")
                )
        return statuses


@dataclass(frozen=True, slots=True)
class Book:
    """The top of a symbol's order book."""

    bid: Decimal | None = None
    ask: Decimal | None = None
    bid_size: int = 0
    ask_size: int = 0

    @classmethod
    def of(cls, bids: list[Any], asks: list[Any]) -> "Book":
        """From the SDK's `Depth` levels (best: the lowest `position` with a price)."""

        def best(levels: list[Any]) -> tuple[Decimal | None, int]:
            priced = [level for level in levels if level.price]
            if not priced:
                return None, 0
            top = min(priced, key=lambda level: int(level.position))
            return Decimal(str(top.price)), int(top.volume)

        (bid, bid_size), (ask, ask_size) = best(bids), best(asks)
        return cls(bid=bid, ask=ask, bid_size=bid_size, ask_size=ask_size)


def in_session(begin: time, end: time, local: time) -> bool:
    """`local` within `[begin, end)`; a session ending before it begins (US overnight,
    20:00 to 04:00) runs across midnight."""
    if begin <= end:
        return begin <= local < end
    return local >= begin or local < end


def _as_update(found: BrokerOrder) -> OrderUpdate:
    return OrderUpdate(
        status=found.status,
        order_id=found.order_id,
        broker_order_id=found.broker_order_id,
        reason=found.reason,
        filled_qty=found.filled_qty,
    )


def _ignore(event: Any) -> None:
    """The callback of a context being dropped."""
