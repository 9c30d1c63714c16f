"""Futu (moomoo) through OpenD and the `futu-api` SDK: `pip install 'tradebridge[futu]'`.

OpenD, Futu's gateway program, runs beside tradebridge logged in to the user's Futu account;
the adapter talks to it through the SDK's quote and trade contexts. Files: `config.py` (the
`[accounts.futu]` table), `sdk.py` (importing the SDK without its side effects), `mapping.py`
(Futu's values and ours), `session.py` (one connection to OpenD), `reports.py` (pushes from
the SDK's threads), `fees.py` (order fees split over fills), `adapter.py` (the `Broker`).
"""

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tradebridge.brokers.base import Broker, BrokerSink
    from tradebridge.brokers.futu.config import FutuAccountSettings


def create(account: "FutuAccountSettings", sink: "BrokerSink", files: Path | None) -> "Broker":
    """The adapter; the SDK is imported here (its log goes under `files`)."""
    from tradebridge.brokers.futu.adapter import FutuBroker
    from tradebridge.brokers.futu.sdk import load_futu

    return FutuBroker(
        account.id, account.futu, sink, load_futu(files), base_currency=account.base_currency
    )
