"""The web app: FastAPI, with tradebridge's own middlewares in front of it rather than inside.

FastAPI wraps every request in layers of its own before the app's middlewares run (its error
middleware, native telemetry, which reads the environment each time, a body limit), and the
hot routes (`api.lean`) are answered by the innermost of ours. Placed in front, our chain sees
each request first and the hot routes never enter FastAPI; everything else goes on into it as
before. The outermost layer is Starlette's own error middleware with the app's handler of
unexpected errors, so an error raised in our chain is still answered 500 `internal_error`.
"""

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from starlette.middleware.errors import ServerErrorMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

Layer = Callable[[ASGIApp], ASGIApp]
"""One of our middlewares, given the app it wraps."""


class Gateway(FastAPI):
    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._edge: ASGIApp | None = None
        self._layers: list[Layer] = []

    def add_layer(self, layer: Layer) -> None:
        """Like `add_middleware`, outermost last, but in front of FastAPI's own layers."""
        if self._edge is not None:
            raise RuntimeError("the app has started: its layers are fixed")
        self._layers.append(layer)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await super().__call__(scope, receive, send)
            return
        scope["app"] = self
        await (self._edge or self._build_edge())(scope, receive, send)

    def _build_edge(self) -> ASGIApp:
        edge: ASGIApp = super().__call__
        for layer in self._layers:
            edge = layer(edge)
        self._edge = ServerErrorMiddleware(edge, handler=self.exception_handlers[Exception])
        return self._edge
