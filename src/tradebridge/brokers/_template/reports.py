"""What the SDK reports, as tradebridge reports. The SDK calls these on its own threads: they
only translate and hand the result to `LoopSink` (which posts it to the engine's loop); they
never touch adapter or engine state."""

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from tradebridge.brokers._template.mapping import ORDER_TYPE, SIDE, STATUS, to_our_symbol
from tradebridge.brokers.base import Fill, OrderDetails, OrderUpdate
from tradebridge.brokers.threads import LoopSink


def order_update(record: dict[str, Any]) -> OrderUpdate:
    """An SDK order record. `remark` is our order id where we placed it; an order without
    one was placed in the broker's own app, so it carries its `details`."""
    remark = record.get("remark") or None
    return OrderUpdate(
        status=STATUS.to_ours(record["status"]),
        order_id=remark,
        broker_order_id=str(record["order_no"]),
        reason=record.get("message") or None,
        filled_qty=int(record["traded_qty"]),
        details=None if remark else order_details(record),
    )


def order_details(record: dict[str, Any]) -> OrderDetails:
    return OrderDetails(
        symbol=to_our_symbol(record["symbol"]),
        side=SIDE.to_ours(record["side"]),
        qty=int(record["qty"]),
        type=ORDER_TYPE.to_ours(record["type"]),
        limit_price=Decimal(str(record["price"])) if record["type"] == "LMT" else None,
        created_at=datetime.fromtimestamp(record["time"], UTC),
    )


def fill(record: dict[str, Any]) -> Fill:
    return Fill(
        trade_id=str(record["trade_no"]),
        order_id=record.get("remark") or None,
        broker_order_id=str(record["order_no"]),
        qty=int(record["qty"]),
        price=Decimal(str(record["price"])),  # via str: SDK floats would carry binary noise
        fee=Decimal(str(record["fee"])) if record.get("fee") is not None else None,
        time=datetime.fromtimestamp(record["time"], UTC),
    )


class SdkCallbacks:
    """The handler object the SDK calls back (on its thread)."""

    def __init__(self, sink: LoopSink, on_lost: Callable[[str], None]) -> None:
        self._sink = sink
        self._on_lost = on_lost

    def on_order(self, record: dict[str, Any]) -> None:
        self._sink.on_order_update(order_update(record))

    def on_trade(self, record: dict[str, Any]) -> None:
        self._sink.on_fill(fill(record))

    def on_disconnected(self, reason: str) -> None:
        self._sink.post(self._on_lost, reason)  # the reconnector reports it and reconnects
