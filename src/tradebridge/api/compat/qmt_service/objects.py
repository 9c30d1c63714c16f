"""Our objects in the shapes of document 001's FastAPI QMT backend: its `status` and
`AccountInfoResponse` (API.md §5), and order and position objects named in its own words
(`stock_code`, `quantity`, `price`, `order_type`; the document shows no more of them).
Numbers are floats, as its models declare them; money is in the account's base currency.
"""

from decimal import Decimal
from typing import Any

from tradebridge.api.compat.qmt_service.bodies import ACTION_SIDE, ORDER_TYPES
from tradebridge.domain.models import AccountSummary, Position
from tradebridge.domain.orders import Order
from tradebridge.domain.symbols import Market, market_of
from tradebridge.engine.protocol import AccountInfo

SIDE_ACTION = {side: action for action, side in ACTION_SIDE.items()}
TYPE_NAMES = {ours: theirs for theirs, ours in ORDER_TYPES.items()}


def _number(value: Decimal | None) -> float:
    return float(value) if value is not None else 0.0


def status_object(info: AccountInfo) -> dict[str, Any]:
    """`account_type`: QMT's STOCK, or CREDIT for an account that may sell short (a margin
    account)."""
    return {
        "connected": info.connected,
        "account_id": info.id,
        "account_type": "CREDIT" if info.capabilities.short_selling else "STOCK",
    }


def shown_positions(positions: list[Position]) -> list[Position]:
    """The positions the dialect shows: all but futures (QMT's stock accounts hold none;
    their long and short sides have no place here)."""
    return [p for p in positions if market_of(p.symbol) is not Market.CN_FUTURES and p.qty]


def account_info_object(summary: AccountSummary, positions: list[Position]) -> dict[str, Any]:
    return {
        "account_id": summary.account,
        "available_cash": _number(summary.available),
        "total_value": _number(summary.equity),
        "market_value": _number(summary.market_value),
        "positions_count": len(shown_positions(positions)),
        "total_profit_loss": _number(summary.realized_pnl + summary.unrealized_pnl),
    }


def order_object(order: Order, alias: int) -> dict[str, Any]:
    return {
        "order_id": alias,
        "stock_code": order.symbol,
        "action": SIDE_ACTION[order.side].value,
        "order_type": TYPE_NAMES[order.type].value,
        "quantity": order.qty,
        "price": _number(order.limit_price),
        "filled_quantity": order.filled_qty,
        "avg_price": _number(order.avg_fill_price),
        "status": order.status.value,
        "message": order.reject_reason or "",
        "client_order_id": order.client_order_id,
        "created_at": order.created_at,
        "updated_at": order.updated_at,
    }


def position_object(position: Position) -> dict[str, Any]:
    return {
        "stock_code": position.symbol,
        "quantity": position.qty,
        "available_quantity": position.available_qty,
        "cost_price": _number(position.avg_cost),
        "current_price": _number(position.last_price),
        "market_value": _number(position.market_value),
        "profit_loss": _number(position.unrealized_pnl),
    }
