"""Market data: contracts, quote snapshots, venue status and bars of one account's broker."""

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from tradebridge.api.deps import EngineDep, Reader
from tradebridge.api.encoding import json_response
from tradebridge.api.openapi import raises, returns
from tradebridge.api.security import Principal, Scope
from tradebridge.brokers.base import BarInterval, VenueStatus
from tradebridge.domain.errors import ValidationFailed
from tradebridge.domain.models import Bar, Contract, Quote
from tradebridge.domain.symbols import parse_symbol

router = APIRouter(prefix="/market", tags=["market"])

AccountParam = Annotated[
    str | None, Query(description="Account whose broker answers; default: the first one.")
]
MAX_SYMBOLS = 200


def _account(request: Request, principal: Principal, account: str | None) -> str:
    """The account asked for, else the caller's bound account, else the first configured."""
    chosen = account or principal.account or request.app.state.default_account
    principal.require(Scope.READ, chosen)
    return str(chosen)


@router.get("/contracts", summary="Tradable instruments", responses=returns(list[Contract]))
@raises("not_found")  # the account, or a symbol
async def contracts(
    request: Request,
    engine: EngineDep,
    principal: Reader,
    account: AccountParam = None,
    venue: Annotated[str | None, Query(description="e.g. SH, HK, SHFE")] = None,
    q: Annotated[str | None, Query(max_length=64, description="Part of symbol or name")] = None,
) -> Response:
    chosen = _account(request, principal, account)
    return json_response(await engine.contracts(chosen, venue, q))


@router.get("/quotes", summary="Quote snapshots", responses=returns(list[Quote]))
@raises("not_found")  # the account, or a symbol
async def quotes(
    request: Request,
    engine: EngineDep,
    principal: Reader,
    symbols: Annotated[str, Query(description="Comma-separated, e.g. 600519.SH,00700.HK")],
    account: AccountParam = None,
) -> Response:
    wanted = [parse_symbol(s) for s in symbols.split(",") if s]
    if not wanted or len(wanted) > MAX_SYMBOLS:
        raise ValidationFailed(f"give 1 to {MAX_SYMBOLS} symbols", {"field": "symbols"})
    chosen = _account(request, principal, account)
    return json_response(await engine.quotes(chosen, wanted))


@router.get("/status", summary="Trading status per venue", responses=returns(list[VenueStatus]))
@raises("not_found")  # the account, or a symbol
async def status(
    request: Request, engine: EngineDep, principal: Reader, account: AccountParam = None
) -> Response:
    chosen = _account(request, principal, account)
    return json_response(await engine.market_status(chosen))


@router.get("/bars", summary="Recent bars, oldest first", responses=returns(list[Bar]))
@raises("not_found")  # the account, or a symbol
async def bars(
    request: Request,
    engine: EngineDep,
    principal: Reader,
    symbol: str,
    interval: BarInterval = "1m",
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    account: AccountParam = None,
) -> Response:
    chosen = _account(request, principal, account)
    return json_response(await engine.bars(chosen, parse_symbol(symbol), interval, limit))
