"""The FastAPI application of the web process."""

import asyncio
import contextlib
import logging
import multiprocessing
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from sqlalchemy.exc import OperationalError
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from tradebridge import __version__
from tradebridge.api import openapi
from tradebridge.api.audit_writer import AuditWriter
from tradebridge.api.body_limit import BodySizeLimit
from tradebridge.api.compat.httptrading import install_httptrading
from tradebridge.api.compat.httptrading.lean import LEAN_ROUTES as HTTPTRADING_LEAN_ROUTES
from tradebridge.api.compat.qmt_service import install as install_qmt_service
from tradebridge.api.compat.vnpy import install as install_vnpy
from tradebridge.api.compat.vnpy.lean import LEAN_ROUTES as VNPY_LEAN_ROUTES
from tradebridge.api.compat.xtquant_http import install as install_xtquant_http
from tradebridge.api.deps import Authenticator, httptrading_tokens
from tradebridge.api.encoding import MsgspecResponse
from tradebridge.api.engine_client import EngineClient
from tradebridge.api.errors import (
    error_response,
    install_error_handlers,
    install_websocket_not_found,
)
from tradebridge.api.forwarded import TrustedProxies
from tradebridge.api.gateway import Gateway
from tradebridge.api.json_bodies import StrictJsonBodies
from tradebridge.api.lean import V1_ROUTES, LeanRoutes
from tradebridge.api.measured_rpc import MeasuredRpcClient
from tradebridge.api.metrics import Metrics, sample_app_state, use_multiprocess_dir
from tradebridge.api.observe import Observer
from tradebridge.api.openapi.reference import install_reference
from tradebridge.api.page import install_page
from tradebridge.api.password_checks import PasswordChecks
from tradebridge.api.rate_limit import UNCOUNTED_PATHS, RateLimits
from tradebridge.api.redaction import install_token_redaction
from tradebridge.api.routers.metrics import METRICS_PATH
from tradebridge.api.routers.metrics import router as metrics_router
from tradebridge.api.routers.v1 import router as v1_router
from tradebridge.api.security import TokenIssuer
from tradebridge.api.server_protocol import lifespan_state
from tradebridge.api.stream import StreamHub
from tradebridge.api.stream import router as stream_router
from tradebridge.api.stream.messages import CloseCode
from tradebridge.api.stream.quote_interest import QuoteInterest
from tradebridge.bootstrap import announce_admin_password, prepare
from tradebridge.config import Settings, load_settings
from tradebridge.heap import freeze_startup_objects
from tradebridge.logs import configure_logging
from tradebridge.rpc import RpcClient
from tradebridge.rpc.link import WebEnd, web_end
from tradebridge.store.failures import DATABASE_ERRORS, database_error_reason, display_url
from tradebridge.supervisor import die_with_parent

log = logging.getLogger(__name__)

ENGINE_WAIT_MS = 3000
RETRY_START_S = 0.5
RETRY_MAX_S = 15.0
"""While the database cannot be opened, it is tried again after a delay that doubles from
`RETRY_START_S` up to this."""
HEALTH_PATH = "/api/v1/health"
METRICS_SAMPLE_S = 1.0
"""With several workers, each brings its gauges up to date this often (any one answers a
scrape for all)."""
DATABASE_DOWN = "the database cannot be reached; try again shortly"
"""What callers are told; the log names the database and the driver's error."""

DESCRIPTION = """One REST + WebSocket API in front of many brokers.

Errors are always `{"error": {"code", "message", "details"}}` with a fitting HTTP status.
Authenticate with `Authorization: Bearer <token or API key>` or `X-API-Key`."""


