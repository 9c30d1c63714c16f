"""The `tiger` adapter: one Tiger account through tigeropen (HTTP gateway + push channel).

- Orders go out with `user_mark` = the tradebridge order id; status, executions, positions
  and asset changes follow the push channel (`reports.py`). `place_order` and
  `cancel_order` are never resent (neither by the SDK nor here); a placement that failed
  with an unknown outcome is looked up by its `user_mark` before it counts as failed.
- The connection is the push channel's: the adapter's `Reconnector` opens it (login, then
  subscriptions to orders, executions, positions and assets of the account), hears of its
  loss from the SDK, and opens a new one with backoff; the engine reconciles after each
  connect through `query_orders` (today's and the open ones) and `query_trades` (the
  executions of today's orders with fills).
- Fees: Tiger reports an order's commission on the order; once the order has ended it is
  split over its executions (`sink.on_fee`).
- Every SDK call runs on the adapter's executors with a timeout.
"""

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any, TypeVar

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
from tradebridge.brokers.mapping import UnmappedValue
from tradebridge.brokers.reconnect import Reconnector
from tradebridge.brokers.threads import LoopSink, SdkExecutor
from tradebridge.brokers.tiger.config import TigerSettings
from tradebridge.brokers.tiger.mapping import (
    MARKET_STATUS,
    MARKETS,
    ORDER_TYPE,
    SIDE,
    TIME_IN_FORCE,
    VENUE,
    UnknownSymbol,
    to_tiger,
)
from tradebridge.brokers.tiger.reports import (
    PushHandlers,
    broker_order,
    decimal,
    millis,
    our_reference,
    position,
    transaction_fill,
)
from tradebridge.brokers.tiger.sdk import client_config
from tradebridge.domain.enums import (
    MarketStatus,
    OrderStatus,
    OrderType,
    RejectReason,
    TimeInForce,
)
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
from tradebridge.domain.symbols import MARKET_CURRENCY, market_of

log = logging.getLogger(__name__)

T = TypeVar("T")

FIRST_CONNECT_S = 10.0
PUSH_LOGIN_S = 8.0
"""How long one attempt waits for the push server's CONNECTED and subscription answers."""
SUBSCRIPTIONS = 4
"""Orders, executions, positions, assets."""
ORDER_PAGE = 300
"""Orders per query (Tiger's limit)."""
FILL_READS_S = (0.5, 1.0, 3.0, 10.0)
"""When the executions of an order whose status counts more filled than the execution pushes
brought are read (each wait after the one before)."""


