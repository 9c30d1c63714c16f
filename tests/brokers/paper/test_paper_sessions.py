"""Trading sessions of the paper broker: every window edge, holidays, DST, night sessions."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tradebridge.brokers.paper.sessions import (
    CALENDAR_END,
    NIGHT_SESSION_END,
    Sessions,
    SessionState,
)
from tradebridge.domain.enums import MarketStatus
from tradebridge.domain.errors import ValidationFailed
from tradebridge.domain.symbols import Venue

SH = ZoneInfo("Asia/Shanghai")
HK = ZoneInfo("Asia/Hong_Kong")
NY = ZoneInfo("America/New_York")
TZ = {"SH": SH, "HK": HK, "NY": NY, "UTC": UTC}

EXCHANGE = Sessions("exchange")
ALWAYS = Sessions("always_open")


@pytest.fixture(autouse=True, scope="module")
def _calendars_loaded() -> None:
    """Load the calendars (about 0.7 s, once) before any timed or hypothesis test."""
    EXCHANGE.warm_up()


def at(text: str, zone: str) -> datetime:
    """'2026-11-18 09:15' (or with seconds / microseconds) in the named zone."""
    return datetime.fromisoformat(text).replace(tzinfo=TZ[zone])


def expect(status: str, name: str, orders: bool, cancels: bool, matches: bool) -> SessionState:
    return SessionState(MarketStatus(status), name, orders, cancels, matches)


# Expected states, by window. Flags: accepts_orders, accepts_cancels, matches.
CN_NOT_YET = expect("pre_open", "not_yet_open", False, True, False)
CN_AUCTION = expect("auction", "opening_call_auction", True, True, False)
CN_AUCTION_NC = expect("auction", "opening_call_auction_no_cancel", True, False, False)
CN_WAITING = expect("pre_open", "waiting_open", True, True, False)
CN_CONT = expect("open", "continuous", True, True, True)
CN_LUNCH = expect("break", "lunch_break", True, True, False)
CN_CLOSING = expect("auction", "closing_call_auction", True, False, False)
CLOSED = expect("closed", "closed", False, True, False)
HOLIDAY = expect("closed", "holiday", False, True, False)
WEEKEND = expect("closed", "weekend", False, True, False)

HK_POS = expect("auction", "pre_opening", True, True, False)
HK_POS_NC = expect("auction", "pre_opening_no_cancel", True, False, False)
HK_POS_MATCH = expect("auction", "pre_opening_matching", False, False, False)
HK_POS_BLOCK = expect("auction", "pre_opening_blocking", False, False, False)
HK_MORNING = expect("open", "morning", True, True, True)
HK_LUNCH = expect("break", "lunch_break", True, True, False)
HK_AFTERNOON = expect("open", "afternoon", True, True, True)
HK_CAS_REF = expect("auction", "closing_auction_reference", False, False, False)
HK_CAS = expect("auction", "closing_auction", True, True, False)
HK_CAS_NC = expect("auction", "closing_auction_no_cancel", True, False, False)
HK_CAS_RANDOM = expect("auction", "closing_auction_random_close", False, False, False)

US_OVERNIGHT = expect("overnight", "overnight", True, True, True)
US_PRE = expect("pre_hours", "pre_market", True, True, True)
US_REGULAR = expect("open", "regular", True, True, True)
US_AFTER = expect("after_hours", "after_hours", True, True, True)

FUT_AUCTION = expect("auction", "opening_call_auction", True, True, False)
FUT_MATCHING = expect("auction", "opening_call_auction_matching", False, False, False)
FUT_DAY = expect("open", "day_session", True, True, True)
FUT_NIGHT = expect("open", "night_session", True, True, True)
FUT_BREAK = expect("break", "morning_break", False, True, False)
FUT_LUNCH = expect("break", "lunch_break", False, True, False)

ALWAYS_OPEN = expect("open", "always_open", True, True, True)

# 2026-11-18 is a Wednesday and a trading day everywhere; 2026-11-20 a Friday.
CASES: list[tuple[str, str, str, SessionState]] = [
    # --- CN stocks, every edge of a normal day
    ("600519.SH", "2026-11-18 00:00", "SH", CN_NOT_YET),
    ("600519.SH", "2026-11-18 09:14:59", "SH", CN_NOT_YET),
    ("600519.SH", "2026-11-18 09:15", "SH", CN_AUCTION),
    ("600519.SH", "2026-11-18 09:19:59", "SH", CN_AUCTION),
    ("600519.SH", "2026-11-18 09:20", "SH", CN_AUCTION_NC),
    ("600519.SH", "2026-11-18 09:24:59", "SH", CN_AUCTION_NC),
    ("600519.SH", "2026-11-18 09:25", "SH", CN_WAITING),
    ("600519.SH", "2026-11-18 09:29:59.999999", "SH", CN_WAITING),
    ("600519.SH", "2026-11-18 09:30", "SH", CN_CONT),
    ("600519.SH", "2026-11-18 11:29:59", "SH", CN_CONT),
    ("600519.SH", "2026-11-18 11:30", "SH", CN_LUNCH),
    ("600519.SH", "2026-11-18 12:59:59", "SH", CN_LUNCH),
    ("600519.SH", "2026-11-18 13:00", "SH", CN_CONT),
    ("600519.SH", "2026-11-18 14:56:59", "SH", CN_CONT),
    ("600519.SH", "2026-11-18 14:57", "SH", CN_CLOSING),
    ("600519.SH", "2026-11-18 14:59:59", "SH", CN_CLOSING),
    ("600519.SH", "2026-11-18 15:00", "SH", CLOSED),
    ("600519.SH", "2026-11-18 23:59:59", "SH", CLOSED),
    ("000001.SZ", "2026-11-18 09:20", "SH", CN_AUCTION_NC),
    ("430047.BJ", "2026-11-18 14:58", "SH", CN_CLOSING),
    ("510300.SH", "2026-11-18 10:00", "SH", CN_CONT),
    # the same instant given in UTC (09:30 Shanghai is 01:30 UTC)
    ("600519.SH", "2026-11-18 01:29:59", "UTC", CN_WAITING),
    ("600519.SH", "2026-11-18 01:30", "UTC", CN_CONT),
    # holidays and weekends
    ("600519.SH", "2026-10-01 10:00", "SH", HOLIDAY),  # National Day
    ("600519.SH", "2026-10-07 09:15", "SH", HOLIDAY),
    ("600519.SH", "2026-10-08 09:30", "SH", CN_CONT),  # first day back
    ("600519.SH", "2026-02-18 10:00", "SH", HOLIDAY),  # Spring Festival
    ("600519.SH", "2026-11-21 10:00", "SH", WEEKEND),
    ("600519.SH", "2026-11-22 09:15", "SH", WEEKEND),
    # beyond the XSHG calendar (last session 2026-12-31): weekdays trade, weekends do not
    ("600519.SH", "2027-03-03 10:00", "SH", CN_CONT),
    ("600519.SH", "2027-03-06 10:00", "SH", WEEKEND),
    ("600519.SH", "2035-01-01 09:15", "SH", CN_AUCTION),  # beyond every calendar
    # --- HK, a normal day
    ("00700.HK", "2026-11-18 08:59:59", "HK", CLOSED),
    ("00700.HK", "2026-11-18 09:00", "HK", HK_POS),
    ("00700.HK", "2026-11-18 09:14:59", "HK", HK_POS),
    ("00700.HK", "2026-11-18 09:15", "HK", HK_POS_NC),
    ("00700.HK", "2026-11-18 09:20", "HK", HK_POS_MATCH),
    ("00700.HK", "2026-11-18 09:22", "HK", HK_POS_BLOCK),
    ("00700.HK", "2026-11-18 09:29:59", "HK", HK_POS_BLOCK),
    ("00700.HK", "2026-11-18 09:30", "HK", HK_MORNING),
    ("00700.HK", "2026-11-18 11:59:59", "HK", HK_MORNING),
    ("00700.HK", "2026-11-18 12:00", "HK", HK_LUNCH),
    ("00700.HK", "2026-11-18 12:59:59", "HK", HK_LUNCH),
    ("00700.HK", "2026-11-18 13:00", "HK", HK_AFTERNOON),
    ("00700.HK", "2026-11-18 15:59:59", "HK", HK_AFTERNOON),
    ("00700.HK", "2026-11-18 16:00", "HK", HK_CAS_REF),
    ("00700.HK", "2026-11-18 16:01", "HK", HK_CAS),
    ("00700.HK", "2026-11-18 16:06", "HK", HK_CAS_NC),
    ("00700.HK", "2026-11-18 16:08", "HK", HK_CAS_RANDOM),
    ("00700.HK", "2026-11-18 16:09:59", "HK", HK_CAS_RANDOM),
    ("00700.HK", "2026-11-18 16:10", "HK", CLOSED),
    # HK half day (Christmas Eve): morning only, closing auction 12:00-12:10
    ("00700.HK", "2026-12-24 11:59", "HK", HK_MORNING),
    ("00700.HK", "2026-12-24 12:00", "HK", HK_CAS_REF),
    ("00700.HK", "2026-12-24 12:05", "HK", HK_CAS),
    ("00700.HK", "2026-12-24 12:10", "HK", CLOSED),
    ("00700.HK", "2026-12-24 14:00", "HK", CLOSED),
    ("00700.HK", "2026-12-25 10:00", "HK", HOLIDAY),
    ("00700.HK", "2026-02-18 10:00", "HK", HOLIDAY),  # Lunar New Year
    ("00700.HK", "2026-11-21 10:00", "HK", WEEKEND),
    # --- US, a normal day
    ("AAPL.US", "2026-11-18 00:00", "NY", US_OVERNIGHT),
    ("AAPL.US", "2026-11-18 03:59:59", "NY", US_OVERNIGHT),
    ("AAPL.US", "2026-11-18 04:00", "NY", US_PRE),
    ("AAPL.US", "2026-11-18 09:29:59", "NY", US_PRE),
    ("AAPL.US", "2026-11-18 09:30", "NY", US_REGULAR),
    ("AAPL.US", "2026-11-18 15:59:59", "NY", US_REGULAR),
    ("AAPL.US", "2026-11-18 16:00", "NY", US_AFTER),
    ("AAPL.US", "2026-11-18 19:59:59", "NY", US_AFTER),
    ("AAPL.US", "2026-11-18 20:00", "NY", US_OVERNIGHT),
    # US week boundaries: overnight runs Sunday 20:00 to Friday 04:00
    ("AAPL.US", "2026-11-20 03:59", "NY", US_OVERNIGHT),
    ("AAPL.US", "2026-11-20 19:59", "NY", US_AFTER),
    ("AAPL.US", "2026-11-20 20:00", "NY", CLOSED),  # Friday evening
    ("AAPL.US", "2026-11-21 02:00", "NY", WEEKEND),
    ("AAPL.US", "2026-11-22 19:59:59", "NY", WEEKEND),
    ("AAPL.US", "2026-11-22 20:00", "NY", US_OVERNIGHT),  # Sunday evening, for Monday
    # DST starts Sunday 2026-03-08: 09:30 is 14:30 UTC before, 13:30 UTC after
    ("AAPL.US", "2026-03-06 14:29:59", "UTC", US_PRE),
    ("AAPL.US", "2026-03-06 14:30", "UTC", US_REGULAR),
    ("AAPL.US", "2026-03-06 21:00", "UTC", US_AFTER),  # 16:00 EST
    ("AAPL.US", "2026-03-08 23:59", "UTC", WEEKEND),  # 19:59 EDT Sunday
    ("AAPL.US", "2026-03-09 00:00", "UTC", US_OVERNIGHT),  # 20:00 EDT Sunday
    ("AAPL.US", "2026-03-09 13:29:59", "UTC", US_PRE),
    ("AAPL.US", "2026-03-09 13:30", "UTC", US_REGULAR),
    ("AAPL.US", "2026-03-09 20:00", "UTC", US_AFTER),  # 16:00 EDT
    # DST ends Sunday 2026-11-01: 09:30 is 13:30 UTC before, 14:30 UTC after
    ("AAPL.US", "2026-10-30 13:30", "UTC", US_REGULAR),
    ("AAPL.US", "2026-11-01 05:30", "UTC", WEEKEND),  # 01:30 EDT, the repeated hour
    ("AAPL.US", "2026-11-01 06:30", "UTC", WEEKEND),  # 01:30 EST
    ("AAPL.US", "2026-11-02 00:59", "UTC", WEEKEND),  # 19:59 EST Sunday
    ("AAPL.US", "2026-11-02 01:00", "UTC", US_OVERNIGHT),  # 20:00 EST Sunday
    ("AAPL.US", "2026-11-02 14:29:59", "UTC", US_PRE),
    ("AAPL.US", "2026-11-02 14:30", "UTC", US_REGULAR),
    # Thanksgiving (Thursday 2026-11-26) and the early close on the Friday after
    ("AAPL.US", "2026-11-25 19:59", "NY", US_AFTER),
    ("AAPL.US", "2026-11-25 20:00", "NY", CLOSED),  # no overnight into a holiday
    ("AAPL.US", "2026-11-26 03:00", "NY", HOLIDAY),
    ("AAPL.US", "2026-11-26 10:00", "NY", HOLIDAY),
    ("AAPL.US", "2026-11-26 20:00", "NY", US_OVERNIGHT),  # holiday evening, for Friday
    ("AAPL.US", "2026-11-27 12:59:59", "NY", US_REGULAR),
    ("AAPL.US", "2026-11-27 13:00", "NY", US_AFTER),
    ("AAPL.US", "2026-11-27 16:59:59", "NY", US_AFTER),
    ("AAPL.US", "2026-11-27 17:00", "NY", CLOSED),
    # --- CN futures: copper, night session to 01:00 (Tuesday night ran, so no day auction)
    ("cu2601.SHFE", "2026-11-18 01:00", "SH", CLOSED),
    ("cu2601.SHFE", "2026-11-18 08:55", "SH", CLOSED),
    ("cu2601.SHFE", "2026-11-18 08:59:59", "SH", CLOSED),
    ("cu2601.SHFE", "2026-11-18 09:00", "SH", FUT_DAY),
    ("cu2601.SHFE", "2026-11-18 10:14:59", "SH", FUT_DAY),
    ("cu2601.SHFE", "2026-11-18 10:15", "SH", FUT_BREAK),
    ("cu2601.SHFE", "2026-11-18 10:29:59", "SH", FUT_BREAK),
    ("cu2601.SHFE", "2026-11-18 10:30", "SH", FUT_DAY),
    ("cu2601.SHFE", "2026-11-18 11:30", "SH", FUT_LUNCH),
    ("cu2601.SHFE", "2026-11-18 13:29:59", "SH", FUT_LUNCH),
    ("cu2601.SHFE", "2026-11-18 13:30", "SH", FUT_DAY),
    ("cu2601.SHFE", "2026-11-18 14:59:59", "SH", FUT_DAY),
    ("cu2601.SHFE", "2026-11-18 15:00", "SH", CLOSED),
    ("cu2601.SHFE", "2026-11-18 20:54:59", "SH", CLOSED),
    ("cu2601.SHFE", "2026-11-18 20:55", "SH", FUT_AUCTION),
    ("cu2601.SHFE", "2026-11-18 20:58:59", "SH", FUT_AUCTION),
    ("cu2601.SHFE", "2026-11-18 20:59", "SH", FUT_MATCHING),
    ("cu2601.SHFE", "2026-11-18 21:00", "SH", FUT_NIGHT),
    ("cu2601.SHFE", "2026-11-18 23:59:59", "SH", FUT_NIGHT),
    ("cu2601.SHFE", "2026-11-19 00:00", "SH", FUT_NIGHT),
    ("cu2601.SHFE", "2026-11-19 00:59:59", "SH", FUT_NIGHT),
    ("cu2601.SHFE", "2026-11-19 01:00", "SH", CLOSED),
    # Friday night runs (for Monday), past midnight into Saturday
    ("cu2601.SHFE", "2026-11-20 21:00", "SH", FUT_NIGHT),
    ("cu2601.SHFE", "2026-11-21 00:30", "SH", FUT_NIGHT),
    ("cu2601.SHFE", "2026-11-21 01:00", "SH", WEEKEND),
    ("cu2601.SHFE", "2026-11-22 21:00", "SH", WEEKEND),  # no Sunday night
    ("cu2601.SHFE", "2026-11-23 08:55", "SH", CLOSED),  # Friday night ran: no day auction
    # no night session before a holiday; a day auction on the first day back
    ("cu2601.SHFE", "2026-09-24 21:00", "SH", CLOSED),  # Friday 09-25 is Mid-Autumn
    ("cu2601.SHFE", "2026-09-30 21:00", "SH", CLOSED),  # National Day follows
    ("cu2601.SHFE", "2026-10-01 00:30", "SH", HOLIDAY),
    ("cu2601.SHFE", "2026-10-08 08:55", "SH", FUT_AUCTION),
    ("cu2601.SHFE", "2026-10-08 08:59", "SH", FUT_MATCHING),
    ("cu2601.SHFE", "2026-10-08 09:00", "SH", FUT_DAY),
    # gold and crude to 02:30, rebar and DCE/CZCE products to 23:00
    ("au2602.SHFE", "2026-11-19 02:29:59", "SH", FUT_NIGHT),
    ("au2602.SHFE", "2026-11-19 02:30", "SH", CLOSED),
    ("sc2601.INE", "2026-11-19 02:00", "SH", FUT_NIGHT),
    ("rb2601.SHFE", "2026-11-18 22:59:59", "SH", FUT_NIGHT),
    ("rb2601.SHFE", "2026-11-18 23:00", "SH", CLOSED),
    ("rb2601.SHFE", "2026-11-19 00:30", "SH", CLOSED),
    ("m2601.DCE", "2026-11-18 21:00", "SH", FUT_NIGHT),
    ("m2601.DCE", "2026-11-18 23:00", "SH", CLOSED),
    ("SR601.CZCE", "2026-11-18 21:30", "SH", FUT_NIGHT),
    # no night session: wire rod (default) has its auction before the day session
    ("wr2601.SHFE", "2026-11-18 08:55", "SH", FUT_AUCTION),
    ("wr2601.SHFE", "2026-11-18 09:00", "SH", FUT_DAY),
    ("wr2601.SHFE", "2026-11-18 21:00", "SH", CLOSED),
    ("si2601.GFEX", "2026-11-18 21:00", "SH", CLOSED),
    # CFFEX stock index futures: 09:30-11:30, 13:00-15:00, auction 09:25-09:30, no night
    ("IF2612.CFFEX", "2026-11-18 09:00", "SH", CLOSED),
    ("IF2612.CFFEX", "2026-11-18 09:25", "SH", FUT_AUCTION),
    ("IF2612.CFFEX", "2026-11-18 09:29", "SH", FUT_MATCHING),
    ("IF2612.CFFEX", "2026-11-18 09:30", "SH", FUT_DAY),
    ("IF2612.CFFEX", "2026-11-18 10:20", "SH", FUT_DAY),
    ("IF2612.CFFEX", "2026-11-18 11:30", "SH", FUT_LUNCH),
    ("IF2612.CFFEX", "2026-11-18 13:00", "SH", FUT_DAY),
    ("IF2612.CFFEX", "2026-11-18 15:00", "SH", CLOSED),
    ("IF2612.CFFEX", "2026-11-18 21:00", "SH", CLOSED),
    # CFFEX treasury futures close at 15:15
    ("T2612.CFFEX", "2026-11-18 15:14:59", "SH", FUT_DAY),
    ("T2612.CFFEX", "2026-11-18 15:15", "SH", CLOSED),
]


@pytest.mark.parametrize(
    ("symbol", "local", "zone", "expected"),
    CASES,
    ids=[f"{s}@{t}{'' if z in ('SH', 'HK', 'NY') else ' ' + z}" for s, t, z, _ in CASES],
)
def test_state(symbol: str, local: str, zone: str, expected: SessionState) -> None:
    assert EXCHANGE.state(symbol, at(local, zone)) == expected


def test_state_is_the_same_for_any_timezone_of_the_instant() -> None:
    instant = at("2026-11-18 09:20", "SH")
    for zone in (UTC, NY, HK, ZoneInfo("Europe/Berlin")):
        assert EXCHANGE.state("600519.SH", instant.astimezone(zone)) == CN_AUCTION_NC


@pytest.mark.parametrize(
    "when", [at("2026-11-21 10:00", "SH"), at("2035-06-02 03:00", "UTC"), datetime.now(UTC)]
)
@pytest.mark.parametrize("symbol", ["600519.SH", "00700.HK", "AAPL.US", "cu2601.SHFE"])
def test_always_open_mode(symbol: str, when: datetime) -> None:
    assert ALWAYS.state(symbol, when) == ALWAYS_OPEN


# --- trading days

TRADING_DAYS: list[tuple[str, str, str, date]] = [
    ("600519.SH", "2026-11-18 00:00", "SH", date(2026, 11, 18)),
    ("600519.SH", "2026-11-18 08:00", "SH", date(2026, 11, 18)),
    ("600519.SH", "2026-11-18 12:00", "SH", date(2026, 11, 18)),  # lunch belongs to the day
    ("600519.SH", "2026-11-18 14:59:59", "SH", date(2026, 11, 18)),
    ("600519.SH", "2026-11-18 15:00", "SH", date(2026, 11, 19)),  # after the close: next
    ("600519.SH", "2026-11-20 16:00", "SH", date(2026, 11, 23)),  # Friday evening: Monday
    ("600519.SH", "2026-11-21 10:00", "SH", date(2026, 11, 23)),
    ("600519.SH", "2026-09-30 15:00", "SH", date(2026, 10, 8)),  # across National Day
    ("600519.SH", "2026-10-03 10:00", "SH", date(2026, 10, 8)),
    ("600519.SH", "2027-03-05 16:00", "SH", date(2027, 3, 8)),  # beyond the calendar
    ("cu2601.SHFE", "2026-11-18 14:59", "SH", date(2026, 11, 18)),
    ("cu2601.SHFE", "2026-11-18 21:30", "SH", date(2026, 11, 19)),  # night: next day
    ("cu2601.SHFE", "2026-11-19 00:30", "SH", date(2026, 11, 19)),
    ("cu2601.SHFE", "2026-11-20 21:30", "SH", date(2026, 11, 23)),  # Friday night: Monday
    ("cu2601.SHFE", "2026-11-21 00:30", "SH", date(2026, 11, 23)),
    ("T2612.CFFEX", "2026-11-18 15:10", "SH", date(2026, 11, 18)),
    ("00700.HK", "2026-11-18 16:09:59", "HK", date(2026, 11, 18)),
    ("00700.HK", "2026-11-18 16:10", "HK", date(2026, 11, 19)),
    ("00700.HK", "2026-12-24 12:10", "HK", date(2026, 12, 28)),  # half day, Christmas, weekend
    ("AAPL.US", "2026-11-18 03:00", "NY", date(2026, 11, 18)),  # overnight into Wednesday
    ("AAPL.US", "2026-11-18 19:59", "NY", date(2026, 11, 18)),
    ("AAPL.US", "2026-11-18 20:00", "NY", date(2026, 11, 19)),
    ("AAPL.US", "2026-11-20 21:00", "NY", date(2026, 11, 23)),
    ("AAPL.US", "2026-11-25 21:00", "NY", date(2026, 11, 27)),  # across Thanksgiving
    ("AAPL.US", "2026-11-27 17:30", "NY", date(2026, 11, 30)),  # after the early close
]


@pytest.mark.parametrize(("symbol", "local", "zone", "expected"), TRADING_DAYS)
def test_trading_day(symbol: str, local: str, zone: str, expected: date) -> None:
    assert EXCHANGE.trading_day(symbol, at(local, zone)) == expected


def test_trading_day_always_open_is_the_shanghai_date() -> None:
    assert ALWAYS.trading_day("AAPL.US", at("2026-11-20 17:00", "UTC")) == date(2026, 11, 21)
    assert ALWAYS.trading_day("AAPL.US", at("2026-11-20 15:59", "UTC")) == date(2026, 11, 20)


# --- next session start

NEXT_SESSIONS: list[tuple[list[str], str, str, str, str]] = [
    (["600519.SH"], "2026-11-18 08:00", "SH", "2026-11-18 09:30", "SH"),
    (["600519.SH"], "2026-11-18 09:29:59", "SH", "2026-11-18 09:30", "SH"),
    (["600519.SH"], "2026-11-18 09:30", "SH", "2026-11-18 13:00", "SH"),  # strictly after
    (["600519.SH"], "2026-11-18 11:45", "SH", "2026-11-18 13:00", "SH"),
    (["600519.SH"], "2026-11-18 15:00", "SH", "2026-11-19 09:30", "SH"),
    (["600519.SH"], "2026-11-20 13:00", "SH", "2026-11-23 09:30", "SH"),  # over the weekend
    (["600519.SH"], "2026-09-30 15:00", "SH", "2026-10-08 09:30", "SH"),  # over National Day
    (["600519.SH"], "2026-12-31 15:00", "SH", "2027-01-01 09:30", "SH"),  # fallback weekday
    ([], "2026-11-18 15:00", "SH", "2026-11-19 09:30", "SH"),  # no symbols: CN A-shares
    (["00700.HK"], "2026-11-18 12:30", "HK", "2026-11-18 13:00", "HK"),
    (["00700.HK"], "2026-12-24 09:00", "HK", "2026-12-24 09:30", "HK"),
    (["00700.HK"], "2026-12-24 10:00", "HK", "2026-12-28 09:30", "HK"),  # half day, holiday
    (["AAPL.US"], "2026-11-18 03:00", "NY", "2026-11-18 09:30", "NY"),  # overnight isn't open
    (["AAPL.US"], "2026-11-20 16:00", "NY", "2026-11-23 09:30", "NY"),
    (["AAPL.US"], "2026-03-06 16:00", "NY", "2026-03-09 13:30", "UTC"),  # into EDT
    (["AAPL.US"], "2026-10-30 16:00", "NY", "2026-11-02 14:30", "UTC"),  # into EST
    (["AAPL.US"], "2026-11-25 10:00", "NY", "2026-11-27 09:30", "NY"),  # over Thanksgiving
    (["cu2601.SHFE"], "2026-11-18 15:00", "SH", "2026-11-18 21:00", "SH"),  # night session
    (["cu2601.SHFE"], "2026-11-18 21:00", "SH", "2026-11-19 09:00", "SH"),
    (["cu2601.SHFE"], "2026-11-18 10:20", "SH", "2026-11-18 10:30", "SH"),
    (["cu2601.SHFE"], "2026-11-21 00:30", "SH", "2026-11-23 09:00", "SH"),
    (["cu2601.SHFE"], "2026-09-30 15:00", "SH", "2026-10-08 09:00", "SH"),  # no night: holiday
    (["IF2612.CFFEX"], "2026-11-20 15:00", "SH", "2026-11-23 09:30", "SH"),
    (["600519.SH", "AAPL.US"], "2026-11-18 16:00", "SH", "2026-11-18 09:30", "NY"),
    (["600519.SH", "cu2601.SHFE", "00700.HK"], "2026-11-18 12:00", "SH", "2026-11-18 13:00", "SH"),
]


@pytest.mark.parametrize(("symbols", "local", "zone", "expected", "expected_zone"), NEXT_SESSIONS)
def test_next_session_start(
    symbols: list[str], local: str, zone: str, expected: str, expected_zone: str
) -> None:
    found = EXCHANGE.next_session_start(at(local, zone), symbols)
    assert found == at(expected, expected_zone)
    assert found.utcoffset() == timedelta(0)


def test_next_session_start_accepts_any_iterable_and_duplicates() -> None:
    when = at("2026-11-18 15:00", "SH")
    symbols = (s for s in ["600519.SH", "600519.SH", "000001.SZ"])
    assert EXCHANGE.next_session_start(when, symbols) == at("2026-11-19 09:30", "SH")


def test_next_session_start_always_open_is_one_day_later() -> None:
    when = at("2026-11-21 10:00", "SH")
    assert ALWAYS.next_session_start(when, ["600519.SH"]) == when + timedelta(days=1)


# --- next trading day start

NEXT_DAYS: list[tuple[str, str]] = [
    ("2026-11-18 08:59:59", "2026-11-18 09:00"),  # before 09:00 on a trading day: that day
    ("2026-11-18 09:00", "2026-11-19 09:00"),
    ("2026-11-18 10:00", "2026-11-19 09:00"),
    ("2026-11-18 22:00", "2026-11-19 09:00"),
    ("2026-11-20 10:00", "2026-11-23 09:00"),  # Friday: Monday
    ("2026-11-21 10:00", "2026-11-23 09:00"),
    ("2026-09-30 10:00", "2026-10-08 09:00"),  # National Day
    ("2026-10-01 08:00", "2026-10-08 09:00"),
    ("2026-12-31 10:00", "2027-01-01 09:00"),  # beyond the calendar: weekdays trade
    ("2027-01-08 10:00", "2027-01-11 09:00"),
]


@pytest.mark.parametrize(("local", "expected"), NEXT_DAYS)
def test_next_trading_day_start(local: str, expected: str) -> None:
    assert EXCHANGE.next_trading_day_start(at(local, "SH")) == at(expected, "SH")


def test_next_trading_day_start_always_open_is_one_day_later() -> None:
    when = at("2026-11-21 10:00", "SH")
    assert ALWAYS.next_trading_day_start(when) == when + timedelta(days=1)


# --- venues status


def test_venues_status_one_per_venue_in_venue_order() -> None:
    symbols = [
        "AAPL.US",
        "wr2601.SHFE",
        "cu2601.SHFE",
        "600519.SH",
        "000001.SZ",
        "600000.SH",
        "00700.HK",
        "IF2612.CFFEX",
    ]
    found = EXCHANGE.venues_status(symbols, at("2026-11-18 21:30", "SH"))  # 08:30 in New York
    assert found == [
        (Venue.SH, CLOSED),
        (Venue.SZ, CLOSED),
        (Venue.HK, CLOSED),
        (Venue.US, US_PRE),
        (Venue.SHFE, FUT_NIGHT),  # copper is trading although wire rod is not
        (Venue.CFFEX, CLOSED),
    ]


def test_venues_status_always_open_and_empty() -> None:
    when = at("2026-11-21 10:00", "SH")
    assert ALWAYS.venues_status(["600519.SH", "AAPL.US"], when) == [
        (Venue.SH, ALWAYS_OPEN),
        (Venue.US, ALWAYS_OPEN),
    ]
    assert EXCHANGE.venues_status([], when) == []


# --- product table and refusals


def test_night_products_are_lower_case_letters() -> None:
    assert all(key.isalpha() and key == key.lower() for key in NIGHT_SESSION_END)
    assert "if" not in NIGHT_SESSION_END


def test_naive_times_are_refused() -> None:
    naive = datetime(2026, 11, 18, 10, 0)
    with pytest.raises(ValidationFailed, match="timezone"):
        EXCHANGE.state("600519.SH", naive)
    with pytest.raises(ValidationFailed, match="timezone"):
        ALWAYS.state("600519.SH", naive)
    with pytest.raises(ValidationFailed):
        EXCHANGE.trading_day("600519.SH", naive)
    with pytest.raises(ValidationFailed):
        EXCHANGE.next_session_start(naive, ["600519.SH"])
    with pytest.raises(ValidationFailed):
        EXCHANGE.next_trading_day_start(naive)
    with pytest.raises(ValidationFailed):
        EXCHANGE.venues_status(["600519.SH"], naive)


@pytest.mark.parametrize("symbol", ["600519", "600519.XX", "600519.sh", ""])
def test_non_canonical_symbols_are_refused(symbol: str) -> None:
    with pytest.raises(ValidationFailed, match="canonical"):
        EXCHANGE.state(symbol, at("2026-11-18 10:00", "SH"))


def test_unknown_mode_is_refused() -> None:
    with pytest.raises(ValidationFailed, match="market_hours"):
        Sessions("sometimes")  # type: ignore[arg-type]


def test_far_future_never_crashes() -> None:
    assert date(2099, 1, 1) > CALENDAR_END
    when = at("2099-12-31 23:59", "SH")  # a Thursday
    assert EXCHANGE.state("00700.HK", when) == CLOSED
    assert EXCHANGE.next_session_start(when, ["AAPL.US"]) == at("2100-01-01 09:30", "NY")
    assert EXCHANGE.trading_day("cu2601.SHFE", when) == date(2100, 1, 1)


# --- properties

SYMBOLS = st.sampled_from(
    ["600519.SH", "00700.HK", "AAPL.US", "cu2601.SHFE", "au2602.SHFE", "IF2612.CFFEX", "m2601.DCE"]
)
INSTANTS = st.datetimes(
    min_value=datetime(2025, 1, 1), max_value=datetime(2028, 12, 31), timezones=st.just(UTC)
)
ONE_MICROSECOND = timedelta(microseconds=1)


@settings(max_examples=150, deadline=None)
@given(symbol=SYMBOLS, when=INSTANTS)
def test_next_session_start_is_the_start_of_an_open_period(symbol: str, when: datetime) -> None:
    start = EXCHANGE.next_session_start(when, [symbol])
    assert start > when
    assert start - when < timedelta(days=15)
    assert EXCHANGE.state(symbol, start).status is MarketStatus.OPEN
    assert EXCHANGE.state(symbol, start - ONE_MICROSECOND).status is not MarketStatus.OPEN


@settings(max_examples=150, deadline=None)
@given(symbol=SYMBOLS, first=INSTANTS, gap=st.timedeltas(timedelta(0), timedelta(days=10)))
def test_trading_day_is_monotonic_and_a_trading_day(
    symbol: str, first: datetime, gap: timedelta
) -> None:
    day_one = EXCHANGE.trading_day(symbol, first)
    day_two = EXCHANGE.trading_day(symbol, first + gap)
    assert day_one <= day_two
    assert day_one.weekday() < 5
    # the trading day has sessions: its own noon is not a holiday or weekend
    zone = {"HK": HK, "US": NY}.get(symbol.rpartition(".")[2], SH)
    noon = datetime(day_one.year, day_one.month, day_one.day, 12, tzinfo=zone)
    assert EXCHANGE.state(symbol, noon).broker_status not in ("holiday", "weekend")


@settings(max_examples=150, deadline=None)
@given(when=INSTANTS)
def test_next_trading_day_start_is_nine_on_a_trading_day(when: datetime) -> None:
    start = EXCHANGE.next_trading_day_start(when)
    assert start > when
    local = start.astimezone(SH)
    assert (local.hour, local.minute) == (9, 0)
    assert EXCHANGE.state("600519.SH", start) == CN_NOT_YET


def test_a_calendar_that_cannot_load_falls_back_to_weekdays(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from tradebridge.brokers.paper import sessions

    calendar = sessions._calendar("XNOPE")  # exchange-calendars has no such calendar
    assert "XNOPE" in caplog.text
    assert calendar.is_trading_day(date(2026, 10, 1))  # a Thursday
    assert not calendar.is_trading_day(date(2026, 10, 3))  # a Saturday
