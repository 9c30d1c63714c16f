"""The REST routes of the vnpy WebTrader dialect, at the root as vnpy_webtrader serves them.

Each route is the same engine call as its /api/v1 counterpart, for the account of
`[compat.vnpy] account`, with the same roles: `read` for queries and tick subscriptions,
`trade` for placing and cancelling. Results are wrapped as `{"data": ...}` when
`envelope = true`; `/token` answers bare, as OAuth2 wants.
"""

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from starlette.responses import Response

from tradebridge.api.caller import principal_of
from tradebridge.api.compat.placing import place_without_client_id
from tradebridge.api.compat.vnpy.dialect import VnpyDialect
from tradebridge.api.compat.vnpy.errors import VnpyRoute
from tradebridge.api.compat.vnpy.mapping import is_futures, read_vt_symbol
from tradebridge.api.compat.vnpy.requests import VnpyOrderBody
from tradebridge.api.deps import AuthenticatorDep, Credentials, EngineDep
from tradebridge.api.encoding import json_response
from tradebridge.api.engine_client import EngineClient
from tradebridge.api.openapi import raises
from tradebridge.api.routers.v1.health import health as v1_health
from tradebridge.api.security import Principal, Scope
from tradebridge.domain.enums import Offset
from tradebridge.domain.errors import NotFound, OrderRejected, ValidationFailed
from tradebridge.domain.models import Quote, Trade

router = APIRouter(route_class=VnpyRoute, tags=["vnpy WebTrader"])

PAGE = 1000
"""Orders and trades listed: the latest this many (the most /api/v1 gives at once)."""


async def _dialect(request: Request) -> VnpyDialect:
    dialect: VnpyDialect = request.app.state.vnpy
    return dialect


DialectDep = Annotated[VnpyDialect, Depends(_dialect)]


def _caller(scope: Scope) -> Any:
    """The caller, if they have `scope` on the dialect's account."""

    @raises("unauthorized", "forbidden")
    async def dependency(
        request: Request, dialect: DialectDep, _: Annotated[None, Credentials]
    ) -> Principal:
        principal = principal_of(request)
        principal.require(scope, dialect.account)
        return principal

    return Depends(dependency)


Reader = Annotated[Principal, _caller(Scope.READ)]
Trader = Annotated[Principal, _caller(Scope.TRADE)]


def _answer(dialect: VnpyDialect, value: Any) -> Response:
    return json_response({"data": value} if dialect.envelope else value)


@router.post("/token", summary="Log in (vnpy WebTrader)")
@raises("unauthorized", "rate_limited")
async def token(
    request: Request,
    authenticator: AuthenticatorDep,
    username: Annotated[str, Form(min_length=1, max_length=64)],
    password: Annotated[str, Form(min_length=1, max_length=1024)],
) -> Response:
    """An OAuth2 password form, checked against tradebridge's users with the same login
    throttle as `/api/v1/auth/token`; the token works on /api/v1 too."""
    client = request.client.host if request.client else "unknown"
    access_token = await authenticator.log_in(username, password, client)
    return json_response({"access_token": access_token, "token_type": "bearer"})


@router.post("/tick/{vt_symbol}", summary="Subscribe to ticks (vnpy WebTrader)")
@raises("not_found")
async def subscribe(
    vt_symbol: str, dialect: DialectDep, engine: EngineDep, principal: Reader
) -> Response:
    try:
        symbol = read_vt_symbol(vt_symbol)
    except ValidationFailed as exc:
        raise NotFound(
            f"no contract {vt_symbol}: {exc.message}", {"vt_symbol": vt_symbol}
        ) from None
    if symbol not in await dialect.contracts.load(engine):
        raise NotFound(f"no contract {vt_symbol}", {"vt_symbol": vt_symbol})
    (quote,) = await engine.quotes(dialect.account, [symbol])
    dialect.subscriptions.add(symbol)
    dialect.feed.subscribed(quote)
    return _answer(dialect, None)


@router.get("/tick", summary="Ticks of the subscribed symbols (vnpy WebTrader)")
async def ticks(dialect: DialectDep, engine: EngineDep, principal: Reader) -> Response:
    symbols = sorted(dialect.subscriptions.current())
    if not symbols:
        return _answer(dialect, [])
    await dialect.contracts.load(engine)
    quotes = await _quotes(engine, dialect.account, symbols)
    view, names = dialect.view, dialect.contracts
    return _answer(dialect, [view.tick(q, names.name(q.symbol)) for q in quotes])


