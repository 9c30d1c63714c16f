"""Failures of the xtquant dialect: the status and `{"error": {"code", "message",
"details"}}` of API.md §3, with what xtquant answers on failure beside it where a script
reads it: `"order_id": -1` on `place_order`, `"cancel_order_result": -1` on `cancel_order`,
and the error code in `X-Reject-Reason` on both.

A refusal by the account (`place_order`) and a cancel that cannot be done (`cancel_order`)
are not failures of the request: they answer 200 with -1, as xtquant's calls return it (the
routes do that themselves). Every route uses `XtquantRoute`, so whatever it or its
dependencies raise (credentials, parameters, the engine) is answered this way, never as a
500 page.
"""

import logging
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response

from tradebridge.api import openapi
from tradebridge.api.encoding import json_response
from tradebridge.api.errors import STATUS_BY_CODE, validation_message
from tradebridge.domain.errors import TradebridgeError
from tradebridge.store.failures import DATABASE_ERRORS, database_error_reason

log = logging.getLogger(__name__)

DATABASE_DOWN = "the database cannot be reached; try again shortly"
REJECT_REASON = "X-Reject-Reason"
FAILED = -1
FAILURE_FIELDS: dict[str, dict[str, int]] = {
    "place_order": {"order_id": FAILED},
    "cancel_order": {"cancel_order_result": FAILED},
}
"""By route (endpoint name): what xtquant returns when the call fails."""


def minus_one(
    route: str, reason: str, status: int = 200, body: dict[str, Any] | None = None
) -> Response:
    """xtquant's -1 answer of `route`, `reason` in `X-Reject-Reason`."""
    return json_response({**FAILURE_FIELDS[route], **(body or {})}, status, {REJECT_REASON: reason})


def failure(route: str, code: str, message: str, details: dict[str, Any]) -> Response:
    error = {"error": {"code": code, "message": message, "details": details}}
    status = STATUS_BY_CODE.get(code, 500)
    if route in FAILURE_FIELDS:
        return minus_one(route, code, status, error)
    return json_response(error, status)


def _invalid(route: str, fields: list[dict[str, str]]) -> Response:
    """422 `validation_error` naming every field's problem (`details.field` the first's, as
    on /api/v1)."""
    first = fields[0] if fields else {"field": "query", "message": "invalid request"}
    message = f"{first['field']}: {first['message']}"
    details = {"field": first["field"], "errors": fields or [first]}
    return failure(route, "validation_error", message, details)


def _validation(route: str, exc: RequestValidationError) -> Response:
    fields = [
        {
            "field": ".".join(str(p) for p in e["loc"][1:]) or "query",
            "message": validation_message(e),
        }
        for e in exc.errors()
    ]
    return _invalid(route, fields)


def _query_names(dependant: Dependant) -> set[str]:
    """The query parameters of a route and of its dependencies."""
    names = {p.alias for p in dependant.query_params}
    for dependency in dependant.dependencies:
        names |= _query_names(dependency)
    return names


def _unknown_parameters(route: str, unknown: list[str], declared: list[str]) -> Response:
    use = f"unknown parameter; use {', '.join(declared)}"
    return _invalid(route, [{"field": name[:64], "message": use} for name in unknown])


def _repeated_parameters(route: str, repeated: list[str]) -> Response:
    return _invalid(route, [{"field": n[:64], "message": "given more than once"} for n in repeated])


class XtquantRoute(APIRoute):
    """On a route that takes query parameters, one it does not know is 422: a misspelt
    `volumn` or `order_id` is never silently dropped (`token`, the credential, is known);
    and so is one given twice (`stock_code=A&stock_code=B` names no one order)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        route = self.name
        declared = _query_names(self.dependant)
        known = declared | {"token"}

        async def answer(request: Request) -> Response:
            unknown = [name for name in request.query_params if name not in known]
            if declared and unknown:
                return _unknown_parameters(route, unknown, sorted(declared))
            names = [name for name, _ in request.query_params.multi_items()]
            repeated = sorted({name for name in names if names.count(name) > 1})
            if declared and repeated:
                return _repeated_parameters(route, repeated)
            try:
                return await handler(request)
            except TradebridgeError as exc:
                return failure(route, exc.code, exc.message, exc.details)
            except RequestValidationError as exc:
                return _validation(route, exc)
            except DATABASE_ERRORS as exc:
                log.error(
                    "database error on %s %s: %s",
                    request.method,
                    request.url.path,
                    database_error_reason(exc),
                )
                return failure(route, "engine_unavailable", DATABASE_DOWN, {})

        return answer


openapi.shape(
    XtquantRoute,
    "XtquantFailure",
    {
        "type": "object",
        "description": "The error object of API.md §3, with xtquant's -1 beside it where "
        "scripts read it: `order_id` on `place_order`, `cancel_order_result` on "
        "`cancel_order` (and the error code in `X-Reject-Reason`)",
        "required": ["error"],
        "properties": {
            "error": {"$ref": "#/components/schemas/ErrorInfo"},
            "order_id": {"const": FAILED},
            "cancel_order_result": {"const": FAILED},
        },
    },
)
