"""LongPort's order records and pushes as tradebridge reports.

The SDK calls the order-changed callback on a thread of its own: `OrderPushes` only
translates the push and posts it to the engine's loop (`LoopSink.post`); the adapter, on the
loop, then reports the status and fetches the fills (a push carries no execution id)."""

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from tradebridge.brokers.base import BrokerOrder, Fill, OrderDetails, OrderUpdate
from tradebridge.brokers.longport.mapping import (
    ORDER_TYPE,
    SIDE,
    STATUS,
    TIME_IN_FORCE,
    name_of,
    our_reference,
    to_our_symbol,
)
from tradebridge.brokers.threads import LoopSink
from tradebridge.domain.enums import OrderType, TimeInForce

log = logging.getLogger(__name__)


def quantity(value: Any) -> int:
    return int(Decimal(str(value or 0)))


def utc(value: Any) -> datetime:
    """An SDK datetime (timezone-aware) in UTC; naive ones are taken as UTC."""
    if not isinstance(value, datetime):
        raise TypeError(f"not a datetime: {value!r}")
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


def order_details(record: Any, *, qty: Any, price: Any, time_in_force: TimeInForce) -> OrderDetails:
    """What an order placed outside tradebridge is (for the engine to record it)."""
    order_type = ORDER_TYPE.to_ours(name_of(record.order_type))
    return OrderDetails(
        symbol=to_our_symbol(record.symbol),
        side=SIDE.to_ours(name_of(record.side)),
        qty=quantity(qty),
        type=order_type,
        limit_price=Decimal(str(price)) if order_type is OrderType.LIMIT and price else None,
        time_in_force=time_in_force,
        created_at=utc(record.submitted_at),
    )


def pushed_update(event: Any) -> OrderUpdate:
    """A `PushOrderChanged`: the status, our id from the remark, details for others'."""
    reference = our_reference(event.remark)
    return OrderUpdate(
        status=STATUS.to_ours(name_of(event.status)),
        order_id=reference,
        broker_order_id=str(event.order_id),
        reason=event.msg or None,
        filled_qty=quantity(event.executed_quantity),
        details=None
        if reference
        else order_details(
            event,
            qty=event.submitted_quantity,
            price=event.submitted_price,
            time_in_force=TimeInForce.DAY,
        ),
    )


def listed_order(order: Any) -> BrokerOrder:
    """An `Order` of `today_orders`."""
    reference = our_reference(order.remark)
    return BrokerOrder(
        order_id=reference,
        broker_order_id=str(order.order_id),
        status=STATUS.to_ours(name_of(order.status)),
        filled_qty=quantity(order.executed_quantity),
        reason=order.msg or None,
        details=None
        if reference
        else order_details(
            order,
            qty=order.quantity,
            price=order.price,
            time_in_force=TIME_IN_FORCE.to_ours(name_of(order.time_in_force)),
        ),
    )


def execution_fill(execution: Any, reference: str | None) -> Fill:
    """An `Execution`; LongPort reports fees per order, not per execution: `fee` None."""
    return Fill(
        trade_id=str(execution.trade_id),
        qty=quantity(execution.quantity),
        price=Decimal(str(execution.price)),
        fee=None,
        time=utc(execution.trade_done_at),
        order_id=reference,
        broker_order_id=str(execution.order_id),
    )


class OrderPushes:
    """The SDK's order-changed callback (on its thread): translate, post to the loop."""

    def __init__(self, loop_sink: LoopSink, on_loop: Callable[[OrderUpdate], None]) -> None:
        self._loop_sink = loop_sink
        self._on_loop = on_loop

    def __call__(self, event: Any) -> None:
        try:
            update = pushed_update(event)
        except Exception as unreadable:  # never raise into the SDK's thread
            self._loop_sink.post(_unreadable, repr(event), str(unreadable))
            return
        self._loop_sink.post(self._on_loop, update)


def _unreadable(event: str, reason: str) -> None:
    log.warning("longport: push left out (%s): %s", reason, event)
