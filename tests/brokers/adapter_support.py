"""What the adapter suites (a broker driven directly against its fake) share: waiting on the
loop for what the sink recorded, and orders as the engine would hand them to a broker."""

import asyncio
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from tradebridge.domain.enums import OrderType, Side
from tradebridge.domain.orders import Order, OrderRequest, new_order
from tradebridge.ids import IdGenerator

WAIT_S = 20.0
_IDS = IdGenerator()


async def until(condition: Callable[[], Any], what: str, within: float = WAIT_S) -> Any:
    """What `condition` returns once it is truthy, polled while the loop runs."""
    deadline = time.monotonic() + within
    while not (found := condition()):
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        await asyncio.sleep(0.02)
    return found


def broker_order(
    account: str, symbol: str, qty: int, price: str | None, side: Side = Side.BUY
) -> Order:
    """A new order of `account` (limit at `price`, market without), our id as its client id."""
    request = OrderRequest(
        symbol=symbol,
        side=side,
        qty=qty,
        type=OrderType.LIMIT if price else OrderType.MARKET,
        limit_price=Decimal(price) if price else None,
    )
    order_id = _IDS.new_id()
    return new_order(
        request, order_id=order_id, client_order_id=order_id, account=account, now=None
    )
