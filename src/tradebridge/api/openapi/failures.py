"""The error answers of each route, for the OpenAPI document.

Every error is `{"error": {"code", "message", "details"}}` (API.md §3); the dialects add their
own fields beside `error` (`shape`). What a route may answer is gathered from what can refuse
it: the endpoint and its dependencies name the codes they raise (`raises`), a request body
can be unreadable, too large or invalid, query parameters invalid, and the middleware in
front of the routes refuses on its own (`edge_errors` of `install`).
"""

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import msgspec
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from tradebridge.api.errors import STATUS_BY_CODE
from tradebridge.api.openapi.bodies import REF

F = TypeVar("F", bound=Callable[..., Any])

_raised: dict[Callable[..., Any], tuple[str, ...]] = {}
_shapes: dict[type[APIRoute], "_Shape"] = {}
"""The error shape of each dialect's route class (`shape`)."""

MEANING = {
    "bad_request": "the body is not JSON, or not sent as `application/json`",
    "unauthorized": "no credentials, or invalid, expired or revoked ones",
    "forbidden": "the role, scope or account binding does not allow this",
    "not_found": "no such account, order or key",
    "duplicate_client_order_id": "this `client_order_id` was used with other parameters",
    "not_cancelable": "the order is already done or being canceled",
    "payload_too_large": "the body is over 1 MiB",
    "validation_error": "a field is invalid: `details.errors` lists `{field, message}`",
    "order_rejected": (
        "the order was refused and recorded as `rejected`: `details.reason`, `details.order_id`"
    ),
    "rate_limited": "over a rate limit: try again after `Retry-After` seconds",
    "engine_unavailable": "the engine or the database cannot be reached: try again shortly",
    "broker_unavailable": "the account's broker is not connected: try again shortly",
    "timeout": (
        "no answer in time: the outcome is unknown (look an order up by its `client_order_id`)"
    ),
}


class ErrorInfo(msgspec.Struct, frozen=True):
    code: str
    """Stable; see the table of codes in docs/API.md."""
    message: str
    """For people: what went wrong and what to do."""
    details: dict[str, Any]
    """For programs: `errors` (validation), `reason` and `order_id` (rejected orders),
    `retry_after` (rate limits), the `field` or `scope` concerned."""


class Error(msgspec.Struct, frozen=True):
    """Every error answer (API.md §3): a code, a message and details."""

    error: ErrorInfo


def raises(*codes: str) -> Callable[[F], F]:
    """Document that an endpoint or a dependency may answer these error codes."""
    unknown = [code for code in codes if code not in STATUS_BY_CODE]
    if unknown:
        raise ValueError(f"unknown error codes {unknown}")

    def register(function: F) -> F:
        _raised[function] = (*_raised.get(function, ()), *codes)
        return function

    return register


class _Shape(msgspec.Struct, frozen=True):
    name: str
    schema: dict[str, Any]
    unreadable_body: str


_PLAIN = _Shape("Error", {}, "bad_request")
"""The errors of `/api/v1` (and of the middleware)."""


def shape(
    route_class: type[APIRoute],
    name: str,
    schema: dict[str, Any],
    unreadable_body: str = "bad_request",
) -> None:
    """The routes of `route_class` answer their errors as `schema` (a dialect's fields beside
    the `error` object), a component named `name`, and a JSON body that cannot be read with
    the code `unreadable_body`."""
    _shapes[route_class] = _Shape(name, schema, unreadable_body)


def shape_components() -> dict[str, dict[str, Any]]:
    return {shape.name: shape.schema for shape in _shapes.values()}


def raised_by(dependant: Dependant) -> set[str]:
    """The codes registered for the endpoint of `dependant` and all its dependencies."""
    codes = set(_raised.get(dependant.call, ())) if dependant.call is not None else set()
    for dependency in dependant.dependencies:
        codes |= raised_by(dependency)
    return codes


def route_errors(route: APIRoute, operation: dict[str, Any]) -> tuple[set[str], set[str]]:
    """What the route itself (its endpoint, dependencies and request parsing) may answer,
    and what the middleware may answer because of what the route takes."""
    own, edge = raised_by(route.dependant), set[str]()
    body = operation.get("requestBody")
    if body is not None:
        own.add("validation_error")
        if "application/json" in body.get("content", {}):
            own.add(_shape_of(route).unreadable_body)  # malformed, or another content type
            # Not even text (FastAPI's own 400), or refused by the strict JSON reader in front
            # of the routes (`api.json_bodies`): in the plain shape.
            edge.update(("bad_request", "validation_error"))
        # Over the size limit: refused before the route when the length is declared, by the
        # route when the body is streamed.
        own.add("payload_too_large")
        edge.add("payload_too_large")
    if any(_can_be_invalid(p) for p in operation.get("parameters", [])):
        own.add("validation_error")
    return own, edge


_ANNOTATIONS = {"title", "description", "default", "examples"}


def _can_be_invalid(parameter: dict[str, Any]) -> bool:
    """A parameter is refused by validation when it is required and missing, or when its
    value does not fit its schema; one that takes any text, or none, never is."""
    missing = parameter.get("required", False) and parameter.get("in") != "path"
    return missing or not _any_text(parameter.get("schema", {}))


def _any_text(schema: dict[str, Any]) -> bool:
    if "anyOf" in schema:
        rest = set(schema) - _ANNOTATIONS - {"anyOf"}
        return not rest and all(
            _any_text(branch) or branch == {"type": "null"} for branch in schema["anyOf"]
        )
    return schema.get("type") == "string" and set(schema) - _ANNOTATIONS == {"type"}


def responses(
    route: APIRoute, own: Iterable[str], edge: Iterable[str]
) -> dict[str, dict[str, Any]]:
    """The error responses of one operation, by status: `own` codes come from the route
    (answered in its dialect's shape), `edge` ones from the middleware (the plain shape)."""
    own, edge = set(own), set(edge)
    dialect = _shape_of(route).name
    answers: dict[str, dict[str, Any]] = {}
    for status in sorted({STATUS_BY_CODE[c] for c in own | edge}):
        codes = sorted(c for c in own | edge if STATUS_BY_CODE[c] == status)
        shapes = sorted(
            {dialect for c in codes if c in own} | {Error.__name__ for c in codes if c in edge}
        )
        answers[str(status)] = _response(status, codes, shapes)
    return answers


def _shape_of(route: APIRoute) -> _Shape:
    return _shapes.get(type(route), _PLAIN)


def _response(status: int, codes: list[str], shapes: list[str]) -> dict[str, Any]:
    refs = [{"$ref": REF.format(name=name)} for name in shapes]
    schema: dict[str, Any] = refs[0] if len(refs) == 1 else {"anyOf": refs}
    # Which codes this status carries here (JSON Schema 2020-12 allows siblings of $ref).
    narrowed = {"properties": {"error": {"properties": {"code": {"enum": codes}}}}}
    answer: dict[str, Any] = {
        "description": "; ".join(f"`{c}`: {MEANING.get(c, c.replace('_', ' '))}" for c in codes),
        "content": {"application/json": {"schema": {**schema, **narrowed}}},
    }
    if status == 401:
        answer["headers"] = {"WWW-Authenticate": _header("`Bearer`")}
    if status == 429:
        answer["headers"] = {"Retry-After": _header("Seconds to wait", "integer")}
    return answer


def _header(description: str, kind: str = "string") -> dict[str, Any]:
    return {"description": description, "schema": {"type": kind}}
