"""What tigeropen reports, as tradebridge reports.

The push client calls `PushHandlers` on its callback thread (one thread: the adapter gives it
a single-worker executor, so order, execution, position and asset pushes keep the order they
arrived in): they only translate and hand the result to the loop through `LoopSink`. The
other functions translate query results (SDK `Order`, `Transaction`, `Position` objects) on
the adapter's executor thread."""

import logging
import re
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from tradebridge.brokers.base import BrokerOrder, Fill, OrderDetails, OrderUpdate
from tradebridge.brokers.threads import LoopSink
from tradebridge.brokers.tiger.mapping import (
    ORDER_TYPE,
    SIDE,
    STATUS,
    TIME_IN_FORCE,
    UnknownSymbol,
    to_our_symbol,
)
from tradebridge.domain.enums import OrderType, TimeInForce
from tradebridge.domain.models import Position
from tradebridge.domain.symbols import MARKET_CURRENCY, market_of

log = logging.getLogger(__name__)

ORDER_ID = re.compile(r"[0-9A-HJKMNP-TV-Z]{26}")
"""A tradebridge order id (`ids.IdGenerator`): a `user_mark` of this shape is our reference."""


def our_reference(user_mark: Any) -> str | None:
    """The tradebridge order id an order's `user_mark` carries; None for any other mark (an
    order of the Tiger app, or of another program using the same account)."""
    text = str(user_mark or "")
    return text if ORDER_ID.fullmatch(text) else None


def decimal(value: Any) -> Decimal:
    """An SDK number as a Decimal (through `str`: floats would carry binary noise); missing
    or infinite (the SDK's "not reported") is 0."""
    if value is None or value == "":
        return Decimal(0)
    number = Decimal(str(value))
    return number if number.is_finite() else Decimal(0)


def millis(value: Any) -> datetime:
    """A Tiger timestamp (milliseconds since the epoch); missing: now."""
    if not value:
        return datetime.now(UTC)
    return datetime.fromtimestamp(int(value) / 1000, UTC)


def status_name(status: Any) -> str:
    """The SDK's `OrderStatus` (an enum on query results, its name on pushes) as its name."""
    return str(getattr(status, "name", status))


# ----------------------------------------------------------------- query results


def order_details(order: Any, symbol: str) -> OrderDetails:
    """What an order placed outside tradebridge is (an SDK `Order`)."""
    order_type = ORDER_TYPE.to_ours(str(order.order_type))
    tif = str(order.time_in_force or "DAY")
    return OrderDetails(
        symbol=symbol,
        side=SIDE.to_ours(str(order.action)),
        qty=int(order.quantity or 0),
        type=order_type,
        limit_price=decimal(order.limit_price) if order_type is OrderType.LIMIT else None,
        time_in_force=TIME_IN_FORCE.to_ours(tif) if TIME_IN_FORCE.knows(tif) else TimeInForce.DAY,
        created_at=millis(getattr(order, "order_time", None)),
    )


def order_symbol(order: Any) -> str:
    contract = order.contract
    return to_our_symbol(str(contract.symbol), contract.market, contract.currency)


def broker_order(order: Any) -> BrokerOrder:
    """An SDK `Order` of a query, for reconciliation."""
    reference = our_reference(order.user_mark)
    return BrokerOrder(
        order_id=reference,
        broker_order_id=str(order.id),
        status=STATUS.to_ours(status_name(order.status)),
        filled_qty=int(order.filled or 0),
        reason=getattr(order, "reason", None) or None,
        details=None if reference else order_details(order, order_symbol(order)),
    )


def transaction_fill(transaction: Any, reference: str | None) -> Fill:
    """An SDK `Transaction` (one execution of an order) as a fill. Tiger reports an order's
    commission on the order, not on its executions: the fee comes later (`on_fee`)."""
    return Fill(
        trade_id=str(transaction.id),
        order_id=reference,
        broker_order_id=str(transaction.order_id),
        qty=int(transaction.filled_quantity or 0),
        price=decimal(transaction.filled_price),
        fee=None,
        time=millis(getattr(transaction, "transaction_time", None)),
    )


def position(row: Any) -> Position:
    """An SDK `Position` of a query."""
    contract = row.contract
    symbol = to_our_symbol(str(contract.symbol), contract.market, contract.currency)
    qty = int(row.quantity or 0)
    salable = getattr(row, "salable_qty", None)
    return Position(
        symbol=symbol,
        qty=qty,
        available_qty=int(salable) if salable is not None else max(qty, 0),
        avg_cost=decimal(row.average_cost),
        last_price=decimal(row.market_price),
        market_value=decimal(row.market_value),
        unrealized_pnl=decimal(row.unrealized_pnl),
        currency=contract.currency or MARKET_CURRENCY[market_of(symbol)],
    )


# ----------------------------------------------------------------- pushes


