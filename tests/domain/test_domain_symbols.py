"""Canonical symbols (API.md §2): `parse_symbol`, `venue_of`, `market_of`."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tradebridge.domain.errors import ValidationFailed
from tradebridge.domain.symbols import (
    MARKET_CURRENCY,
    VENUE_MARKET,
    Market,
    Venue,
    market_of,
    parse_symbol,
    venue_of,
)

CN_FUTURES_VENUES = ["SHFE", "DCE", "CZCE", "CFFEX", "INE", "GFEX"]


@pytest.mark.parametrize(
    "symbol",
    [
        "600519.SH",
        "000001.SZ",
        "430047.BJ",
        "510300.SH",
        "00700.HK",
        "AAPL.US",
        "BRK.B.US",
        "BRK-B.US",
        "cu2601.SHFE",
        "i2601.DCE",
        "SR601.CZCE",
        "IF2601.CFFEX",
        "sc2601.INE",
        "si2601.GFEX",
    ],
)
def test_canonical_symbols_parse_to_themselves(symbol: str) -> None:
    assert parse_symbol(symbol) == symbol


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("600519.sh", "600519.SH"),
        ("000001.sz", "000001.SZ"),
        ("430047.Bj", "430047.BJ"),
        ("00700.hk", "00700.HK"),
        ("AAPL.us", "AAPL.US"),
        ("cu2601.shfe", "cu2601.SHFE"),
        ("IF2601.cffex", "IF2601.CFFEX"),
        ("SR601.Czce", "SR601.CZCE"),
        ("m2605.dce", "m2605.DCE"),
        ("sc2601.ine", "sc2601.INE"),
        ("lc2601.gfex", "lc2601.GFEX"),
    ],
)
def test_venue_is_accepted_in_any_case_and_written_upper_case(text: str, canonical: str) -> None:
    assert parse_symbol(text) == canonical


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("aapl.US", "AAPL.US"),
        ("Aapl.us", "AAPL.US"),
        ("brk.b.us", "BRK.B.US"),
        ("brk-b.US", "BRK-B.US"),
        ("t.US", "T.US"),
    ],
)
def test_us_tickers_are_upper_cased(text: str, canonical: str) -> None:
    assert parse_symbol(text) == canonical


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("cu2601.SHFE", "cu2601.SHFE"),
        ("CU2601.shfe", "CU2601.SHFE"),
        ("if2601.CFFEX", "if2601.CFFEX"),
        ("IF2601.cffex", "IF2601.CFFEX"),
        ("SR601.CZCE", "SR601.CZCE"),
        ("sr601.czce", "sr601.CZCE"),
    ],
)
def test_futures_tickers_keep_their_case(text: str, canonical: str) -> None:
    assert parse_symbol(text) == canonical


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("  600519.SH", "600519.SH"),
        ("600519.SH  ", "600519.SH"),
        ("\t00700.hk\n", "00700.HK"),
        (" aapl.us ", "AAPL.US"),
        ("\ncu2601.shfe\r\n", "cu2601.SHFE"),
    ],
)
def test_surrounding_whitespace_is_refused(text: str, canonical: str) -> None:
    """`"AAPL.US\n"` was read as AAPL.US (and filled): a symbol is taken exactly."""
    assert "spaces" in _refusal(text).message
    assert parse_symbol(text.strip()) == canonical


@pytest.mark.parametrize("text", ["600519.ſh", "６００５１９.SH", "AAPL.U\u0405", "AAPL.US\x00"])
def test_characters_outside_ascii_are_refused(text: str) -> None:
    """`ſ` upper-cases to `S`, full-width digits are digits to Python: neither is a symbol."""
    _refusal(text)


def _refusal(text: str) -> ValidationFailed:
    with pytest.raises(ValidationFailed) as caught:
        parse_symbol(text)
    error = caught.value
    assert error.code == "validation_error"
    assert (error.details["field"], error.details["value"]) == ("symbol", text)
    assert repr(text) in error.message
    assert str(error) == error.message
    return error


@pytest.mark.parametrize("text", ["600519", "AAPL", "", "cu2601SHFE"])
def test_symbol_without_a_dot_is_refused(text: str) -> None:
    assert "TICKER.VENUE" in _refusal(text).message


@pytest.mark.parametrize("text", [".SH", ".US", "."])
def test_symbol_with_an_empty_ticker_is_refused(text: str) -> None:
    assert "TICKER.VENUE" in _refusal(text).message


@pytest.mark.parametrize(
    ("text", "venue"),
    [
        ("600519.", ""),
        ("600519.XX", "XX"),
        ("600519.SSE", "SSE"),  # vnpy's exchange code: mapped only at the vnpy edge
        ("000001.SZSE", "SZSE"),
        ("00700.SEHK", "SEHK"),
        ("AAPL.NASDAQ", "NASDAQ"),
        ("SH.600519", "600519"),  # Futu's order: mapped only at the Futu edge
        ("cu2601.SHF", "SHF"),
        ("600519.S H", "S H"),
    ],
)
def test_unknown_venue_is_refused_naming_the_venue(text: str, venue: str) -> None:
    message = _refusal(text).message
    assert "unknown venue" in message
    assert repr(venue) in message
    for known in Venue:
        assert known.value in message


@pytest.mark.parametrize(
    "text",
    [
        # CN stocks: exactly six digits
        "60051.SH",
        "6005190.SH",
        "00001.SZ",
        "43004.BJ",
        "60051a.SH",
        "ABCDEF.SH",
        "600 519.SH",
        "600519.SH.SH",
        # HK: exactly five digits (LongPort's `700.HK` is mapped at its own edge)
        "700.HK",
        "0700.HK",
        "000700.HK",
        "00700A.HK",
        "TENCENT.HK",
        # US: a letter first, at most ten characters of letters, digits, `.` and `-`
        "1AAPL.US",
        "ABCDEFGHIJK.US",
        "AA PL.US",
        "AA_PL.US",
        "-A.US",
        "600519.US",
        # CN futures: one or two letters, then three or four digits
        "cu26.SHFE",
        "cu26011.SHFE",
        "abc2601.SHFE",
        "2601.SHFE",
        "cu.SHFE",
        "cu-2601.SHFE",
        "600519.CFFEX",
        # a ticker of another market
        "AAPL.SH",
        "cu2601.SH",
        "00700.SZ",
        "600519.HK",
    ],
)
def test_ticker_of_the_wrong_shape_for_its_market_is_refused(text: str) -> None:
    message = _refusal(text).message
    assert "is not a valid" in message
    assert text.strip().rpartition(".")[2].upper() in message


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("６００５１９.SH", id="fullwidth-cn"),
        pytest.param("٦٠٠٥١٩.SH", id="arabic-indic-cn"),
        pytest.param("００７００.HK", id="fullwidth-hk"),
        pytest.param("cu２６０１.SHFE", id="fullwidth-futures"),
    ],
)
def test_only_ascii_digits_make_a_ticker(text: str) -> None:
    """A canonical symbol is ASCII: `\\d` must not let other scripts' digits through."""
    _refusal(text)


