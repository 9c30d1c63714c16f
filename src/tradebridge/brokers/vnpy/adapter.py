"""The `vnpy` adapter: any vnpy `BaseGateway` subclass, hosted without vnpy's MainEngine.

- The gateway runs on its own vnpy `EventEngine` (our guarded subclass, `sdk.py`), whose
  1-second timer drives the gateway's polling (CTP alternates its account and position
  queries on it). The `EventBridge` (`reports.py`) is registered for the generic event types
  and hands converted objects to the loop, where the `GatewayBook` (`book.py`) keeps them.
- Every gateway call runs on the adapter's `SdkExecutor` with a timeout: `connect()` blocks on
  some gateways (XTP logs in synchronously), the others are said to be non-blocking but need
  not be.
- Connected means logged in (the gateway's `login_flag`), the account reported and the
  login's replay of the day's orders and trades over; the engine reconciles only then. A
  gateway reconnects by itself (vnpy's contract); the adapter notices the flag dropping,
  reports the loss and waits for the next login, with the `Reconnector`'s backoff.
- `send_order` returning `""` is a rejection, with the gateway's log lines of the call as the
  reason; an exception or no answer leaves the outcome unknown (the engine looks it up).
- A refused cancel is only a log line at vnpy: an order still working `cancel_timeout_s` after
  its cancel is reported refused (back to working).
"""

import asyncio
import contextlib
import json
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
    VenueStatus,
    filter_contracts,
)
from tradebridge.brokers.mapping import UnmappedValue
from tradebridge.brokers.reconnect import Reconnector
from tradebridge.brokers.threads import LoopSink, SdkExecutor
from tradebridge.brokers.vnpy.book import GatewayBook
from tradebridge.brokers.vnpy.config import VnpySettings
from tradebridge.brokers.vnpy.mapping import Tables, sdk_offset, tables
from tradebridge.brokers.vnpy.reports import BARRIER, EventBridge
from tradebridge.brokers.vnpy.sdk import Vnpy, load_gateway, load_vnpy
from tradebridge.domain.enums import MarketStatus, OrderType, RejectReason, TimeInForce
from tradebridge.domain.errors import (
    BrokerUnavailable,
    NotCancelable,
    NotFound,
    OrderRejected,
    Timeout,
)
from tradebridge.domain.models import AccountSummary, Contract, Position, Quote
from tradebridge.domain.orders import Order
from tradebridge.domain.symbols import VENUE_MARKET, Market, Venue, venue_of

log = logging.getLogger(__name__)

FIRST_CONNECT_MARGIN_S = 5.0
"""The engine waits for the first attempt this much longer than `connect_timeout_s`."""
MONITOR_S = 0.5
BARRIER_S = 5.0
QUOTE_WAIT_S = 3.0
"""How long a quote of a symbol not streamed yet is waited for after subscribing."""
STOP_S = 3.0


def gateway_setting(gateway_class: Any, path: Any) -> dict[str, Any]:
    """The JSON object of the setting file over the gateway's `default_setting`, whose
    choices (lists) default to their first item, as vnpy's own connect dialog does."""
    setting: dict[str, Any] = {}
    for key, default in dict(getattr(gateway_class, "default_setting", {})).items():
        setting[key] = default[0] if isinstance(default, list) and default else default
    setting.update(json.loads(path.read_text(encoding="utf-8")))
    return setting


