"""Errors of the vnpy dialect: FastAPI's `{"detail": ...}`, as vnpy_webtrader answers, beside
our own `{"error": {"code", "message", "details"}}` (API.md §3), with the status of our code.

vnpy's clients read `detail` (a text, or FastAPI's list of field errors for a 422); our
tools (audit, metrics) read `error.code`. Every route of the dialect uses `VnpyRoute`, so
whatever a route or its dependencies raise is answered this way, never as a 500.
"""

import logging
from collections.abc import Callable, Coroutine
from typing import Any

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


def vnpy_error(
    code: str,
    message: str,
    details: dict[str, Any] | None = None,
    *,
    detail: Any = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """`detail` defaults to `message`."""
    body = {
        "detail": message if detail is None else detail,
        "error": {"code": code, "message": message, "details": details or {}},
    }
    if code == "unauthorized":
        headers = {"WWW-Authenticate": "Bearer", **(headers or {})}
    return json_response(body, STATUS_BY_CODE.get(code, 500), headers)


def error_answer(exc: TradebridgeError) -> Response:
    headers = None
    if exc.code == "rate_limited" and "retry_after" in exc.details:
        headers = {"Retry-After": str(exc.details["retry_after"])}
    return vnpy_error(exc.code, exc.message, exc.details, headers=headers)


def validation_answer(exc: RequestValidationError) -> Response:
    """422 with FastAPI's list of field errors (without the input, which may hold anything
    the client sent)."""
    errors = [
        {"type": e["type"], "loc": list(e["loc"]), "msg": validation_message(e)}
        for e in exc.errors()
    ]
    fields = [
        {"field": ".".join(str(p) for p in e["loc"][1:]) or "body", "message": e["msg"]}
        for e in errors
    ]
    first = fields[0] if fields else {"field": "body", "message": "invalid request"}
    return vnpy_error(
        "validation_error",
        f"{first['field']}: {first['message']}",
        {"field": first["field"], "errors": fields},
        detail=errors,
    )


def failure_answer(request: Request, exc: Exception) -> Response:
    """The dialect's answer to what a route raised: our errors, FastAPI's validation errors
    and the database's; anything else is raised again, for the outermost handler."""
    if isinstance(exc, TradebridgeError):
        return error_answer(exc)
    if isinstance(exc, RequestValidationError):
        return validation_answer(exc)
    if isinstance(exc, DATABASE_ERRORS):
        log.error(
            "database error on %s %s: %s",
            request.method,
            request.url.path,
            database_error_reason(exc),
        )
        return vnpy_error("engine_unavailable", DATABASE_DOWN)
    raise exc


class VnpyRoute(APIRoute):
    """A route whose failures are answered in the dialect's shape."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def answer(request: Request) -> Response:
            try:
                return await handler(request)
            except Exception as exc:
                return failure_answer(request, exc)

        return answer


openapi.shape(
    VnpyRoute,
    "VnpyError",
    {
        "type": "object",
        "description": "FastAPI's `detail` (a text, or the list of field errors of a 422), as "
        "vnpy_webtrader answers, beside the error object of API.md §3",
        "required": ["detail", "error"],
        "properties": {"detail": {}, "error": {"$ref": "#/components/schemas/ErrorInfo"}},
    },
    unreadable_body="validation_error",  # FastAPI's 422 `json_invalid`, as vnpy answers
)
