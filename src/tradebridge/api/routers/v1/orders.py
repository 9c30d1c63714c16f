from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Query
from starlette.responses import Response

from tradebridge.api.deps import EngineDep, Reader, Trader
from tradebridge.api.encoding import json_response
from tradebridge.api.openapi import raises, returns
from tradebridge.api.schemas import PlaceOrderBody
from tradebridge.domain.orders import Order
from tradebridge.domain.symbols import parse_symbol

router = APIRouter(tags=["orders"])

Limit = Annotated[int, Query(ge=1, le=1000)]

ORDER_EXAMPLES: dict[str, Any] = {
    "limit": {
        "summary": "Buy 100 Kweichow Moutai, limit 1540",
        "value": {
            "symbol": "600519.SH",
            "side": "buy",
            "qty": 100,
            "limit_price": 1540,
            "client_order_id": "tour-1",
        },
    },
    "market": {
        "summary": "Sell 200 Tencent at the market, immediate or cancel",
        "value": {
            "symbol": "00700.HK",
            "side": "sell",
            "qty": 200,
            "type": "market",
            "time_in_force": "ioc",
        },
    },
    "futures": {
        "summary": "Open 1 copper future, limit",
        "value": {
            "symbol": "cu2601.SHFE",
            "side": "buy",
            "qty": 1,
            "limit_price": 78000,
            "offset": "open",
        },
    },
}


@router.post(
    "/accounts/{account}/orders",
    summary="Place an order",
    status_code=201,
    responses={
        **returns(Order, 201, "Created"),
        **returns(Order, 200, "A retry with the same client_order_id: the original"),
    },
)
@raises("not_found", "duplicate_client_order_id", "order_rejected")
async def place_order(
    account: str,
    body: Annotated[PlaceOrderBody, Body(openapi_examples=ORDER_EXAMPLES)],
    engine: EngineDep,
    principal: Trader,
) -> Response:
    """Send a `client_order_id`: a retry with it (after a timeout, a lost answer) returns
    the order placed the first time, never a second one. An order the account refuses is
    recorded as `rejected` and answered 422 `order_rejected`."""
    result = await engine.place(account, body.to_request())
    return json_response(result.order, 201 if result.created else 200)


@router.get("/accounts/{account}/orders", summary="List orders", responses=returns(list[Order]))
@raises("not_found")
async def list_orders(
    account: str,
    engine: EngineDep,
    principal: Reader,
    status: Literal["open", "closed", "all"] = "all",
    symbol: str | None = None,
    limit: Limit = 100,
    after: str | None = None,
) -> Response:
    """Ascending by id. Without `after`: the latest `limit` orders; with `after` (an order
    id): the `limit` orders placed after it."""
    canonical = parse_symbol(symbol) if symbol else None
    orders = await engine.list_orders(
        account, status=status, symbol=canonical, limit=limit, after=after
    )
    return json_response(orders)


@router.get(
    "/accounts/{account}/orders:by_client_id/{client_order_id}",
    summary="One order by client_order_id",
    responses=returns(Order),
)
@raises("not_found")
async def order_by_client_id(
    account: str, client_order_id: str, engine: EngineDep, principal: Reader
) -> Response:
    return json_response(await engine.get_by_client_id(account, client_order_id))


@router.get("/accounts/{account}/orders/{order_id}", summary="One order", responses=returns(Order))
@raises("not_found")
async def get_order(account: str, order_id: str, engine: EngineDep, principal: Reader) -> Response:
    return json_response(await engine.get_order(account, order_id))


@router.delete(
    "/accounts/{account}/orders/{order_id}", summary="Cancel an order", responses=returns(Order)
)
@raises("not_found", "not_cancelable")
async def cancel_order(
    account: str, order_id: str, engine: EngineDep, principal: Trader
) -> Response:
    return json_response(await engine.cancel(account, order_id))


@router.delete(
    "/accounts/{account}/orders", summary="Cancel every open order", responses=returns(list[Order])
)
@raises("not_found")
async def cancel_all(account: str, engine: EngineDep, principal: Trader) -> Response:
    return json_response(await engine.cancel_all(account))
