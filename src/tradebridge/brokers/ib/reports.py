"""What ib_async reports (on the IB thread), as tradebridge's reports on the engine's loop.

Order status comes from TWS's own `openOrder`/`orderStatus` messages. ib_async also changes
a trade's status by itself (`Cancelled` on any error, `ValidationError` on a warning,
`PendingCancel` when asked to cancel); those carry an error code in the trade's log, or
happen inside our own `cancelOrder` call, and are not reported: the error is read here
instead, by its code:
- 202: the order is canceled;
- 161, 10147, 10148: a cancel TWS refuses (the order works on);
- an error on an order TWS has not acknowledged yet (other than the informational codes) is
  its rejection: the waiting `place_order` raises `OrderRejected` (`broker_refused`) with
  TWS's message; one that comes later (after the wait) is a `rejected` report with it;
- other errors on working orders are kept as the reason of a later end, and logged.
Fills come as `Fill(fee=None)` from `execDetails`, their commission from `commissionReport`
(`on_fee`). An order without our reference (entered in TWS, or by another API client)
carries its `details`, so the engine records it with `client_order_id` null.
"""

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from tradebridge.brokers.base import BrokerOrder, Fill, OrderDetails, OrderUpdate
from tradebridge.brokers.ib import books
from tradebridge.brokers.ib.mapping import (
    ORDER_TYPE,
    SIDE,
    STATUS,
    TIME_IN_FORCE,
    our_reference,
    our_symbol,
)
from tradebridge.brokers.mapping import UnmappedValue
from tradebridge.brokers.threads import LoopSink
from tradebridge.domain.enums import OrderStatus, OrderType
from tradebridge.domain.errors import Timeout

log = logging.getLogger(__name__)

CLIENT_ID_IN_USE = 326
CANCELED = 202
CANCEL_REFUSED = frozenset({161, 10147, 10148})
INFORMATIONAL = frozenset({399, 404, 10167, 10311})
"""Order warnings that do not stop an order (held for a locate, routed directly, ...)."""
UNSET_DOUBLE = 1.7976931348623157e308


def informational(code: int) -> bool:
    return code in INFORMATIONAL or 2100 <= code < 2200


def _perm(perm_id: int) -> str | None:
    return str(perm_id) if perm_id else None


def details_of(trade: Any) -> OrderDetails:
    """What an order placed outside tradebridge is; `UnmappedValue` if it cannot be shown
    (another instrument, another order type)."""
    order, contract = trade.order, trade.contract
    order_type = ORDER_TYPE.to_ours(order.orderType)
    limit = order.lmtPrice if order_type is OrderType.LIMIT else None
    created = trade.log[0].time if trade.log else datetime.now(UTC)
    return OrderDetails(
        symbol=our_symbol(contract.secType, contract.symbol, contract.currency),
        side=SIDE.to_ours(order.action),
        qty=books.whole(order.totalQuantity, f"order {order.permId}"),
        type=order_type,
        limit_price=books.decimal(limit, books.PRICE) if limit is not None else None,
        time_in_force=TIME_IN_FORCE.to_ours(order.tif or "DAY"),
        created_at=created,
    )


def fill_of(ib_fill: Any) -> Fill:
    execution = ib_fill.execution
    return Fill(
        trade_id=execution.execId,
        qty=books.whole(execution.shares, f"execution {execution.execId}"),
        price=books.decimal(execution.price, books.PRICE),
        fee=None,
        time=execution.time,
        order_id=our_reference(execution.orderRef),
        broker_order_id=_perm(execution.permId),
    )


def fee_of(report: Any) -> Decimal:
    return Decimal(str(report.commission)).quantize(books.PRICE)


def broker_order(trade: Any, *, completed: bool) -> BrokerOrder:
    """An open (`reqAllOpenOrders`) or completed (`reqCompletedOrders`) order."""
    order = trade.order
    reference = our_reference(order.orderRef)
    filled = order.filledQuantity if completed else trade.orderStatus.filled
    if filled is None or filled >= UNSET_DOUBLE:
        filled = 0
    return BrokerOrder(
        order_id=reference,
        broker_order_id=_perm(order.permId),
        status=STATUS.to_ours(trade.orderStatus.status),
        filled_qty=books.whole(filled, f"order {order.permId}"),
        details=None if reference else details_of(trade),
    )


