from typing import Annotated, Any

import msgspec
from fastapi import APIRouter, Body
from starlette.responses import Response

from tradebridge.api.deps import Admin, EngineDep
from tradebridge.api.encoding import json_response
from tradebridge.api.openapi import raises, returns
from tradebridge.api.schemas import ClockBody, SetQuoteBody
from tradebridge.domain.models import Quote
from tradebridge.engine.protocol import ClockState

router = APIRouter(tags=["paper"])

QUOTE_EXAMPLES: dict[str, Any] = {
    "through": {
        "summary": "Move the market through resting buy orders at 1400",
        "value": {"symbol": "600519.SH", "last": 1399, "bid": 1398.99, "ask": 1399.01},
    },
}
CLOCK_EXAMPLES: dict[str, Any] = {
    "next_day": {
        "summary": "Start the next trading day (T+1 settles)",
        "value": {"advance": "next_day"},
    },
    "next_session": {
        "summary": "The next continuous session",
        "value": {"advance": "next_session"},
    },
    "to": {"summary": "Move to an instant", "value": {"to": "2026-11-23T09:30:00+08:00"}},
}


class ResetAnswer(msgspec.Struct, frozen=True, kw_only=True):
    account: str
    reset: bool


@router.post(
    "/paper/{account}/quotes",
    summary="Set the simulated market for a symbol",
    responses=returns(Quote),
)
@raises("not_found")
async def set_quote(
    account: str,
    body: Annotated[SetQuoteBody, Body(openapi_examples=QUOTE_EXAMPLES)],
    engine: EngineDep,
    _: Admin,
) -> Response:
    """Resting orders that now cross fill at once."""
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
@raises("not_found")
async def clock(
    account: str,
    body: Annotated[ClockBody, Body(openapi_examples=CLOCK_EXAMPLES)],
    engine: EngineDep,
    _: Admin,
) -> Response:
    """`{"advance": "next_day"}` starts the next trading day (T+1 settles, `pre_close` rolls to
    the last price, `day` orders expire); `{"advance": "next_session"}` moves to the next
    continuous session; `{"to": "2026-11-23T09:30:00+08:00"}` moves to that instant."""
    return json_response(await engine.paper_clock(account, body.advance, body.to))


@router.post(
    "/paper/{account}/reset",
    summary="Back to configured cash, nothing open",
    responses=returns(ResetAnswer),
)
@raises("not_found")
async def reset(account: str, engine: EngineDep, _: Admin) -> Response:
    await engine.paper_reset(account)
    return json_response(ResetAnswer(account=account, reset=True))
