"""The MiniQMT HTTP service dialect (`[compat.qmt_service]`, API.md §5): the routes of
document 001's FastAPI QMT backend under `prefix` (default `/api/v1/trading`), for one
account, paper or qmt alike.

- `bodies`: the `place-order` and `cancel-order` bodies; `objects`: its answers' shapes
- `router`: the routes, each the engine call of its /api/v1 counterpart
- integer order ids: `compat.aliases`; orders without a client order id: `compat.placing`
"""

from fastapi import FastAPI

from tradebridge.api.compat.paths import count_orders
from tradebridge.api.compat.qmt_service.errors import QmtServiceRoute
from tradebridge.api.compat.qmt_service.router import STATE, QmtServiceDialect, router
from tradebridge.api.compat.vnpy.errors import vnpy_error
from tradebridge.config import Settings

__all__ = ["install"]


def install(app: FastAPI, settings: Settings) -> None:
    """Serve the dialect from `app` (call it only when `[compat.qmt_service] enabled`)."""
    dialect = QmtServiceDialect(settings)
    setattr(app.state, STATE, dialect)
    prefix = settings.compat.qmt_service.prefix
    for path in ("/place-order", "/order"):  # on the account's order rate limit
        count_orders(app, "POST", prefix + path, dialect.account)
    app.include_router(router, prefix=prefix)
    # Bodies refused before a route runs (`json_bodies`) are answered with `detail` too: the
    # routes as the app holds them, under `prefix` (copies of the router's, or, since
    # FastAPI 0.16x, one entry for the included router).
    routes = [
        r
        for r in app.router.routes
        if isinstance(r, QmtServiceRoute) or getattr(r, "original_router", None) is router
    ]
    shapes = getattr(app.state, "error_shapes", [])
    app.state.error_shapes = [*shapes, (routes, vnpy_error)]
