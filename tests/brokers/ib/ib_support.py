"""The `ib` adapter as its tests run it: built on the test's loop (the engine's, here) with
every sink call checked to arrive on that loop, against a fake TWS process."""

import asyncio
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from tests.brokers.ib.fake_support import FakeTwsProcess
from tests.brokers.sinks import RecordingSink

from tradebridge.brokers.ib.adapter import IbBroker
from tradebridge.brokers.ib.config import IbSettings
from tradebridge.brokers.threads import ThreadCheckedSink
from tradebridge.domain.enums import ConnectionState, OrderType, Side, TimeInForce
from tradebridge.domain.orders import Order, OrderRequest, new_order
from tradebridge.ids import IdGenerator

WAIT_S = 10.0
IDS = IdGenerator()


class Sink(RecordingSink):
    """Also keeps the connection messages."""

    def __init__(self) -> None:
        super().__init__()
        self.messages: list[tuple[ConnectionState, str]] = []

    def on_connection(self, state: ConnectionState, message: str) -> None:
        super().on_connection(state, message)
        self.messages.append((state, message))


def settings_for(tws: FakeTwsProcess, **values: Any) -> IbSettings:
    fields: dict[str, Any] = {
        "port": tws.api_port,
        "client_id": 17,
        "connect_timeout_s": 3.0,
        "request_timeout_s": 3.0,
        "order_ack_timeout_s": 2.0,
    }
    return IbSettings(**(fields | values))


async def started(tws: FakeTwsProcess, **values: Any) -> tuple[IbBroker, Sink]:
    sink = Sink()
    checked = ThreadCheckedSink(sink, threading.get_ident())
    broker = IbBroker("ib", settings_for(tws, **values), checked)
    await broker.connect()
    return broker, sink


def an_order(
    symbol: str = "AAPL.US",
    qty: int = 100,
    limit: str | None = "229.00",
    side: Side = Side.BUY,
    tif: TimeInForce = TimeInForce.DAY,
) -> Order:
    request = OrderRequest(
        symbol=symbol,
        side=side,
        qty=qty,
        type=OrderType.LIMIT if limit else OrderType.MARKET,
        limit_price=Decimal(limit) if limit else None,
        time_in_force=tif,
    )
    order_id = IDS.new_id()
    return new_order(
        request, order_id=order_id, client_order_id=order_id, account="ib", now=datetime.now(UTC)
    )


async def until(condition: Callable[[], object], what: str, timeout_s: float = WAIT_S) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        await asyncio.sleep(0.01)
