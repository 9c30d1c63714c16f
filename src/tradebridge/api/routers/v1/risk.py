from typing import Annotated, Any

from fastapi import APIRouter, Body
from starlette.responses import Response

from tradebridge.api.deps import Admin, EngineDep, Reader
from tradebridge.api.encoding import json_response
from tradebridge.api.openapi import raises, returns
from tradebridge.config import RiskSettings
from tradebridge.engine.protocol import RiskState, RiskUpdate

router = APIRouter(tags=["risk"])

RISK_EXAMPLES: dict[str, Any] = {
    "limits": {
        "summary": "Cap order size and notional",
        "value": {"max_order_qty": 10000, "max_order_notional": 1000000},
    },
    "halt": {"summary": "Stop all trading", "value": {"trading_state": "halted"}},
    "clear": {"summary": "Remove a limit", "value": {"price_band_pct": None}},
}


@router.get(
    "/accounts/{account}/risk",
    summary="Risk limits and trading state",
    responses=returns(RiskState),
)
@raises("not_found")
async def get_risk(account: str, engine: EngineDep, principal: Reader) -> Response:
    return json_response(await engine.risk(account))


@router.put(
    "/accounts/{account}/risk",
    summary="Change risk limits or the trading state",
    responses=returns(RiskState),
)
@raises("not_found")
async def put_risk(
    account: str,
    body: Annotated[RiskSettings, Body(openapi_examples=RISK_EXAMPLES)],
    engine: EngineDep,
    principal: Admin,
) -> Response:
    """Only the fields in the body change; `null` removes a limit. The change holds from the
    next order on and survives a restart. Answers the settings now in force."""
    changes = {name: getattr(body, name) for name in body.model_fields_set}
    return json_response(await engine.set_risk(RiskUpdate(account=account, **changes)))