class TigerBroker(Broker):
    name = "tiger"

    def __init__(
        self,
        account_id: str,
        settings: TigerSettings,
        sink: BrokerSink,
        sdk: SimpleNamespace,
        *,
        base_currency: str,
        files: Path,
    ) -> None:
        super().__init__(account_id, sink)
        self._settings = settings
        self._sdk = sdk
        self._base_currency = base_currency
        self.capabilities = Capabilities(
            markets=MARKETS,
            broker_checks_funds=True,  # Tiger checks buying power (margin, other currencies)
            time_in_force=frozenset({TimeInForce.DAY, TimeInForce.GTC}),
        )
        self._config = client_config(sdk, settings, files)
        sdk_log = logging.getLogger("tradebridge.brokers.tiger.sdk")
        self._trade: Any = sdk.TradeClient(self._config, logger=sdk_log)
        self._quote: Any = sdk.QuoteClient(self._config, logger=sdk_log, is_grab_permission=False)
        protocol, host, port = self._config.socket_host_port
        self._push_address = (protocol, str(host), int(port))
        # HTTP calls: two threads, so a slow query does not hold up an order
        self._calls = SdkExecutor(
            f"tiger-{account_id}", threads=2, timeout_s=settings.request_timeout_s + 2
        )
        self._push_calls = SdkExecutor(f"tiger-push-{account_id}", timeout_s=PUSH_LOGIN_S)
        self._reconnector = Reconnector(
            f"Tiger push {host}:{port}", sink, self._connect_once, disconnect=self._disconnect
        )
        self._push: Any = None
        self._session = 0
        self._login: asyncio.Future[None] | None = None
        self._subscribed = 0
        self._all_subscribed = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._fees_booked: set[str] = set()
        self._fills_reported: set[str] = set()
        self._filled: dict[str, int] = {}
        """Tiger order id -> the quantity of the fills reported for it."""

    # ----------------------------------------------------------------- connection

    async def connect(self) -> None:
        await self._reconnector.start(FIRST_CONNECT_S)

    async def _connect_once(self) -> str:
        protocol, host, port = self._push_address
        await self._probe(host, port)
        loop = asyncio.get_running_loop()
        self._session += 1
        session = self._session
        self._login = loop.create_future()
        self._subscribed = 0
        self._all_subscribed.clear()
        handlers = PushHandlers(
            LoopSink(self.sink, loop),
            self._settings.account,
            on_connected=lambda: self._logged_in(session),
            on_lost=lambda reason: self._lost(session, reason),
            on_error=lambda message: self._push_error(session, message),
            on_subscribed=lambda: self._subscription_answered(session),
            on_order=self._order_pushed,
            on_fill=self._report_fill,
            on_asset=self._asset_pushed,
        )
        push = self._sdk.PushClient(
            host,
            port,
            use_ssl=protocol == "ssl",
            connection_timeout=PUSH_LOGIN_S,
            client_config=self._config,
            callback_executor=self._sdk.CallbackExecutor(max_workers=1),
        )
        handlers.attach(push)
        self._push = push
        try:
            await self._push_calls.run(
                push.connect, self._settings.tiger_id, self._config.private_key
            )
            async with asyncio.timeout(PUSH_LOGIN_S):
                await self._login
            account = self._settings.account
            for subscribe in (
                push.subscribe_order,
                push.subscribe_transaction,
                push.subscribe_position,
                push.subscribe_asset,
            ):
                await self._push_calls.run(subscribe, account=account)
            async with asyncio.timeout(PUSH_LOGIN_S):
                await self._all_subscribed.wait()
            await self._http(self._trade.get_prime_assets, account=account)
        except TimeoutError:
            await self._disconnect()
            raise ConnectionError("the push server did not answer the login in time") from None
        except BaseException:
            await self._disconnect()
            raise
        self._spawn(self._settle_fees(None))
        return f"connected to Tiger as {self._settings.tiger_id}, account {account}"

    @staticmethod
    async def _probe(host: str, port: int) -> None:
        """A TCP connect first: the SDK's own connect retries for minutes when nobody
        listens, which would hold up the attempt (and its thread) long after it timed out."""
        try:
            async with asyncio.timeout(PUSH_LOGIN_S):
                _, writer = await asyncio.open_connection(host, port)
        except (OSError, TimeoutError) as failed:
            raise ConnectionError(f"push server {host}:{port} unreachable ({failed})") from None
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()

    def _logged_in(self, session: int) -> None:
        if session == self._session and self._login is not None and not self._login.done():
            self._login.set_result(None)

    def _push_error(self, session: int, message: str) -> None:
        if session != self._session:
            return
        if self._login is not None and not self._login.done():
            self._login.set_exception(ConnectionError(f"Tiger refused the login: {message}"))
        else:
            log.warning("tiger account %s: push error: %s", self.account_id, message)

    def _subscription_answered(self, session: int) -> None:
        if session == self._session:
            self._subscribed += 1
            if self._subscribed >= SUBSCRIPTIONS:
                self._all_subscribed.set()

    def _lost(self, session: int, reason: str) -> None:
        """The push connection of `session` is gone (a late report of an older one is not)."""
        if session != self._session:
            return
        if self._login is not None and not self._login.done():
            self._login.set_exception(ConnectionError(reason))
        self._reconnector.lost(reason)

    async def _disconnect(self) -> None:
        push, self._push = self._push, None
        self._session += 1  # whatever the old connection still reports is not ours now
        if push is None:
            return
        with contextlib.suppress(Exception):
            await self._push_calls.run(_close_push, push)

    async def close(self) -> None:
        await self._reconnector.stop()
        for task in list(self._tasks):
            task.cancel()
        with contextlib.suppress(Exception):
            await self._disconnect()
        self._calls.close()
        self._push_calls.close()

    async def ping(self) -> bool:
        return self._reconnector.connected and self._push is not None

    def _spawn(self, work: Any) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ----------------------------------------------------------------- calling the SDK

    def _require_connected(self) -> None:
        if not self._reconnector.connected:
            raise BrokerUnavailable(
                f"account {self.account_id}: not connected to Tiger",
                {"account": self.account_id},
            )

    async def _http(self, call: Callable[..., T], /, **kwargs: Any) -> T:
        """A query through the SDK (which resends it at most `read_retries` times); Tiger's
        refusal or a failed request is `BrokerUnavailable`, with Tiger's message."""
        tries = self._settings.read_retries + 1
        timeout_s = tries * (self._settings.request_timeout_s + 2) + tries
        try:
            return await self._calls.run_within(timeout_s, lambda: call(**kwargs))
        except self._sdk.ApiException as refused:
            raise BrokerUnavailable(
                f"Tiger: {refused.msg} (code {refused.code})", {"account": self.account_id}
            ) from None
        except (self._sdk.RequestException, self._sdk.ResponseException) as failed:
            raise BrokerUnavailable(
                f"Tiger's gateway did not answer: {_short(failed)}", {"account": self.account_id}
            ) from None

    # ----------------------------------------------------------------- orders

    def _sdk_order(self, order: Order) -> Any:
        try:
            ticker, _, currency = to_tiger(order.symbol)
        except UnknownSymbol as unknown:
            raise OrderRejected(RejectReason.UNKNOWN_SYMBOL, str(unknown)) from None
        try:
            tif = TIME_IN_FORCE.to_sdk(order.time_in_force)
        except UnmappedValue:
            raise OrderRejected(
                RejectReason.NOT_SUPPORTED,
                f"Tiger takes time in force day or gtc, not {order.time_in_force.value}",
            ) from None
        limit = order.limit_price if order.type is OrderType.LIMIT else None
        sdk_order = self._sdk.Order(
            self._settings.account,
            self._sdk.stock_contract(ticker, currency),
            SIDE.to_sdk(order.side),
            ORDER_TYPE.to_sdk(order.type),
            order.qty,
            limit_price=float(limit) if limit is not None else None,
            time_in_force=tif,
        )
        sdk_order.user_mark = order.id  # our reference: how a lost answer is found again
        return sdk_order

    async def place_order(self, order: Order) -> None:
        self._require_connected()
        sdk_order = self._sdk_order(order)
        sdk = self._sdk
        try:
            broker_id = await self._calls.run(self._trade.place_order, sdk_order)
        except sdk.ApiException as refused:
            found = await self._placed_despite(order, f"{refused.msg} (code {refused.code})")
            if found is None:
                raise OrderRejected(
                    RejectReason.BROKER_REFUSED, f"Tiger: {refused.msg} (code {refused.code})"
                ) from None
            self._adopt(order, found)
            return
        except (sdk.RequestException, sdk.ResponseException) as failed:
            found = await self._placed_despite(order, _short(failed))
            if found is not None:
                self._adopt(order, found)
                return
            if _never_sent(failed):
                raise BrokerUnavailable(
                    f"Tiger's gateway is unreachable, order not sent: {_short(failed)}"
                ) from None
            raise Timeout(
                f"Tiger did not answer order {order.id} ({_short(failed)}); it is looked up "
                "by its reference"
            ) from None
        self.sink.on_order_update(
            OrderUpdate(
                status=OrderStatus.PENDING_NEW, order_id=order.id, broker_order_id=str(broker_id)
            )
        )

    async def _placed_despite(self, order: Order, failure: str) -> BrokerOrder | None:
        """The order Tiger holds under `order`'s reference although placing it failed; None
        if Tiger has none. A look-up that fails too leaves the outcome unknown (`Timeout`)."""
        try:
            found = await self.find_order(order)
        except TradebridgeError as failed:
            raise Timeout(
                f"placing order {order.id} failed ({failure}) and Tiger could not be asked "
                f"whether it has it ({failed.message})"
            ) from None
        if found is not None:
            log.warning("tiger: order %s failed (%s) but Tiger has it", order.id, failure)
        return found

    def _adopt(self, order: Order, found: BrokerOrder) -> None:
        self.sink.on_order_update(
            OrderUpdate(
                status=found.status,
                order_id=order.id,
                broker_order_id=found.broker_order_id,
                reason=found.reason,
                filled_qty=found.filled_qty,
            )
        )

    async def cancel_order(self, order: Order) -> None:
        self._require_connected()
        if order.broker_order_id is None:
            raise NotCancelable(f"order {order.id} has no Tiger order id yet")
        try:
            await self._calls.run(
                lambda: self._trade.cancel_order(
                    account=self._settings.account, id=int(order.broker_order_id or 0)
                )
            )
        except self._sdk.ApiException as refused:
            raise NotCancelable(f"Tiger refused the cancel: {refused.msg}") from None
        except (self._sdk.RequestException, self._sdk.ResponseException) as failed:
            raise BrokerUnavailable(f"Tiger did not answer the cancel: {_short(failed)}") from None

    def _order_pushed(self, update: OrderUpdate, commission: Decimal) -> None:
        """An order push, on the loop: to the engine; executions it counts that no push
        brought are read from Tiger; an order that ended with fills gets its commission
        split over its executions."""
        self.sink.on_order_update(update)
        broker_id = update.broker_order_id
        if not update.filled_qty or not broker_id:
            return
        if update.filled_qty > self._filled.get(broker_id, 0):
            self._spawn(self._read_fills(broker_id, update.order_id, update.filled_qty))
        if update.status.is_terminal:
            self._spawn(self._settle_fees([broker_id]))

    def _report_fill(self, fill: Fill) -> None:
        """A fill to the engine, once per execution the adapter saw (pushed or read)."""
        if fill.trade_id in self._fills_reported:
            return
        self._fills_reported.add(fill.trade_id)
        if fill.broker_order_id is not None:
            self._filled[fill.broker_order_id] = self._filled.get(fill.broker_order_id, 0) + (
                fill.qty
            )
        self.sink.on_fill(fill)

    async def _read_fills(self, broker_id: str, reference: str | None, counted: int) -> None:
        """Tiger's executions of an order whose status counts `counted` filled, while the
        fills seen add up to less (the execution push is late, or never comes: Tiger does not
        promise one per execution, nor its order relative to the status push)."""
        for delay in FILL_READS_S:
            await asyncio.sleep(delay)
            if self._filled.get(broker_id, 0) >= counted:
                return
            try:
                executions = await self._executions(int(broker_id))
            except TradebridgeError as failed:
                log.info("tiger: executions of %s not read yet (%s)", broker_id, failed.message)
                continue
            for execution in executions:
                self._report_fill(transaction_fill(execution, reference))
        if self._filled.get(broker_id, 0) < counted:
            log.warning("tiger: order %s counts %d filled, fewer executions", broker_id, counted)

    def _asset_pushed(self) -> None:
        self._spawn(self._refresh_account())

    async def _refresh_account(self) -> None:
        try:
            self.sink.on_account(await self.query_account())
        except TradebridgeError as failed:
            log.info("tiger: account not read after an asset push: %s", failed.message)

    async def _today_orders(self) -> list[Any]:
        """The orders of the last 30 hours (today's, in every market's own day) and the open
        ones of earlier days (GTC), each once."""
        since = datetime.now(UTC) - timedelta(hours=30)
        start = int(since.timestamp() * 1000)
        account = self._settings.account
        today = await self._http(
            self._trade.get_orders, account=account, start_time=start, limit=ORDER_PAGE
        )
        working = await self._http(self._trade.get_open_orders, account=account)
        seen: dict[str, Any] = {}
        for row in [*(today or []), *(working or [])]:
            seen.setdefault(str(row.id), row)
        return list(seen.values())

    async def query_orders(self) -> list[BrokerOrder]:
        found = []
        for row in await self._today_orders():
            try:
                found.append(broker_order(row))
            except (UnknownSymbol, UnmappedValue) as unknown:
                if our_reference(row.user_mark):
                    raise BrokerUnavailable(f"Tiger order {row.id}: {unknown}") from None
                log.warning("tiger: order %s left out: %s", row.id, unknown)
        return found

    async def find_order(self, order: Order) -> BrokerOrder | None:
        if order.broker_order_id is not None:
            row = await self._http(
                self._trade.get_order,
                account=self._settings.account,
                id=int(order.broker_order_id),
            )
            return broker_order(row) if row is not None else None
        return await super().find_order(order)

    async def query_trades(self) -> list[Fill]:
        fills = []
        for row in await self._today_orders():
            if not row.filled:
                continue
            for execution in await self._executions(int(row.id)):
                fills.append(transaction_fill(execution, our_reference(row.user_mark)))
        return fills

    async def _executions(self, broker_order_id: int) -> list[Any]:
        rows = await self._http(
            self._trade.get_transactions,
            account=self._settings.account,
            order_id=broker_order_id,
            limit=ORDER_PAGE,
        )
        return list(rows or [])

    # ----------------------------------------------------------------- fees

    async def _settle_fees(self, broker_order_ids: list[str] | None) -> None:
        """Split the commission of ended orders with fills (all of today's with None) over
        their executions, once per order."""
        try:
            rows = await self._today_orders()
            for row in rows:
                broker_id = str(row.id)
                if broker_order_ids is not None and broker_id not in broker_order_ids:
                    continue
                if broker_id in self._fees_booked or not row.filled or row.commission is None:
                    continue
                if not broker_order(row).status.is_terminal:
                    continue
                executions = await self._executions(int(row.id))
                shares = [
                    FillShare(fill.trade_id, fill.qty, fill.time)
                    for fill in (transaction_fill(e, None) for e in executions)
                ]
                if sum(share.qty for share in shares) < int(row.filled):
                    continue  # not all executions listed yet: the next connect settles it
                for trade_id, fee in split_fee(decimal(row.commission), shares).items():
                    self.sink.on_fee(trade_id, fee)
                self._fees_booked.add(broker_id)
        except (TradebridgeError, UnknownSymbol, UnmappedValue) as failed:
            log.info("tiger: fees not read yet (%s)", failed)

    # ----------------------------------------------------------------- books

    async def query_positions(self) -> list[Position]:
        rows = await self._http(self._trade.get_positions, account=self._settings.account)
        positions = []
        for row in rows or []:
            try:
                positions.append(position(row))
            except UnknownSymbol as unknown:
                log.warning("tiger: position left out: %s", unknown)
        return positions

    async def query_account(self) -> AccountSummary:
        assets = await self._http(
            self._trade.get_prime_assets,
            account=self._settings.account,
            base_currency=self._base_currency,
        )
        segment = (assets.segments or {}).get("S") if assets is not None else None
        if segment is None:
            raise BrokerUnavailable(f"Tiger has no securities segment for {self._settings.account}")
        balances = []
        for currency, held in sorted(segment.currency_assets.items()):
            cash = decimal(held.cash_balance)
            available = min(decimal(held.cash_available_for_trade), cash)
            balances.append(
                Balance(currency=currency, cash=cash, available=available, frozen=cash - available)
            )
        cash = decimal(segment.cash_balance)
        available = min(decimal(segment.cash_available_for_trade), cash)
        return AccountSummary(
            account=self.account_id,
            currency=segment.currency or self._base_currency,
            cash=cash,
            available=available,
            frozen=cash - available,
            market_value=decimal(segment.gross_position_value),
            equity=decimal(segment.net_liquidation),
            realized_pnl=decimal(segment.realized_pl),
            unrealized_pnl=decimal(segment.unrealized_pl),
            balances=balances
            or [
                Balance(
                    currency=self._base_currency,
                    cash=cash,
                    available=available,
                    frozen=cash - available,
                )
            ],
        )

    # ----------------------------------------------------------------- market data

    async def _briefs(self, symbols: list[str]) -> dict[str, Any]:
        tickers: dict[str, str] = {}
        for symbol in symbols:
            with contextlib.suppress(UnknownSymbol):
                tickers[to_tiger(symbol)[0]] = symbol
        if not tickers:
            return {}
        briefs = await self._http(self._quote.get_briefs, symbols=list(tickers))
        return {tickers[b.symbol]: b for b in briefs or [] if b.symbol in tickers}

    async def contract(self, symbol: str) -> Contract | None:
        briefs = await self._briefs([symbol])
        if symbol not in briefs:
            return None
        brief = briefs[symbol]
        metas = await self._http(self._quote.get_trade_metas, symbols=[to_tiger(symbol)[0]])
        lot, tick = 1, Decimal("0.01")
        if metas is not None and len(metas):
            meta = metas.iloc[0]
            lot = int(meta["lot_size"] or 1)
            tick = decimal(meta["min_tick"]) or tick
        return Contract(
            symbol=symbol,
            name=str(brief.name or symbol),
            currency=MARKET_CURRENCY[market_of(symbol)],
            lot_size=max(lot, 1),
            tick_size=tick,
            pre_close=decimal(brief.prev_close),
        )

    async def quotes(self, symbols: list[str]) -> list[Quote]:
        briefs = await self._briefs(symbols)
        missing = [s for s in symbols if s not in briefs]
        if missing:
            raise NotFound(f"Tiger has no quote for {', '.join(missing)}", {"symbols": missing})
        return [
            Quote(
                symbol=symbol,
                last=decimal(brief.latest_price),
                bid=decimal(brief.bid_price) if brief.bid_price else None,
                ask=decimal(brief.ask_price) if brief.ask_price else None,
                bid_size=int(brief.bid_size or 0),
                ask_size=int(brief.ask_size or 0),
                pre_close=decimal(brief.prev_close) if brief.prev_close else None,
                time=millis(brief.latest_time),
            )
            for symbol, brief in ((s, briefs[s]) for s in symbols)
        ]

    async def market_status(self) -> list[VenueStatus]:
        statuses = []
        for market in await self._http(self._quote.get_market_status) or []:
            if not VENUE.knows(str(market.market)):
                continue
            value = str(market.trading_status or market.status or "")
            statuses.append(
                VenueStatus(
                    venue=VENUE.to_ours(str(market.market)).value,
                    status=market_status_of(value),
                    broker_status=value,
                )
            )
        return statuses


