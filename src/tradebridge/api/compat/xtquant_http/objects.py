"""Our objects as document 003's wrapper shows xtquant's: `XtAsset`, `XtPosition`, `XtTrade`
and `XtOrder` under its Chinese keys, order types and statuses as xtquant's numbers and
names, times as epoch seconds, numbers as floats. Money is in the account's base currency.
"""

from typing import Any

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


def asset_object(summary: AccountSummary) -> dict[str, float]:
    """`现金` is xtquant's `cash`: what may be spent now (its 可用金额)."""
    return {
        "总资产": float(summary.equity),
        "现金": float(summary.available),
        "持仓市值": float(summary.market_value),
        "冻结金额": float(summary.frozen),
    }


def holding_rows(positions: list[Position]) -> list[list[dict[str, Any]]]:
    """Each position in a list of its own, as the wrapper answers; futures are left out
    (their long and short sides have no place here), as are closed positions."""
    return [
        [
            {
                "股票代码": p.symbol,
                "持仓": p.qty,
                "可用持仓": p.available_qty,
                "成本": float(p.avg_cost),
                "持仓市值": float(p.market_value),
            }
        ]
        for p in positions
        if p.qty and market_of(p.symbol) is not Market.CN_FUTURES
    ]


def trade_object(trade: Trade, broker_order_id: str | None) -> dict[str, Any]:
    """`柜台合同编号` is the broker's id of the trade's order (xtquant's `order_sysid`)."""
    return {
        "股票代码": trade.symbol,
        "委托类型": ORDER_TYPE[trade.side],
        "成交数量": trade.qty,
        "成交均价": float(trade.price),
        "成交金额": float(trade.price * trade.qty),
        "成交时间": int(trade.time.timestamp()),
        "成交编号": trade.id,
        "柜台合同编号": broker_order_id or "",
    }


def order_object(order: Order, alias: int) -> dict[str, Any]:
    """`订单编号` is the order's integer alias (what `place_order` answered)."""
    return {
        "股票代码": order.symbol,
        "委托数量": order.qty,
        "成交数量": order.filled_qty,
        "委托价格": float(order.limit_price or 0),
        "委托类型": ORDER_TYPE[order.side],
        "委托状态": order_status_name(order),
        "订单编号": alias,
        "柜台合同编号": order.broker_order_id or "",
        "报单时间": int(order.created_at.timestamp()),
    }
