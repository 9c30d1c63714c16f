"""The routes of document 001's FastAPI QMT backend (`/trading/status`, `account-info`,
`place-order` and its alias `order`, `orders`, `positions`, `cancel-order`), under
`[compat.qmt_service] prefix`, for one account.

Each route is the engine call of its /api/v1 counterpart, with the same credentials: `read`
on the account for the queries, `trade` to place and cancel. `place-order` and
`cancel-order` always answer `{"success", "order_id", "message"}`: a refusal or a failure
of the engine is a 4xx/5xx with `success: false` (never 200 with an order id of -1), beside
FastAPI's `detail` and our `error`; failures of the request itself (credentials, a
malformed body) are FastAPI's `{"detail"}` and our `error` alone, as in the original.
"""

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request
from sqlalchemy import Engine
from starlette.responses import Response

from tradebridge.api.compat.access import scoped
from tradebridge.api.compat.aliases import aliases, order_id_of
from tradebridge.api.compat.placing import Placer, Refused, forget_shown
from tradebridge.api.compat.qmt_service.bodies import CancelOrderBody, PlaceOrderBody
from tradebridge.api.compat.qmt_service.errors import QmtServiceRoute
from tradebridge.api.compat.qmt_service.objects import (
    QmtAccountInfo,
    QmtOrder,
    QmtOrderAnswer,
    QmtPosition,
    QmtStatus,
    account_info_object,
    order_object,
    position_object,
    shown_positions,
    status_object,
)
from tradebridge.api.deps import EngineDep
from tradebridge.api.encoding import json_response
from tradebridge.api.errors import STATUS_BY_CODE
from tradebridge.api.openapi import raises, returns
from tradebridge.api.security import Principal, Scope
from tradebridge.config import Settings
from tradebridge.domain.enums import OrderStatus
from tradebridge.domain.errors import NotFound, TradebridgeError

STATE = "qmt_service"
PAGE = 1000
"""Orders listed: the latest this many (the most /api/v1 gives at once)."""
DIALECT = "qmt"
"""Of the client order ids the dialect gives orders (`qmt-<hex>`)."""

ORDER_EXAMPLES: dict[str, Any] = {
    "limit": {
        "summary": "Buy 100 Kweichow Moutai, limit 1500",
        "value": {
            "stock_code": "600519.SH",
            "action": "BUY",
            "quantity": 100,
            "price": 1500.0,
            "order_type": "LIMIT",
        },
    },
    "market": {
        "summary": "Sell 10 bonds of 113025.SH at the market",
        "value": {
            "stock_code": "113025.SH",
            "action": "SELL",
            "quantity": 10,
            "order_type": "MARKET",
        },
    },
}
CANCEL_EXAMPLES: dict[str, Any] = {
    "cancel": {"summary": "Cancel order 999999", "value": {"order_id": 999999}}
}

router = APIRouter(route_class=QmtServiceRoute, tags=["MiniQMT service (document 001)"])


class QmtServiceDialect:
    def __init__(self, settings: Settings) -> None:
        self.account = settings.compat.qmt_service.account
        self.placer = Placer(
            self.account, DIALECT, settle_s=3 * settings.engine.rpc_timeout_ms / 1000
        )


async def _dialect(request: Request) -> QmtServiceDialect:
    dialect: QmtServiceDialect = getattr(request.app.state, STATE)
    return dialect


async def _db(request: Request) -> Engine:
    db: Engine = request.app.state.db
    return db


DialectDep = Annotated[QmtServiceDialect, Depends(_dialect)]
DbDep = Annotated[Engine, Depends(_db)]
Reader = Annotated[Principal, scoped(STATE, Scope.READ)]
Trader = Annotated[Principal, scoped(STATE, Scope.TRADE)]


def _order_answer(order_id: int, message: str) -> Response:
    return json_response(QmtOrderAnswer(success=True, order_id=order_id, message=message))


def _order_failure(
    code: str,
    message: str,
    details: dict[str, Any],
    order_id: int | None,
    headers: dict[str, str] | None = None,
) -> Response:
    body = {
        "success": False,
        "order_id": order_id,
        "message": message,
        "detail": message,
        "error": {"code": code, "message": message, "details": details},
    }
    return json_response(body, STATUS_BY_CODE.get(code, 500), headers)


