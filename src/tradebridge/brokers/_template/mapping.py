"""The broker's values and ours, both ways, one `Table` each. The SDK's own constants go in
as keys (import them lazily in real adapters: `mapping_tables()` builds the tables once the SDK
is loaded), so a renamed or new constant fails loudly."""

from tradebridge.brokers.mapping import Table
from tradebridge.domain.enums import MarketStatus, OrderStatus, OrderType, Side

STATUS: Table[str, OrderStatus] = Table(
    "template order status",
    {
        "submitted": OrderStatus.NEW,
        "part_traded": OrderStatus.PARTIALLY_FILLED,
        "all_traded": OrderStatus.FILLED,
        "cancelled": OrderStatus.CANCELED,
        "rejected": OrderStatus.REJECTED,
    },
)
SIDE: Table[str, Side] = Table("template side", {"B": Side.BUY, "S": Side.SELL})
ORDER_TYPE: Table[str, OrderType] = Table(
    "template order type", {"LMT": OrderType.LIMIT, "MKT": OrderType.MARKET}
)

MARKET_STATUS: Table[str, MarketStatus] = Table(
    "template market status",
    {
        "pre": MarketStatus.PRE_OPEN,
        "auction": MarketStatus.AUCTION,
        "trading": MarketStatus.OPEN,
        "lunch": MarketStatus.BREAK,
        "closed": MarketStatus.CLOSED,
    },
)


def to_broker_symbol(symbol: str) -> str:
    """Ours (`600000.SH`) to the broker's (`SH600000`); each broker has its own grammar."""
    ticker, venue = symbol.rsplit(".", 1)
    return f"{venue}{ticker}"


def to_our_symbol(broker_symbol: str) -> str:
    return f"{broker_symbol[2:]}.{broker_symbol[:2]}"
