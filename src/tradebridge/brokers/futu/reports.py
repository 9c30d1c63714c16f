"""What Futu reports, as tradebridge reports: the rows of the SDK's tables (orders, deals,
quotes) translated, and the push handlers the SDK calls on its callback thread.

The handlers only translate and post the result to the engine loop (`LoopSink.post`); they
never touch adapter or engine state. OpenD pushes the orders and deals of every account the
connection subscribed to, so each push is checked against the account's id first.
"""

import logging
import math
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from tradebridge.brokers.base import BrokerOrder, Fill, OrderDetails, OrderUpdate
from tradebridge.brokers.futu.mapping import (
    Tables,
    exchange_time,
    our_reference,
    to_our_symbol,
)
from tradebridge.domain.enums import OrderType, TimeInForce
from tradebridge.domain.models import Quote

log = logging.getLogger(__name__)

Row = dict[str, Any]


def present(value: Any) -> bool:
    """Whether an SDK cell holds a value (the SDK writes 'N/A', pandas NaN or None for none)."""
    if value is None or value == "N/A" or value == "":
        return False
    return not (isinstance(value, float) and math.isnan(value))


def decimal(value: Any) -> Decimal:
    """An SDK number as a Decimal, through its shortest text (floats carry binary noise)."""
    return Decimal(str(value)) if present(value) else Decimal(0)


def optional_decimal(value: Any) -> Decimal | None:
    return Decimal(str(value)) if present(value) else None


def quantity(value: Any) -> int:
    return round(float(value)) if present(value) else 0


def text(value: Any) -> str | None:
    return str(value) if present(value) else None


def order_details(row: Row, tables: Tables) -> OrderDetails:
    symbol = to_our_symbol(row["code"])
    kind = tables.order_type.to_ours(row["order_type"])
    tif = row.get("time_in_force")
    return OrderDetails(
        symbol=symbol,
        side=tables.side.to_ours(row["trd_side"]),
        qty=quantity(row["qty"]),
        type=kind,
        limit_price=decimal(row["price"]) if kind is OrderType.LIMIT else None,
        time_in_force=tables.time_in_force.to_ours(str(tif)) if present(tif) else TimeInForce.DAY,
        created_at=exchange_time(symbol, row["create_time"]),
    )


def order_update(row: Row, tables: Tables) -> OrderUpdate:
    """An order row (push or query). Its `remark` is our order id where we placed it; an
    order without one was placed elsewhere (the Futu app), so it carries its details."""
    reference = our_reference(row.get("remark"))
    return OrderUpdate(
        status=tables.status.to_ours(row["order_status"]),
        order_id=reference,
        broker_order_id=str(row["order_id"]),
        reason=text(row.get("last_err_msg")),
        filled_qty=quantity(row.get("dealt_qty")),
        details=None if reference else order_details(row, tables),
    )


def broker_order(row: Row, tables: Tables) -> BrokerOrder:
    update = order_update(row, tables)
    return BrokerOrder(
        order_id=update.order_id,
        broker_order_id=update.broker_order_id,
        status=update.status,
        filled_qty=update.filled_qty or 0,
        reason=update.reason,
        details=update.details,
    )


def deal_counts(row: Row) -> bool:
    """Whether a deal stands: Futu marks corrected or reversed deals CANCELLED/CHANGED, which
    tradebridge cannot book (an error in the log names them)."""
    status = row.get("status")
    if present(status) and status != "OK":
        log.error(
            "futu: deal %s of order %s is %s at Futu; tradebridge does not book deal "
            "corrections: check the trade in the Futu app",
            row.get("deal_id"),
            row.get("order_id"),
            status,
        )
        return False
    return True


def deal_fill(row: Row, order_id: str | None = None) -> Fill:
    """A deal: its fee comes later (Futu charges per order, `fees.py`)."""
    symbol = to_our_symbol(row["code"])
    return Fill(
        trade_id=str(row["deal_id"]),
        order_id=order_id,
        broker_order_id=text(row.get("order_id")),
        qty=quantity(row["qty"]),
        price=decimal(row["price"]),
        fee=None,
        time=exchange_time(symbol, row["create_time"]),
    )


