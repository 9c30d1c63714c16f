"""Our objects in the shapes of document 001's FastAPI QMT backend: its `status`, its
`AccountInfoResponse` and `OrderResponse` (API.md §5), and order and position objects named in
its own words (`stock_code`, `quantity`, `price`, `order_type`; the document shows no more of
them). Numbers are floats, as its models declare them; money is in the account's base
currency. Each is a struct, so the OpenAPI document shows what is sent (`openapi.returns`).
"""

from datetime import datetime
from decimal import Decimal

import msgspec

from tradebridge.api.compat.qmt_service.bodies import ACTION_SIDE, ORDER_TYPES
from tradebridge.domain.models import AccountSummary, Position
from tradebridge.domain.orders import Order
from tradebridge.domain.symbols import Market, market_of
from tradebridge.engine.protocol import AccountInfo

SIDE_ACTION = {side: action for action, side in ACTION_SIDE.items()}
TYPE_NAMES = {ours: theirs for theirs, ours in ORDER_TYPES.items()}


class QmtStatus(msgspec.Struct, frozen=True):
    connected: bool
    account_id: str
    account_type: str
    """QMT's `STOCK`, or `CREDIT` for an account that may sell short (a margin account)."""


class QmtAccountInfo(msgspec.Struct, frozen=True):
    account_id: str
    available_cash: float
    total_value: float
    market_value: float
    positions_count: int
    total_profit_loss: float


class QmtOrderAnswer(msgspec.Struct, frozen=True):
    """What `place-order` and `cancel-order` answer when they succeed."""

    success: bool
    order_id: int
    message: str


class QmtOrder(msgspec.Struct, frozen=True):
    order_id: int
    stock_code: str
    action: str
    order_type: str
    quantity: int
    price: float
    filled_quantity: int
    avg_price: float
    status: str
    message: str
    client_order_id: str | None
    created_at: datetime
    updated_at: datetime


class QmtPosition(msgspec.Struct, frozen=True):
    stock_code: str
    quantity: int
    available_quantity: int
    cost_price: float
    current_price: float
    market_value: float
    profit_loss: float


def _number(value: Decimal | None) -> float:
    return float(value) if value is not None else 0.0


def status_object(info: AccountInfo) -> QmtStatus:
    account_type = "CREDIT" if info.capabilities.short_selling else "STOCK"
    return QmtStatus(connected=info.connected, account_id=info.id, account_type=account_type)


def shown_positions(positions: list[Position]) -> list[Position]:
    """The positions the dialect shows: all but futures (QMT's stock accounts hold none;
    their long and short sides have no place here)."""
    return [p for p in positions if market_of(p.symbol) is not Market.CN_FUTURES and p.qty]


def account_info_object(summary: AccountSummary, positions: list[Position]) -> QmtAccountInfo:
    return QmtAccountInfo(
        account_id=summary.account,
        available_cash=_number(summary.available),
        total_value=_number(summary.equity),
        market_value=_number(summary.market_value),
        positions_count=len(shown_positions(positions)),
        total_profit_loss=_number(summary.realized_pnl + summary.unrealized_pnl),
    )


def order_object(order: Order, alias: int) -> QmtOrder:
    return QmtOrder(
        order_id=alias,
        stock_code=order.symbol,
        action=SIDE_ACTION[order.side].value,
        order_type=TYPE_NAMES[order.type].value,
        quantity=order.qty,
        price=_number(order.limit_price),
        filled_quantity=order.filled_qty,
        avg_price=_number(order.avg_fill_price),
        status=order.status.value,
        message=order.reject_reason or "",
        client_order_id=order.client_order_id,
        created_at=order.created_at,
        updated_at=order.updated_at,
    )


def position_object(position: Position) -> QmtPosition:
    return QmtPosition(
        stock_code=position.symbol,
        quantity=position.qty,
        available_quantity=position.available_qty,
        cost_price=_number(position.avg_cost),
        current_price=_number(position.last_price),
        market_value=_number(position.market_value),
        profit_loss=_number(position.unrealized_pnl),
    )
