"""Our objects as document 003's wrapper shows xtquant's: `XtAsset`, `XtPosition`, `XtTrade`
and `XtOrder` under its Chinese keys, order types and statuses as xtquant's numbers and
names, times as epoch seconds, numbers as floats. Money is in the account's base currency.
Each is a struct (its fields named as xtquant's, sent under the wrapper's keys), so the
OpenAPI document shows what is sent (`openapi.returns`).
"""

import msgspec

from tradebridge.domain.enums import OrderStatus, Side
from tradebridge.domain.models import AccountSummary, Position, Trade
from tradebridge.domain.orders import Order
from tradebridge.domain.symbols import Market, market_of

STOCK_BUY = 23
STOCK_SELL = 24
ORDER_TYPE: dict[Side, int] = {Side.BUY: STOCK_BUY, Side.SELL: STOCK_SELL}
"""xtconstant's `STOCK_BUY` and `STOCK_SELL`: the `委托类型` of orders and trades."""

_STATUS_NAMES: dict[OrderStatus, tuple[str, str]] = {
    OrderStatus.PENDING_NEW: ("待报", "待报"),
    OrderStatus.NEW: ("已报", "已报"),
    OrderStatus.PARTIALLY_FILLED: ("部成", "部成"),
    OrderStatus.FILLED: ("已成", "已成"),
    OrderStatus.PENDING_CANCEL: ("已报待撤", "部成待撤"),
    OrderStatus.CANCELED: ("已撤", "部撤"),
    OrderStatus.EXPIRED: ("已撤", "部撤"),
    OrderStatus.REJECTED: ("废单", "废单"),
}
"""Our status → the name document 003 gives xtquant's (xtconstant `ORDER_*`), as (nothing
filled, part filled): journaled and being sent is 待报, working 已报, a cancel under way
已报待撤 or 部成待撤, ended (canceled, or expired at the close) 已撤 or 部撤, refused 废单.
Nothing of ours is 未报 or 未知."""


def order_status_name(order: Order) -> str:
    unfilled, part_filled = _STATUS_NAMES[order.status]
    return part_filled if order.filled_qty else unfilled


class XtAsset(msgspec.Struct, frozen=True):
    total_asset: float = msgspec.field(name="总资产")
    cash: float = msgspec.field(name="现金")
    """xtquant's `cash`: what may be spent now (its 可用金额)."""
    market_value: float = msgspec.field(name="持仓市值")
    frozen_cash: float = msgspec.field(name="冻结金额")


class XtHolding(msgspec.Struct, frozen=True):
    stock_code: str = msgspec.field(name="股票代码")
    volume: int = msgspec.field(name="持仓")
    can_use_volume: int = msgspec.field(name="可用持仓")
    open_price: float = msgspec.field(name="成本")
    market_value: float = msgspec.field(name="持仓市值")


class XtTrade(msgspec.Struct, frozen=True):
    stock_code: str = msgspec.field(name="股票代码")
    order_type: int = msgspec.field(name="委托类型")
    traded_volume: int = msgspec.field(name="成交数量")
    traded_price: float = msgspec.field(name="成交均价")
    traded_amount: float = msgspec.field(name="成交金额")
    traded_time: int = msgspec.field(name="成交时间")
    traded_id: str = msgspec.field(name="成交编号")
    order_sysid: str = msgspec.field(name="柜台合同编号")
    """The broker's id of the trade's order."""


class XtOrder(msgspec.Struct, frozen=True):
    stock_code: str = msgspec.field(name="股票代码")
    order_volume: int = msgspec.field(name="委托数量")
    traded_volume: int = msgspec.field(name="成交数量")
    price: float = msgspec.field(name="委托价格")
    order_type: int = msgspec.field(name="委托类型")
    order_status: str = msgspec.field(name="委托状态")
    order_id: int = msgspec.field(name="订单编号")
    """The order's integer alias (what `place_order` answered)."""
    order_sysid: str = msgspec.field(name="柜台合同编号")
    order_time: int = msgspec.field(name="报单时间")


class XtLogin(msgspec.Struct, frozen=True):
    status: int


class XtPlaced(msgspec.Struct, frozen=True):
    order_id: int


class XtCanceled(msgspec.Struct, frozen=True):
    cancel_order_result: int


def asset_object(summary: AccountSummary) -> XtAsset:
    return XtAsset(
        total_asset=float(summary.equity),
        cash=float(summary.available),
        market_value=float(summary.market_value),
        frozen_cash=float(summary.frozen),
    )


def holding_rows(positions: list[Position]) -> list[list[XtHolding]]:
    """Each position in a list of its own, as the wrapper answers; futures are left out
    (their long and short sides have no place here), as are closed positions."""
    return [
        [
            XtHolding(
                stock_code=p.symbol,
                volume=p.qty,
                can_use_volume=p.available_qty,
                open_price=float(p.avg_cost),
                market_value=float(p.market_value),
            )
        ]
        for p in positions
        if p.qty and market_of(p.symbol) is not Market.CN_FUTURES
    ]


def trade_object(trade: Trade, broker_order_id: str | None) -> XtTrade:
    return XtTrade(
        stock_code=trade.symbol,
        order_type=ORDER_TYPE[trade.side],
        traded_volume=trade.qty,
        traded_price=float(trade.price),
        traded_amount=float(trade.price * trade.qty),
        traded_time=int(trade.time.timestamp()),
        traded_id=trade.id,
        order_sysid=broker_order_id or "",
    )


def order_object(order: Order, alias: int) -> XtOrder:
    return XtOrder(
        stock_code=order.symbol,
        order_volume=order.qty,
        traded_volume=order.filled_qty,
        price=float(order.limit_price or 0),
        order_type=ORDER_TYPE[order.side],
        order_status=order_status_name(order),
        order_id=alias,
        order_sysid=order.broker_order_id or "",
        order_time=int(order.created_at.timestamp()),
    )
