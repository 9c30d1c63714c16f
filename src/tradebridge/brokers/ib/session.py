"""The IB side of the adapter: ib_async's `IB` client and everything that touches it, run on
the IB thread (`loop.IbLoop`) only. `adapter.IbBroker` calls these methods through the loop
and never reads their state itself.

Every TWS request waits at most `request_timeout_s`. ib_async files the answers of
`reqOpenOrders`/`reqAllOpenOrders` (and of `reqCompletedOrders`, `reqCurrentTime`) under
one key each, so two of them in flight would lose one answer: they are asked one at a time.
"""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any, TypeVar

from tradebridge.brokers.base import BrokerOrder, Fill
from tradebridge.brokers.ib import books
from tradebridge.brokers.ib.config import IbSettings
from tradebridge.brokers.ib.contracts import ContractBook, Known
from tradebridge.brokers.ib.mapping import MARKET_DATA_TYPE, ORDER_TYPE, SIDE, TIME_IN_FORCE
from tradebridge.brokers.ib.reports import IbReports, broker_order, fee_of, fill_of
from tradebridge.brokers.mapping import UnmappedValue
from tradebridge.brokers.threads import LoopSink
from tradebridge.domain.enums import OrderType, RejectReason
from tradebridge.domain.errors import (
    BrokerUnavailable,
    NotCancelable,
    NotFound,
    OrderRejected,
    Timeout,
)
from tradebridge.domain.models import AccountSummary, Contract, Position, Quote
from tradebridge.domain.orders import Order

log = logging.getLogger(__name__)
T = TypeVar("T")

PING_S = 2.0
SDK_LOG_LEVELS = {"ib_async": logging.WARNING, "ib_async.wrapper": logging.CRITICAL}
"""ib_async logs every message it handles at INFO and every TWS error at ERROR (202, the
confirmation of a cancel, included); `reports.py` logs TWS's errors with their meaning."""


class TwsRefused(ConnectionError):
    """TWS could not be reached or refused the session; the message says what to do."""


