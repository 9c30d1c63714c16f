"""`WS /ws/?token=`: the vnpy WebTrader push channel.

The token (from `/token`, `/api/v1/auth/token`, or an API key) comes in the query string as
vnpy's client sends it, or in an `Authorization` header; it needs `read` on the dialect's
account. A refused one gets no socket: the handshake is answered 401 (403 without the
scope) with the dialect's JSON error where the server can send one, else closed with 1008
as vnpy_webtrader does. Messages from the client are read and ignored, as there.
"""

import asyncio
import contextlib
import logging

from fastapi import APIRouter, WebSocket
from starlette.requests import Request

from tradebridge.api.compat.vnpy.dialect import VnpyDialect
from tradebridge.api.compat.vnpy.errors import DATABASE_DOWN, vnpy_error
from tradebridge.api.deps import Authenticator
from tradebridge.api.security import Principal, Scope
from tradebridge.api.stream.connection import Connection
from tradebridge.api.stream.endpoint import (
    authenticate_token,
    close,
    limit_send_buffer,
    take_query_token,
)
from tradebridge.api.stream.hub import StreamHub
from tradebridge.api.stream.messages import CloseCode
from tradebridge.domain.errors import Forbidden, TradebridgeError, Unauthorized
from tradebridge.store.failures import DATABASE_ERRORS

log = logging.getLogger(__name__)

router = APIRouter()

POLICY_VIOLATION = 1008


@router.websocket("/ws/")
async def vnpy_stream(websocket: WebSocket) -> None:
    dialect: VnpyDialect = websocket.app.state.vnpy
    hub: StreamHub = websocket.app.state.stream
    principal = await _authenticate(websocket, dialect)
    if principal is None:
        return
    if not hub.admit():
        await websocket.accept()
        await close(websocket, CloseCode.TRY_AGAIN_LATER, "too many connections", None)
        return
    try:
        await _serve(websocket, dialect, hub, principal)
    except Exception:
        log.exception("vnpy stream: connection failed")
        await close(websocket, CloseCode.INTERNAL_ERROR, "internal error", None)
    finally:
        hub.release()


async def _serve(
    websocket: WebSocket, dialect: VnpyDialect, hub: StreamHub, principal: Principal
) -> None:
    engine = websocket.app.state.engine
    with contextlib.suppress(TradebridgeError):  # names only; ticks go out without them
        await dialect.contracts.load(engine)
    connection = Connection(hub, principal, websocket.send_text)
    # Attached before the client hears it is connected: nothing it causes next is missed.
    dialect.feed.add(connection, hub, engine)
    try:
        await websocket.accept()
        limit_send_buffer(websocket, hub.limits.send_buffer)
        await connection.run(_read_until_gone(websocket, connection), "vnpy")
    finally:
        dialect.feed.remove(connection)
    if connection.close_code is not None and not connection.gone:
        await close(websocket, connection.close_code, connection.close_reason, None)


async def _read_until_gone(websocket: WebSocket, connection: Connection) -> None:
    try:
        while (await websocket.receive())["type"] != "websocket.disconnect":
            pass
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("vnpy stream: reading from the client failed")
    connection.client_gone()


async def _authenticate(websocket: WebSocket, dialect: VnpyDialect) -> Principal | None:
    """The caller, or None once the handshake has been refused."""
    authenticator: Authenticator = websocket.app.state.authenticator
    token = take_query_token(websocket.scope)  # before anything can log the URL
    try:
        if token is not None:
            principal = authenticate_token(authenticator, token)
        else:
            principal = authenticator.authenticate(_as_request(websocket))
        principal.require(Scope.READ, dialect.account)
    except (Unauthorized, Forbidden) as refused:
        await _refuse(websocket, refused)
        return None
    except DATABASE_ERRORS:
        await _refuse(websocket, None)
        return None
    return principal


def _as_request(websocket: WebSocket) -> Request:
    return Request({"type": "http", "headers": list(websocket.scope["headers"])})


async def _refuse(websocket: WebSocket, refused: TradebridgeError | None) -> None:
    if "websocket.http.response" in websocket.scope.get("extensions", {}):
        if refused is None:
            await websocket.send_denial_response(vnpy_error("engine_unavailable", DATABASE_DOWN))
        else:
            await websocket.send_denial_response(vnpy_error(refused.code, refused.message))
    else:
        await websocket.close(POLICY_VIOLATION)