def _failed(error: TradebridgeError, order_id: int | None) -> Response:
    return _order_failure(error.code, error.message, error.details, order_id)


def _refused(refused: Refused) -> Response:
    """422 `order_rejected`: the order is recorded as rejected (`orders` shows it with its
    alias and the reason in `message`)."""
    details = {"reason": refused.reason, "order_id": refused.order_id}
    headers = {"X-Reject-Reason": refused.reason}
    return _order_failure(
        "order_rejected", refused.message, details, refused.alias, headers=headers
    )


@router.get("/status", summary="Connection (MiniQMT service)", responses=returns(QmtStatus))
async def status(dialect: DialectDep, engine: EngineDep, principal: Reader) -> Response:
    """The engine has every configured account, the dialect's included (the settings check
    it is configured)."""
    (info,) = [a for a in await engine.accounts() if a.id == dialect.account]
    return json_response(status_object(info))


@router.get(
    "/account-info",
    summary="Account balance (MiniQMT service)",
    responses=returns(QmtAccountInfo),
)
async def account_info(dialect: DialectDep, engine: EngineDep, principal: Reader) -> Response:
    summary, positions = await asyncio.gather(
        engine.summary(dialect.account), engine.positions(dialect.account)
    )
    return json_response(account_info_object(summary, positions))


@router.post(
    "/place-order",
    summary="Place an order (MiniQMT service)",
    responses=returns(QmtOrderAnswer),
)
@router.post(
    "/order",
    summary="Place an order, alias of place-order (MiniQMT service)",
    responses=returns(QmtOrderAnswer),
)
@raises("order_rejected", "duplicate_client_order_id")
async def place_order(
    body: Annotated[PlaceOrderBody, Body(openapi_examples=ORDER_EXAMPLES)],
    request: Request,
    dialect: DialectDep,
    engine: EngineDep,
    db: DbDep,
    principal: Trader,
) -> Response:
    """`order_id` is the order's integer alias. Without a `client_order_id` the dialect
    gives the order one, and settles a lost answer itself (see `compat.placing`)."""

    async def still_connected() -> bool:
        return not await request.is_disconnected()

    try:
        placed = await dialect.placer.place(
            engine, db, body.to_request(), principal, still_connected
        )
    except TradebridgeError as failed:
        return _failed(failed, None)
    if isinstance(placed, Refused):
        return _refused(placed)
    return _order_answer(placed.alias, f"order {placed.alias} {placed.order.status.value}")


@router.post(
    "/cancel-order",
    summary="Cancel an order (MiniQMT service)",
    responses=returns(QmtOrderAnswer),
)
@raises("not_found", "not_cancelable")
async def cancel_order(
    body: Annotated[CancelOrderBody, Body(openapi_examples=CANCEL_EXAMPLES)],
    dialect: DialectDep,
    engine: EngineDep,
    db: DbDep,
    principal: Trader,
) -> Response:
    """`message` is `canceled`, or `cancel requested` while the broker has not confirmed."""
    alias = body.order_id
    order_id = await order_id_of(db, dialect.account, alias)
    if order_id is None:
        missing = NotFound(f"no order {alias} in account {dialect.account}", {"order_id": alias})
        return _failed(missing, alias)
    try:
        order = await engine.cancel(dialect.account, order_id)
    except TradebridgeError as failed:
        return _failed(failed, alias)
    canceled = order.status is OrderStatus.CANCELED
    return _order_answer(alias, "canceled" if canceled else "cancel requested")


@router.get("/orders", summary="Orders (MiniQMT service)", responses=returns(list[QmtOrder]))
async def orders(dialect: DialectDep, engine: EngineDep, db: DbDep, principal: Reader) -> Response:
    """The latest 1000 orders, oldest first, whoever placed them."""
    found = await engine.list_orders(
        dialect.account, status="all", symbol=None, limit=PAGE, after=None
    )
    known = await aliases(db, dialect.account, [o.id for o in found])
    await forget_shown(db, dialect.account, principal, found)
    return json_response([order_object(o, known[o.id]) for o in found])


@router.get(
    "/positions", summary="Positions (MiniQMT service)", responses=returns(list[QmtPosition])
)
async def positions(dialect: DialectDep, engine: EngineDep, principal: Reader) -> Response:
    found = await engine.positions(dialect.account)
    return json_response([position_object(p) for p in shown_positions(found)])
