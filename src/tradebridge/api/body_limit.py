"""Request body size limit with our JSON error, for declared and for streamed bodies."""

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tradebridge.api.errors import error_response

MAX_BODY_BYTES = 1024 * 1024


class BodySizeLimit:
    """413 `payload_too_large` for bodies over the limit.

    A declared Content-Length over the limit is answered at once; a streamed body is cut off
    by raising a 413 HTTPException from `receive`, which FastAPI passes to our error handler.
    """

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit() and int(value) > self.max_bytes:
                await self._too_large()(scope, receive, send)
                return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                raise HTTPException(413, self._message())
            return message

        await self.app(scope, limited_receive, send)

    def _message(self) -> str:
        return f"the request body is over {self.max_bytes} bytes"

    def _too_large(self) -> ASGIApp:
        return error_response("payload_too_large", self._message())
