from fastapi import APIRouter
from starlette.responses import Response

from tradebridge.api.deps import EngineDep, Reader
from tradebridge.api.encoding import json_response
from tradebridge.api.openapi import raises, returns
from tradebridge.domain.models import AccountSummary, Position
from tradebridge.engine.protocol import AccountInfo, Pong

router = APIRouter(tags=["accounts"])


@router.get("/accounts", summary="Accounts you may read", responses=returns(list[AccountInfo]))
async def list_accounts(engine: EngineDep, principal: Reader) -> Response:
    accounts = await engine.accounts()
    if principal.account is not None:
        accounts = [a for a in accounts if a.id == principal.account]
    return json_response(accounts)


@router.get("/accounts/{account}", summary="Balance summary", responses=returns(AccountSummary))
@raises("not_found")
async def account_summary(account: str, engine: EngineDep, principal: Reader) -> Response:
    return json_response(await engine.summary(account))


@router.get("/accounts/{account}/positions", summary="Positions", responses=returns(list[Position]))
@raises("not_found")
async def positions(account: str, engine: EngineDep, principal: Reader) -> Response:
    return json_response(await engine.positions(account))


@router.get("/accounts/{account}/ping", summary="Round trip to the broker", responses=returns(Pong))
@raises("not_found")
async def ping(account: str, engine: EngineDep, principal: Reader) -> Response:
    return json_response(await engine.ping(account))
