"""Tiger's values and ours, both ways, one `Table` each.

Statuses are the names of the SDK's `OrderStatus` enum: the SDK turns the server's strings
(`Submitted`, `Filled`, ...) into that enum for queries and into its names for pushes, so one
table serves both. Symbols: Tiger names a stock by its ticker and market (`AAPL` in `US`,
`00700` in `HK`); ours carry the venue (`AAPL.US`, `00700.HK`)."""

from tradebridge.brokers.mapping import Table
from tradebridge.domain.enums import MarketStatus, OrderStatus, OrderType, Side, TimeInForce
from tradebridge.domain.symbols import Market, Venue

STATUS: Table[str, OrderStatus] = Table(
    "tiger order status",
    {
        "PENDING_NEW": OrderStatus.PENDING_NEW,
        "NEW": OrderStatus.NEW,  # Initial
        "HELD": OrderStatus.NEW,  # Submitted: working at the exchange
        "PARTIALLY_FILLED": OrderStatus.PARTIALLY_FILLED,
        "FILLED": OrderStatus.FILLED,
        "PENDING_CANCEL": OrderStatus.PENDING_CANCEL,
        "CANCELLED": OrderStatus.CANCELED,
        "REJECTED": OrderStatus.REJECTED,  # Inactive
        "EXPIRED": OrderStatus.EXPIRED,  # Invalid
    },
    preferred={OrderStatus.NEW: "HELD"},
)
SIDE: Table[str, Side] = Table("tiger action", {"BUY": Side.BUY, "SELL": Side.SELL})
ORDER_TYPE: Table[str, OrderType] = Table(
    "tiger order type", {"LMT": OrderType.LIMIT, "MKT": OrderType.MARKET}
)
TIME_IN_FORCE: Table[str, TimeInForce] = Table(
    "tiger time in force", {"DAY": TimeInForce.DAY, "GTC": TimeInForce.GTC}
)
VENUE: Table[str, Venue] = Table("tiger market", {"US": Venue.US, "HK": Venue.HK})
CURRENCY: dict[Venue, str] = {Venue.US: "USD", Venue.HK: "HKD"}
MARKETS = frozenset({Market.US_STOCK, Market.HK_STOCK})

MARKET_STATUS: Table[str, MarketStatus] = Table(
    # the eight values of `market_state`'s `status` (the SDK's `trading_status`), as Tiger's
    # Python SDK documentation and its Java SDK (`MarketItem.status`) list them; the Python
    # package itself names only NOT_YET_OPEN and TRADING (in `get_market_status`'s docstring)
    "tiger market status",
    {
        "NOT_YET_OPEN": MarketStatus.CLOSED,
        "PRE_HOUR_TRADING": MarketStatus.PRE_HOURS,
        "TRADING": MarketStatus.OPEN,
        "MIDDLE_CLOSE": MarketStatus.BREAK,
        "POST_HOUR_TRADING": MarketStatus.AFTER_HOURS,
        "CLOSING": MarketStatus.CLOSED,
        "EARLY_CLOSED": MarketStatus.CLOSED,
        "MARKET_CLOSED": MarketStatus.CLOSED,
    },
)


class UnknownSymbol(ValueError):
    """A symbol of a market tradebridge does not trade through Tiger."""


def to_tiger(symbol: str) -> tuple[str, str, str]:
    """Ours (`00700.HK`) as Tiger's `(symbol, market, currency)`."""
    ticker, _, venue_text = symbol.rpartition(".")
    try:
        venue = Venue(venue_text)
        market = VENUE.to_sdk(venue)
    except ValueError:
        raise UnknownSymbol(f"{symbol}: Tiger trades US and HK stocks only") from None
    return ticker, market, CURRENCY[venue]


def to_our_symbol(ticker: str, market: str | None, currency: str | None = None) -> str:
    """Tiger's ticker and market (or, where the market is missing, its currency) as ours."""
    if market and VENUE.knows(market):
        venue = VENUE.to_ours(market)
    elif currency in ("USD", "HKD"):
        venue = Venue.US if currency == "USD" else Venue.HK
    else:
        raise UnknownSymbol(f"Tiger symbol {ticker!r} of market {market!r}: not US or HK")
    return f"{ticker}.{venue.value}"
