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
for module in (
    health,
    auth,
    keys,
    accounts,
    risk,
    orders,
    trades,
    market,
    paper,
    audit,
    strategies,
):
    router.include_router(module.router)
