from typing import Literal

import msgspec
from fastapi import APIRouter, Request
from msgspec import UNSET, UnsetType
from starlette.responses import Response

from tradebridge import __version__
from tradebridge.api.encoding import json_response
from tradebridge.api.engine_client import EngineClient
from tradebridge.api.openapi import returns
from tradebridge.domain.enums import TradingState
from tradebridge.domain.errors import TradebridgeError

router = APIRouter(tags=["health"])

HEALTH_TIMEOUT_MS = 1000


class AccountHealth(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    broker: str
    connected: bool
    trading_state: TradingState


class EngineHealth(msgspec.Struct, frozen=True, kw_only=True):
    address: str
    """Where the web reaches the engine (`[engine] rpc_address`)."""
    link: Literal["up", "down"]
    """The web's link to the engine, by its heartbeats."""
    status: Literal["up", "down"]
    """Whether the engine answered just now."""
    version: str | UnsetType = UNSET
    """The engine's version, when it answered."""
    error: str | UnsetType = UNSET
    """The error code, when it did not (`engine_unavailable`, `timeout`)."""
    accounts: list[AccountHealth]


class Health(msgspec.Struct, frozen=True, kw_only=True):
    status: Literal["ok", "degraded"]
    database: Literal["open", "unavailable"]
    engines: list[EngineHealth]
    version: str


@router.get(
    "/health",
    summary="Liveness of the web process, its database and its engine",
    responses=returns(Health),
)
async def health(request: Request) -> Response:
    """`status` is `ok` when the database is open, the engine answers and every account's
    broker is connected; `degraded` otherwise (still 200). Each engine lists its accounts
    with their broker, connection and trading state. Needs no credentials."""
    # Not through `EngineDep`: an engine that does not answer is reported, never an error.
    engine: EngineClient = request.app.state.engine
    address = str(request.app.state.engine_address)
    link: Literal["up", "down"] = "up" if engine.rpc.connected else "down"
    try:
        status = await engine.status(timeout_ms=HEALTH_TIMEOUT_MS)
    except TradebridgeError as exc:
        entry = EngineHealth(address=address, link=link, status="down", error=exc.code, accounts=[])
    else:
        accounts = [
            AccountHealth(
                id=a.id, broker=a.broker, connected=a.connected, trading_state=a.trading_state
            )
            for a in status.accounts
        ]
        entry = EngineHealth(
            address=address, link=link, status="up", version=status.version, accounts=accounts
        )
    database_open = bool(request.app.state.database_open)
    ok = database_open and entry.status == "up" and all(a.connected for a in entry.accounts)
    return json_response(
        Health(
            status="ok" if ok else "degraded",
            database="open" if database_open else "unavailable",
            engines=[entry],
            version=__version__,
        )
    )
