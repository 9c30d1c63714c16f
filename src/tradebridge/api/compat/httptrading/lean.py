"""The dialect's hot routes on the lean path (`api.lean`): placing an order and the cash, as
`router.py` answers them, for a caller `access.py` would admit."""

from typing import Any

from starlette.responses import Response
from starlette.types import Scope

from tradebridge.api.caller import caller_of
from tradebridge.api.compat.httptrading.access import TOKEN_HEADER
from tradebridge.api.compat.httptrading.bodies import HttptradingPlaceOrder
from tradebridge.api.compat.httptrading.envelope import INSTANCE_PARAM, answer, failure
from tradebridge.api.compat.httptrading.instances import Instance, instances_of
from tradebridge.api.compat.httptrading.objects import cash_object
from tradebridge.api.lean import LeanRequest, LeanRoute, allows
from tradebridge.api.security import Scope as AuthScope

BASE = "/httptrading/api/{instanceId}"
_TOKEN = TOKEN_HEADER.lower().encode()


def _admitted(scope: AuthScope) -> Any:
    """The instance, if its `HT-TOKEN` is sent, or else the caller has `scope` on its
    account (`access._allowed`)."""

    def admit(request: Scope, params: dict[str, str]) -> Instance | None:
        instance = instances_of(request["app"].state).get(params[INSTANCE_PARAM])
        if instance is None:
            return None
        token = next((v for k, v in request["headers"] if k == _TOKEN), None)
        if token is not None:
            return instance if instance.accepts(token.decode("latin-1")) else None
        principal = caller_of(request).principal
        if principal is None or not allows(principal, scope, instance.account):
            return None
        return instance

    return admit


async def _place(request: LeanRequest) -> Response:
    instance: Instance = request.admitted
    body: HttptradingPlaceOrder = request.body
    result = await request.engine.place(instance.account, body.to_request())
    return answer(instance, orderId=result.order.id, args=request.value)


async def _cash(request: LeanRequest) -> Response:
    instance: Instance = request.admitted
    summary = await request.engine.summary(instance.account)
    return answer(instance, cash=cash_object(summary.currency, summary.available))


LEAN_ROUTES = (
    LeanRoute(
        "POST",
        f"{BASE}/order/place",
        _admitted(AuthScope.TRADE),
        _place,
        HttptradingPlaceOrder,
        failure,
    ),
    LeanRoute("GET", f"{BASE}/cash/state", _admitted(AuthScope.READ), _cash, failure=failure),
)
