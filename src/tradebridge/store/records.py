"""Rows to and from domain types.

Rows written by the journal hold storage values (text decimals, integer microseconds), as
the journal hands them to the database driver directly; rows read back go through the
typed columns of `schema`.
"""

from typing import Any

from sqlalchemy import Row

from tradebridge.domain.enums import Offset, OrderStatus, OrderType, Side, TimeInForce
from tradebridge.domain.models import Trade
from tradebridge.domain.orders import Order
from tradebridge.store.types import decimal_text, epoch_micros


def order_row(order: Order) -> dict[str, Any]:
    return {
        "id": order.id,
        "account": order.account,
        "client_order_id": order.client_order_id,
        "symbol": order.symbol,
        "side": order.side.value,
        "offset": order.offset.value if order.offset else None,
        "type": order.type.value,
        "time_in_force": order.time_in_force.value,
        "qty": order.qty,
        "limit_price": decimal_text(order.limit_price),
        "filled_qty": order.filled_qty,
        "avg_fill_price": decimal_text(order.avg_fill_price),
        "status": order.status.value,
        "reject_reason": order.reject_reason,
        "broker_order_id": order.broker_order_id,
        "created_at": epoch_micros(order.created_at),
        "updated_at": epoch_micros(order.updated_at),
    }


ORDER_MUTABLE_COLUMNS = (
    "filled_qty",
    "avg_fill_price",
    "status",
    "reject_reason",
    "broker_order_id",
    "updated_at",
)


def order_update_row(order: Order) -> dict[str, Any]:
    """Parameters of the batched UPDATE: the mutable columns plus the key as `b_id`."""
    return {
        "b_id": order.id,
        "filled_qty": order.filled_qty,
        "avg_fill_price": decimal_text(order.avg_fill_price),
        "status": order.status.value,
        "reject_reason": order.reject_reason,
        "broker_order_id": order.broker_order_id,
        "updated_at": epoch_micros(order.updated_at),
    }


def order_from_row(row: Row[Any]) -> Order:
    m = row._mapping
    return Order(
        id=m["id"],
        client_order_id=m["client_order_id"],
        account=m["account"],
        symbol=m["symbol"],
        side=Side(m["side"]),
        offset=Offset(m["offset"]) if m["offset"] else None,
        type=OrderType(m["type"]),
        time_in_force=TimeInForce(m["time_in_force"]),
        qty=m["qty"],
        limit_price=m["limit_price"],
        filled_qty=m["filled_qty"],
        avg_fill_price=m["avg_fill_price"],
        status=OrderStatus(m["status"]),
        reject_reason=m["reject_reason"],
        broker_order_id=m["broker_order_id"],
        created_at=m["created_at"],
        updated_at=m["updated_at"],
    )


def trade_row(trade: Trade, broker_trade_id: str) -> dict[str, Any]:
    return {
        "id": trade.id,
        "account": trade.account,
        "broker_trade_id": broker_trade_id,
        "order_id": trade.order_id,
        "client_order_id": trade.client_order_id,
        "symbol": trade.symbol,
        "side": trade.side.value,
        "qty": trade.qty,
        "price": decimal_text(trade.price),
        "fee": decimal_text(trade.fee),
        "time": epoch_micros(trade.time),
    }


def trade_from_row(row: Row[Any]) -> Trade:
    m = row._mapping
    return Trade(
        id=m["id"],
        order_id=m["order_id"],
        client_order_id=m["client_order_id"],
        account=m["account"],
        symbol=m["symbol"],
        side=Side(m["side"]),
        qty=m["qty"],
        price=m["price"],
        fee=m["fee"],
        time=m["time"],
    )
