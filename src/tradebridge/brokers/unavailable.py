"""The stand-in for an account whose adapter could not be built or restored.

The engine starts anyway and the account's other traders are not concerned: every call on
this account answers 503 `broker_unavailable` with the reason (a missing SDK naming the
extra to install, a contract the configuration got wrong, books that could not be rebuilt).
"""

from typing import NoReturn

from tradebridge.brokers.base import (
    Broker,
    BrokerOrder,
    BrokerSink,
    Capabilities,
    Fill,
    VenueStatus,
)
from tradebridge.domain.enums import ConnectionState
from tradebridge.domain.errors import BrokerUnavailable
from tradebridge.domain.models import AccountSummary, Contract, Position, Quote
from tradebridge.domain.orders import Order


class UnavailableBroker(Broker):
    capabilities = Capabilities()

    def __init__(self, account_id: str, sink: BrokerSink, broker: str, reason: str) -> None:
        super().__init__(account_id, sink)
        self.name = broker
        self.reason = reason

    def _refuse(self) -> NoReturn:
        raise BrokerUnavailable(
            f"account {self.account_id}: the {self.name} broker is unavailable: {self.reason}",
            {"account": self.account_id, "reason": self.reason},
        )

    async def connect(self) -> None:
        self.sink.on_connection(ConnectionState.DISCONNECTED, self.reason)

    async def close(self) -> None:
        return None

    async def ping(self) -> bool:
        return False

    async def place_order(self, order: Order) -> None:
        self._refuse()

    async def cancel_order(self, order: Order) -> None:
        self._refuse()

    async def query_orders(self) -> list[BrokerOrder]:
        self._refuse()

    async def query_trades(self) -> list[Fill]:
        self._refuse()

    async def query_positions(self) -> list[Position]:
        self._refuse()

    async def query_account(self) -> AccountSummary:
        self._refuse()

    async def contract(self, symbol: str) -> Contract | None:
        self._refuse()

    async def quotes(self, symbols: list[str]) -> list[Quote]:
        self._refuse()

    async def market_status(self) -> list[VenueStatus]:
        self._refuse()