def market_status_of(trading_status: str) -> MarketStatus:
    """Tiger's `trading_status` as ours; one it has added since (or none): `unknown`, logged,
    rather than no market status at all."""
    if MARKET_STATUS.knows(trading_status):
        return MARKET_STATUS.to_ours(trading_status)
    log.warning("tiger: market status %r is not one tradebridge knows", trading_status)
    return MarketStatus.UNKNOWN


def _close_push(push: Any) -> None:
    """End a push client: its connect loop (if still trying), its socket, its threads."""
    connection = getattr(push.client, "_connection", None)
    if connection is not None:
        connection.transport.running = False  # stops the SDK's own reconnect attempts
    with contextlib.suppress(Exception):
        push.disconnect()


def _short(failed: BaseException) -> str:
    """The SDK's request failure without the request it prints (signature included)."""
    text = str(failed)
    for marker in (" detail: ", " detail body:"):
        if marker in text:
            return text.split(marker, 1)[1].split(" params: ", 1)[0][:300]
    return text.split(" url: ", 1)[0][:300]


def _never_sent(failed: BaseException) -> bool:
    """A failure to connect at all (nothing was sent)."""
    text = str(failed)
    return any(
        marker in text
        for marker in ("NewConnectionError", "Connection refused", "Failed to establish")
    )
