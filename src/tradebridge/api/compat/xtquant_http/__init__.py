"""The xtquant HTTP wrapper dialect (`[compat.xtquant_http]`, API.md §5): the routes, keys
and quirks of document 003's Sanic wrapper over `XtQuantTrader` under `prefix` (default
`/xtquant/trade`), for one account, paper or qmt alike, but never without credentials and
never with default order parameters.

- `params`: the query parameters; `objects`: xtquant's objects under the wrapper's keys
- `errors`: failures, with xtquant's -1 where scripts read it
- `router`: the routes, each the engine call of its /api/v1 counterpart
- integer order ids: `compat.aliases`; orders without a client order id: `compat.placing`
"""

from fastapi import FastAPI

from tradebridge.api.compat.paths import accept_query_token, audit_gets, count_orders
from tradebridge.api.compat.xtquant_http.router import STATE, XtquantDialect, router
from tradebridge.config import Settings

__all__ = ["install"]


def install(app: FastAPI, settings: Settings) -> None:
    """Serve the dialect from `app` (call it only when `[compat.xtquant_http] enabled`).

    Its `GET`s that place and cancel orders are audited and counted on the account's order
    rate limit as `POST /api/v1/accounts/{id}/orders` is; its `?token=` names the caller of
    the rate limits and the audit log."""
    dialect = XtquantDialect(settings)
    setattr(app.state, STATE, dialect)
    prefix = settings.compat.xtquant_http.prefix
    count_orders(app, "GET", prefix + "/place_order", dialect.account)
    audit_gets(app, prefix + "/place_order", prefix + "/cancel_order")
    accept_query_token(app, prefix)
    app.include_router(router, prefix=prefix)
