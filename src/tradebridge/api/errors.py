"""Every error as `{"error": {"code", "message", "details"}}` with its HTTP status (API.md §3).

Never an HTML page, never a stack trace, never a 200.
"""

import logging
from typing import Any

from fastapi import FastAPI, Request, WebSocket
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from tradebridge.api.encoding import json_response
from tradebridge.api.route_names import documented_methods
from tradebridge.domain.errors import TradebridgeError

log = logging.getLogger(__name__)

POLICY_VIOLATION = 1008

STATUS_BY_CODE: dict[str, int] = {
    "bad_request": 400,
    "unauthorized": 401,
    "forbidden": 403,
    "not_found": 404,
    "method_not_allowed": 405,
    "request_timeout": 408,
    "duplicate_client_order_id": 409,
    "not_cancelable": 409,
    "payload_too_large": 413,
    "validation_error": 422,
    "order_rejected": 422,
    "rate_limited": 429,
    "headers_too_large": 431,
    "internal_error": 500,
    "engine_unavailable": 503,
    "broker_unavailable": 503,
    "timeout": 504,
}

_CODE_BY_HTTP_STATUS = {
    404: "not_found",
    405: "method_not_allowed",
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    413: "payload_too_large",
}


def error_document(
    code: str, message: str, details: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The JSON of an error answer."""
    return {"error": {"code": code, "message": message, "details": details or {}}}


def error_response(
    code: str,
    message: str,
    details: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    body = error_document(code, message, details)
    return json_response(body, STATUS_BY_CODE.get(code, 500), headers)


def _domain_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, TradebridgeError)
    headers = None
    if exc.code == "unauthorized":
        headers = {"WWW-Authenticate": "Bearer"}
    elif exc.code == "rate_limited" and "retry_after" in exc.details:
        headers = {"Retry-After": str(exc.details["retry_after"])}
    return error_response(exc.code, exc.message, exc.details, headers)


def _field(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path")]
    return ".".join(parts) or "body"


def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    if any(e["type"] == "json_invalid" for e in errors):
        return error_response("bad_request", "the request body is not valid JSON")
    content_type = request.headers.get("content-type", "")
    body_errors = any(e["loc"] and e["loc"][0] == "body" for e in errors)
    if body_errors and request.method in ("POST", "PUT", "PATCH") and ("json" not in content_type):
        return error_response(
            "bad_request",
            f"send the body as JSON with Content-Type: application/json (got {content_type!r})",
        )
    fields = [{"field": _field(e["loc"]), "message": validation_message(e)} for e in errors]
    first = fields[0]
    return error_response(
        "validation_error",
        f"{first['field']}: {first['message']}",
        {"field": first["field"], "errors": fields},
    )


def validation_message(error: Any) -> str:
    """The text of one of pydantic's errors, without the "Value error, " it puts before the
    text of a `ValueError` raised by a validator: the text alone says it."""
    return str(error["msg"]).removeprefix("Value error, ")


def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    code = _CODE_BY_HTTP_STATUS.get(exc.status_code, "bad_request")
    message = {
        "not_found": f"no route {request.method} {request.url.path}",
        "method_not_allowed": f"{request.method} is not allowed on {request.url.path}",
    }.get(code, str(exc.detail))
    headers = dict(exc.headers or {})
    if exc.status_code == 405:  # every method of the path, not only those of one route
        headers["Allow"] = ", ".join(documented_methods(request.scope)) or headers.get("Allow", "")
    response = error_response(code, message, headers=headers or None)
    response.status_code = exc.status_code
    return response


def _unexpected_error(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return error_response("internal_error", "internal error; the server log has the details")


async def _no_websocket_route(websocket: WebSocket) -> None:
    """A WebSocket to a path that has none: 404 with our JSON, as an HTTP request would get
    (Starlette would refuse the handshake with a bare 403)."""
    message = f"no WebSocket route {websocket.url.path}"
    if "websocket.http.response" in websocket.scope.get("extensions", {}):
        await websocket.send_denial_response(error_response("not_found", message))
    else:
        await websocket.close(POLICY_VIOLATION, message)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(TradebridgeError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)


def install_websocket_not_found(app: FastAPI) -> None:
    """Last, after every WebSocket route: the others match first."""
    app.add_api_websocket_route("/{path:path}", _no_websocket_route)
