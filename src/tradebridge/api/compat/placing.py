"""Placing an order for a dialect whose clients send no client order id (vnpy WebTrader, the
QMT dialects), so that a retry never doubles it.

/api/v1 callers resolve an unknown outcome themselves: a 504 says "look the order up by your
`client_order_id`". These clients have no such id, and their scripts retry a failed call. So
the dialect gives each request a fresh client order id and, when the engine's answer is lost
(`Timeout`: it may have placed the order), asks again under that same id: the engine answers
with the order it has, or places it once. The caller gets 503 only when nothing reached the
engine, and 504 (with the `client_order_id` to look for) only when the engine stayed out of
reach for every attempt.
"""

import asyncio
import uuid

import msgspec

from tradebridge.api.engine_client import EngineClient
from tradebridge.domain.errors import EngineUnavailable, Timeout
from tradebridge.domain.orders import OrderRequest
from tradebridge.engine.protocol import PlaceResult

ATTEMPTS = 3
"""Asks of the engine for one request (the first, and two more after a lost answer)."""
PAUSE_S = 0.5
"""Wait before asking again while the engine is out of reach."""


def dialect_client_order_id(client_order_id: str | None, dialect: str) -> bool:
    """Whether `client_order_id` is one `place_without_client_id` made for `dialect` (not the
    caller's own)."""
    return client_order_id is not None and client_order_id.startswith(f"{dialect}-")


async def place_without_client_id(
    engine: EngineClient, account: str, request: OrderRequest, dialect: str
) -> PlaceResult:
    client_order_id = f"{dialect}-{uuid.uuid4().hex}"
    request = msgspec.structs.replace(request, client_order_id=client_order_id)
    outcome_unknown = False
    for attempt in range(ATTEMPTS):
        try:
            return await engine.place(account, request)
        except Timeout:
            outcome_unknown = True
        except EngineUnavailable:
            if not outcome_unknown:
                raise  # never reached the engine: nothing was done, a retry is safe
        if attempt < ATTEMPTS - 1:
            await asyncio.sleep(PAUSE_S)
    raise Timeout(
        "the engine did not answer; the order may have been placed: look for it (by its "
        "client_order_id) before placing it again",
        {"account": account, "client_order_id": client_order_id},
    )
