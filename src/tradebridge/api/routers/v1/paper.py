from fastapi import APIRouter
from starlette.responses import Response

from tradebridge.api.deps import Admin, EngineDep
from tradebridge.api.encoding import json_response
from tradebridge.api.openapi import returns
from tradebridge.api.schemas import ClockBody, SetQuoteBody
from tradebridge.domain.models import Quote
from tradebridge.engine.protocol import ClockState

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


@router.post(
    "/paper/{account}/clock",
    summary="Move the simulated clock forward",
    responses=returns(ClockState),
)
async def clock(account: str, body: ClockBody, engine: EngineDep, _: Admin) -> Response:
    """`{"advance": "next_day"}` starts the next trading day (T+1 settles, `pre_close` rolls to
    the last price, `day` orders expire); `{"advance": "next_session"}` moves to the next
    continuous session; `{"to": "2026-11-23T09:30:00+08:00"}` moves to that instant."""
    return json_response(await engine.paper_clock(account, body.advance, body.to))


@router.post("/paper/{account}/reset", summary="Back to configured cash, nothing open")
async def reset(account: str, engine: EngineDep, _: Admin) -> Response:
    await engine.paper_reset(account)
    return json_response({"account": account, "reset": True})
