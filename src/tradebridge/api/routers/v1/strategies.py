"""Hosted strategies (`[[strategies]]`): the engine's supervised child processes."""

from fastapi import APIRouter
from starlette.responses import Response

from tradebridge.api.deps import Admin, EngineDep, Reader
from tradebridge.api.encoding import json_response
from tradebridge.api.openapi import returns
from tradebridge.engine.protocol import StrategyInfo

router = APIRouter(tags=["strategies"])


@router.get(
    "/strategies",
    summary="List the hosted strategies and their state",
    responses=returns(list[StrategyInfo]),
)
async def list_strategies(engine: EngineDep, _: Reader) -> Response:
    return json_response(await engine.strategies())


@router.post(
    "/strategies/{name}/start",
    summary="Start a hosted strategy",
    responses=returns(StrategyInfo),
)
async def start_strategy(name: str, engine: EngineDep, _: Admin) -> Response:
    """Starting a running strategy changes nothing; a started one is started again with the
    engine until stopped."""
    return json_response(await engine.start_strategy(name))


@router.post(
    "/strategies/{name}/stop",
    summary="Stop a hosted strategy",
    responses=returns(StrategyInfo),
)
async def stop_strategy(name: str, engine: EngineDep, _: Admin) -> Response:
    """It finishes what it is handling and calls `on_stop`; it stays stopped (also across
    engine restarts) until started again."""
    return json_response(await engine.stop_strategy(name))
