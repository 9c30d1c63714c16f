"""Orders and their state machine.

Every change to an order goes through `transition` or `apply_fill`; both return a new frozen
`Order` or raise `IllegalTransition`, so an out-of-order broker update (a fill after
`canceled`, `new` after `filled`) can never be applied by accident.
"""

from datetime import datetime
from decimal import Decimal
from typing import Annotated

import msgspec

from tradebridge.domain.enums import Offset, OrderStatus, OrderType, Side, TimeInForce
from tradebridge.domain.errors import IllegalTransition
from tradebridge.domain.money import average_price

EngineTime = Annotated[
    datetime,
    msgspec.Meta(
        description="The engine's wall clock (UTC) when it recorded the order or its change; "
        "quotes and trades carry the market's time instead (on a paper account the paper "
        "clock, which `POST /paper/{id}/clock` moves ahead)."
    ),
]
"""When the engine recorded an order or changed it, by the wall clock."""

_S = OrderStatus

ALLOWED_TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    _S.PENDING_NEW: frozenset(
        {
            _S.NEW,
            _S.PARTIALLY_FILLED,
            _S.FILLED,
            _S.PENDING_CANCEL,
            _S.CANCELED,
            _S.REJECTED,
            _S.EXPIRED,
        }
    ),
    _S.NEW: frozenset(
        {_S.PARTIALLY_FILLED, _S.FILLED, _S.PENDING_CANCEL, _S.CANCELED, _S.EXPIRED, _S.REJECTED}
    ),
    _S.PARTIALLY_FILLED: frozenset(
        {_S.PARTIALLY_FILLED, _S.FILLED, _S.PENDING_CANCEL, _S.CANCELED, _S.EXPIRED}
    ),
    _S.PENDING_CANCEL: frozenset({_S.NEW, _S.PARTIALLY_FILLED, _S.FILLED, _S.CANCELED, _S.EXPIRED}),
    _S.FILLED: frozenset(),
    _S.CANCELED: frozenset(),
    _S.REJECTED: frozenset(),
    _S.EXPIRED: frozenset(),
}
"""From each status, the statuses an update may move the order to. `pending_cancel → new`
covers a cancel the broker refused; `partially_filled → partially_filled` a further fill."""


class OrderRequest(msgspec.Struct, frozen=True, kw_only=True):
    """A validated request to place an order; `symbol` is canonical."""

    symbol: str
    side: Side
    qty: int
    type: OrderType = OrderType.LIMIT
    limit_price: Decimal | None = None
    time_in_force: TimeInForce = TimeInForce.DAY
    client_order_id: str | None = None
    offset: Offset | None = None

    def same_parameters(self, order: "Order") -> bool:
        """Whether a retry with this request is the same order (idempotency check)."""
        return (
            self.symbol == order.symbol
            and self.side == order.side
            and self.qty == order.qty
            and self.type == order.type
            and self.limit_price == order.limit_price
            and self.time_in_force == order.time_in_force
            and self.offset == order.offset
        )


class Order(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    client_order_id: str | None
    """The caller's idempotency key (the order id when the caller gave none); None for an
    order placed outside tradebridge, in the broker's own app."""
    account: str
    symbol: str
    side: Side
    offset: Offset | None
    type: OrderType
    time_in_force: TimeInForce
    qty: int
    limit_price: Decimal | None
    filled_qty: int
    avg_fill_price: Decimal | None
    status: OrderStatus
    reject_reason: str | None
    broker_order_id: str | None
    created_at: EngineTime
    updated_at: EngineTime

    @property
    def remaining_qty(self) -> int:
        return self.qty - self.filled_qty


def new_order(
    request: OrderRequest,
    *,
    order_id: str,
    client_order_id: str | None,
    account: str,
    now: datetime,
) -> Order:
    return Order(
        id=order_id,
        client_order_id=client_order_id,
        account=account,
        symbol=request.symbol,
        side=request.side,
        offset=request.offset,
        type=request.type,
        time_in_force=request.time_in_force,
        qty=request.qty,
        limit_price=request.limit_price,
        filled_qty=0,
        avg_fill_price=None,
        status=OrderStatus.PENDING_NEW,
        reject_reason=None,
        broker_order_id=None,
        created_at=now,
        updated_at=now,
    )


def transition(
    order: Order,
    status: OrderStatus,
    now: datetime,
    *,
    reason: str | None = None,
    broker_order_id: str | None = None,
) -> Order:
    """Move `order` to `status`. Fills go through `apply_fill`; the one exception is a refused
    cancel, which returns a `pending_cancel` order to `new` or `partially_filled`."""
    if status not in ALLOWED_TRANSITIONS[order.status]:
        raise IllegalTransition(
            f"order {order.id}: {order.status.value} -> {status.value} is not allowed",
            {"order_id": order.id, "from": order.status.value, "to": status.value},
        )
    restoring = order.status is _S.PENDING_CANCEL and status is _S.PARTIALLY_FILLED
    if status is _S.FILLED or (status is _S.PARTIALLY_FILLED and not restoring):
        raise IllegalTransition(
            f"order {order.id}: fill statuses come only from apply_fill",
            {"order_id": order.id, "to": status.value},
        )
    if order.status is _S.PENDING_CANCEL and status in (_S.NEW, _S.PARTIALLY_FILLED):
        expected = _S.PARTIALLY_FILLED if order.filled_qty else _S.NEW
        if status is not expected:
            raise IllegalTransition(
                f"order {order.id}: a refused cancel returns to {expected.value}, "
                f"not {status.value}",
                {"order_id": order.id, "from": order.status.value, "to": status.value},
            )
    return msgspec.structs.replace(
        order,
        status=status,
        updated_at=now,
        reject_reason=reason if reason is not None else order.reject_reason,
        broker_order_id=broker_order_id or order.broker_order_id,
    )


def cancel_refused(order: Order, now: datetime) -> Order:
    """The broker refused a cancel: the order goes back to what it was before."""
    if order.status is not _S.PENDING_CANCEL:
        raise IllegalTransition(
            f"order {order.id}: no cancel is pending ({order.status.value})",
            {"order_id": order.id, "from": order.status.value},
        )
    return transition(order, _S.PARTIALLY_FILLED if order.filled_qty else _S.NEW, now)


def apply_fill(order: Order, qty: int, price: Decimal, tick: Decimal, now: datetime) -> Order:
    """Add a fill of `qty` at `price`; the status follows from the filled quantity.

    A fill while `pending_cancel` keeps the order `pending_cancel` until the broker answers
    the cancel, unless it completes the order.
    """
    if order.status.is_terminal:
        raise IllegalTransition(
            f"order {order.id}: fill after {order.status.value} refused",
            {"order_id": order.id, "from": order.status.value, "to": "fill"},
        )
    if qty <= 0 or qty > order.remaining_qty:
        raise IllegalTransition(
            f"order {order.id}: fill of {qty} with {order.remaining_qty} remaining refused",
            {"order_id": order.id, "qty": qty, "remaining": order.remaining_qty},
        )
    filled = order.filled_qty + qty
    previous_notional = (order.avg_fill_price or Decimal(0)) * order.filled_qty
    avg = average_price(previous_notional + price * qty, filled, tick)
    if filled == order.qty:
        status = _S.FILLED
    elif order.status is _S.PENDING_CANCEL:
        status = _S.PENDING_CANCEL
    else:
        status = _S.PARTIALLY_FILLED
    return msgspec.structs.replace(
        order, filled_qty=filled, avg_fill_price=avg, status=status, updated_at=now
    )