@pytest.mark.parametrize(
    ("symbol", "venue", "market", "currency"),
    [
        ("600519.SH", Venue.SH, Market.CN_STOCK, "CNY"),
        ("000001.SZ", Venue.SZ, Market.CN_STOCK, "CNY"),
        ("430047.BJ", Venue.BJ, Market.CN_STOCK, "CNY"),
        ("00700.HK", Venue.HK, Market.HK_STOCK, "HKD"),
        ("AAPL.US", Venue.US, Market.US_STOCK, "USD"),
        ("BRK.B.US", Venue.US, Market.US_STOCK, "USD"),
        ("cu2601.SHFE", Venue.SHFE, Market.CN_FUTURES, "CNY"),
        ("m2605.DCE", Venue.DCE, Market.CN_FUTURES, "CNY"),
        ("SR601.CZCE", Venue.CZCE, Market.CN_FUTURES, "CNY"),
        ("IF2601.CFFEX", Venue.CFFEX, Market.CN_FUTURES, "CNY"),
        ("sc2601.INE", Venue.INE, Market.CN_FUTURES, "CNY"),
        ("si2601.GFEX", Venue.GFEX, Market.CN_FUTURES, "CNY"),
    ],
)
def test_venue_and_market_of_a_canonical_symbol(
    symbol: str, venue: Venue, market: Market, currency: str
) -> None:
    assert venue_of(symbol) is venue
    assert market_of(symbol) is market
    assert MARKET_CURRENCY[market_of(symbol)] == currency


def test_every_venue_belongs_to_a_market_with_a_currency() -> None:
    assert set(VENUE_MARKET) == set(Venue)
    assert set(MARKET_CURRENCY) == set(Market)
    assert {v.value for v in Venue if VENUE_MARKET[v] is Market.CN_FUTURES} == set(
        CN_FUTURES_VENUES
    )


# --- round trip ------------------------------------------------------------------------------


@st.composite
def _mixed_case(draw: st.DrawFn, text: str) -> str:
    flips = draw(st.lists(st.booleans(), min_size=len(text), max_size=len(text)))
    return "".join(c.lower() if flip else c.upper() for c, flip in zip(text, flips, strict=True))


def _with_venue(tickers: st.SearchStrategy[str], venues: list[str]) -> st.SearchStrategy[tuple]:
    return st.tuples(tickers, st.sampled_from(venues).flatmap(_mixed_case))


_RAW_SYMBOLS = st.one_of(
    _with_venue(st.from_regex(r"[0-9]{6}", fullmatch=True), ["SH", "SZ", "BJ"]),
    _with_venue(st.from_regex(r"[0-9]{5}", fullmatch=True), ["HK"]),
    _with_venue(st.from_regex(r"[A-Za-z][A-Za-z0-9.\-]{0,9}", fullmatch=True), ["US"]),
    _with_venue(st.from_regex(r"[A-Za-z]{1,2}[0-9]{3,4}", fullmatch=True), CN_FUTURES_VENUES),
)
_PADDING = st.sampled_from(["", " ", "  ", "\t", "\n", " \r\n"])


@given(raw=_RAW_SYMBOLS, left=_PADDING, right=_PADDING)
def test_parse_is_idempotent_on_generated_valid_symbols(
    raw: tuple[str, str], left: str, right: str
) -> None:
    ticker, venue = raw
    text = f"{left}{ticker}.{venue}{right}"
    if text != text.strip():
        with pytest.raises(ValidationFailed):
            parse_symbol(text)
        text = text.strip()
    canonical = parse_symbol(text)
    assert parse_symbol(canonical) == canonical
    assert canonical == canonical.strip()
    assert venue_of(canonical) is Venue(venue.upper())
    canonical_ticker = canonical.rpartition(".")[0]
    if market_of(canonical) is Market.US_STOCK:
        assert canonical_ticker == ticker.upper()
    else:
        assert canonical_ticker == ticker
    assert parse_symbol(f"{ticker}.{venue.lower()}") == canonical
    assert parse_symbol(f"{ticker}.{venue.upper()}") == canonical