class IbReports:
    """ib_async's event handlers. Lives on the IB thread; the engine is reached only through
    the `LoopSink`. One instance serves every connection of the adapter; `start_session`
    clears what belonged to the previous one."""

    def __init__(
        self,
        sink: LoopSink,
        *,
        on_lost: Callable[[str], None],
        on_external: Callable[[str], None],
        account_id: str,
        account: str,
    ) -> None:
        self._sink = sink
        self._account_id = account_id
        self._on_lost = on_lost
        self._on_external = on_external
        self.account = account
        """The IB account (known once connected, if the settings leave it to TWS)."""
        self._ib: Any = None
        self._ready = False
        self._acknowledged: set[int] = set()
        self._waiters: dict[int, asyncio.Future[str | None]] = {}
        self._errors: dict[int, str] = {}
        self._quiet = False
        self._account_pending = False
        self._last_api_error = ""
        self.fatal: asyncio.Future[str] | None = None
        self.streamed: dict[int, str] = {}
        """conId -> our symbol of the streamed tickers."""
        self.market_errors: dict[int, str] = {}
        """conId -> TWS's last market data error for it."""

    def attach(self, ib: Any) -> None:
        self._ib = ib
        ib.openOrderEvent += self.on_order
        ib.orderStatusEvent += self.on_status
        ib.execDetailsEvent += self.on_execution
        ib.commissionReportEvent += self.on_commission
        ib.errorEvent += self.on_error
        ib.updatePortfolioEvent += self.on_portfolio
        ib.accountValueEvent += self.on_account_value
        ib.pendingTickersEvent += self.on_tickers
        ib.disconnectedEvent += self.on_disconnected
        ib.client.apiError += self.on_api_error

    # ------------------------------------------------------------------ sessions

    def start_session(self) -> asyncio.Future[str]:
        """Before connecting: a future that gets TWS's reason if it refuses the session."""
        self._acknowledged.clear()
        self._errors.clear()
        self.streamed.clear()
        self.market_errors.clear()
        self._last_api_error = ""
        self.fatal = asyncio.get_running_loop().create_future()
        return self.fatal

    def connected(self) -> None:
        self._ready = True

    def end_session(self, reason: str) -> None:
        """The session is over (lost or closed by us): nothing more is reported of it."""
        self._ready = False
        self.streamed.clear()
        for order_id, waiter in list(self._waiters.items()):
            if not waiter.done():
                waiter.set_exception(
                    Timeout(
                        f"the connection to TWS ended ({reason}) before it acknowledged order "
                        f"{order_id}; the order is looked up by its reference",
                        {"ib_order_id": order_id},
                    )
                )

    def expect(self, order_id: int) -> asyncio.Future[str | None]:
        """A future set when TWS first reports on order `order_id` of this session: None if
        it has it, TWS's reason if it refused it."""
        waiter: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()
        self._waiters[order_id] = waiter
        return waiter

    def forget(self, order_id: int) -> None:
        self._waiters.pop(order_id, None)

    @contextlib.contextmanager
    def quiet(self) -> Iterator[None]:
        """ib_async's own status changes inside our calls (cancelOrder) are not TWS's."""
        self._quiet = True
        try:
            yield
        finally:
            self._quiet = False

    def _acknowledge(self, trade: Any, refusal: str | None = None) -> bool:
        """TWS has spoken of this session's order; True if a waiting `place` takes the
        answer (a refusal then reaches the engine as the placement's `OrderRejected`)."""
        order = trade.order
        if order.clientId != self._ib.wrapper.clientId or order.orderId <= 0:
            return False
        self._acknowledged.add(order.orderId)
        waiter = self._waiters.get(order.orderId)
        if waiter is None or waiter.done():
            return False
        waiter.set_result(refusal)
        return True

    def seen(self, trade: Any) -> None:
        """TWS listed the order (open orders): it has it."""
        self._acknowledge(trade)

    # ------------------------------------------------------------------ orders

    def on_order(self, trade: Any) -> None:
        """`openOrder`: for an order ib_async knew, it updates the order but not its status
        (the `orderStatus` that TWS sends with it does): the acknowledgement waits for that."""
        self._report(trade, acknowledges=False)

    def on_status(self, trade: Any) -> None:
        if self._quiet or trade.orderStatus.status == "ValidationError":
            return
        if trade.log and trade.log[-1].errorCode:
            return  # ib_async's reading of an error: handled in on_error
        self._report(trade, acknowledges=True)

    def _report(self, trade: Any, *, acknowledges: bool) -> None:
        order = trade.order
        if self.account and order.account and order.account != self.account:
            return
        try:
            status = STATUS.to_ours(trade.orderStatus.status)
            reference = our_reference(order.orderRef)
            details = None if reference else details_of(trade)
        except UnmappedValue as unmapped:
            log.error("IB order %s not reported: %s", order.permId, unmapped)
            return
        reason = self._errors.get(order.orderId) if status.is_terminal else None
        filled = books.whole(trade.orderStatus.filled, f"order {order.permId}")
        if status is OrderStatus.REJECTED and filled:
            status = OrderStatus.CANCELED  # inactive after fills: the rest will not fill
        if status is OrderStatus.REJECTED:
            reason = reason or f"TWS set order {order.orderId} inactive"
            if self._acknowledge(trade, refusal=reason):
                return
        elif acknowledges:
            self._acknowledge(trade)
        self._sink.on_order_update(
            OrderUpdate(
                status=status,
                order_id=reference,
                broker_order_id=_perm(order.permId),
                reason=reason,
                filled_qty=filled,
                details=details,
            )
        )
        if details is not None and order.permId:
            self._sink.post(self._on_external, str(order.permId))

    def on_error(self, req_id: int, code: int, message: str, contract: Any) -> None:
        text = f"{message} (IB error {code})"
        if code == CLIENT_ID_IN_USE and self.fatal is not None and not self.fatal.done():
            self.fatal.set_result(text)
            return
        trade = self._ib.wrapper.trades.get((self._ib.wrapper.clientId, req_id))
        if req_id > 0 and trade is not None:
            self._order_error(trade, code, text)
        elif contract is not None and contract.conId:
            self.market_errors[contract.conId] = text
            log.info("TWS about %s: %s", contract.symbol, text)
        elif code in (1100, 1300, 2110):
            log.warning("TWS: %s", text)
        else:
            log.info("TWS: %s", text)

    def _order_error(self, trade: Any, code: int, text: str) -> None:
        order = trade.order
        reference = our_reference(order.orderRef)
        permanent = _perm(order.permId or trade.orderStatus.permId)
        if code == CANCELED:
            self._sink.on_order_update(
                OrderUpdate(
                    status=OrderStatus.CANCELED,
                    order_id=reference,
                    broker_order_id=permanent,
                    filled_qty=books.whole(trade.orderStatus.filled, f"order {order.orderId}"),
                )
            )
        elif code in CANCEL_REFUSED:
            self._sink.on_cancel_refused(reference, permanent, text)
        elif informational(code):
            log.info("TWS about order %s: %s", order.orderId, text)
        elif order.orderId not in self._acknowledged:
            log.info("TWS refused order %s (%s): %s", order.orderId, reference, text)
            if self._acknowledge(trade, refusal=text):
                return
            self._sink.on_order_update(
                OrderUpdate(
                    status=OrderStatus.REJECTED,
                    order_id=reference,
                    broker_order_id=permanent,
                    reason=text,
                )
            )
        else:
            log.warning("TWS about working order %s (%s): %s", order.orderId, reference, text)
            self._errors[order.orderId] = text

    # ------------------------------------------------------------------ fills

    def on_execution(self, trade: Any, ib_fill: Any) -> None:
        execution = ib_fill.execution
        if self.account and execution.acctNumber != self.account:
            return
        self._acknowledge(trade)
        try:
            fill = fill_of(ib_fill)
        except UnmappedValue as unmapped:
            log.error("IB execution %s not reported: %s", execution.execId, unmapped)
            return
        self._sink.on_fill(fill)

    def on_commission(self, trade: Any, ib_fill: Any, report: Any) -> None:
        if self.account and ib_fill.execution.acctNumber != self.account:
            return
        if report.currency and report.currency != ib_fill.contract.currency:
            log.warning(
                "the commission of %s is in %s, the trade in %s: booked as it is",
                report.execId,
                report.currency,
                ib_fill.contract.currency,
            )
        self._sink.on_fee(report.execId, fee_of(report))

    # ------------------------------------------------------------------ books, market, link

    def on_portfolio(self, item: Any) -> None:
        if item.account != self.account:
            return
        try:
            position = books.position(item)
        except UnmappedValue as unmapped:
            log.warning("IB position not shown: %s", unmapped)
            return
        self._sink.on_position(position)

    def on_account_value(self, value: Any) -> None:
        """Values come one a message, many at a time: one summary per burst."""
        if value.account != self.account or self._account_pending:
            return
        self._account_pending = True
        asyncio.get_running_loop().call_soon(self._push_account)

    def _push_account(self) -> None:
        self._account_pending = False
        summary = books.summary(self._account_id, self._ib.accountValues(self.account))
        if summary is not None:
            self._sink.on_account(summary)

    def on_tickers(self, tickers: set[Any]) -> None:
        for ticker in tickers:
            symbol = self.streamed.get(ticker.contract.conId) if ticker.contract else None
            if symbol is None:
                continue
            quote = books.quote(symbol, ticker)
            if quote is not None:
                self._sink.on_quote(quote)

    def on_api_error(self, message: str) -> None:
        self._last_api_error = message
        closed = "closed" in message.lower()
        if not self._ready and closed and self.fatal is not None and not self.fatal.done():
            self.fatal.set_result(message)

    def on_disconnected(self) -> None:
        if not self._ready:
            return
        reason = self._last_api_error or "TWS closed the connection"
        self.end_session(reason)
        self._sink.post(self._on_lost, reason)
