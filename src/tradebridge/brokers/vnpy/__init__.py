"""The `vnpy` broker: any vnpy gateway (`BaseGateway` subclass: CTP, XTP, GTJA HFT, MINI,
SOPT, TORA, ...) hosted in the engine without vnpy's MainEngine or GUI.

| file          | what it holds                                                          |
|---------------|------------------------------------------------------------------------|
| `__init__.py` | `create(account, sink)`: imports the adapter (and so vnpy) lazily        |
| `config.py`   | `VnpySettings`: the `[accounts.vnpy]` table; imports no SDK              |
| `mapping.py`  | vnpy's enums (by member) and ours, both ways                           |
| `adapter.py`  | `VnpyBroker`: hosting, connection, orders, queries, quotes              |
| `reports.py`  | the `EventBridge` on vnpy's event thread: vnpy objects -> ours, posted  |
| `book.py`     | on the loop: the gateway's orders and books, which orders are ours      |
| `sdk.py`      | importing vnpy (its trader folder), the guarded EventEngine, gateways   |
"""

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tradebridge.brokers.base import Broker, BrokerSink
    from tradebridge.brokers.vnpy.config import VnpyAccount


def create(account: "VnpyAccount", sink: "BrokerSink") -> "Broker":
    from tradebridge.brokers.vnpy.adapter import VnpyBroker

    return VnpyBroker(account.id, account.vnpy, account.base_currency, sink)
