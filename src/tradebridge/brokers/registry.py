"""Broker adapters by name. Each SDK is imported only when its adapter is built."""

from tradebridge.brokers.base import Broker, BrokerSink
from tradebridge.config import AccountSettings


def create_broker(account: AccountSettings, sink: BrokerSink) -> Broker:
    if account.broker == "paper":
        from tradebridge.brokers.paper import PaperBroker

        return PaperBroker(account.id, account.paper, sink, base_currency=account.base_currency)
    raise ValueError(f"unknown broker {account.broker!r} for account {account.id!r}")
