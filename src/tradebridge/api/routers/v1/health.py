from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from tradebridge import __version__
from tradebridge.api.deps import EngineDep
from tradebridge.api.encoding import json_response
from tradebridge.domain.errors import TradebridgeError

router = APIRouter(tags=["health"])

HEALTH_TIMEOUT_MS = 1000


@router.get("/health", summary="Liveness of the web process and its engine")
async def health(request: Request, engine: EngineDep) -> Response:
    entry: dict[str, Any] = {"address": request.app.state.engine_address}
    try:
        status = await engine.status(timeout_ms=HEALTH_TIMEOUT_MS)
        entry |= {
            "status": "up",
            "version": status.version,
            "accounts": [{"id": a.id, "connected": a.connected} for a in status.accounts],
        }
    except TradebridgeError as exc:
        entry |= {"status": "down", "error": exc.code}
    overall = (
        "ok"
        if entry["status"] == "up" and all(a["connected"] for a in entry.get("accounts", []))
        else "degraded"
    )
    return json_response({"status": overall, "engines": [entry], "version": __version__})