def pushed_order(data: Any) -> OrderUpdate:
    """An `OrderStatusData` push (its `status` already the SDK's enum name)."""
    reference = our_reference(data.userMark)
    details = None
    if reference is None:
        order_type = ORDER_TYPE.to_ours(data.orderType)
        details = OrderDetails(
            symbol=to_our_symbol(data.symbol, data.market, data.currency),
            side=SIDE.to_ours(data.action),
            qty=int(data.totalQuantity),
            type=order_type,
            limit_price=decimal(data.limitPrice) if order_type is OrderType.LIMIT else None,
            time_in_force=(
                TIME_IN_FORCE.to_ours(data.timeInForce)
                if TIME_IN_FORCE.knows(data.timeInForce)
                else TimeInForce.DAY
            ),
            created_at=millis(data.openTime),
        )
    return OrderUpdate(
        status=STATUS.to_ours(data.status),
        order_id=reference,
        broker_order_id=str(data.id),
        reason=data.errorMsg or None,
        filled_qty=int(data.filledQuantity),
        details=details,
    )


def pushed_fill(data: Any) -> Fill:
    """An `OrderTransactionData` push: one execution, by the order's Tiger id."""
    return Fill(
        trade_id=str(data.id),
        broker_order_id=str(data.orderId),
        qty=int(data.filledQuantity),
        price=decimal(data.filledPrice),
        fee=None,
        time=millis(data.transactTime or data.timestamp),
    )


def pushed_position(data: Any) -> Position:
    symbol = to_our_symbol(data.symbol, data.market, data.currency)
    qty = int(data.position)
    if data.salableQty:
        available = int(data.salableQty)
    elif data.HasField("saleable"):
        available = int(data.saleable)
    else:
        available = qty
    return Position(
        symbol=symbol,
        qty=qty,
        available_qty=available,
        avg_cost=decimal(data.averageCost),
        last_price=decimal(data.latestPrice),
        market_value=decimal(data.marketValue),
        unrealized_pnl=decimal(data.unrealizedPnl),
        currency=data.currency or MARKET_CURRENCY[market_of(symbol)],
    )


class PushHandlers:
    """The callbacks of one push connection, on the SDK's callback thread. `account` filters
    pushes of other accounts of the same developer id; `on_order` gets order updates on the
    loop (the adapter books fees of ended orders and reads executions no push brought);
    `on_fill` gets the executions pushed, on the loop; `on_asset` is told the account changed
    (the push carries segment totals only: the adapter reads the account again); `on_error`
    gets the push server's errors (a refused login while connecting)."""

    def __init__(
        self,
        sink: LoopSink,
        account: str,
        *,
        on_connected: Callable[[], None],
        on_lost: Callable[[str], None],
        on_error: Callable[[str], None],
        on_subscribed: Callable[[], None],
        on_order: Callable[[OrderUpdate, Decimal], None],
        on_fill: Callable[[Fill], None],
        on_asset: Callable[[], None],
    ) -> None:
        self._sink = sink
        self._account = account
        self._on_connected = on_connected
        self._on_lost = on_lost
        self._on_error = on_error
        self._on_subscribed = on_subscribed
        self._on_order = on_order
        self._on_fill = on_fill
        self._on_asset = on_asset

    def attach(self, push: Any) -> None:
        push.connect_callback = self.connected
        push.disconnect_callback = self.disconnected
        push.error_callback = self.error
        push.kickout_callback = self.kicked_out
        push.subscribe_callback = self.subscribed
        push.order_changed = self.order_changed
        push.transaction_changed = self.transaction_changed
        push.position_changed = self.position_changed
        push.asset_changed = self.asset_changed

    def _ours(self, data: Any) -> bool:
        return not data.account or data.account == self._account

    def connected(self, frame: Any) -> None:
        self._sink.post(self._on_connected)

    def disconnected(self) -> None:
        self._sink.post(self._on_lost, "the push connection closed")

    def kicked_out(self, frame: Any) -> None:
        self._sink.post(self._on_lost, f"Tiger closed the push session: {frame.msg}")

    def error(self, frame: Any) -> None:
        self._sink.post(self._on_error, f"{frame.msg} (code {frame.code})")

    def subscribed(self, frame: Any) -> None:
        self._sink.post(self._on_subscribed)

    def order_changed(self, data: Any) -> None:
        if not self._ours(data):
            return
        try:
            update = pushed_order(data)
        except (UnknownSymbol, ValueError) as unknown:
            log.warning("tiger: order push %s left out: %s", data.id, unknown)
            return
        self._sink.post(self._on_order, update, decimal(data.commissionAndFee))

    def transaction_changed(self, data: Any) -> None:
        if self._ours(data):
            self._sink.post(self._on_fill, pushed_fill(data))

    def position_changed(self, data: Any) -> None:
        if not self._ours(data):
            return
        try:
            self._sink.on_position(pushed_position(data))
        except UnknownSymbol as unknown:
            log.warning("tiger: position push left out: %s", unknown)

    def asset_changed(self, data: Any) -> None:
        if self._ours(data):
            self._sink.post(self._on_asset)
