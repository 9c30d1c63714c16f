"""`/openapi.json`: FastAPI's document of the routes, completed with what they send."""

from collections.abc import Callable, Iterable, Iterator
from typing import Any

import fastapi.routing
from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

from tradebridge.api.openapi import failures
from tradebridge.api.openapi.bodies import components

EdgeErrors = Callable[[str], Iterable[str]]
"""The error codes the middleware may answer on a documented path, before its route runs."""

TAGS = [
    {"name": "health", "description": "Is the web process up, with its database and engine"},
    {"name": "auth", "description": "Log in: a bearer token for the other routes"},
    {"name": "keys", "description": "API keys for scripts: scoped, optionally bound to an account"},
    {"name": "accounts", "description": "Balances, positions and the link to each broker"},
    {"name": "risk", "description": "Limits checked before an order reaches the broker"},
    {"name": "orders", "description": "Place, look up and cancel orders"},
    {"name": "trades", "description": "Fills"},
    {"name": "market", "description": "Contracts, quotes, venue status and bars"},
    {"name": "paper", "description": "Drive the simulated market of a paper account (admins)"},
    {"name": "audit", "description": "Who did what, when, from where (admins)"},
]


def install(app: FastAPI, edge_errors: EdgeErrors) -> None:
    """Serve the completed document as the app's OpenAPI schema (built on first request)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build(app, edge_errors)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def build(app: FastAPI, edge_errors: EdgeErrors) -> dict[str, Any]:
    spec = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
        tags=TAGS,
    )
    schemas: dict[str, Any] = spec.setdefault("components", {}).setdefault("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):  # FastAPI's 422, never sent
        schemas.pop(unused, None)
    schemas.update(components([failures.Error]))
    schemas.update(failures.shape_components())
    for path, route in documented_routes(app):
        for method in route.methods or ():
            operation = spec["paths"][path][method.lower()]
            answers = {k: v for k, v in operation["responses"].items() if k[0] in "123"}
            own, edge = failures.route_errors(route, operation)
            errors = failures.responses(route, own, edge | set(edge_errors(path)))
            operation["responses"] = dict(sorted({**answers, **errors}.items()))
    return spec


def documented_routes(app: FastAPI) -> Iterator[tuple[str, APIRoute]]:
    """Each route in the document with its full path template. FastAPI from 0.16x keeps
    included routers nested (a route knows its path within its router only); earlier ones
    copy each route into the app with its full path."""
    contexts = getattr(fastapi.routing, "iter_route_contexts", None)
    if contexts is None:
        for route in app.routes:
            if isinstance(route, APIRoute) and route.include_in_schema:
                yield route.path_format, route
        return
    for context in contexts(app.routes):
        route = context.original_route
        if isinstance(route, APIRoute) and context.include_in_schema:
            yield context.path_format, route
