"""The route a request went to, as its full path template (`/api/v1/accounts/{account}/orders`)
with its summary and path parameters: what metrics label and audit rows name.

FastAPI keeps included routers nested, so the matched route only knows its path relative to
its router; the full template is its concrete path with the route's own part put back as a
template. A request refused before routing (rate limit, body too large, database down) is
matched against the app's documented routes instead.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from starlette.routing import compile_path
from starlette.types import Scope


@dataclass(frozen=True, slots=True)
class RouteName:
    template: str | None = None
    summary: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)


def route_name(scope: Scope) -> RouteName:
    route = scope.get("route")
    if route is None:
        return _documented_route(scope)
    params: Mapping[str, Any] = scope.get("path_params", {})
    relative = getattr(route, "path_format", None) or getattr(route, "path", None)
    summary = getattr(route, "summary", None)
    if not isinstance(relative, str):
        return RouteName(None, summary, params)
    try:
        concrete = relative.format(**params)
    except (KeyError, IndexError, ValueError):
        return RouteName(relative, summary, params)
    path: str = scope["path"]
    template = path[: len(path) - len(concrete)] + relative if path.endswith(concrete) else relative
    return RouteName(template, summary, params)


@dataclass(frozen=True, slots=True)
class _Documented:
    method: str
    pattern: re.Pattern[str]
    template: str
    summary: str | None


def _documented_route(scope: Scope) -> RouteName:
    for documented in _documented(scope):
        if documented.method == scope["method"]:
            found = documented.pattern.match(scope["path"])
            if found:
                return RouteName(documented.template, documented.summary, found.groupdict())
    return RouteName()


def documented_methods(scope: Scope) -> list[str]:
    """The methods the OpenAPI document lists for the path of `scope` (for `Allow`)."""
    return [d.method for d in _documented(scope) if d.pattern.match(scope["path"])]


def _documented(scope: Scope) -> list[_Documented]:
    app = scope.get("app")
    openapi = getattr(app, "openapi", None)
    if app is None or openapi is None:
        return []
    table: list[_Documented] | None = getattr(app.state, "documented_routes", None)
    if table is None:  # read from the app's OpenAPI schema on first need
        table = app.state.documented_routes = [
            _Documented(method.upper(), compile_path(template)[0], template, op.get("summary"))
            for template, operations in openapi().get("paths", {}).items()
            for method, op in operations.items()
        ]
    return table
