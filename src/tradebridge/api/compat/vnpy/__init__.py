"""The vnpy WebTrader dialect (`[compat.vnpy]`, API.md §5): vnpy_webtrader's routes at the
root, as a thin translation over the engine calls of /api/v1.

- `mapping`: vnpy's enums and exchange codes, and the tables between them and ours
- `objects`: our objects as vnpy's `to_dict` shows them
- `requests`: the body of `POST /order`
- `errors`: FastAPI-style `detail` beside our `error`, for every route
- `router`: the REST routes; `ws`: `WS /ws/`; `feed`: what the WebSockets receive
- `subscriptions`: the symbols of `POST /tick`; `dialect`: the state of one web worker
"""

from fastapi import FastAPI

from tradebridge.api.compat.paths import count_orders
from tradebridge.api.compat.vnpy.dialect import VnpyDialect
from tradebridge.api.compat.vnpy.errors import vnpy_error
from tradebridge.api.compat.vnpy.router import router
from tradebridge.api.compat.vnpy.ws import router as ws_router
from tradebridge.config import Settings

__all__ = ["install"]


def install(app: FastAPI, settings: Settings) -> None:
    """Serve the dialect from `app` (call it only when `[compat.vnpy] enabled`)."""
    dialect = VnpyDialect(settings)
    app.state.vnpy = dialect
    # `POST /order` counts on the account's order rate limit, as /api/v1's orders do.
    count_orders(app, "POST", "/order", dialect.account)
    app.include_router(router)
    app.include_router(ws_router)
    # Bodies refused before a route runs (`json_bodies`) are answered in vnpy's shape too.
    shapes = getattr(app.state, "error_shapes", [])
    app.state.error_shapes = [*shapes, (list(router.routes), vnpy_error)]
