"""Interactive Brokers through TWS or IB Gateway, over ib_async (`pip install
'tradebridge[ib]'`). The files follow `brokers/_template`; `loop.py` runs ib_async on a
thread of its own, `session.py` is everything that runs there, `contracts.py` looks
contracts up on demand, `books.py` translates IB's account, portfolio and market data."""

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tradebridge.brokers.base import Broker, BrokerSink
    from tradebridge.brokers.ib.config import IbAccount


def create(account: "IbAccount", sink: "BrokerSink") -> "Broker":
    from tradebridge.brokers.ib.adapter import IbBroker

    return IbBroker(account.id, account.ib, sink)
