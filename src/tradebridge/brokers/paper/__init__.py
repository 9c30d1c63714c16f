"""The embedded paper broker: a venue simulator behind the generic `Broker` interface."""

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tradebridge.brokers.base import Broker, BrokerSink
    from tradebridge.config import PaperAccount


def create(account: "PaperAccount", sink: "BrokerSink") -> "Broker":
    from tradebridge.brokers.paper.broker import PaperBroker

    return PaperBroker(account.id, account.paper, sink, base_currency=account.base_currency)
