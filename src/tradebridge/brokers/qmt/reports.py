"""What MiniQMT reports, as tradebridge reports.

xtquant calls `TraderCallbacks` on its one callback thread. Those methods only copy the fields
of the SDK object into a plain record and post it to the engine loop (`LoopSink.post`); they
never touch adapter or engine state. On the loop, the adapter translates the records with the
functions below (which need its remark index) and hands the result to the sink.
"""

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from tradebridge.brokers.base import BrokerOrder, Fill, OrderDetails, OrderUpdate
from tradebridge.brokers.qmt.mapping import Tables, placed_by_us, to_symbol
from tradebridge.domain.enums import OrderStatus, OrderType
from tradebridge.domain.models import AccountSummary, Balance, Position

Record = dict[str, Any]
"""The documented attributes of one SDK object (`XtOrder`, `XtTrade`, ...), copied."""

ORDER_FIELDS = (
    "account_id",
    "stock_code",
    "order_id",
    "order_sysid",
    "order_time",
    "order_type",
    "order_volume",
    "price_type",
    "price",
    "traded_volume",
    "traded_price",
    "order_status",
    "status_msg",
    "strategy_name",
    "order_remark",
)
TRADE_FIELDS = (
    "account_id",
    "stock_code",
    "order_type",
    "traded_id",
    "traded_time",
    "traded_price",
    "traded_volume",
    "traded_amount",
    "order_id",
    "order_sysid",
    "order_remark",
    "commission",
)
POSITION_FIELDS = (
    "stock_code",
    "volume",
    "can_use_volume",
    "avg_price",
    "open_price",
    "market_value",
    "last_price",
    "float_profit",
)
ASSET_FIELDS = ("cash", "frozen_cash", "market_value", "total_asset")
ORDER_ERROR_FIELDS = ("order_id", "error_id", "error_msg", "order_remark", "seq")
CANCEL_ERROR_FIELDS = ("order_id", "order_sysid", "error_id", "error_msg")
ORDER_RESPONSE_FIELDS = ("order_id", "order_remark", "error_msg", "seq")
CANCEL_RESPONSE_FIELDS = ("order_id", "order_sysid", "cancel_result", "error_msg", "seq")
ACCOUNT_STATUS_FIELDS = ("account_id", "status")

SHANGHAI = ZoneInfo("Asia/Shanghai")


def record(sdk_object: Any, fields: tuple[str, ...]) -> Record:
    return {name: getattr(sdk_object, name, None) for name in fields}


class TraderCallbacks:
    """The methods xtquant calls (mixed into its `XtQuantTraderCallback` by `callbacks_class`):
    each posts `(kind, record)` through `post`."""

    def __init__(self, post: Callable[[str, Record], None]) -> None:
        self._post = post

    def on_disconnected(self) -> None:
        self._post("disconnected", {})

    def on_account_status(self, status: Any) -> None:
        self._post("account_status", record(status, ACCOUNT_STATUS_FIELDS))

    def on_stock_asset(self, asset: Any) -> None:
        self._post("asset", record(asset, ASSET_FIELDS))

    def on_stock_order(self, order: Any) -> None:
        self._post("order", record(order, ORDER_FIELDS))

    def on_stock_trade(self, trade: Any) -> None:
        self._post("trade", record(trade, TRADE_FIELDS))

    def on_stock_position(self, position: Any) -> None:
        self._post("position", record(position, POSITION_FIELDS))

    def on_order_error(self, order_error: Any) -> None:
        self._post("order_error", record(order_error, ORDER_ERROR_FIELDS))

    def on_cancel_error(self, cancel_error: Any) -> None:
        self._post("cancel_error", record(cancel_error, CANCEL_ERROR_FIELDS))

    def on_order_stock_async_response(self, response: Any) -> None:
        self._post("order_response", record(response, ORDER_RESPONSE_FIELDS))

    def on_cancel_order_stock_async_response(self, response: Any) -> None:
        self._post("cancel_response", record(response, CANCEL_RESPONSE_FIELDS))


def callbacks_class(sdk_base: type) -> type[TraderCallbacks]:
    """`TraderCallbacks` over the SDK's callback class (whose other methods do nothing)."""
    return type("QmtTraderCallbacks", (TraderCallbacks, sdk_base), {})


def records(rows: Any, fields: tuple[str, ...]) -> list[Record]:
    return [record(row, fields) for row in rows]


# ----------------------------------------------------------------- translations (on the loop)


def _decimal(value: Any) -> Decimal:
    """An SDK float as the decimal it prints as (not its binary expansion)."""
    return Decimal(str(value)) if value is not None else Decimal(0)


