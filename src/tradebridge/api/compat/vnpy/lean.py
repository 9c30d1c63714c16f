"""The dialect's `POST /order` on the lean path (`api.lean`), as `router.place_order` answers
it (failures as `errors.VnpyRoute` answers them), for a caller with `trade` on the dialect's
account; only where the dialect is served."""

from starlette.responses import Response
from starlette.types import Scope

from tradebridge.api.caller import caller_of
from tradebridge.api.compat.vnpy.dialect import VnpyDialect
from tradebridge.api.compat.vnpy.errors import failure_answer
from tradebridge.api.compat.vnpy.requests import VnpyOrderBody
from tradebridge.api.compat.vnpy.router import place
from tradebridge.api.lean import LeanRequest, LeanRoute, allows
from tradebridge.api.security import Scope as AuthScope


def _trader(request: Scope, params: dict[str, str]) -> VnpyDialect | None:
    dialect: VnpyDialect | None = getattr(request["app"].state, "vnpy", None)
    if dialect is None:
        return None
    principal = caller_of(request).principal
    if principal is None or not allows(principal, AuthScope.TRADE, dialect.account):
        return None
    return dialect


async def _place(request: LeanRequest) -> Response:
    body: VnpyOrderBody = request.body
    return await place(request.admitted, request.engine, body)


LEAN_ROUTES = (LeanRoute("POST", "/order", _trader, _place, VnpyOrderBody, failure_answer),)
