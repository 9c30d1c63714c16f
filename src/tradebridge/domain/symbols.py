"""Canonical symbols `TICKER.VENUE` (API.md §2)."""

import re
from enum import StrEnum

from tradebridge.domain.errors import ValidationFailed


class Venue(StrEnum):
    SH = "SH"
    SZ = "SZ"
    BJ = "BJ"
    HK = "HK"
    US = "US"
    SHFE = "SHFE"
    DCE = "DCE"
    CZCE = "CZCE"
    CFFEX = "CFFEX"
    INE = "INE"
    GFEX = "GFEX"


class Market(StrEnum):
    """Groups of venues that share rules, currency and sessions."""

    CN_STOCK = "cn_stock"
    HK_STOCK = "hk_stock"
    US_STOCK = "us_stock"
    CN_FUTURES = "cn_futures"


VENUE_MARKET: dict[Venue, Market] = {
    Venue.SH: Market.CN_STOCK,
    Venue.SZ: Market.CN_STOCK,
    Venue.BJ: Market.CN_STOCK,
    Venue.HK: Market.HK_STOCK,
    Venue.US: Market.US_STOCK,
    Venue.SHFE: Market.CN_FUTURES,
    Venue.DCE: Market.CN_FUTURES,
    Venue.CZCE: Market.CN_FUTURES,
    Venue.CFFEX: Market.CN_FUTURES,
    Venue.INE: Market.CN_FUTURES,
    Venue.GFEX: Market.CN_FUTURES,
}

MARKET_CURRENCY: dict[Market, str] = {
    Market.CN_STOCK: "CNY",
    Market.HK_STOCK: "HKD",
    Market.US_STOCK: "USD",
    Market.CN_FUTURES: "CNY",
}

MARKET_TIMEZONE: dict[Market, str] = {
    Market.CN_STOCK: "Asia/Shanghai",
    Market.HK_STOCK: "Asia/Hong_Kong",
    Market.US_STOCK: "America/New_York",
    Market.CN_FUTURES: "Asia/Shanghai",
}
"""Where each market's clock is: its sessions and trading dates are in this time zone."""

_TICKER_PATTERNS: dict[Market, re.Pattern[str]] = {
    Market.CN_STOCK: re.compile(r"[0-9]{6}"),
    Market.HK_STOCK: re.compile(r"[0-9]{5}"),
    Market.US_STOCK: re.compile(r"[A-Z][A-Z0-9.\-]{0,9}"),
    Market.CN_FUTURES: re.compile(r"[A-Za-z]{1,2}[0-9]{3,4}"),
}


def parse_symbol(text: str) -> str:
    """Return the canonical form of `text`, or raise `ValidationFailed` saying what is wrong.

    The venue may be given in any case; US tickers are upper-cased; futures tickers keep the
    exchange's own case (SHFE `cu2601`, CZCE `SR601`, CFFEX `IF2601`). Nothing else is
    forgiven: no surrounding spaces or newlines, ASCII only (`"AAPL.US\n"` is refused, and so
    is a venue like `ſh` that only upper-cases to `SH`).
    """
    if not text.isascii() or not text.isprintable() or text != text.strip():
        raise ValidationFailed(
            f"symbol {text!r} has spaces or characters no symbol has (e.g. 600519.SH)",
            {"field": "symbol", "value": text},
        )
    ticker, sep, venue_text = text.rpartition(".")
    if not sep or not ticker:
        raise ValidationFailed(
            f"symbol {text!r} is not of the form TICKER.VENUE (e.g. 600519.SH)",
            {"field": "symbol", "value": text},
        )
    try:
        venue = Venue(venue_text.upper())
    except ValueError:
        raise ValidationFailed(
            f"symbol {text!r} has unknown venue {venue_text!r}; "
            f"known venues: {', '.join(v.value for v in Venue)}",
            {"field": "symbol", "value": text},
        ) from None
    market = VENUE_MARKET[venue]
    if market is Market.US_STOCK:
        ticker = ticker.upper()
    if not _TICKER_PATTERNS[market].fullmatch(ticker):
        raise ValidationFailed(
            f"symbol {text!r}: {ticker!r} is not a valid {venue.value} ticker",
            {"field": "symbol", "value": text},
        )
    return f"{ticker}.{venue.value}"


def venue_of(symbol: str) -> Venue:
    """Venue of a symbol already in canonical form (ValueError if it names none)."""
    venue = _VENUES.get(symbol.rpartition(".")[2])
    if venue is None:
        raise ValueError(f"{symbol!r} names no known venue")
    return venue


_VENUES = {venue.value: venue for venue in Venue}
"""By suffix: a dictionary look-up, where `Venue(suffix)` costs a microsecond (it runs on
every order several times)."""


def market_of(symbol: str) -> Market:
    return VENUE_MARKET[venue_of(symbol)]
