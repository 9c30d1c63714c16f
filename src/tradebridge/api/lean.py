"""The hot routes answered without FastAPI's routing and dependency machinery.

Placing an order and the reads a strategy polls (an account's summary, its positions, one
order; the httptrading dialect's cash and order placing) are most of the traffic, and
FastAPI's per-request work (matching every route, solving a tree of dependencies, wrapping the
call in its middlewares) cost several times what the route itself does. Here, the innermost
middleware answers them directly, on the happy path only: a caller the route admits (found
once, `caller.caller_of`), no query string, and where there is a body a JSON object that the
body check (`json_bodies`) decoded and the route's model accepts. Anything else — no or bad
credentials, a scope or account not allowed, a body that is not JSON or does not validate —
goes on to the FastAPI route, which answers it exactly as before. The routes stay registered,
so the OpenAPI document is the same, and the request carries its route and path parameters as
routing would set them, for the metrics and the audit log. A failure of the engine is
answered as the route would answer it (`LeanRoute.failure`).

Each `LeanRoute` does what the code of its FastAPI route does; the tests compare the two.
"""

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from tradebridge.api.caller import caller_of
from tradebridge.api.encoding import json_response
from tradebridge.api.engine_client import EngineClient
from tradebridge.api.json_bodies import BODY_KEY
from tradebridge.api.openapi.document import documented_routes
from tradebridge.api.schemas import PlaceOrderBody
from tradebridge.api.security import Principal
from tradebridge.api.security import Scope as AuthScope
from tradebridge.domain.errors import TradebridgeError


@dataclass(frozen=True, slots=True)
class LeanRequest:
    engine: EngineClient
    admitted: Any
    """What `LeanRoute.admit` answered (the account, a dialect's instance)."""
    params: dict[str, str]
    body: Any = None
    """The route's body model, validated."""
    value: Any = None
    """The body as JSON."""


@dataclass(frozen=True, slots=True)
class LeanRoute:
    method: str
    template: str
    """The path template of the FastAPI route this stands in for."""
    admit: Callable[[Scope, dict[str, str]], Any]
    """Whether the caller may use the route: what the answer needs (None: not admitted, the
    FastAPI route answers)."""
    answer: Callable[[LeanRequest], Awaitable[Response]]
    body: type[BaseModel] | None = None
    failure: Callable[[Request, Exception], Response] | None = None
    """How the route answers a failure; by default the app's handler of `TradebridgeError`
    answers those, and anything else is raised (to the outermost handler)."""
    pattern: re.Pattern[str] = field(init=False)

    def __post_init__(self) -> None:
        path = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", self.template)
        object.__setattr__(self, "pattern", re.compile(f"^{path}$"))


def scoped(scope: AuthScope) -> Callable[[Scope, dict[str, str]], str | None]:
    """Admits a caller with `scope` on the path's `{account}` (as `deps._scoped` checks)."""

    def admit(request: Scope, params: dict[str, str]) -> str | None:
        principal = caller_of(request).principal
        account = params["account"]
        return account if principal is not None and allows(principal, scope, account) else None

    return admit


def allows(principal: Principal, scope: AuthScope, account: str) -> bool:
    try:
        principal.require(scope, account)
    except TradebridgeError:
        return False
    return True


async def _place(request: LeanRequest) -> Response:
    body: PlaceOrderBody = request.body
    result = await request.engine.place(request.admitted, body.to_request())
    return json_response(result.order, 201 if result.created else 200)


async def _summary(request: LeanRequest) -> Response:
    return json_response(await request.engine.summary(request.admitted))


async def _positions(request: LeanRequest) -> Response:
    return json_response(await request.engine.positions(request.admitted))


async def _order(request: LeanRequest) -> Response:
    order_id = request.params["order_id"]
    return json_response(await request.engine.get_order(request.admitted, order_id))


V1_ROUTES = (
    LeanRoute(
        "POST", "/api/v1/accounts/{account}/orders", scoped(AuthScope.TRADE), _place, PlaceOrderBody
    ),
    LeanRoute("GET", "/api/v1/accounts/{account}", scoped(AuthScope.READ), _summary),
    LeanRoute("GET", "/api/v1/accounts/{account}/positions", scoped(AuthScope.READ), _positions),
    LeanRoute(
        "GET", "/api/v1/accounts/{account}/orders/{order_id}", scoped(AuthScope.READ), _order
    ),
)
"""As `routers/v1/orders.py` and `routers/v1/accounts.py` do."""


class LeanRoutes:
    """ASGI middleware, innermost (inside `StrictJsonBodies`)."""

    def __init__(self, app: ASGIApp, routes: tuple[LeanRoute, ...]) -> None:
        self.app = app
        self._lean = routes
        self._routes: dict[tuple[str, str], BaseRoute] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not scope.get("query_string"):
            method, path = scope["method"], scope["path"]
            for lean in self._lean:
                if lean.method == method:
                    found = lean.pattern.match(path)
                    if found is not None and await self._answer(lean, found, scope, send):
                        return
        await self.app(scope, receive, send)

    async def _answer(
        self, lean: LeanRoute, found: re.Match[str], scope: Scope, send: Send
    ) -> bool:
        """Answer the request; False (nothing sent) when the FastAPI route must."""
        params = found.groupdict()
        admitted = lean.admit(scope, params)
        if admitted is None:
            return False
        body = value = None
        if lean.body is not None:
            value = scope.get("state", {}).get(BODY_KEY)
            if not isinstance(value, dict):
                return False
            try:
                body = lean.body.model_validate(value)
            except ValidationError:
                return False
        app = scope["app"]
        scope["route"] = self._route(app, lean)
        scope["path_params"] = params
        request = LeanRequest(app.state.engine, admitted, params, body, value)
        try:
            response = await lean.answer(request)
        except Exception as exc:
            response = self._failure(lean, scope, exc)
        await response(scope, _no_body, send)
        return True

    @staticmethod
    def _failure(lean: LeanRoute, scope: Scope, exc: Exception) -> Response:
        if lean.failure is not None:
            return lean.failure(Request(scope), exc)
        if not isinstance(exc, TradebridgeError):
            raise exc
        handler = scope["app"].exception_handlers[TradebridgeError]
        response: Response = handler(Request(scope), exc)
        return response

    def _route(self, app: Any, lean: LeanRoute) -> BaseRoute:
        """The FastAPI route `lean` stands in for (what routing would have put in the scope)."""
        if self._routes is None:
            self._routes = {
                (method, path): route
                for path, route in documented_routes(app)
                for method in route.methods or ()
            }
        return self._routes[(lean.method, lean.template)]


async def _no_body() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}
