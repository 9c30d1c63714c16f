"""Errors of the MiniQMT service dialect. Document 001's backend is a FastAPI server, as
vnpy_webtrader is, so its failures are FastAPI's `{"detail": ...}` beside our `error`
(vnpy's route class does exactly that); `place-order` and `cancel-order` add their
`success: false`, `order_id` and `message` (the router)."""

from tradebridge.api import openapi
from tradebridge.api.compat.vnpy.errors import VnpyRoute


class QmtServiceRoute(VnpyRoute):
    """A route whose failures are answered with `detail` and `error`."""


openapi.shape(
    QmtServiceRoute,
    "QmtServiceError",
    {
        "type": "object",
        "description": "FastAPI's `detail` (a text, or the list of field errors of a 422), as "
        "document 001's backend answers, beside the error object of API.md §3; `place-order` "
        "and `cancel-order` also answer `success` (false), `order_id` (the order's integer "
        "id, or null) and `message`",
        "required": ["detail", "error"],
        "properties": {
            "detail": {},
            "error": {"$ref": "#/components/schemas/ErrorInfo"},
            "success": {"const": False},
            "order_id": {"type": ["integer", "null"]},
            "message": {"type": "string"},
        },
    },
    unreadable_body="validation_error",  # FastAPI's 422 `json_invalid`
)
