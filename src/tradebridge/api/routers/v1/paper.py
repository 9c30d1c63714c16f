from fastapi import APIRouter
from starlette.responses import Response

from tradebridge.api.deps import Admin, EngineDep
from tradebridge.api.encoding import json_response
from tradebridge.api.openapi import returns
from tradebridge.api.schemas import SetQuoteBody
from tradebridge.domain.models import Quote

router = APIRouter(tags=["paper"])


@router.post(
    "/paper/{account}/quotes",
    summary="Set the simulated market for a symbol",
    responses=returns(Quote),
)
async def set_quote(account: str, body: SetQuoteBody, engine: EngineDep, _: Admin) -> Response:
    quote = await engine.paper_set_quote(
        account,
        symbol=body.symbol,
        last=body.last,
        bid=body.bid,
        ask=body.ask,
        bid_size=body.bid_size,
        ask_size=body.ask_size,
        pre_close=body.pre_close,
    )
    return json_response(quote)


@router.post("/paper/{account}/reset", summary="Back to configured cash, nothing open")
async def reset(account: str, engine: EngineDep, _: Admin) -> Response:
    await engine.paper_reset(account)
    return json_response({"account": account, "reset": True})
