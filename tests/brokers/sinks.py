"""A broker sink for adapter tests: it records every call."""

from decimal import Decimal
from typing import Any

from tradebridge.brokers.base import Fill, OrderUpdate
from tradebridge.domain.enums import ConnectionState
from tradebridge.domain.models import AccountSummary, Position, Quote


class RecordingSink:
    """A `BrokerSink` that keeps every call, in order, as `(kind, payload)`."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.states: dict[str, str] = {}
        """What the broker asked to keep (`on_state`), latest per key; not in `calls`."""
        self.connection_messages: list[str] = []
        """The message of each `on_connection`, in order."""

    def on_order_update(self, update: OrderUpdate) -> None:
        self.calls.append(("order", update))

    def on_fill(self, fill: Fill) -> None:
        self.calls.append(("fill", fill))

    def on_fee(self, trade_id: str, fee: Decimal) -> None:
        self.calls.append(("fee", (trade_id, fee)))

    def on_cancel_refused(
        self, order_id: str | None, broker_order_id: str | None, reason: str
    ) -> None:
        self.calls.append(("cancel_refused", (order_id, broker_order_id, reason)))

    def on_position(self, position: Position) -> None:
        self.calls.append(("position", position))

    def on_account(self, summary: AccountSummary) -> None:
        self.calls.append(("account", summary))

    def on_quote(self, quote: Quote) -> None:
        self.calls.append(("quote", quote))

    def on_connection(self, state: ConnectionState, message: str) -> None:
        self.calls.append(("connection", state))
        self.connection_messages.append(message)

    def on_state(self, key: str, value: str) -> None:
        self.states[key] = value

    def kinds(self) -> list[str]:
        return [kind for kind, _ in self.calls]

    def of(self, kind: str) -> list[Any]:
        return [payload for k, payload in self.calls if k == kind]

    def clear(self) -> None:
        self.calls.clear()