def create_app(settings: Settings, metrics_dir: Path | None = None) -> FastAPI:
    """The web app; `metrics_dir`: where the workers of a multi-worker web process share
    their metrics (see `api.metrics`)."""
    metrics = (
        Metrics([a.id for a in settings.accounts], metrics_dir)
        if settings.metrics.enabled
        else None
    )
    link = web_end(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        rpc = _rpc_client(settings, link, metrics)
        await rpc.start()
        # Give a starting engine a moment, so the first requests do not fail needlessly;
        # if it is down, requests answer 503 engine_unavailable until it is back.
        await rpc.wait_connected(timeout_ms=ENGINE_WAIT_MS)
        app.state.engine = EngineClient(rpc)
        opening: asyncio.Task[None] | None = None
        try:
            await _open_database(app, settings, link)
        except DATABASE_ERRORS as exc:
            opening = asyncio.create_task(_open_database_later(app, settings, link, exc))
        sampling = asyncio.create_task(_sample_metrics(app)) if metrics_dir and metrics else None
        freeze_startup_objects()
        try:
            yield lifespan_state(settings.server)  # for the server's protocols
        finally:
            for task in (opening, sampling):
                if task is not None:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
            if app.state.stream is not None:
                await app.state.stream.stop()
            if app.state.audit is not None:
                await asyncio.to_thread(app.state.audit.stop)  # every answered request's row
            await rpc.close()
            if app.state.db is not None:
                app.state.db.dispose()

    app = Gateway(
        title="tradebridge",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        default_response_class=MsgspecResponse,
        # A trailing slash is a 404 like any unknown path: Starlette's redirect would send
        # the client to a Location built from its own Host header.
        redirect_slashes=False,
        docs_url=None,  # served from the package instead of a CDN (`install_reference`)
        redoc_url=None,
    )
    app.state.db = None
    app.state.stream = None
    app.state.audit = None
    app.state.database_open = False
    app.state.engine_address = link.rpc_address
    app.state.default_account = settings.accounts[0].id
    app.state.metrics = metrics
    token = settings.metrics.token
    app.state.metrics_token = token.get_secret_value() if token is not None else None
    # Outermost last, all in front of FastAPI's own layers (`api.gateway`): Observer (request
    # id, metrics, access log, audit) sees every answer, refusals of the layers below included,
    # with the client address TrustedProxies found. The hot routes on their happy path (see
    # `api.lean`), innermost.
    lean = (*V1_ROUTES, *HTTPTRADING_LEAN_ROUTES, *VNPY_LEAN_ROUTES)
    app.add_layer(lambda inner: LeanRoutes(inner, routes=lean))
    app.add_layer(StrictJsonBodies)
    app.add_layer(BodySizeLimit)
    on_limited = metrics.rate_limited if metrics else lambda name: None
    app.add_layer(lambda inner: RateLimits(inner, settings.rate_limits, on_limited))
    app.add_layer(UntilDatabaseOpen)
    app.add_layer(lambda inner: Observer(inner, metrics, settings.access_log))
    app.add_layer(lambda inner: TrustedProxies(inner, settings.server.trusted_proxies))
    install_error_handlers(app)
    app.add_exception_handler(OperationalError, _database_error)
    app.include_router(v1_router)
    app.include_router(stream_router)
    install_httptrading(app, settings)
    if settings.compat.vnpy.enabled:
        install_vnpy(app, settings)
    if settings.compat.qmt_service.enabled:
        install_qmt_service(app, settings)
    if settings.compat.xtquant_http.enabled:
        install_xtquant_http(app, settings)
    if metrics is not None:
        app.include_router(metrics_router)
    install_page(app)
    install_websocket_not_found(app)
    install_token_redaction()

    openapi.install(app, _edge_errors)
    install_reference(app, app.openapi_url or "/openapi.json")
    return app


def _edge_errors(path: str) -> tuple[str, ...]:
    """What the middleware may answer on a documented path before its route runs: the rate
    limits and the wait for the database (`UntilDatabaseOpen`)."""
    edge = () if path in UNCOUNTED_PATHS else ("rate_limited",)
    return edge if path in (HEALTH_PATH, METRICS_PATH) else (*edge, "engine_unavailable")


def _rpc_client(settings: Settings, link: WebEnd, metrics: Metrics | None) -> RpcClient:
    address, curve = link.rpc_address, link.curve
    heartbeat_ms, timeout_ms = settings.engine.heartbeat_ms, settings.engine.rpc_timeout_ms
    if metrics is None:
        return RpcClient(address, heartbeat_ms=heartbeat_ms, timeout_ms=timeout_ms, curve=curve)
    return MeasuredRpcClient(
        address, metrics, heartbeat_ms=heartbeat_ms, timeout_ms=timeout_ms, curve=curve
    )


async def _open_database(app: FastAPI, settings: Settings, link: WebEnd) -> None:
    """Open the database and start what needs it: authentication, the stream hub."""
    prepared = await asyncio.to_thread(prepare, settings)
    announce_admin_password(prepared, settings)  # a first run whose database was away until now
    engine: EngineClient = app.state.engine
    hub = StreamHub.from_settings(settings, link, prepared.db, QuoteInterest(engine.watch_quotes))
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
        httptrading_tokens(settings),
        PasswordChecks(settings.server.login_concurrency, settings.server.login_queue),
    )
    metrics: Metrics | None = app.state.metrics
    audit = AuditWriter(
        prepared.db,
        on_written=metrics.audit_written if metrics else lambda rows: None,
        on_dropped=metrics.audit_dropped if metrics else lambda rows: None,
    )
    audit.start()
    app.state.db = prepared.db
    app.state.stream = hub
    app.state.audit = audit
    app.state.database_open = True


async def _open_database_later(
    app: FastAPI, settings: Settings, link: WebEnd, error: Exception
) -> None:
    """Try again, with backoff, until the database opens; requests get 503 meanwhile."""
    url = display_url(settings.database_url)
    delay = RETRY_START_S
    while True:
        reason = database_error_reason(error)
        log.error("cannot open the database %s: %s; trying again in %.1f s", url, reason, delay)
        await asyncio.sleep(delay)
        delay = min(delay * 2, RETRY_MAX_S)
        try:
            await _open_database(app, settings, link)
        except DATABASE_ERRORS as exc:
            error = exc
        else:
            log.info("database %s open", url)
            return


async def _sample_metrics(app: FastAPI) -> None:
    while True:
        sample_app_state(app.state)
        await asyncio.sleep(METRICS_SAMPLE_S)


class UntilDatabaseOpen:
    """Until the database is open, answer 503 `engine_unavailable` (WebSocket: close 1013),
    except for the health check, which needs only the engine, and the metrics (for the
    holder of the metrics token)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "lifespan"
            or scope["app"].state.database_open
            or scope["path"] in (HEALTH_PATH, METRICS_PATH)
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
    parent = multiprocessing.parent_process()
    metrics_dir = None
    if parent is not None and parent.pid is not None:  # a worker process of `--workers N`
        die_with_parent()
        configure_logging(f"web {os.getpid()}", settings.log_level)
        if settings.metrics.enabled:
            metrics_dir = use_multiprocess_dir(settings.data_dir, parent.pid)
    return create_app(settings, metrics_dir)
