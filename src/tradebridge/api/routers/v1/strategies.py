"""Hosted strategies (`[[strategies]]`): the engine's supervised child processes.

Each strategy trades one account, so a key bound to an account sees and steers only the
strategies of that account."""

from fastapi import APIRouter
from starlette.responses import Response

from tradebridge.api.deps import Admin, EngineDep, Reader
from tradebridge.api.encoding import json_response
from tradebridge.api.engine_client import EngineClient
from tradebridge.api.openapi import raises, returns
from tradebridge.api.security import Principal, Scope
from tradebridge.engine.protocol import StrategyInfo

router = APIRouter(tags=["strategies"])


@router.get(
    "/strategies",
    summary="List the hosted strategies and their state",
    responses=returns(list[StrategyInfo]),
)
async def list_strategies(engine: EngineDep, principal: Reader) -> Response:
    """A key bound to an account lists the strategies of that account only."""
    strategies = await engine.strategies()
    if principal.account is not None:
        strategies = [s for s in strategies if s.account == principal.account]
    return json_response(strategies)


async def _may_steer(name: str, engine: EngineClient, principal: Principal) -> None:
    """Forbidden when the strategy trades an account other than the one the key is bound to
    (an unknown name is the engine's `not_found`)."""
    if principal.account is None:
        return
    for strategy in await engine.strategies():
        if strategy.name == name:
            principal.require(Scope.ADMIN, strategy.account)


@router.post(
    "/strategies/{name}/start",
    summary="Start a hosted strategy",
    responses=returns(StrategyInfo),
)
@raises("not_found")  # no hosted strategy of that name
async def start_strategy(name: str, engine: EngineDep, principal: Admin) -> Response:
    """Starting a running strategy changes nothing; a started one is started again with the
    engine until stopped."""
    await _may_steer(name, engine, principal)
    return json_response(await engine.start_strategy(name))


@router.post(
    "/strategies/{name}/stop",
    summary="Stop a hosted strategy",
    responses=returns(StrategyInfo),
)
@raises("not_found")  # no hosted strategy of that name
async def stop_strategy(name: str, engine: EngineDep, principal: Admin) -> Response:
    """It finishes what it is handling and calls `on_stop`; it stays stopped (also across
    engine restarts) until started again."""
    await _may_steer(name, engine, principal)
    return json_response(await engine.stop_strategy(name))