async def _quotes(engine: EngineClient, account: str, symbols: list[str]) -> list[Quote]:
    """Quotes of `symbols`, leaving out any the account has none of (a symbol subscribed
    while another account was configured)."""
    try:
        return await engine.quotes(account, symbols)
    except NotFound as exc:
        missing = set(exc.details.get("symbols", ()))
        rest = [s for s in symbols if s not in missing]
        if not missing or len(rest) == len(symbols):
            raise
        return await engine.quotes(account, rest) if rest else []


@router.get("/health", summary="Health, at the root as the vnpy WebTrader guide polls it")
async def health(request: Request) -> Response:
    """The same answer as `GET /api/v1/health` (200, `status` ok or degraded)."""
    return await v1_health(request)


@router.get("/contract", summary="Contracts (vnpy WebTrader)")
async def contracts(dialect: DialectDep, engine: EngineDep, principal: Reader) -> Response:
    book = await dialect.contracts.load(engine)
    return _answer(dialect, [dialect.view.contract(c) for c in book.values()])


@router.post("/order", summary="Place an order (vnpy WebTrader)")
@raises("order_rejected")  # one refused before it was recorded
async def place_order(
    body: VnpyOrderBody, dialect: DialectDep, engine: EngineDep, principal: Trader
) -> Response:
    """Answers the new order's `vt_orderid`. As in vnpy, where `send_order` returns the id
    and a refusal arrives as the order's status, an order the account refuses (recorded as
    rejected, `拒单`) is answered with its `vt_orderid` too; `X-Reject-Reason` carries the
    reason. Malformed requests are 422. A lost engine answer is asked again, never placed
    twice (`compat.placing`)."""
    return await place(dialect, engine, body)


async def place(dialect: VnpyDialect, engine: EngineClient, body: VnpyOrderBody) -> Response:
    """`POST /order`'s answer (also given by the lean path, `lean.py`)."""
    try:
        result = await place_without_client_id(
            engine, dialect.account, body.to_request(), "vnpy", dialect.settle_s
        )
    except OrderRejected as refused:
        order_id = refused.details.get("order_id")
        if not isinstance(order_id, str):
            raise
        response = _answer(dialect, dialect.view.vt_orderid(order_id))
        response.headers["X-Reject-Reason"] = refused.reason.value
        return response
    return _answer(dialect, dialect.view.vt_orderid(result.order.id))


@router.delete("/order/{vt_orderid}", summary="Cancel an order (vnpy WebTrader)")
@raises("not_found", "not_cancelable")
async def cancel_order(
    vt_orderid: str, dialect: DialectDep, engine: EngineDep, principal: Trader
) -> Response:
    order_id = dialect.view.order_id(vt_orderid)
    if order_id is None:
        raise NotFound(f"no order {vt_orderid}", {"vt_orderid": vt_orderid})
    await engine.cancel(dialect.account, order_id)
    return _answer(dialect, None)


@router.get("/order", summary="Orders (vnpy WebTrader)")
async def orders(dialect: DialectDep, engine: EngineDep, principal: Reader) -> Response:
    found = await engine.list_orders(
        dialect.account, status="all", symbol=None, limit=PAGE, after=None
    )
    return _answer(dialect, [dialect.view.order(o) for o in found])


@router.get("/trade", summary="Trades (vnpy WebTrader)")
async def trades(dialect: DialectDep, engine: EngineDep, principal: Reader) -> Response:
    found = await engine.list_trades(
        dialect.account, symbol=None, order_id=None, limit=PAGE, after=None
    )
    offsets = await _offsets(engine, dialect.account, found)
    view = dialect.view
    return _answer(dialect, [view.trade(t, offsets.get(t.order_id)) for t in found])


async def _offsets(
    engine: EngineClient, account: str, trades: list[Trade]
) -> dict[str, Offset | None]:
    """The offsets of the orders of the futures trades among `trades` (our trades do not
    carry them): from the latest orders, and order by order for older ones."""
    wanted = {t.order_id for t in trades if is_futures(t.symbol)}
    if not wanted:
        return {}
    recent = await engine.list_orders(account, status="all", symbol=None, limit=PAGE, after=None)
    offsets = {o.id: o.offset for o in recent if o.id in wanted}
    older = await asyncio.gather(*(engine.get_order(account, i) for i in wanted - offsets.keys()))
    offsets.update((o.id, o.offset) for o in older)
    return offsets


@router.get("/position", summary="Positions (vnpy WebTrader)")
async def positions(dialect: DialectDep, engine: EngineDep, principal: Reader) -> Response:
    found = await engine.positions(dialect.account)
    return _answer(dialect, [dialect.view.position(p) for p in found])


@router.get("/account", summary="Account balance (vnpy WebTrader)")
async def account(dialect: DialectDep, engine: EngineDep, principal: Reader) -> Response:
    summary = await engine.summary(dialect.account)
    return _answer(dialect, [dialect.view.account_data(summary)])
