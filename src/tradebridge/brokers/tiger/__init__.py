"""Tiger Brokers through its OpenAPI and the `tigeropen` SDK: `pip install 'tradebridge[tiger]'`.

Nothing runs beside tradebridge: the SDK talks to Tiger's HTTP gateway (RSA-signed requests)
and its push channel. Files: `config.py` (the `[accounts.tiger]` table), `sdk.py` (the SDK's
import and client configuration), `mapping.py` (Tiger's values and ours), `reports.py`
(pushes and query results), `adapter.py` (the `Broker`).
"""

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tradebridge.brokers.base import Broker, BrokerSink
    from tradebridge.brokers.tiger.config import TigerAccountSettings


def create(
    account: "TigerAccountSettings", sink: "BrokerSink", files: Path | None = None
) -> "Broker":
    """The adapter; the SDK is imported here. `files`: the directory the SDK may read its
    properties from (none are put there); without one, a fresh empty directory."""
    from tradebridge.brokers.tiger.adapter import TigerBroker
    from tradebridge.brokers.tiger.sdk import load_tiger

    directory = files or Path(tempfile.mkdtemp(prefix="tradebridge-tiger-"))
    return TigerBroker(
        account.id,
        account.tiger,
        sink,
        load_tiger(),
        base_currency=account.base_currency,
        files=directory,
    )