def time_of(value: Any) -> datetime:
    """An xtquant time: epoch seconds (or milliseconds); anything else (0, an `HHMMSS`): now."""
    number = int(value or 0)
    if number >= 10**12:
        return datetime.fromtimestamp(number / 1000, UTC)
    if number >= 10**9:
        return datetime.fromtimestamp(number, UTC)
    return datetime.now(UTC)


def broker_id(value: Any) -> str | None:
    """MiniQMT's order id as our `broker_order_id` (None for -1: no order)."""
    number = int(value) if value is not None else -1
    return str(number) if number > 0 else None


def order_details(rec: Record, tables: Tables) -> OrderDetails:
    """An order tradebridge did not place: placed in the QMT terminal, or by another program."""
    order_type = tables.price_type.to_ours(rec["price_type"])
    return OrderDetails(
        symbol=to_symbol(rec["stock_code"]),
        side=tables.side.to_ours(rec["order_type"]),
        qty=int(rec["order_volume"]),
        type=order_type,
        limit_price=_decimal(rec["price"]) if order_type is OrderType.LIMIT else None,
        created_at=time_of(rec["order_time"]),
    )


def _reason(status: OrderStatus, rec: Record) -> str | None:
    message = rec.get("status_msg") or None
    return message if status in (OrderStatus.REJECTED, OrderStatus.CANCELED) else None


def order_update(rec: Record, tables: Tables, order_id: str | None) -> OrderUpdate:
    """An `XtOrder` push. `order_id`: ours, found by the remark or MiniQMT's id (None if not
    ours or not known); an order placed elsewhere carries its `details`."""
    status = tables.status.to_ours(rec["order_status"])
    return OrderUpdate(
        status=status,
        order_id=order_id,
        broker_order_id=broker_id(rec["order_id"]),
        reason=_reason(status, rec),
        filled_qty=int(rec["traded_volume"] or 0),
        details=(
            None
            if placed_by_us(rec["order_remark"], rec["strategy_name"])
            else order_details(rec, tables)
        ),
    )


def broker_order(rec: Record, tables: Tables, order_id: str | None) -> BrokerOrder:
    """An `XtOrder` of `query_stock_orders`, for reconciliation."""
    update = order_update(rec, tables, order_id)
    return BrokerOrder(
        order_id=order_id,
        broker_order_id=update.broker_order_id,
        status=update.status,
        filled_qty=update.filled_qty or 0,
        reason=update.reason,
        details=update.details,
    )


def trade_id(rec: Record, tables: Tables) -> str:
    """A fill's id, unique in the account for good: an exchange's trade number (`traded_id`)
    is unique within one exchange and day only, so the day (Shanghai), the code and the side
    go with it."""
    day = time_of(rec["traded_time"]).astimezone(SHANGHAI).strftime("%Y%m%d")
    side = tables.side.to_ours(rec["order_type"]).value
    return f"{day}-{rec['stock_code']}-{side}-{rec['traded_id']}"


def fill(rec: Record, tables: Tables, order_id: str | None) -> Fill:
    commission = rec.get("commission")
    return Fill(
        trade_id=trade_id(rec, tables),
        order_id=order_id,
        broker_order_id=broker_id(rec["order_id"]),
        qty=int(rec["traded_volume"]),
        price=_decimal(rec["traded_price"]),
        fee=_decimal(commission) if commission is not None else None,
        time=time_of(rec["traded_time"]),
    )


def position(rec: Record) -> Position:
    qty = int(rec["volume"] or 0)
    cost = _decimal(rec.get("avg_price") or rec.get("open_price"))
    last = _decimal(rec.get("last_price"))
    profit = rec.get("float_profit")
    return Position(
        symbol=to_symbol(rec["stock_code"]),
        qty=qty,
        available_qty=int(rec["can_use_volume"] or 0),
        avg_cost=cost,
        last_price=last,
        market_value=_decimal(rec.get("market_value")),
        unrealized_pnl=_decimal(profit) if profit is not None else (last - cost) * qty,
        currency="CNY",
    )


def summary(account: str, rec: Record) -> AccountSummary:
    """`XtAsset`: `cash` is what is available, `frozen_cash` what open buys hold; QMT reports
    no P&L on the asset (positions carry theirs)."""
    available, frozen = _decimal(rec["cash"]), _decimal(rec["frozen_cash"])
    cash = available + frozen
    return AccountSummary(
        account=account,
        currency="CNY",
        cash=cash,
        available=available,
        frozen=frozen,
        market_value=_decimal(rec["market_value"]),
        equity=_decimal(rec["total_asset"]),
        realized_pnl=Decimal(0),
        unrealized_pnl=Decimal(0),
        balances=[Balance(currency="CNY", cash=cash, available=available, frozen=frozen)],
    )
