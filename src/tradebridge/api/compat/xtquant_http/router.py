"""The routes of document 003's Sanic wrapper over xtquant's `XtQuantTrader`, under
`[compat.xtquant_http] prefix` (default `/xtquant/trade`), all `GET` as there, for one
account.

Each route is the engine call of its /api/v1 counterpart, with /api/v1's credentials (an API
key or login token as `X-API-Key`, `Authorization: Bearer` or `?token=`): `read` on the
account for `login` and the queries, `trade` for `place_order` and `cancel_order`.
"""

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy import Engine
from starlette.responses import Response

from tradebridge.api.compat.access import scoped
from tradebridge.api.compat.aliases import aliases, order_id_of
from tradebridge.api.compat.placing import Placer, Refused, forget_shown
from tradebridge.api.compat.xtquant_http.errors import XtquantRoute, minus_one
from tradebridge.api.compat.xtquant_http.objects import (
    XtAsset,
    XtCanceled,
    XtHolding,
    XtLogin,
    XtOrder,
    XtPlaced,
    XtTrade,
    asset_object,
    holding_rows,
    order_object,
    trade_object,
)
from tradebridge.api.compat.xtquant_http.params import order_alias, order_request
from tradebridge.api.deps import EngineDep
from tradebridge.api.encoding import json_response
from tradebridge.api.engine_client import EngineClient
from tradebridge.api.openapi import raises, returns
from tradebridge.api.security import Principal, Scope
from tradebridge.config import Settings
from tradebridge.domain.errors import NotCancelable, NotFound
from tradebridge.domain.models import Trade

STATE = "xtquant_http"
PAGE = 1000
"""Orders and trades listed: the latest this many (the most /api/v1 gives at once)."""
DIALECT = "xt"
"""Of the client order ids the dialect gives orders (`xt-<hex>`)."""
CONNECTED, NOT_CONNECTED = 0, -1
CANCEL_SENT = 0

Short = Annotated[str | None, Query(max_length=40)]
"""A query parameter: read by `params` (which names every problem); none is this long."""

router = APIRouter(route_class=XtquantRoute, tags=["xtquant HTTP wrapper (document 003)"])


class XtquantDialect:
    def __init__(self, settings: Settings) -> None:
        self.account = settings.compat.xtquant_http.account
        self.placer = Placer(
            self.account, DIALECT, settle_s=3 * settings.engine.rpc_timeout_ms / 1000
        )


async def _dialect(request: Request) -> XtquantDialect:
    dialect: XtquantDialect = getattr(request.app.state, STATE)
    return dialect


async def _db(request: Request) -> Engine:
    db: Engine = request.app.state.db
    return db


DialectDep = Annotated[XtquantDialect, Depends(_dialect)]
DbDep = Annotated[Engine, Depends(_db)]
Reader = Annotated[Principal, scoped(STATE, Scope.READ, query_token=True)]
Trader = Annotated[Principal, scoped(STATE, Scope.TRADE, query_token=True)]


@router.get(
    "/login", summary="Log in, connecting nothing (xtquant wrapper)", responses=returns(XtLogin)
)
async def login(
    dialect: DialectDep,
    engine: EngineDep,
    principal: Reader,
    session_id: Short = None,
    qmt_dir: Annotated[str | None, Query(max_length=260)] = None,
    account_id: Short = None,
    account_type: Short = None,
) -> Response:
    """The account is configured, not logged into: `session_id`, `qmt_dir`, `account_id`
    and `account_type` are taken and ignored. `status` is 0 while its broker is connected, -1 when
    not (as `XtQuantTrader.connect` answers)."""
    info = next((a for a in await engine.accounts() if a.id == dialect.account), None)
    connected = info is not None and info.connected
    return json_response(XtLogin(status=CONNECTED if connected else NOT_CONNECTED))


@router.get("/query/assets", summary="Assets (xtquant wrapper)", responses=returns(XtAsset))
async def query_assets(dialect: DialectDep, engine: EngineDep, principal: Reader) -> Response:
    return json_response(asset_object(await engine.summary(dialect.account)))


@router.get(
    "/query/holding",
    summary="Holdings (xtquant wrapper)",
    responses=returns(list[list[XtHolding]]),
)
async def query_holding(dialect: DialectDep, engine: EngineDep, principal: Reader) -> Response:
    return json_response(holding_rows(await engine.positions(dialect.account)))


