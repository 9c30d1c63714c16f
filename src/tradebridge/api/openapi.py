"""OpenAPI schemas of the responses, generated from the msgspec domain types.

Responses are encoded by msgspec straight from domain structs, so their schemas come from
the same types rather than from a second, hand-kept set of pydantic models.
"""

from typing import Any

import msgspec
from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

_REF = "#/components/schemas/{name}"
_types: list[Any] = []


def returns(tp: Any, status: int = 200, description: str = "OK") -> dict[int | str, Any]:
    """`responses=` for a route whose body is `tp` (a struct or `list[struct]`)."""
    _types.append(tp)
    (schema,), _ = msgspec.json.schema_components([tp], ref_template=_REF)
    return {
        status: {"description": description, "content": {"application/json": {"schema": schema}}}
    }


def install(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            spec = get_openapi(
                title=app.title, version=app.version, routes=app.routes, description=app.description
            )
            _, components = msgspec.json.schema_components(_types, ref_template=_REF)
            spec.setdefault("components", {}).setdefault("schemas", {}).update(components)
            app.openapi_schema = spec
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
