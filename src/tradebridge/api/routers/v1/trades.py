from typing import Annotated

from fastapi import APIRouter, Query
from starlette.responses import Response

from tradebridge.api.deps import EngineDep, Reader
from tradebridge.api.encoding import json_response
from tradebridge.api.openapi import raises, returns
from tradebridge.domain.models import Trade
from tradebridge.domain.symbols import parse_symbol

router = APIRouter(tags=["trades"])


@router.get("/accounts/{account}/trades", summary="Fills", responses=returns(list[Trade]))
@raises("not_found")
async def list_trades(
    account: str,
    engine: EngineDep,
    principal: Reader,
    symbol: str | None = None,
    order_id: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    after: str | None = None,
) -> Response:
    """Ascending by id; `after` and `limit` page as for orders."""
    canonical = parse_symbol(symbol) if symbol else None
    trades = await engine.list_trades(
        account, symbol=canonical, order_id=order_id, limit=limit, after=after
    )
    return json_response(trades)
