"""`GET /metrics`: Prometheus metrics, for admins and for scrapers holding `[metrics] token`."""

import hmac

from fastapi import APIRouter, Request
from starlette.responses import Response

from tradebridge.api.deps import Authenticator
from tradebridge.api.errors import error_response
from tradebridge.api.metrics import Metrics, sample_app_state
from tradebridge.api.security import Scope

router = APIRouter()

METRICS_PATH = "/metrics"


@router.get(METRICS_PATH, include_in_schema=False)
async def metrics(request: Request) -> Response:
    """Needs `Authorization: Bearer <[metrics] token>`, or an admin's token or API key. An
    admin key bound to an account reads only the series of that account."""
    account = None
    if not _has_metrics_token(request):
        if getattr(request.app.state, "authenticator", None) is None:
            return error_response(
                "engine_unavailable", "the database cannot be reached; send the metrics token"
            )
        authenticator: Authenticator = request.app.state.authenticator
        principal = authenticator.authenticate(request)
        principal.require(Scope.ADMIN)
        account = principal.account
    registry: Metrics = request.app.state.metrics
    sample_app_state(request.app.state)
    body, content_type = registry.render(account)
    return Response(body, media_type=content_type)


def _has_metrics_token(request: Request) -> bool:
    token = request.app.state.metrics_token
    if token is None:
        return False
    scheme, _, credential = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        credential.strip().encode(), token.encode()
    )
