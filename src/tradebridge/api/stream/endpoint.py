"""`GET /api/v1/stream` (WebSocket): authentication, then the connection's reader and writer.

Every failure ends in a close code and a reason, preceded where it helps by an `error`
message; never an HTTP 500. Tokens never reach a log: a `?token=` is taken out of the request
before the socket is accepted (uvicorn logs the path of every accepted socket with its query
string), and a log filter redacts `token=` values in the server's own log lines as well.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, WebSocket
from starlette.requests import Request
from starlette.types import Scope

from tradebridge.api.deps import Authenticator
from tradebridge.api.redaction import RedactTokens, install_token_redaction
from tradebridge.api.security import Principal
from tradebridge.api.security import Scope as AuthScope
from tradebridge.api.stream.connection import Connection
from tradebridge.api.stream.hub import StreamHub
from tradebridge.api.stream.messages import AuthOp, CloseCode, OpError, error_message, parse_op
from tradebridge.domain.errors import Forbidden, Unauthorized

__all__ = ["RedactTokens", "install_token_redaction", "router"]

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api/v1")

CLOSE_GRACE_S = 10.0
"""How long a closing message may wait for a slow client to read what is ahead of it."""
AUTH_HELP = 'the first message must be {"op": "auth", "token": "<JWT or API key>"}'


@router.websocket("/stream")
async def stream(websocket: WebSocket) -> None:
    """Live account events and quotes; see docs/README.md, "WebSocket stream"."""
    hub: StreamHub = websocket.app.state.stream
    query_token = take_query_token(websocket.scope)
    await websocket.accept()
    limit_send_buffer(websocket, hub.limits.send_buffer)
    try:
        principal = await _authenticate(websocket, hub, query_token)
    except Exception:
        log.exception("stream: authentication failed")
        await refuse(websocket, CloseCode.INTERNAL_ERROR, "internal_error", "internal error")
        return
    if principal is None:
        return
    if not hub.admit():
        await _refuse_crowded(websocket, "too many connections")
        return
    try:
        await _serve(websocket, hub, principal)
    except Exception:
        log.exception("stream: connection failed")
        await refuse(websocket, CloseCode.INTERNAL_ERROR, "internal_error", "internal error")
    finally:
        hub.release()


async def _refuse_crowded(websocket: WebSocket, what: str) -> None:
    await refuse(
        websocket, CloseCode.TRY_AGAIN_LATER, "too_many_connections", f"{what}; try again later"
    )


async def _serve(websocket: WebSocket, hub: StreamHub, principal: Principal) -> None:
    connection = Connection(hub, principal, websocket.send_text)
    hub.register(connection)
    for text in hub.status_messages(connection):
        connection.offer_message(text)
    try:
        await connection.run(_read_loop(websocket, connection), "stream")
    finally:
        connection.stop()
    if connection.close_code is not None and not connection.gone:
        log.info(
            "stream: closing a connection of %s: %d %s",
            principal.username,
            connection.close_code,
            connection.close_reason,
        )
        await close(
            websocket, connection.close_code, connection.close_reason, connection.close_error
        )


async def _read_loop(websocket: WebSocket, connection: Connection) -> None:
    """Hand each client message to the connection until the client goes away. A message the
    connection fails on (a bug) closes the socket with 1011, properly."""
    while True:
        try:
            received = await websocket.receive()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("stream: reading from the client failed")
            break
        if received["type"] == "websocket.disconnect":
            break
        raw = received.get("text")
        if raw is None:
            raw = received.get("bytes") or b""
        try:
            connection.handle(raw)
        except Exception:
            log.exception("stream: a client message failed")
            reason = "internal error"
            connection.abort(
                CloseCode.INTERNAL_ERROR, reason, error_message("internal_error", reason)
            )
            return
    connection.client_gone()


async def _authenticate(
    websocket: WebSocket, hub: StreamHub, query_token: str | None
) -> Principal | None:
    """The caller, or None once the socket has been closed with the reason."""
    authenticator: Authenticator = websocket.app.state.authenticator
    try:
        if query_token is not None:
            principal = authenticate_token(authenticator, query_token)
        elif _has_credential_header(websocket.scope):
            principal = authenticator.authenticate(_http_request(list(websocket.scope["headers"])))
        else:
            token = await _auth_message_in_turn(websocket, hub)
            if token is None:
                return None
            principal = authenticate_token(authenticator, token)
        principal.require(AuthScope.READ)
    except Unauthorized as refused:
        await refuse(websocket, CloseCode.UNAUTHORIZED, "unauthorized", refused.message)
        return None
    except Forbidden as refused:
        await refuse(websocket, CloseCode.FORBIDDEN, "forbidden", refused.message)
        return None
    return principal


async def _auth_message_in_turn(websocket: WebSocket, hub: StreamHub) -> str | None:
    """`_auth_message`, awaited in one of the places the hub keeps for sockets that have yet
    to authenticate (credentials in the upgrade request need none: they are checked at
    once)."""
    if not hub.admit_pending():
        await _refuse_crowded(websocket, "too many connections waiting to authenticate")
        return None
    try:
        return await _auth_message(websocket, hub.limits.auth_timeout_s)
    finally:
        hub.release_pending()


async def _auth_message(websocket: WebSocket, timeout_s: float) -> str | None:
    """The token of the first message, or None once the socket has been closed."""
    try:
        async with asyncio.timeout(timeout_s):
            received = await websocket.receive()
    except TimeoutError:
        reason = f"no auth message within {timeout_s:g} s"
        await refuse(websocket, CloseCode.TIMEOUT, "auth_timeout", reason)
        return None
    if received["type"] == "websocket.disconnect":
        return None
    raw = received.get("text")
    if raw is None:
        raw = received.get("bytes") or b""
    try:
        op = parse_op(raw)
    except OpError:
        op = None
    if not isinstance(op, AuthOp):
        await refuse(websocket, CloseCode.BAD_MESSAGE, "bad_request", AUTH_HELP)
        return None
    return op.token


def authenticate_token(authenticator: Authenticator, token: str) -> Principal:
    """A JWT or an API key, checked exactly as in an `Authorization: Bearer` header."""
    token = token.strip()
    if not token:
        raise Unauthorized("the token is empty")
    try:
        header = b"Bearer " + token.encode("latin-1")
    except UnicodeEncodeError:
        raise Unauthorized("invalid token") from None
    return authenticator.authenticate(_http_request([(b"authorization", header)]))


def _http_request(headers: list[tuple[bytes, bytes]]) -> Request:
    return Request({"type": "http", "headers": headers})


def _has_credential_header(scope: Scope) -> bool:
    return any(name in (b"authorization", b"x-api-key") for name, _ in scope["headers"])


async def refuse(websocket: WebSocket, code: int, error_code: str, reason: str) -> None:
    """An `error` message with `error_code` and `reason`, then close `code`."""
    await close(websocket, code, reason, error_message(error_code, reason))


async def close(websocket: WebSocket, code: int, reason: str, error: str | None) -> None:
    """Send the `error` message (if any) and close with `code` and `reason`.

    Waits at most `CLOSE_GRACE_S` for the socket to take them (a stuck client never does;
    returning then lets the server drop the connection)."""
    with contextlib.suppress(Exception):
        async with asyncio.timeout(CLOSE_GRACE_S):
            if error is not None:
                await websocket.send_text(error)
            await websocket.close(code, _short(reason))


def limit_send_buffer(websocket: WebSocket, size: int) -> bool:
    """Cap the kernel's send buffer of the client's socket at `size` bytes.

    Left alone, Linux grows it to several megabytes for a client that does not read, and
    everything there is out of our reach: stale quotes that can no longer be conflated, and
    memory the backlog bound does not see. With a small one, a slow client shows up at once as
    a send that waits, and the connection's own queues take over. ASGI does not expose the
    socket; uvicorn's protocol object is the owner of `receive`, so it is found there. Where it
    is not (another server), nothing is changed and False is returned.
    """
    protocol = getattr(websocket._receive, "__self__", None)
    transport = getattr(protocol, "transport", None)
    get_extra_info = getattr(transport, "get_extra_info", None)
    sock = get_extra_info("socket") if callable(get_extra_info) else None
    if sock is None:
        return False
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, size)
    except OSError:
        return False
    return True


def _short(reason: str) -> str:
    """A close reason fits in 123 bytes."""
    encoded = reason.encode()
    if len(encoded) <= 123:
        return reason
    return encoded[:120].decode(errors="ignore") + "..."


# --------------------------------------------------------------------------- tokens in logs


def take_query_token(scope: Scope) -> str | None:
    """Remove `token` from the query string of `scope` (so no log line shows it) and return
    it."""
    raw = scope.get("query_string", b"")
    if b"token" not in raw:
        return None
    pairs = parse_qsl(raw.decode("latin-1"), keep_blank_values=True)
    token = next((value for name, value in pairs if name == "token"), None)
    scope["query_string"] = urlencode([(n, v) for n, v in pairs if n != "token"]).encode()
    return token
