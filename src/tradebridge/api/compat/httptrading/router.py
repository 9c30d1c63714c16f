"""The routes of document 002 under `/httptrading/api/{instanceId}/`, each a translation of
the engine calls behind the matching `/api/v1` route."""

import asyncio
from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from tradebridge.api.compat.httptrading.access import Reading, Trading
from tradebridge.api.compat.httptrading.bodies import (
    Code,
    HttptradingCancelOrder,
    HttptradingPlaceOrder,
    TradeType,
    code_of,
)
from tradebridge.api.compat.httptrading.contracts import Region, symbol_of
from tradebridge.api.compat.httptrading.envelope import RESPONSES, EnvelopeRoute, answer
from tradebridge.api.compat.httptrading.lookups import currency_of, day_bar
from tradebridge.api.compat.httptrading.objects import (
    cash_object,
    market_status_map,
    order_object,
    position_object,
    quote_object,
    venue_status,
)
from tradebridge.api.deps import EngineDep
from tradebridge.api.openapi import raises
from tradebridge.domain.errors import NotFound
from tradebridge.domain.symbols import venue_of

BASE = "/httptrading/api/{instanceId}"

router = APIRouter(route_class=EnvelopeRoute, tags=["httptrading"], responses=RESPONSES)


@router.get(f"{BASE}/ping/state", summary="httptrading: is the broker connected")
async def ping(access: Reading, engine: EngineDep) -> Response:
    pong = await engine.ping(access.account)
    return answer(access.instance, pong=pong.pong)


@router.get(f"{BASE}/market/quote", summary="httptrading: quote snapshot")
@raises("not_found")  # a symbol the account does not trade
async def quote(
    access: Reading,
    engine: EngineDep,
    region: Region,
    trade_type: Annotated[TradeType, Query(alias="tradeType")] = "Securities",  # checked only
    ticker: Annotated[Code | None, Query()] = None,
    symbol: Annotated[Code | None, Query()] = None,
) -> Response:
    wanted = symbol_of(region, code_of(ticker, symbol))
    account = access.account
    quotes, statuses, day, currency = await asyncio.gather(
        engine.quotes(account, [wanted]),
        engine.market_status(account),
        day_bar(engine, account, wanted),
        currency_of(engine, account, wanted),
    )
    status = venue_status(statuses, venue_of(wanted))
    return answer(access.instance, quote=quote_object(quotes[0], currency, status, day))


@router.get(f"{BASE}/market/state", summary="httptrading: market status per region")
async def market_state(access: Reading, engine: EngineDep) -> Response:
    statuses = await engine.market_status(access.account)
    return answer(access.instance, marketStatus=market_status_map(statuses))


@router.get(f"{BASE}/cash/state", summary="httptrading: available cash")
@raises("not_found")  # a currency the account does not hold
async def cash_state(
    access: Reading,
    engine: EngineDep,
    currency: Annotated[
        str | None,
        Query(pattern=r"^[A-Z]{3}$", description="Default: the account's base currency."),
    ] = None,
) -> Response:
    summary = await engine.summary(access.account)
    if currency is None or currency == summary.currency:
        return answer(access.instance, cash=cash_object(summary.currency, summary.available))
    balance = next((b for b in summary.balances if b.currency == currency), None)
    if balance is None:
        raise NotFound(f"the account holds no {currency}", {"field": "currency"})
    return answer(access.instance, cash=cash_object(currency, balance.available))


@router.get(f"{BASE}/position/state", summary="httptrading: positions")
async def position_state(access: Reading, engine: EngineDep) -> Response:
    positions = await engine.positions(access.account)
    shown = [position_object(p, access.instance) for p in positions]
    return answer(access.instance, positions=[p for p in shown if p is not None])


@router.post(f"{BASE}/order/place", summary="httptrading: place an order")
@raises("order_rejected")
async def place_order(
    access: Trading, engine: EngineDep, body: HttptradingPlaceOrder, request: Request
) -> Response:
    result = await engine.place(access.account, body.to_request())
    return answer(access.instance, orderId=result.order.id, args=await request.json())


@router.post(f"{BASE}/order/cancel", summary="httptrading: cancel an order")
@raises("not_cancelable")
async def cancel_order(
    access: Trading, engine: EngineDep, body: HttptradingCancelOrder
) -> Response:
    """`canceled`: the cancel was taken; the order says whether it is done
    (`isCanceled`) or still pending at the broker."""
    order = await engine.cancel(access.account, body.order_id)
    currency = await currency_of(engine, access.account, order.symbol)
    return answer(access.instance, canceled=True, order=order_object(order, currency))


@router.get(f"{BASE}/order/state", summary="httptrading: one order")
async def order_state(
    access: Reading,
    engine: EngineDep,
    order_id: Annotated[str, Query(alias="orderId", min_length=1, max_length=64)],
) -> Response:
    order = await engine.get_order(access.account, order_id)
    currency = await currency_of(engine, access.account, order.symbol)
    return answer(access.instance, order=order_object(order, currency))
