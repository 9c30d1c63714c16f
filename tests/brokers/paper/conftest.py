"""Fixtures for the paper broker: a recording sink and a broker on a fixed clock."""

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from tradebridge.brokers.base import Fill, OrderUpdate
from tradebridge.brokers.paper.broker import PaperBroker
from tradebridge.brokers.paper.config import PaperSettings
from tradebridge.domain.enums import ConnectionState, Offset, OrderType, Side, TimeInForce
from tradebridge.domain.models import AccountSummary, Position, Quote
from tradebridge.domain.orders import Order, OrderRequest, new_order
from tradebridge.ids import IdGenerator

NOW = datetime(2025, 1, 6, 2, 0, tzinfo=UTC)


class RecordingSink:
    """A `BrokerSink` that keeps every call, in order, as `(kind, payload)`."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.states: dict[str, str] = {}
        """What the broker asked to keep (`on_state`), latest per key; not in `calls`."""

    def on_order_update(self, update: OrderUpdate) -> None:
        self.calls.append(("order", update))

    def on_fill(self, fill: Fill) -> None:
        self.calls.append(("fill", fill))

    def on_position(self, position: Position) -> None:
        self.calls.append(("position", position))

    def on_account(self, summary: AccountSummary) -> None:
        self.calls.append(("account", summary))

    def on_quote(self, quote: Quote) -> None:
        self.calls.append(("quote", quote))

    def on_connection(self, state: ConnectionState, message: str) -> None:
        self.calls.append(("connection", state))

    def on_state(self, key: str, value: str) -> None:
        self.states[key] = value

    def kinds(self) -> list[str]:
        return [kind for kind, _ in self.calls]

    def of(self, kind: str) -> list[Any]:
        return [payload for k, payload in self.calls if k == kind]

    def clear(self) -> None:
        self.calls.clear()


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
