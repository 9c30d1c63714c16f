"""MiniQMT through xtquant (`pip install 'tradebridge[qmt]'`, Windows: the engine runs beside
MiniQMT). The SDK is imported when the account connects, off the engine loop: `import xtquant`
asks PyPI for a newer version, which can take seconds."""

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tradebridge.brokers.base import Broker, BrokerSink
    from tradebridge.brokers.qmt.config import QmtAccountView


def create(account: "QmtAccountView", sink: "BrokerSink") -> "Broker":
    from tradebridge.brokers.qmt.adapter import QmtBroker

    return QmtBroker(account.id, account.qmt, sink)
