"""The httptrading response envelope, for answers and for failures.

Every answer of the dialect is `{"type": "apiResponse", "instanceId", "broker",
"brokerDisplay", "time", "ex", ...}`. Unlike the original, which answers 200 with the
exception text in `ex`, a failure has the HTTP status of its error code (API.md §3), its
message in `ex`, and the same `error` object as `/api/v1` beside it, so programs can tell
errors apart by code (and the audit log records it).
"""

import logging
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Any

from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from tradebridge.api import openapi
from tradebridge.api.compat.httptrading.instances import Instance, instances_of
from tradebridge.api.encoding import json_response
from tradebridge.api.errors import STATUS_BY_CODE, validation_message
from tradebridge.domain.errors import TradebridgeError
from tradebridge.store.failures import DATABASE_ERRORS, database_error_reason

log = logging.getLogger(__name__)

INSTANCE_PARAM = "instanceId"
DATABASE_DOWN = "the database cannot be reached; try again shortly"
_CODE_BY_STATUS = {400: "bad_request", 404: "not_found", 413: "payload_too_large"}


_ENVELOPE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["type", "instanceId", "broker", "brokerDisplay", "time", "ex"],
    "properties": {
        "type": {"const": "apiResponse"},
        "instanceId": {"type": ["string", "null"]},
        "broker": {"type": ["string", "null"]},
        "brokerDisplay": {"type": ["string", "null"]},
        "time": {"type": "string", "format": "date-time"},
        "ex": {"type": ["string", "null"], "description": "null, or what went wrong"},
    },
    "additionalProperties": True,
}
RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The envelope and the route's fields (document 002)",
        "content": {"application/json": {"schema": _ENVELOPE_SCHEMA}},
    },
}
"""The OpenAPI answer of every route of the dialect; its errors are documented per route."""
FAILURE_SCHEMA: dict[str, Any] = {
    **_ENVELOPE_SCHEMA,
    "description": "A failure: the envelope with the message in `ex`, and the error object",
    "required": [*_ENVELOPE_SCHEMA["required"], "error"],
    "properties": {
        **_ENVELOPE_SCHEMA["properties"],
        "ex": {"type": "string"},
        "error": {"$ref": "#/components/schemas/ErrorInfo"},
    },
}


def envelope(instance: Instance | None, ex: str | None = None, **fields: Any) -> dict[str, Any]:
    return {
        "type": "apiResponse",
        "instanceId": instance.instance_id if instance else None,
        "broker": instance.broker if instance else None,
        "brokerDisplay": instance.broker_display if instance else None,
        "time": datetime.now(UTC).isoformat(),
        "ex": ex,
        **fields,
    }


def answer(instance: Instance, **fields: Any) -> Response:
    return json_response(envelope(instance, **fields))


def failure(request: Request, exc: Exception) -> Response:
    """The envelope of a failed request: the instance's fields when the path names one."""
    code, message, details = _describe(request, exc)
    instance = instances_of(request.app.state).get(request.path_params.get(INSTANCE_PARAM, ""))
    body = envelope(
        instance, ex=message, error={"code": code, "message": message, "details": details}
    )
    return json_response(body, STATUS_BY_CODE.get(code, 500))


def _describe(request: Request, exc: Exception) -> tuple[str, str, dict[str, Any]]:
    if isinstance(exc, TradebridgeError):
        return exc.code, exc.message, exc.details
    if isinstance(exc, RequestValidationError):
        return _validation(request, exc)
    if isinstance(exc, HTTPException):
        return _CODE_BY_STATUS.get(exc.status_code, "bad_request"), str(exc.detail), {}
    if isinstance(exc, DATABASE_ERRORS):
        reason = database_error_reason(exc)
        log.error("database error on %s %s: %s", request.method, request.url.path, reason)
        return "engine_unavailable", DATABASE_DOWN, {}
    log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return "internal_error", "internal error; the server log has the details", {}


def _validation(request: Request, exc: RequestValidationError) -> tuple[str, str, dict[str, Any]]:
    errors = exc.errors()
    if any(e["type"] == "json_invalid" for e in errors):
        return "bad_request", "the request body is not valid JSON", {}
    content_type = request.headers.get("content-type", "")
    body_errors = any(e["loc"] and e["loc"][0] == "body" for e in errors)
    if body_errors and request.method == "POST" and "json" not in content_type:
        return (
            "bad_request",
            f"send the body as JSON with Content-Type: application/json (got {content_type!r})",
            {},
        )
    fields = [{"field": _field(e["loc"]), "message": validation_message(e)} for e in errors]
    first = fields[0]
    details = {"field": first["field"], "errors": fields}
    return "validation_error", f"{first['field']}: {first['message']}", details


def _field(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


class EnvelopeRoute(APIRoute):
    """A route whose every failure, from its dependencies (instance, credentials, request
    validation) or from the engine, is answered in the envelope."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def enveloped(request: Request) -> Response:
            try:
                return await handler(request)
            except Exception as exc:
                return failure(request, exc)

        return enveloped


openapi.shape(EnvelopeRoute, "HttptradingFailure", FAILURE_SCHEMA)