@router.get("/query/trade", summary="Trades (xtquant wrapper)", responses=returns(list[XtTrade]))
async def query_trade(dialect: DialectDep, engine: EngineDep, principal: Reader) -> Response:
    """The latest 1000 trades, oldest first (the wrapper: today's)."""
    found = await engine.list_trades(
        dialect.account, symbol=None, order_id=None, limit=PAGE, after=None
    )
    sysids = await _broker_order_ids(engine, dialect.account, found)
    return json_response([trade_object(t, sysids.get(t.order_id)) for t in found])


async def _broker_order_ids(
    engine: EngineClient, account: str, trades: list[Trade]
) -> dict[str, str | None]:
    """The broker's ids of the trades' orders: from the latest orders, and order by order
    for older ones."""
    wanted = {t.order_id for t in trades}
    if not wanted:
        return {}
    recent = await engine.list_orders(account, status="all", symbol=None, limit=PAGE, after=None)
    ids = {o.id: o.broker_order_id for o in recent if o.id in wanted}
    older = await asyncio.gather(*(engine.get_order(account, i) for i in wanted - ids.keys()))
    ids.update((o.id, o.broker_order_id) for o in older)
    return ids


@router.get(
    "/query/order",
    summary="Orders, or one by its order_id (xtquant wrapper)",
    responses=returns(list[XtOrder]),
)
@raises("validation_error")  # an order_id that is not a whole number
async def query_order(
    dialect: DialectDep,
    engine: EngineDep,
    db: DbDep,
    principal: Reader,
    order_id: Short = None,
) -> Response:
    """Without `order_id`: the latest 1000 orders, oldest first (the wrapper: today's).
    With one: a list of that order, or `[]` for an id no order has."""
    account = dialect.account
    alias = order_alias(order_id, required=False)
    if alias is None:
        found = await engine.list_orders(account, status="all", symbol=None, limit=PAGE, after=None)
    else:
        our_id = await order_id_of(db, account, alias)
        if our_id is None:
            return json_response([])
        try:
            found = [await engine.get_order(account, our_id)]
        except NotFound:
            return json_response([])
    known = await aliases(db, account, [o.id for o in found])
    await forget_shown(db, account, principal, found)
    return json_response([order_object(o, known[o.id]) for o in found])


@router.get(
    "/place_order",
    summary="Place a limit order (xtquant wrapper)",
    responses=returns(XtPlaced),
)
@raises("validation_error")  # a missing or malformed parameter
async def place_order(
    request: Request,
    dialect: DialectDep,
    engine: EngineDep,
    db: DbDep,
    principal: Trader,
    stock_code: Short = None,
    direction: Short = None,
    volumn: Short = None,
    volume: Short = None,
    price: Short = None,
) -> Response:
    """`{"order_id": N}`, N the order's integer alias. An order the account refuses is
    recorded as rejected (废单 in `query/order`) and answered `{"order_id": -1}`, the reason
    in `X-Reject-Reason`, as xtquant returns -1. The dialect gives each order a client order
    id and settles a lost answer itself, so that a retry does not place it twice (see
    `compat.placing`)."""
    order = order_request(stock_code, direction, volumn, volume, price)

    async def still_connected() -> bool:
        return not await request.is_disconnected()

    placed = await dialect.placer.place(engine, db, order, principal, still_connected)
    if isinstance(placed, Refused):
        return minus_one("place_order", placed.reason)
    return json_response(XtPlaced(order_id=placed.alias))


@router.get(
    "/cancel_order",
    summary="Cancel an order (xtquant wrapper)",
    responses=returns(XtCanceled),
)
@raises("validation_error")  # a missing or malformed order_id
async def cancel_order(
    dialect: DialectDep,
    engine: EngineDep,
    db: DbDep,
    principal: Trader,
    order_id: Short = None,
) -> Response:
    """`{"cancel_order_result": 0}` when the cancel was sent (the order shows 已撤 once the
    broker confirms it); -1, the reason in `X-Reject-Reason`, for an id no order has
    (`not_found`) or an order that cannot be canceled (`not_cancelable`)."""
    alias = order_alias(order_id, required=True)
    assert alias is not None
    our_id = await order_id_of(db, dialect.account, alias)
    if our_id is None:
        return minus_one("cancel_order", NotFound.code)
    try:
        await engine.cancel(dialect.account, our_id)
    except (NotFound, NotCancelable) as refused:
        return minus_one("cancel_order", refused.code)
    return json_response(XtCanceled(cancel_order_result=CANCEL_SENT))
