"""The OpenAPI document (`/openapi.json`) and the interactive reference at `/docs`.

The document describes what the server sends: success bodies from the msgspec types the
routes encode (`returns`), every error answer of each route in the error shape of API.md §3
(`raises`), and the credentials each route takes (FastAPI security dependencies, so the
reference's "Authorize" button works).
"""

from tradebridge.api.openapi.bodies import returns
from tradebridge.api.openapi.document import install
from tradebridge.api.openapi.failures import raises, shape

__all__ = ["install", "raises", "returns", "shape"]
