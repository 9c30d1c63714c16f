"""The FastAPI application of the web process."""

import asyncio
import contextlib
import logging
import multiprocessing
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from sqlalchemy.exc import OperationalError
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from tradebridge import __version__
from tradebridge.api import openapi
from tradebridge.api.body_limit import BodySizeLimit
from tradebridge.api.deps import Authenticator
from tradebridge.api.encoding import MsgspecResponse
from tradebridge.api.engine_client import EngineClient
from tradebridge.api.errors import error_response, install_error_handlers
from tradebridge.api.routers.v1 import router as v1_router
from tradebridge.api.security import TokenIssuer
from tradebridge.api.stream import StreamHub, install_token_redaction
from tradebridge.api.stream import router as stream_router
from tradebridge.api.stream.messages import CloseCode
from tradebridge.bootstrap import announce_admin_password, prepare
from tradebridge.config import Settings, load_settings
from tradebridge.logs import configure_logging
from tradebridge.rpc import RpcClient
from tradebridge.store.failures import DATABASE_ERRORS, database_error_reason, display_url
from tradebridge.supervisor import die_with_parent

log = logging.getLogger(__name__)

ENGINE_WAIT_MS = 3000
RETRY_START_S = 0.5
RETRY_MAX_S = 15.0
"""While the database cannot be opened, it is tried again after a delay that doubles from
`RETRY_START_S` up to this."""
HEALTH_PATH = "/api/v1/health"
DATABASE_DOWN = "the database cannot be reached; try again shortly"
"""What callers are told; the log names the database and the driver's error."""

DESCRIPTION = """One REST + WebSocket API in front of many brokers.

Errors are always `{"error": {"code", "message", "details"}}` with a fitting HTTP status.
Authenticate with `Authorization: Bearer <token or API key>` or `X-API-Key`."""


def create_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        rpc = RpcClient(
            settings.engine.rpc_address,
            heartbeat_ms=settings.engine.heartbeat_ms,
            timeout_ms=settings.engine.rpc_timeout_ms,
        )
        await rpc.start()
        # Give a starting engine a moment, so the first requests do not fail needlessly;
        # if it is down, requests answer 503 engine_unavailable until it is back.
        await rpc.wait_connected(timeout_ms=ENGINE_WAIT_MS)
        app.state.engine = EngineClient(rpc)
        opening: asyncio.Task[None] | None = None
        try:
            await _open_database(app, settings)
        except DATABASE_ERRORS as exc:
            opening = asyncio.create_task(_open_database_later(app, settings, exc))
        try:
            yield
        finally:
            if opening is not None:
                opening.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await opening
            if app.state.stream is not None:
                await app.state.stream.stop()
            await rpc.close()
            if app.state.db is not None:
                app.state.db.dispose()

    app = FastAPI(
        title="tradebridge",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        default_response_class=MsgspecResponse,
    )
    app.state.db = None
    app.state.stream = None
    app.state.database_open = False
    app.state.engine_address = settings.engine.rpc_address
    app.state.default_account = settings.accounts[0].id
    app.add_middleware(BodySizeLimit)
    app.add_middleware(UntilDatabaseOpen)
    install_error_handlers(app)
    app.add_exception_handler(OperationalError, _database_error)
    app.include_router(v1_router)
    app.include_router(stream_router)
    install_token_redaction()

    openapi.install(app)
    return app


async def _open_database(app: FastAPI, settings: Settings) -> None:
    """Open the database and start what needs it: authentication, the stream hub."""
    prepared = await asyncio.to_thread(prepare, settings)
    announce_admin_password(prepared)  # a first run whose database was away until now
    hub = StreamHub.from_settings(settings, prepared.db)
    try:
        await hub.start()  # one event subscriber per worker, shared by its WebSockets
    except BaseException:
        await hub.stop()
        prepared.db.dispose()
        raise
    app.state.authenticator = Authenticator(
        TokenIssuer(
            prepared.jwt_secret, settings.auth.jwt_algorithm, settings.auth.token_ttl_seconds
        ),
        prepared.db,
    )
    app.state.db = prepared.db
    app.state.stream = hub
    app.state.database_open = True


async def _open_database_later(app: FastAPI, settings: Settings, error: Exception) -> None:
    """Try again, with backoff, until the database opens; requests get 503 meanwhile."""
    url = display_url(settings.database_url)
    delay = RETRY_START_S
    while True:
        reason = database_error_reason(error)
        log.error("cannot open the database %s: %s; trying again in %.1f s", url, reason, delay)
        await asyncio.sleep(delay)
        delay = min(delay * 2, RETRY_MAX_S)
        try:
            await _open_database(app, settings)
        except DATABASE_ERRORS as exc:
            error = exc
        else:
            log.info("database %s open", url)
            return


class UntilDatabaseOpen:
    """Until the database is open, answer 503 `engine_unavailable` (WebSocket: close 1013),
    except for the health check, which needs only the engine."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "lifespan"
            or scope["app"].state.database_open
            or scope["path"] == HEALTH_PATH
        ):
            await self.app(scope, receive, send)
        elif scope["type"] == "http":
            await error_response("engine_unavailable", DATABASE_DOWN)(scope, receive, send)
        else:
            await receive()  # websocket.connect
            await send({"type": "websocket.accept"})
            close = {"code": CloseCode.TRY_AGAIN_LATER, "reason": DATABASE_DOWN}
            await send({"type": "websocket.close", **close})


def _database_error(request: Request, exc: Exception) -> Response:
    """The database went away while running (a restart, a full disk, a lock held too long)."""
    reason = database_error_reason(exc)
    log.error("database error on %s %s: %s", request.method, request.url.path, reason)
    return error_response("engine_unavailable", DATABASE_DOWN)


def app_from_environment() -> FastAPI:
    """Factory for uvicorn workers: settings come from `TRADEBRIDGE_*` variables, which
    `tradebridge web` sets from its own options before starting them."""
    settings = load_settings()
    if multiprocessing.parent_process() is not None:  # a worker process of `--workers N`
        die_with_parent()
        configure_logging(f"web {os.getpid()}", settings.log_level)
    return create_app(settings)
