"""JSON responses encoded by msgspec: Decimals as JSON numbers, times as ISO-8601."""

from typing import Any

import msgspec
from starlette.responses import JSONResponse
from starlette.types import Receive, Scope, Send

_encoder = msgspec.json.Encoder(decimal_format="number")

ANSWER_KEY = "tradebridge_answer"
"""In a request's state: (what its answer encoded, the encoded body), so the observers read the
answer without decoding it again (`observe.Observer`)."""


class MsgspecResponse(JSONResponse):
    """A JSON response (so FastAPI documents it as one), rendered by msgspec."""

    def render(self, content: Any) -> bytes:
        self.content = content
        return _encoder.encode(content)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope.setdefault("state", {})[ANSWER_KEY] = (self.content, self.body)
        await super().__call__(scope, receive, send)


def json_response(
    content: Any, status_code: int = 200, headers: dict[str, str] | None = None
) -> MsgspecResponse:
    return MsgspecResponse(content, status_code=status_code, headers=headers)
