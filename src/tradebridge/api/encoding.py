"""JSON responses encoded by msgspec: Decimals as JSON numbers, times as ISO-8601."""

from typing import Any

import msgspec
from starlette.responses import JSONResponse

_encoder = msgspec.json.Encoder(decimal_format="number")


class MsgspecResponse(JSONResponse):
    """A JSON response (so FastAPI documents it as one), rendered by msgspec."""

    def render(self, content: Any) -> bytes:
        return _encoder.encode(content)


def json_response(
    content: Any, status_code: int = 200, headers: dict[str, str] | None = None
) -> MsgspecResponse:
    return MsgspecResponse(content, status_code=status_code, headers=headers)
