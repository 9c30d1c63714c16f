"""The ledger stages a new order once and encodes each event in one pass, with the same bytes
an `AccountEvent` holding its data as `Raw` has."""

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import msgspec

from tradebridge.domain.enums import EventType, OrderType, Side, TimeInForce
from tradebridge.domain.orders import Order, OrderRequest, new_order
from tradebridge.engine.journal import StagedEvent
from tradebridge.engine.ledger import Ledger
from tradebridge.engine.protocol import AccountEvent
from tradebridge.ids import IdGenerator

NOW = datetime(2026, 1, 5, 1, 30, tzinfo=UTC)
REQUEST = OrderRequest(
    symbol="600519.SH",
    side=Side.BUY,
    qty=100,
    type=OrderType.LIMIT,
    limit_price=Decimal("1500.00"),
    time_in_force=TimeInForce.DAY,
)


class RecordingJournal:
    """What the ledger stages, in order (the journal's staging methods only)."""

    def __init__(self) -> None:
        self.staged: list[tuple[str, Any]] = []

    def stage_new_order(self, order: Order) -> None:
        self.staged.append(("insert", order))

    def stage_order(self, order: Order) -> None:
        self.staged.append(("update", order))

    def stage_event(self, event: StagedEvent) -> None:
        self.staged.append(("event", event))


def test_a_new_order_is_staged_once_and_its_event_encoded_as_an_account_event() -> None:
    journal = RecordingJournal()
    ledger = Ledger("paper", journal, None, IdGenerator())  # type: ignore[arg-type]
    order = new_order(REQUEST, order_id="o-1", client_order_id="c-1", account="paper", now=NOW)

    ledger.store_new(order)

    assert [kind for kind, _ in journal.staged] == ["insert", "event"]
    event: StagedEvent = journal.staged[1][1]
    assert (event.account, event.seq, event.type) == ("paper", 1, "order")
    two_pass = msgspec.msgpack.encode(
        AccountEvent(
            account="paper",
            seq=1,
            type=EventType.ORDER,
            data=msgspec.Raw(msgspec.msgpack.encode(order)),
        )
    )
    assert event.payload == two_pass
    decoded = msgspec.msgpack.decode(event.payload, type=AccountEvent)
    assert msgspec.msgpack.decode(decoded.data, type=Order) == order
    assert ledger.orders.get("o-1") == order


def test_a_later_state_is_staged_as_an_update() -> None:
    journal = RecordingJournal()
    ledger = Ledger("paper", journal, None, IdGenerator())  # type: ignore[arg-type]
    order = new_order(REQUEST, order_id="o-1", client_order_id="c-1", account="paper", now=NOW)
    ledger.store_new(order)
    ledger.store(order)
    assert [kind for kind, _ in journal.staged] == ["insert", "event", "update", "event"]
    assert journal.staged[3][1].seq == 2
