"""The FastAPI application of the web process."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from tradebridge import __version__
from tradebridge.api import openapi
from tradebridge.api.body_limit import BodySizeLimit
from tradebridge.api.deps import Authenticator
from tradebridge.api.encoding import MsgspecResponse
from tradebridge.api.engine_client import EngineClient
from tradebridge.api.errors import install_error_handlers
from tradebridge.api.routers.v1 import router as v1_router
from tradebridge.api.security import TokenIssuer
from tradebridge.api.stream import StreamHub, install_token_redaction
from tradebridge.api.stream import router as stream_router
from tradebridge.bootstrap import prepare
from tradebridge.config import Settings, load_settings
from tradebridge.rpc import RpcClient

ENGINE_WAIT_MS = 3000

DESCRIPTION = """One REST + WebSocket API in front of many brokers.

Errors are always `{"error": {"code", "message", "details"}}` with a fitting HTTP status.
Authenticate with `Authorization: Bearer <token or API key>` or `X-API-Key`."""


def create_app(settings: Settings) -> FastAPI:
    prepared = prepare(settings)

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
        # One event subscriber per worker process, shared by all its WebSocket connections.
        hub = StreamHub.from_settings(settings, prepared.db)
        await hub.start()
        app.state.stream = hub
        try:
            yield
        finally:
            await hub.stop()
            await rpc.close()
            prepared.db.dispose()

    app = FastAPI(
        title="tradebridge",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        default_response_class=MsgspecResponse,
    )
    app.state.db = prepared.db
    app.state.engine_address = settings.engine.rpc_address
    app.state.default_account = settings.accounts[0].id
    app.state.authenticator = Authenticator(
        TokenIssuer(
            prepared.jwt_secret, settings.auth.jwt_algorithm, settings.auth.token_ttl_seconds
        ),
        prepared.db,
    )
    app.add_middleware(BodySizeLimit)
    install_error_handlers(app)
    app.include_router(v1_router)
    app.include_router(stream_router)
    install_token_redaction()

    openapi.install(app)
    return app


def app_from_environment() -> FastAPI:
    """Factory for uvicorn workers: settings come from `TRADEBRIDGE_*` variables, which
    `tradebridge web` sets from its own options before starting them."""
    return create_app(load_settings())
