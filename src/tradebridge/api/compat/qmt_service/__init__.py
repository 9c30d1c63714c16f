"""The MiniQMT HTTP service dialect (`[compat.qmt_service]`, API.md §5): the routes of
document 001's FastAPI QMT backend under `prefix` (default `/api/v1/trading`), for one
account, paper or qmt alike.

- `bodies`: the `place-order` and `cancel-order` bodies; `objects`: its answers' shapes
- `router`: the routes, each the engine call of its /api/v1 counterpart
- integer order ids: `compat.aliases`; orders without a client order id: `compat.placing`
"""

from fastapi import FastAPI

from tradebridge.api.compat.paths import count_orders
from tradebridge.api.compat.qmt_service.router import STATE, QmtServiceDialect, router
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
