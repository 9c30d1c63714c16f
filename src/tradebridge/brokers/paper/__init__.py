"""The embedded paper broker: a venue simulator behind the generic `Broker` interface."""

from tradebridge.brokers.paper.broker import PaperBroker

__all__ = ["PaperBroker"]
