"""httptrading contracts (`tradeType`, `region`, `ticker`) and our symbols, both ways.

httptrading names an instrument by a country (`region`) and the code used there; our symbols
name the venue. CN codes are placed on SH, SZ or BJ by their leading digits (`CN_PREFIXES`);
a code may also be given in our form (`600519.SH`, `113050.SH`) to name the venue outright,
for the few codes the prefixes place wrongly (SH bonds, indexes).
"""

from enum import StrEnum
from typing import Any

from tradebridge.domain.errors import ValidationFailed
from tradebridge.domain.symbols import Venue, parse_symbol, venue_of

SECURITIES = "Securities"
"""The one `tradeType` served: stocks and funds (httptrading's other, `Cryptocurrencies`,
has no venue here)."""


class Region(StrEnum):
    CN = "CN"
    HK = "HK"
    US = "US"


REGION_VENUES: dict[Region, frozenset[Venue]] = {
    Region.CN: frozenset({Venue.SH, Venue.SZ, Venue.BJ}),
    Region.HK: frozenset({Venue.HK}),
    Region.US: frozenset({Venue.US}),
}
VENUE_REGION: dict[Venue, Region] = {
    venue: region for region, venues in REGION_VENUES.items() for venue in venues
}

CN_PREFIXES: tuple[tuple[str, Venue], ...] = (
    ("92", Venue.BJ),  # BSE codes issued since 2024 (920xxx); before the SH `9` below
    ("4", Venue.BJ),  # BSE/NEEQ 43x
    ("8", Venue.BJ),  # BSE 83x, 87x, 88x
    ("6", Venue.SH),  # main board 60x, STAR 688/689
    ("9", Venue.SH),  # B shares 900
    ("5", Venue.SH),  # funds and ETFs 50x-58x
    ("0", Venue.SZ),  # main board 000-003
    ("1", Venue.SZ),  # funds and ETFs 15x/16x (159 ETFs), bonds 12x
    ("2", Venue.SZ),  # B shares 200
    ("3", Venue.SZ),  # ChiNext 300/301
)
"""Leading digits of a 6-digit CN code and its venue; the first match wins."""

HK_CODE_DIGITS = 5


def symbol_of(region: Region, code: str) -> str:
    """Our canonical symbol for `code` in `region`; `ValidationFailed` naming the field."""
    ticker, dot, suffix = code.rpartition(".")
    if dot and ticker and suffix.upper() in {v.value for v in REGION_VENUES[region]}:
        return parse_symbol(code)  # already our form, on a venue of the region
    if region is Region.CN:
        return _cn_symbol(code)
    if region is Region.HK:
        if not (code.isascii() and code.isdigit() and len(code) <= HK_CODE_DIGITS):
            raise _invalid(f"HK code {code!r} is not 1 to 5 digits (e.g. 00700)", code)
        return parse_symbol(f"{code.zfill(HK_CODE_DIGITS)}.HK")
    return parse_symbol(f"{code}.US")


def _cn_symbol(code: str) -> str:
    if not (len(code) == 6 and code.isascii() and code.isdigit()):
        raise _invalid(f"CN code {code!r} is not 6 digits (e.g. 600519)", code)
    for prefix, venue in CN_PREFIXES:
        if code.startswith(prefix):
            return f"{code}.{venue.value}"
    raise _invalid(
        f"CN code {code!r} belongs to no venue by its digits; give it with its venue "
        f"(e.g. {code}.SH)",
        code,
    )


def _invalid(message: str, code: str) -> ValidationFailed:
    return ValidationFailed(message, {"field": "ticker", "value": code})


def contract_object(symbol: str) -> dict[str, Any] | None:
    """The httptrading contract of one of our symbols; None for venues without a region
    (futures). The code is under both `ticker` (as document 002 writes it) and `symbol`
    (as the httptrading library names it)."""
    region = VENUE_REGION.get(venue_of(symbol))
    if region is None:
        return None
    ticker = symbol.rpartition(".")[0]
    return {
        "type": "contract",
        "tradeType": SECURITIES,
        "region": region.value,
        "ticker": ticker,
        "symbol": ticker,
    }
