from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from tradebridge import __version__
from tradebridge.api.deps import EngineDep
from tradebridge.api.encoding import json_response
from tradebridge.domain.errors import TradebridgeError

router = APIRouter(tags=["health"])

HEALTH_TIMEOUT_MS = 1000


@router.get("/health", summary="Liveness of the web process, its database and its engine")
async def health(request: Request, engine: EngineDep) -> Response:
    """`status` is `ok` when the database is open, the engine answers and every account's
    broker is connected; `degraded` otherwise (still 200). Each engine lists its accounts
    with their broker, connection and trading state."""
    entry: dict[str, Any] = {
        "address": request.app.state.engine_address,
        "link": "up" if engine.rpc.connected else "down",
    }
    try:
        status = await engine.status(timeout_ms=HEALTH_TIMEOUT_MS)
        entry |= {
            "status": "up",
            "version": status.version,
            "accounts": [
                {
                    "id": a.id,
                    "broker": a.broker,
                    "connected": a.connected,
                    "trading_state": a.trading_state,
                }
                for a in status.accounts
            ],
        }
    except TradebridgeError as exc:
        entry |= {"status": "down", "error": exc.code, "accounts": []}
    database_open = bool(request.app.state.database_open)
    ok = (
        database_open and entry["status"] == "up" and all(a["connected"] for a in entry["accounts"])
    )
    return json_response(
        {
            "status": "ok" if ok else "degraded",
            "database": "open" if database_open else "unavailable",
            "engines": [entry],
            "version": __version__,
        }
    )