class IbSession:
    def __init__(
        self,
        account_id: str,
        settings: IbSettings,
        sink: LoopSink,
        *,
        on_lost: Callable[[str], None],
        on_external: Callable[[str], None],
    ) -> None:
        import ib_async  # the SDK, loaded on the IB thread when the account starts

        for name, level in SDK_LOG_LEVELS.items():
            logging.getLogger(name).setLevel(level)

        self._sdk: Any = ib_async
        self._settings = settings
        self._ib: Any = ib_async.IB()
        self.contracts = ContractBook()
        self.reports = IbReports(
            sink,
            on_lost=on_lost,
            on_external=on_external,
            account_id=account_id,
            account=settings.account,
        )
        self.reports.attach(self._ib)
        self._listing_orders = asyncio.Lock()
        self._asking_time = asyncio.Lock()
        self.account = settings.account

    async def _within(self, request: Awaitable[T], what: str) -> T:
        timeout_s = self._settings.request_timeout_s
        try:
            return await asyncio.wait_for(request, timeout_s)
        except TimeoutError:
            raise Timeout(f"TWS did not answer {what} within {timeout_s:g} s") from None

    def _require_connected(self) -> None:
        if not self._ib.isConnected():
            raise BrokerUnavailable("not connected to TWS")

    # ------------------------------------------------------------------ connection

    async def connect(self) -> str:
        """One attempt: the API session and ib_async's start-up synchronization (positions,
        open and completed orders, account values, the day's executions)."""
        s = self._settings
        where = f"{s.host}:{s.port}"
        refused = self.reports.start_session()
        connecting = asyncio.ensure_future(
            self._ib.connectAsync(
                s.host,
                s.port,
                clientId=s.client_id,
                timeout=s.connect_timeout_s,
                account=s.account,
                raiseSyncErrors=True,
            )
        )
        try:
            await asyncio.wait({connecting, refused}, return_when=asyncio.FIRST_COMPLETED)
            if not connecting.done():
                connecting.cancel()
                with contextlib.suppress(BaseException):
                    await connecting
                raise TwsRefused(self._refusal(refused.result()))
            try:
                connecting.result()
            except ConnectionRefusedError:
                raise TwsRefused(
                    f"nothing accepts connections at {where}: start TWS or IB Gateway, enable "
                    "its API (Configure > API > Settings: Enable ActiveX and Socket Clients) "
                    "and check its socket port"
                ) from None
            except TimeoutError:
                raise TwsRefused(
                    f"TWS at {where} took the connection but did not start the API session "
                    f"within {s.connect_timeout_s:g} s (is 127.0.0.1 a trusted IP in its API "
                    "settings, or is it waiting for someone to accept the connection?)"
                ) from None
            except ConnectionError as failed:
                raise TwsRefused(f"TWS at {where}: {failed}") from None
            except OSError as failed:
                raise TwsRefused(f"cannot reach TWS at {where}: {failed.strerror}") from None
            account = self._choose_account()
        except BaseException:
            self._ib.disconnect()
            raise
        self.account = self.reports.account = account
        self._ib.reqMarketDataType(MARKET_DATA_TYPE.to_sdk(s.market_data))
        self.reports.connected()
        return (
            f"connected to TWS at {where} (API server version {self._ib.client.serverVersion()}) "
            f"as client {s.client_id}, account {account}"
        )

    def _refusal(self, reason: str) -> str:
        client_id = self._settings.client_id
        if "326" in reason or "already in use" in reason:
            return (
                f"TWS refused client id {client_id}: another API session is connected with it "
                f"({reason}); give this account another [accounts.ib] client_id, or close "
                "the other session"
            )
        return f"TWS closed the connection while starting the API session: {reason}"

    def _choose_account(self) -> str:
        accounts = list(self._ib.managedAccounts())
        wanted = self._settings.account
        if wanted and wanted not in accounts:
            raise TwsRefused(
                f"TWS does not manage account {wanted} (it manages {', '.join(accounts)})"
            )
        if not wanted and len(accounts) != 1:
            raise TwsRefused(
                f"TWS manages several accounts ({', '.join(accounts)}): set [accounts.ib] "
                "account to the one this account trades"
            )
        return wanted or accounts[0]

    def disconnect(self, reason: str) -> None:
        self.reports.end_session(reason)
        self._ib.disconnect()

    async def ping(self) -> bool:
        if not self._ib.isConnected():
            return False
        async with self._asking_time:
            try:
                await asyncio.wait_for(self._ib.reqCurrentTimeAsync(), PING_S)
            except (TimeoutError, ConnectionError):
                return False
        return True

    # ------------------------------------------------------------------ orders

    async def place(self, order: Order) -> None:
        """Send `order` with its id as `orderRef` and wait for TWS's first word on it."""
        self._require_connected()
        known = await self._known(order.symbol)
        if known is None:
            raise OrderRejected(RejectReason.UNKNOWN_SYMBOL, f"IB knows no {order.symbol}")
        ib_order = self._sdk.Order(
            action=SIDE.to_sdk(order.side),
            totalQuantity=float(order.qty),
            orderType=ORDER_TYPE.to_sdk(order.type),
            tif=TIME_IN_FORCE.to_sdk(order.time_in_force),
            orderRef=order.id,  # our reference: how the order is known again, anywhere
            account=self.account,
            outsideRth=self._settings.outside_rth,
        )
        if order.type is OrderType.LIMIT:
            ib_order.lmtPrice = order.limit_price
        try:
            trade = self._ib.placeOrder(known.ib, ib_order)
        except ConnectionError:
            raise BrokerUnavailable("TWS is not connected; the order was not sent") from None
        order_id = trade.order.orderId
        waiter = self.reports.expect(order_id)
        timeout_s = self._settings.order_ack_timeout_s
        try:
            refusal = await asyncio.wait_for(waiter, timeout_s)
        except TimeoutError:
            raise Timeout(
                f"TWS did not acknowledge order {order.id} (IB order {order_id}) within "
                f"{timeout_s:g} s; it is looked up by its reference",
                {"ib_order_id": order_id},
            ) from None
        finally:
            self.reports.forget(order_id)
        if refusal is not None:
            raise OrderRejected(RejectReason.BROKER_REFUSED, refusal)

    def cancel(self, order_id: str, broker_order_id: str | None) -> None:
        self._require_connected()
        trade = self._trade_of(order_id, broker_order_id)
        if trade is None:
            raise NotCancelable(f"TWS lists no order {order_id} of this session")
        order = trade.order
        if order.clientId != self._ib.wrapper.clientId or order.orderId == 0:
            raise NotCancelable(
                f"order {order_id} was placed in TWS or by API client {order.clientId}: "
                "only that session can cancel it"
            )
        with self.reports.quiet():
            self._ib.cancelOrder(order)

    def _trade_of(self, order_id: str, broker_order_id: str | None) -> Any | None:
        found = None
        for trade in self._ib.trades():
            order = trade.order
            if order.orderRef == order_id or (
                broker_order_id is not None and str(order.permId) == broker_order_id
            ):
                found = trade
                if not trade.isDone():
                    return trade
        return found

    async def orders(self) -> list[BrokerOrder]:
        """The account's open orders (of every client and TWS) and those completed today."""
        self._require_connected()
        async with self._listing_orders:
            working = await self._within(self._ib.reqAllOpenOrdersAsync(), "its open orders")
            done = await self._within(
                self._ib.reqCompletedOrdersAsync(False), "its completed orders"
            )
        listed = []
        for trade, completed in [(t, False) for t in working] + [(t, True) for t in done]:
            if self.account and trade.order.account and trade.order.account != self.account:
                continue
            if not completed:
                self.reports.seen(trade)
            try:
                listed.append(broker_order(trade, completed=completed))
            except UnmappedValue as unmapped:
                log.warning("IB order %s not listed: %s", trade.order.permId, unmapped)
        return listed

    async def executions(self) -> tuple[list[Fill], dict[str, Decimal]]:
        """Today's executions of the account, and the commissions TWS has reported of them
        (ib_async keeps those on the fills it saw first)."""
        self._require_connected()
        wanted = self._sdk.ExecutionFilter(acctCode=self.account)
        found = await self._within(self._ib.reqExecutionsAsync(wanted), "its executions")
        fees = {
            f.execution.execId: fee_of(f.commissionReport)
            for f in self._ib.fills()
            if f.commissionReport.execId == f.execution.execId
        }
        fills = []
        for ib_fill in found:
            try:
                fills.append(fill_of(ib_fill))
            except UnmappedValue as unmapped:
                log.warning("IB execution not listed: %s", unmapped)
        return fills, fees

    # ------------------------------------------------------------------ books

    def positions(self) -> list[Position]:
        self._require_connected()
        shown = []
        for item in self._ib.portfolio(self.account):
            try:
                shown.append(books.position(item))
            except UnmappedValue as unmapped:
                log.warning("IB position not shown: %s", unmapped)
        return shown

    def summary(self, account_id: str) -> AccountSummary:
        self._require_connected()
        summary = books.summary(account_id, self._ib.accountValues(self.account))
        if summary is None:
            raise BrokerUnavailable("TWS has not sent the account's values yet")
        return summary

    # ------------------------------------------------------------------ contracts, quotes

    async def _known(self, symbol: str) -> Known | None:
        known = self.contracts.get(symbol)
        if known is None:
            self._require_connected()
            lookup = self.contracts.look_up(self._ib, symbol, self._settings.request_timeout_s)
            try:
                known = await lookup
            except TimeoutError:
                raise Timeout(f"TWS did not describe {symbol} in time") from None
        return known

    async def contract(self, symbol: str) -> Contract | None:
        known = await self._known(symbol)
        return known.ours if known else None

    async def snapshot(self, symbols: list[str]) -> list[Quote]:
        known = [(symbol, await self._known(symbol)) for symbol in symbols]
        unknown = [symbol for symbol, k in known if k is None]
        if unknown:
            raise NotFound(f"IB knows no {', '.join(unknown)}", {"symbols": unknown})
        contracts = [k.ib for _, k in known if k is not None]
        for contract in contracts:
            self.reports.market_errors.pop(contract.conId, None)
        tickers = await self._within(self._ib.reqTickersAsync(*contracts), "quotes")
        quotes, missing = [], []
        for (symbol, k), ticker in zip(known, tickers, strict=True):
            quote = books.quote(symbol, ticker)
            if quote is not None:
                quotes.append(quote)
            else:
                assert k is not None
                why = self.reports.market_errors.get(k.ib.conId, "no price yet")
                missing.append(f"{symbol} ({why})")
        if missing:
            raise NotFound(f"no quote from IB for {'; '.join(missing)}", {"symbols": symbols})
        return quotes

    async def subscribe(self, symbols: list[str]) -> None:
        self._require_connected()
        for symbol in symbols:
            known = await self._known(symbol)
            if known is None:
                log.warning("no quotes streamed for %s: IB does not know it", symbol)
                continue
            if known.ib.conId not in self.reports.streamed:
                self.reports.streamed[known.ib.conId] = symbol
                self._ib.reqMktData(known.ib, "", False, False)

    def unsubscribe(self, symbols: list[str]) -> None:
        for symbol in symbols:
            known = self.contracts.get(symbol)
            if known is not None and known.ib.conId in self.reports.streamed:
                del self.reports.streamed[known.ib.conId]
                with contextlib.suppress(ConnectionError):
                    self._ib.cancelMktData(known.ib)

    def listed(self) -> list[Contract]:
        return self.contracts.listed()
