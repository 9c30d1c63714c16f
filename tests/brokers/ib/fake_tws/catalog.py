"""The instruments the fake TWS knows, as IB describes them (conId, symbol, routing).

US stocks route through SMART with their listing exchange as `primaryExchange`; Hong Kong
stocks trade on SEHK under their number without leading zeros (`700` is Tencent), as IB
names them. One stock (9988) has no market data subscription on the fake account.
"""

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class Listing:
    con_id: int
    symbol: str
    currency: str
    primary: str
    long_name: str
    min_tick: Decimal
    trading_class: str
    time_zone: str
    quote: tuple[str, str, str, str]
    """Bid, ask, last and the previous close the market opens with."""
    market_data: bool = True
    size_increment: Decimal = Decimal(1)

    @property
    def local_symbol(self) -> str:
        return self.symbol

    @property
    def exchange(self) -> str:
        """Where orders are routed: SMART for US stocks, the exchange itself elsewhere."""
        return "SMART" if self.currency == "USD" else self.primary

    @property
    def valid_exchanges(self) -> str:
        if self.currency == "USD":
            return f"SMART,{self.primary},ARCA,BATS,IEX,EDGX"
        return self.primary


LISTINGS: tuple[Listing, ...] = (
    Listing(
        265598,
        "AAPL",
        "USD",
        "NASDAQ",
        "APPLE INC",
        Decimal("0.01"),
        "NMS",
        "US/Eastern",
        ("229.99", "230.01", "230.00", "228.50"),
    ),
    Listing(
        272093,
        "MSFT",
        "USD",
        "NASDAQ",
        "MICROSOFT CORP",
        Decimal("0.01"),
        "NMS",
        "US/Eastern",
        ("419.99", "420.01", "420.00", "417.30"),
    ),
    Listing(
        756733,
        "SPY",
        "USD",
        "ARCA",
        "SPDR S&P 500 ETF TRUST",
        Decimal("0.01"),
        "SPY",
        "US/Eastern",
        ("589.99", "590.01", "590.00", "588.00"),
    ),
    Listing(
        72063691,
        "BRK B",
        "USD",
        "NYSE",
        "BERKSHIRE HATHAWAY INC-CL B",
        Decimal("0.01"),
        "BRK B",
        "US/Eastern",
        ("459.90", "460.10", "460.00", "458.00"),
    ),
    Listing(
        37180180,
        "700",
        "HKD",
        "SEHK",
        "TENCENT HOLDINGS LTD",
        Decimal("0.001"),
        "700",
        "Asia/Hong_Kong",
        ("380.00", "380.20", "380.20", "378.00"),
        size_increment=Decimal(100),
    ),
    Listing(
        37180005,
        "5",
        "HKD",
        "SEHK",
        "HSBC HOLDINGS PLC",
        Decimal("0.001"),
        "5",
        "Asia/Hong_Kong",
        ("65.00", "65.05", "65.00", "64.80"),
        size_increment=Decimal(400),
    ),
    Listing(
        37189988,
        "9988",
        "HKD",
        "SEHK",
        "ALIBABA GROUP HOLDING LTD",
        Decimal("0.001"),
        "9988",
        "Asia/Hong_Kong",
        ("80.00", "80.05", "80.00", "79.50"),
        market_data=False,
        size_increment=Decimal(100),
    ),
)

BY_CON_ID = {listing.con_id: listing for listing in LISTINGS}


def matching(
    *, con_id: int, symbol: str, sec_type: str, exchange: str, primary: str, currency: str
) -> list[Listing]:
    """The listings a contract description matches, as `reqContractDetails` finds them: by
    conId when given, else by symbol with the optional type, exchange and currency."""
    if con_id:
        found = BY_CON_ID.get(con_id)
        return [found] if found else []
    if sec_type not in ("", "STK") or not symbol:
        return []
    return [
        listing
        for listing in LISTINGS
        if listing.symbol == symbol.upper()
        and currency in ("", listing.currency)
        and exchange in ("", "SMART" if listing.currency == "USD" else "", listing.primary)
        and primary in ("", listing.primary)
    ]
