"""REST API v1 (API.md §3), one small module per resource."""

from fastapi import APIRouter

from tradebridge.api.routers.v1 import (
    accounts,
    audit,
    auth,
    health,
    keys,
    market,
    orders,
    paper,
    risk,
    strategies,
    trades,
)

router = APIRouter(prefix="/api/v1")
# Routes are matched in this order: the order routes, the hottest path, first. The document's
# sections follow `openapi.document.TAGS`, not this order.
for module in (
    orders,
    accounts,
    health,
    auth,
    keys,
    risk,
    trades,
    market,
    paper,
    audit,
    strategies,
):
    router.include_router(module.router)