class VnpyBroker(Broker):
    name = "vnpy"

    def __init__(
        self, account_id: str, settings: VnpySettings, currency: str, sink: BrokerSink
    ) -> None:
        super().__init__(account_id, sink)
        assert settings.trader_dir is not None  # resolved by `config.Settings`
        assert settings.gateway_name is not None
        self._settings = settings
        self._gateway_name = settings.gateway_name
        self._vn: Vnpy = load_vnpy(settings.trader_dir)
        self._gateway_class = load_gateway(self._vn, settings.gateway)
        self._tables: Tables = tables(self._vn.constant)
        self._setting = gateway_setting(self._gateway_class, settings.setting_file)
        self.capabilities = Capabilities(
            markets=self._markets(),
            quote_streaming=True,
            time_in_force=frozenset({TimeInForce.DAY, TimeInForce.IOC, TimeInForce.FOK}),
        )
        self._book = GatewayBook(account_id, currency, sink, flagged=bool(settings.login_flag))
        self._calls = SdkExecutor(f"vnpy-{account_id}", timeout_s=settings.request_timeout_s)
        self._reconnector = Reconnector(
            f"vnpy gateway {self._gateway_name} ({settings.gateway})", sink, self._connect_once
        )
        self._engine: Any = None
        self._gateway: Any = None
        self._post: Any = None
        self._connect_called = False
        self._queried_session = 0
        self._monitor: asyncio.Task[None] | None = None
        self._cancel_watch: dict[str, asyncio.TimerHandle] = {}

    def _venues(self) -> list[Venue]:
        exchanges = getattr(self._gateway_class, "exchanges", [])
        known = self._tables.exchange
        return sorted({known.to_ours(e) for e in exchanges if known.knows(e)})

    def _markets(self) -> frozenset[Market]:
        return frozenset(VENUE_MARKET[v] for v in self._venues()) or frozenset(Market)

    # ----------------------------------------------------------------- connection

    async def restore(self, snapshot: JournalSnapshot) -> None:
        self._book.restore(snapshot, datetime.now(UTC).date())

    async def connect(self) -> None:
        await self._reconnector.start(self._settings.connect_timeout_s + FIRST_CONNECT_MARGIN_S)

    def _start_gateway(self) -> None:
        """The gateway on its own EventEngine, with the bridge registered for the generic
        event types (not `register_general`: it would get every event twice)."""
        vn = self._vn
        self._post = LoopSink(self.sink, asyncio.get_running_loop()).post
        engine = vn.EventEngine(self._gateway_name)
        bridge = EventBridge(vn, self._tables, self._book, self._post, self._login_flag)
        for event_type in bridge.event_types:
            engine.register(event_type, bridge.handle)
        engine.start()
        self._engine = engine
        self._book.after_events = self._after_events
        self._gateway = self._gateway_class(engine, self._gateway_name)

    def _login_flag(self) -> bool | None:
        """The gateway's logged-in attribute (`td_api.login_status`); None without one."""
        path = self._settings.login_flag
        if not path:
            return None
        target: Any = self._gateway
        for part in path.split("."):
            target = getattr(target, part, None)
        return bool(target)

    async def _connect_once(self) -> str:
        if self._gateway is None:
            self._start_gateway()
        timeout_s = self._settings.connect_timeout_s
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        if not self._connect_called:
            try:
                await self._calls.run_within(timeout_s, self._gateway.connect, dict(self._setting))
            except Timeout:
                self._connect_called = True  # it may yet log in: never called twice
                raise
            self._connect_called = True
            if not self._settings.login_flag:
                await self._query_books()  # its account report is what says it is logged in
        while not self._book.ready(self._settings.settle_s):
            if loop.time() > deadline:
                raise BrokerUnavailable(self._not_ready(timeout_s))
            if self._book.logged_in and self._queried_session != self._book.session:
                self._queried_session = self._book.session
                await self._query_books()
            await asyncio.sleep(0.1)
        self._book.end_replay()
        if self._monitor is None:
            self._monitor = asyncio.create_task(self._watch(), name=f"vnpy {self.account_id}")
        return f"logged in through {self._gateway_name}: {self._book.last_log}"

    async def _query_books(self) -> None:
        """Ask for the account and positions at once rather than at the gateway's next poll."""
        for query in (self._gateway.query_account, self._gateway.query_position):
            try:
                await self._calls.run(query)
            except Exception as failed:
                log.warning("account %s: %s failed: %r", self.account_id, query.__name__, failed)

    def _not_ready(self, timeout_s: float) -> str:
        book = self._book
        if not book.logged_in:
            what = f"not logged in within {timeout_s:g} s"
        elif book.account_at is None:
            what = f"logged in, but no account reported within {timeout_s:g} s"
        elif not book.contracts:
            what = f"logged in, but no instruments reported within {timeout_s:g} s"
        else:
            what = f"the gateway did not finish its login replay within {timeout_s:g} s"
        return f"{what}; the gateway's last word: {book.last_log}" if book.last_log else what

    async def _watch(self) -> None:
        """Notice the gateway logging out (its own reconnect then logs in again) or vnpy's
        event thread gone."""
        while True:
            await asyncio.sleep(MONITOR_S)
            if not self._reconnector.connected:
                continue
            if not self._engine.alive:
                self._reconnector.lost("vnpy's event thread ended")
            elif not self._book.logged_in:
                self._reconnector.lost(self._book.last_log or "the gateway logged out")

    async def close(self) -> None:
        await self._reconnector.stop()
        if self._monitor is not None:
            self._monitor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._monitor
        for handle in self._cancel_watch.values():
            handle.cancel()
        self._book.close()
        try:
            if self._gateway is not None:
                with contextlib.suppress(Timeout):  # a hung close: its threads are daemons
                    await self._calls.run(self._gateway.close)
            if self._engine is not None:
                self._engine.stop_soon()  # its threads end within a second, joined or not
                with contextlib.suppress(Timeout):
                    await self._calls.run_within(STOP_S * 3, self._engine.stop_within, STOP_S)
        finally:
            self._calls.close()

    async def ping(self) -> bool:
        return self._reconnector.connected

    def _require_connected(self) -> None:
        if not self._reconnector.connected:
            raise BrokerUnavailable(
                f"account {self.account_id}: the vnpy gateway {self._gateway_name} is not logged in"
            )

    def _after_events(self, then: Callable[[], None]) -> None:
        """Run `then` on the loop after every event the gateway put so far."""
        self._engine.put(self._vn.Event(BARRIER, then))

    async def _barrier(self) -> None:
        """Wait until every event the gateway put so far has reached the loop."""
        done = asyncio.get_running_loop().create_future()

        def arrived() -> None:
            if not done.done():
                done.set_result(None)

        self._after_events(arrived)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(BARRIER_S):
                await done

    # ----------------------------------------------------------------- orders

    def _instrument(self, symbol: str) -> tuple[str, Any]:
        """vnpy's symbol and exchange of `symbol`: as its contract came, else by the table."""
        known = self._book.contracts.get(symbol)
        if known is not None:
            return known.vn_symbol, known.exchange
        ticker, _, _ = symbol.rpartition(".")
        return ticker, self._tables.exchange.to_sdk(venue_of(symbol))

    def _request(self, order: Order) -> Any:
        tables = self._tables
        try:
            order_type = tables.order_type.to_sdk((order.type, order.time_in_force))
        except UnmappedValue:
            raise OrderRejected(
                RejectReason.NOT_SUPPORTED,
                f"vnpy gateways take no {order.type.value} orders with time_in_force "
                f"{order.time_in_force.value}",
            ) from None
        vn_symbol, exchange = self._instrument(order.symbol)
        price = order.limit_price if order.type is OrderType.LIMIT else None
        return self._vn.object.OrderRequest(
            symbol=vn_symbol,
            exchange=exchange,
            direction=tables.side.to_sdk(order.side),
            type=order_type,
            volume=float(order.qty),
            price=float(price or 0),
            offset=sdk_offset(tables, order.offset, venue_of(order.symbol)),
            reference=order.id,
        )

    async def place_order(self, order: Order) -> None:
        self._require_connected()
        await self.send(order)

    async def send(self, order: Order) -> str:
        """`send_order` for `order`; its vt_orderid. Raises `OrderRejected` with the gateway's
        log lines when it returns "" (nothing was sent)."""
        request = self._request(order)
        book, gateway, post = self._book, self._gateway, self._post
        first_log = book.log_seq
        book.sending(order)

        def send_order() -> object:
            answer: object = None
            try:
                answer = gateway.send_order(request)
                return answer
            finally:  # on the loop before the caller resumes, even after a timeout here
                post(book.sent, order.id, answer)

        try:
            answer = await self._calls.run(send_order)
        except BrokerUnavailable:  # the adapter is closing: the call never ran
            book.sent(order.id, "")
            raise
        if isinstance(answer, str) and answer:
            return answer
        await self._barrier()
        if isinstance(answer, str):
            reason = "; ".join(book.logs_since(first_log)) or "the gateway did not send it"
            raise OrderRejected(RejectReason.BROKER_REFUSED, reason)
        echoed = book.vt_orderid_of(order.id)
        if echoed is not None:  # the gateway returned nothing but pushed the order
            return echoed
        raise Timeout(f"the vnpy gateway returned {answer!r} for order {order.id}, not its id")

    async def cancel_order(self, order: Order) -> None:
        self._require_connected()
        book = self._book
        vt_orderid = order.broker_order_id or book.vt_orderid_of(order.id)
        known = book.orders.get(vt_orderid) if vt_orderid else None
        if vt_orderid is None or known is None:
            raise NotCancelable(f"the gateway has not reported order {order.id}")
        if known.status.is_terminal:
            raise NotCancelable(f"order {order.id} is {known.status.value} at the broker")
        vn_symbol, exchange = self._instrument(known.details.symbol)
        request = self._vn.object.CancelRequest(
            orderid=known.orderid, symbol=vn_symbol, exchange=exchange
        )
        first_log = book.log_seq
        await self._calls.run(self._gateway.cancel_order, request)
        previous = self._cancel_watch.pop(order.id, None)
        if previous is not None:
            previous.cancel()
        self._cancel_watch[order.id] = asyncio.get_running_loop().call_later(
            self._settings.cancel_timeout_s,
            self._cancel_unanswered,
            order.id,
            vt_orderid,
            first_log,
        )

    def _cancel_unanswered(self, order_id: str, vt_orderid: str, first_log: int) -> None:
        self._cancel_watch.pop(order_id, None)
        known = self._book.orders.get(vt_orderid)
        if known is None or known.status.is_terminal:
            return
        said = self._book.logs_since(first_log)
        reason = "; ".join(said[-3:]) or "the gateway did not confirm the cancel"
        self.sink.on_cancel_refused(order_id, vt_orderid, reason)

    async def query_orders(self) -> list[BrokerOrder]:
        return self._book.broker_orders()

    async def query_trades(self) -> list[Fill]:
        return self._book.fills()

    async def query_positions(self) -> list[Position]:
        return self._book.positions()

    async def query_account(self) -> AccountSummary:
        summary = self._book.summary()
        if summary is None:
            raise BrokerUnavailable(f"the vnpy gateway {self._gateway_name} reported no account")
        return summary

    # ----------------------------------------------------------------- market

    async def contract(self, symbol: str) -> Contract | None:
        return self._book.contract(symbol)

    async def contracts(self, venue: str | None, text: str | None) -> list[Contract]:
        listed = [c.contract for c in self._book.contracts.values()]
        return filter_contracts(listed, venue, text)

    async def subscribe_quotes(self, symbols: list[str]) -> None:
        for symbol in symbols:
            if symbol not in self._book.contracts:
                continue  # the gateway does not know it: nothing to stream
            vn_symbol, exchange = self._instrument(symbol)
            request = self._vn.object.SubscribeRequest(symbol=vn_symbol, exchange=exchange)
            await self._calls.run(self._gateway.subscribe, request)
            self._book.streaming.add(symbol)
            tick = self._book.ticks.get(symbol)
            if tick is not None:
                self.sink.on_quote(tick)

    async def unsubscribe_quotes(self, symbols: list[str]) -> None:
        """vnpy has no unsubscribe: the ticks keep coming and are no longer passed on."""
        self._book.streaming.difference_update(symbols)

    async def quotes(self, symbols: list[str]) -> list[Quote]:
        ticks, known = self._book.ticks, self._book.contracts
        waiting = [s for s in symbols if s not in ticks and s in known]
        if waiting:
            if self._gateway is not None and self._reconnector.connected:
                await self.subscribe_quotes(waiting)
            await self._book.wait_for_ticks(waiting, QUOTE_WAIT_S)
        absent = [s for s in symbols if s not in ticks]
        if absent:
            raise NotFound(f"no quote for {', '.join(absent)}", {"symbols": absent})
        return [ticks[s] for s in symbols]

    async def market_status(self) -> list[VenueStatus]:
        return [
            VenueStatus(venue=v.value, status=MarketStatus.UNKNOWN, broker_status="")
            for v in self._venues()
        ]
