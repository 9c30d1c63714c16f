"""LongPort (Longbridge) OpenAPI through the `longbridge` SDK: `pip install
'tradebridge[longport]'`.

The SDK is a Rust core whose blocking calls hold the GIL for the whole call, so the adapter
uses only its asyncio contexts (`AsyncTradeContext`, `AsyncQuoteContext`), which leave the
engine's loop running while a call waits. Files: `config.py` (the `[accounts.longport]`
table), `sdk.py` (the SDK import and its `Config`), `mapping.py` (LongPort's values and
ours), `reports.py` (order pushes), `adapter.py` (the `Broker`).
"""

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tradebridge.brokers.base import Broker, BrokerSink
    from tradebridge.brokers.longport.config import LongportAccountSettings


def create(account: "LongportAccountSettings", sink: "BrokerSink") -> "Broker":
    """The adapter; the SDK is imported here."""
    from tradebridge.brokers.longport.adapter import LongportBroker
    from tradebridge.brokers.longport.sdk import load_sdk

    return LongportBroker(
        account.id, account.longport, sink, load_sdk(), base_currency=account.base_currency
    )
