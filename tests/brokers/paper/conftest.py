"""Fixtures for the paper broker: a recording sink and a broker on a fixed clock."""

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from tests.brokers.sinks import RecordingSink

from tradebridge.brokers.paper.broker import PaperBroker
from tradebridge.brokers.paper.config import PaperSettings
from tradebridge.domain.enums import Offset, OrderType, Side, TimeInForce
from tradebridge.domain.orders import Order, OrderRequest, new_order
from tradebridge.ids import IdGenerator

NOW = datetime(2025, 1, 6, 2, 0, tzinfo=UTC)


CASH = {"CNY": Decimal(1_000_000), "HKD": Decimal(500_000), "USD": Decimal(100_000)}


@pytest.fixture
def now() -> datetime:
    """What the broker's clock says in these tests."""
    return NOW


@pytest.fixture
def sink() -> RecordingSink:
    return RecordingSink()


@pytest.fixture(scope="session")
def new_sink() -> Callable[[], RecordingSink]:
    """A factory of fresh sinks, for hypothesis tests (which refuse function-scoped fixtures)."""
    return RecordingSink


@pytest.fixture
def settings() -> PaperSettings:
    return PaperSettings(cash=CASH)


@pytest.fixture
def broker(settings: PaperSettings, sink: RecordingSink) -> PaperBroker:
    return PaperBroker("paper", settings, sink, clock=lambda: NOW)


MakeOrder = Callable[..., Order]


@pytest.fixture
def make_order() -> MakeOrder:
    """`make_order(symbol, side, qty, price=None, type=None, tif=..., offset=None)`: a
    `pending_new` order.

    `type` defaults to limit when a price is given, market otherwise.
    """
    ids = IdGenerator()

    def make(
        symbol: str,
        side: Side | str,
        qty: int,
        price: Decimal | str | None = None,
        *,
        type: OrderType | None = None,
        tif: TimeInForce = TimeInForce.DAY,
        offset: Offset | str | None = None,
    ) -> Order:
        limit = Decimal(price) if price is not None else None
        request = OrderRequest(
            symbol=symbol,
            side=Side(side),
            qty=qty,
            type=type or (OrderType.LIMIT if limit is not None else OrderType.MARKET),
            limit_price=limit,
            time_in_force=tif,
            offset=Offset(offset) if offset is not None else None,
        )
        order_id = ids.new_id()
        return new_order(
            request, order_id=order_id, client_order_id=f"c-{order_id}", account="paper", now=NOW
        )

    return make