def snapshot_quote(row: Row) -> Quote:
    symbol = to_our_symbol(row["code"])
    return Quote(
        symbol=symbol,
        last=decimal(row["last_price"]),
        bid=optional_decimal(row.get("bid_price")) or None,
        ask=optional_decimal(row.get("ask_price")) or None,
        bid_size=quantity(row.get("bid_vol")),
        ask_size=quantity(row.get("ask_vol")),
        pre_close=optional_decimal(row.get("prev_close_price")),
        time=_quote_time(symbol, row.get("update_time")),
    )


def pushed_quote(row: Row) -> Quote:
    """A basic quote push: Futu sends no bid and ask with it."""
    symbol = to_our_symbol(row["code"])
    stamp = f"{row.get('data_date', '')} {row.get('data_time', '')}".strip()
    return Quote(
        symbol=symbol,
        last=decimal(row["last_price"]),
        bid=None,
        ask=None,
        bid_size=0,
        ask_size=0,
        pre_close=optional_decimal(row.get("prev_close_price")),
        time=_quote_time(symbol, stamp),
    )


def _quote_time(symbol: str, stamp: Any) -> datetime:
    if not present(stamp):
        return datetime.now(UTC)
    try:
        return exchange_time(symbol, stamp)
    except ValueError:
        return datetime.now(UTC)


def rows(frame: Any) -> list[Row]:
    """The rows of an SDK table (a pandas DataFrame)."""
    records: list[Row] = frame.to_dict("records")
    return records


def push_handlers(
    sdk: Any,
    acc_id: int,
    tables: Tables,
    *,
    on_order: Callable[[OrderUpdate], None],
    on_deal: Callable[[Fill], None],
    on_quote: Callable[[Quote], None],
) -> tuple[Any, Any, Any]:
    """The order, deal and quote handlers to `set_handler` on the contexts. The callbacks
    must be safe to call from the SDK's thread (they post to the loop)."""

    def each(kind: str, frame: Any, translate: Callable[[Row], None]) -> None:
        for row in rows(frame):
            try:
                translate(row)
            except Exception:  # a value no table maps: logged, never raised into the SDK
                log.exception("futu: %s push not understood: %s", kind, row)

    def ours(rsp_pb: Any) -> bool:
        try:
            return int(rsp_pb.s2c.header.accID) == acc_id
        except AttributeError:
            return False

    class OrderPushes(sdk.TradeOrderHandlerBase):  # type: ignore[misc]
        def on_recv_rsp(self, rsp_pb: Any) -> tuple[int, Any]:
            ret, frame = super().on_recv_rsp(rsp_pb)
            if ret == sdk.RET_OK and ours(rsp_pb):
                each("order", frame, lambda row: on_order(order_update(row, tables)))
            return ret, frame

    class DealPushes(sdk.TradeDealHandlerBase):  # type: ignore[misc]
        def on_recv_rsp(self, rsp_pb: Any) -> tuple[int, Any]:
            ret, frame = super().on_recv_rsp(rsp_pb)
            if ret == sdk.RET_OK and ours(rsp_pb):
                each(
                    "deal", frame, lambda row: on_deal(deal_fill(row)) if deal_counts(row) else None
                )
            return ret, frame

    class QuotePushes(sdk.StockQuoteHandlerBase):  # type: ignore[misc]
        def on_recv_rsp(self, rsp_pb: Any) -> tuple[int, Any]:
            ret, frame = super().on_recv_rsp(rsp_pb)
            if ret == sdk.RET_OK:
                each("quote", frame, lambda row: on_quote(pushed_quote(row)))
            return ret, frame

    return OrderPushes(), DealPushes(), QuotePushes()
