"""Trading sessions of the venues the paper broker simulates (MARKET_RULES.md).

`Sessions.state(symbol, when)` says what the venue of `symbol` is doing at `when`: the unified
`MarketStatus`, the venue's own name for the phase (`broker_status`), and whether new orders and
cancels are taken and orders match continuously. It is pure: the only outside input is the
exchange calendars (holidays and half days), read once per process and turned into plain Python
sets, so `state()` costs a dict lookup and a bisect (a few microseconds).

Two modes (`[accounts.paper] market_hours`):

* `always_open`: every venue is open all the time; trading days are dates in Asia/Shanghai;
  `next_session_start` and `next_trading_day_start` are simply `when + 1 day`.
* `exchange`: the real sessions below, holidays and half days from `exchange_calendars`
  (SH/SZ/BJ and CN futures: XSHG; HK: XHKG; US: XNYS).

Rules as built (times local to the venue; every window is start-inclusive, end-exclusive):

CN stocks (SH, SZ, BJ; Asia/Shanghai), on a trading day
  ===========  ================================  ==========  ======  =======  =======
  window       broker_status                     status      orders  cancels  matches
  ===========  ================================  ==========  ======  =======  =======
  00:00-09:15  not_yet_open                      pre_open    no      yes      no
  09:15-09:20  opening_call_auction              auction     yes     yes      no
  09:20-09:25  opening_call_auction_no_cancel    auction     yes     no       no
  09:25-09:30  waiting_open                      pre_open    yes     yes      no
  09:30-11:30  continuous                        open        yes     yes      yes
  11:30-13:00  lunch_break                       break       yes     yes      no
  13:00-14:57  continuous                        open        yes     yes      yes
  14:57-15:00  closing_call_auction              auction     yes     no       no
  15:00-24:00  closed                            closed      no      yes      no
  ===========  ================================  ==========  ======  =======  =======
  09:25-09:30 follows the SSE/SZSE trading rules: the trading host takes orders and cancels
  but does not process them until 09:30 (so: accepted and queued; no matching). The lunch
  break queues orders as brokers do. The after-hours fixed-price sessions of STAR/ChiNext/BJ
  (15:05-15:30) are not simulated.

HK (Asia/Hong_Kong), on a trading day (HKEX pre-opening and closing auction sessions)
  09:00-09:15 pre_opening (auction; orders, cancels), 09:15-09:20 pre_opening_no_cancel
  (auction; orders, no cancels), 09:20-09:22 pre_opening_matching and 09:22-09:30
  pre_opening_blocking (auction; neither orders nor cancels), 09:30-12:00 morning (open),
  12:00-13:00 lunch_break (break; orders queued, cancels), 13:00-16:00 afternoon (open),
  16:00-16:01 closing_auction_reference (auction; nothing), 16:01-16:06 closing_auction
  (orders, cancels), 16:06-16:08 closing_auction_no_cancel (orders), 16:08-16:10
  closing_auction_random_close (nothing); else closed. On half days (the calendar's early
  closes: Christmas, New Year and Lunar New Year eves) the morning session ends at 12:00 and
  the closing auction runs 12:00-12:10.

US (America/New_York; DST through zoneinfo)
  overnight 20:00-04:00, pre_market 04:00-09:30 (pre_hours), regular 09:30-16:00 (open),
  after_hours 16:00-20:00; orders and cancels accepted and matched in all four; `status`
  says which. The overnight session from 20:00 on the eve to 04:00 on day D belongs to D and
  runs only when D is a trading day: so from Sunday 20:00 to Friday 04:00 in a normal week,
  nothing on the eve of a holiday, and it does run on a holiday's evening before a trading
  day. On early-close days (13:00) after hours run 13:00-17:00 (NYSE Arca/Nasdaq), then
  closed until the overnight session, if any.

CN futures (SHFE, DCE, CZCE, CFFEX, INE, GFEX; Asia/Shanghai; holidays from XSHG)
  Commodities: day sessions 09:00-10:15, 10:30-11:30, 13:30-15:00 (day_session, open), the
  gaps 10:15-10:30 (morning_break) and 11:30-13:30 (lunch_break) are `break`.
  CFFEX equity index futures (IF, IH, IC, IM; also the default for other CFFEX products):
  09:30-11:30, 13:00-15:00; CFFEX treasury futures (TS, TF, T, TL): 09:30-11:30, 13:00-15:15.
  Night sessions by product (the ticker letters before the digits, any case; table
  `NIGHT_SESSION_END`): 21:00-02:30 (au, ag, sc), 21:00-01:00 (cu, al, zn, pb, ni, sn, ss, ao,
  bc), 21:00-23:00 (rb, hc, bu, ru, fu, sp, br, nr, lu and the DCE/CZCE night products such
  as m, y, p, i, j, jm, SR, CF, TA, MA, ...); other products, all CFFEX and GFEX products: no
  night session (the default).
  A night session runs on the evening of a trading day whose next trading day is the next
  weekday (so Friday night runs and belongs to Monday; there is none on the eve of a
  holiday, e.g. before National Day or a Monday holiday) and belongs to that next trading day.
  Opening call auction: 5 minutes before the first session of the trading day, i.e. 20:55 for
  a product whose night session ran, else 08:55 (CFFEX 09:25): 4 minutes of order input
  (opening_call_auction: orders, cancels) and 1 minute of matching
  (opening_call_auction_matching: neither). The exchanges take no orders during the breaks
  (orders refused, cancels allowed, no matching) and none outside the sessions.

Everywhere: outside sessions (after the close, before the open, holidays, weekends) the state
is `closed` with broker_status `closed`, `holiday` (a weekday without trading) or `weekend`;
no new orders, cancels allowed (nothing matches, so withdrawing a resting order is harmless;
brokers let clients cancel queued orders). Cancels are refused only in the windows where the
venue forbids them. HK and US are `closed` before their first session; CN stocks are
`pre_open` before 09:15 on a trading day; CN futures are `closed` between sessions of
different days.

Trading day (`trading_day`): the trading day whose session `when` is in (breaks count as in
the session; night and overnight sessions belong to the next trading day) or, outside
sessions, the next trading day to come: concretely the first trading day D (local date of
the venue) that has not yet ended at `when`; D ends at the end of its last session (CN stocks
15:00, HK 16:10, US 20:00 (17:00 on early-close days), CN futures at their day close).

Calendars: loaded lazily once per process, from 2020-01-01 to 2030-12-31 for the rule-based
calendars (XHKG, XNYS) and to the last recorded year for the precomputed one (XSHG: 2026 in
exchange-calendars 4.13). Outside a calendar's range every weekday is a trading day and there
are no half days. Building a calendar makes pandas emit deprecation warnings from inside
exchange-calendars; they are silenced for that call only (see `_load_calendar`).
"""

from __future__ import annotations

import functools
import logging
import re
import threading
import warnings
from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Final, Literal
from zoneinfo import ZoneInfo

from tradebridge.domain.enums import MarketStatus
from tradebridge.domain.errors import ValidationFailed
from tradebridge.domain.symbols import VENUE_MARKET, Market, Venue, venue_of

__all__ = [
    "ALWAYS_OPEN",
    "CALENDAR_END",
    "CALENDAR_START",
    "NIGHT_SESSION_END",
    "SessionState",
    "Sessions",
]

MarketHours = Literal["always_open", "exchange"]

_log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SessionState:
    """What a venue is doing at one instant."""

    status: MarketStatus
    """Unified value (MARKET_RULES.md)."""
    broker_status: str
    """The venue's own name for the phase, as an English identifier."""
    accepts_orders: bool
    """New orders are accepted now (else the broker refuses them with `market_closed`)."""
    accepts_cancels: bool
    """Cancels are allowed now (False in the no-cancel windows of auctions)."""
    matches: bool
    """Continuous matching now: orders trade against the quote (else accepted orders wait)."""


# ---------------------------------------------------------------------------------------------
# states

_S = MarketStatus


def _st(
    status: MarketStatus, name: str, orders: bool, cancels: bool, matches: bool
) -> SessionState:
    return SessionState(status, name, orders, cancels, matches)


ALWAYS_OPEN: Final = _st(_S.OPEN, "always_open", True, True, True)

_CLOSED: Final = _st(_S.CLOSED, "closed", False, True, False)
_HOLIDAY: Final = _st(_S.CLOSED, "holiday", False, True, False)
_WEEKEND: Final = _st(_S.CLOSED, "weekend", False, True, False)

# CN stocks
_CN_NOT_YET_OPEN: Final = _st(_S.PRE_OPEN, "not_yet_open", False, True, False)
_CN_OPEN_AUCTION: Final = _st(_S.AUCTION, "opening_call_auction", True, True, False)
_CN_OPEN_AUCTION_NC: Final = _st(_S.AUCTION, "opening_call_auction_no_cancel", True, False, False)
_CN_WAITING_OPEN: Final = _st(_S.PRE_OPEN, "waiting_open", True, True, False)
_CN_CONTINUOUS: Final = _st(_S.OPEN, "continuous", True, True, True)
_CN_LUNCH: Final = _st(_S.BREAK, "lunch_break", True, True, False)
_CN_CLOSE_AUCTION: Final = _st(_S.AUCTION, "closing_call_auction", True, False, False)

# HK
_HK_POS_INPUT: Final = _st(_S.AUCTION, "pre_opening", True, True, False)
_HK_POS_NO_CANCEL: Final = _st(_S.AUCTION, "pre_opening_no_cancel", True, False, False)
_HK_POS_MATCHING: Final = _st(_S.AUCTION, "pre_opening_matching", False, False, False)
_HK_POS_BLOCKING: Final = _st(_S.AUCTION, "pre_opening_blocking", False, False, False)
_HK_MORNING: Final = _st(_S.OPEN, "morning", True, True, True)
_HK_LUNCH: Final = _st(_S.BREAK, "lunch_break", True, True, False)
_HK_AFTERNOON: Final = _st(_S.OPEN, "afternoon", True, True, True)
_HK_CAS_REFERENCE: Final = _st(_S.AUCTION, "closing_auction_reference", False, False, False)
_HK_CAS_INPUT: Final = _st(_S.AUCTION, "closing_auction", True, True, False)
_HK_CAS_NO_CANCEL: Final = _st(_S.AUCTION, "closing_auction_no_cancel", True, False, False)
_HK_CAS_RANDOM_CLOSE: Final = _st(_S.AUCTION, "closing_auction_random_close", False, False, False)

# US
_US_OVERNIGHT: Final = _st(_S.OVERNIGHT, "overnight", True, True, True)
_US_PRE_MARKET: Final = _st(_S.PRE_HOURS, "pre_market", True, True, True)
_US_REGULAR: Final = _st(_S.OPEN, "regular", True, True, True)
_US_AFTER_HOURS: Final = _st(_S.AFTER_HOURS, "after_hours", True, True, True)

# CN futures
_FUT_AUCTION: Final = _st(_S.AUCTION, "opening_call_auction", True, True, False)
_FUT_AUCTION_MATCHING: Final = _st(_S.AUCTION, "opening_call_auction_matching", False, False, False)
_FUT_DAY: Final = _st(_S.OPEN, "day_session", True, True, True)
_FUT_NIGHT: Final = _st(_S.OPEN, "night_session", True, True, True)
_FUT_MORNING_BREAK: Final = _st(_S.BREAK, "morning_break", False, True, False)
_FUT_LUNCH: Final = _st(_S.BREAK, "lunch_break", False, True, False)

_ACTIVITY_RANK: Final[dict[MarketStatus, int]] = {
    _S.OPEN: 0,
    _S.AUCTION: 1,
    _S.PRE_HOURS: 2,
    _S.AFTER_HOURS: 2,
    _S.OVERNIGHT: 2,
    _S.BREAK: 3,
    _S.PRE_OPEN: 4,
    _S.CLOSED: 5,
    _S.UNKNOWN: 6,
}
"""Which state represents a venue whose symbols differ (futures products): the most active."""

# ---------------------------------------------------------------------------------------------
# calendars

CALENDAR_START: Final = date(2020, 1, 1)
CALENDAR_END: Final = date(2030, 12, 31)
"""Range asked of the calendars. A precomputed calendar (XSHG) stops at its last recorded
year; outside the range, weekdays are trading days."""

_SHANGHAI: Final = ZoneInfo("Asia/Shanghai")
_HONG_KONG: Final = ZoneInfo("Asia/Hong_Kong")
_NEW_YORK: Final = ZoneInfo("America/New_York")

_ONE_DAY: Final = timedelta(days=1)
_SEARCH_DAYS: Final = 400
"""Upper bound of any forward search (longest real closure is about ten days)."""


@dataclass(frozen=True, slots=True)
class _TradingCalendar:
    """A pandas-free snapshot of one exchange calendar."""

    name: str
    sessions: frozenset[date]
    first: date
    last: date
    early_closes: dict[date, time]
    """Local close time of the half days."""

    def is_trading_day(self, day: date) -> bool:
        if self.first <= day <= self.last:
            return day in self.sessions
        return day.weekday() < 5

    def next_trading_day(self, day: date) -> date:
        """The first trading day strictly after `day`."""
        for _ in range(_SEARCH_DAYS):
            day += _ONE_DAY
            if self.is_trading_day(day):
                return day
        raise RuntimeError(f"{self.name}: no trading day within {_SEARCH_DAYS} days of {day}")

    def previous_trading_day(self, day: date) -> date:
        """The last trading day strictly before `day`."""
        for _ in range(_SEARCH_DAYS):
            day -= _ONE_DAY
            if self.is_trading_day(day):
                return day
        raise RuntimeError(f"{self.name}: no trading day within {_SEARCH_DAYS} days of {day}")


def _weekdays_calendar(name: str) -> _TradingCalendar:
    """Fallback when exchange-calendars cannot build `name`: every weekday trades."""
    return _TradingCalendar(name, frozenset(), date.max, date.min, {})


def _load_calendar(name: str) -> _TradingCalendar:
    # exchange-calendars has no type information; everything from it is `Any` and converted to
    # plain Python values here. pandas 3 deprecates `Series.values` on tz-aware data, which
    # exchange-calendars 4.x still uses while building a calendar (Pandas4Warning, a
    # DeprecationWarning); FutureWarning covers the same on pandas 2. Those warnings concern
    # the library's internals, not our use, so they are ignored for this call only, and only
    # when raised from pandas or exchange_calendars code. (`catch_warnings` touches process-wide
    # state: this runs once per calendar and process, under `_CALENDARS_LOCK`.)
    with warnings.catch_warnings():
        for category in (DeprecationWarning, FutureWarning):
            warnings.filterwarnings(
                "ignore", category=category, module=r"(pandas|exchange_calendars)(\.|$)"
            )
        import exchange_calendars  # type: ignore[import-untyped]

        start, end = CALENDAR_START.isoformat(), CALENDAR_END.isoformat()
        try:
            cal: Any = exchange_calendars.get_calendar(name, start=start, end=end)
        except ValueError:  # a precomputed calendar (XSHG) ending before CALENDAR_END
            cal = exchange_calendars.get_calendar(name, start=start)
        sessions = frozenset(d for d in cal.sessions.date if isinstance(d, date))
        tz: Any = cal.tz
        early: dict[date, time] = {}
        for session in cal.early_closes:
            close: datetime = cal.closes[session].tz_convert(tz).to_pydatetime()
            early[session.date()] = close.time().replace(tzinfo=None)
    if not sessions:
        return _weekdays_calendar(name)
    return _TradingCalendar(name, sessions, min(sessions), max(sessions), early)


_CALENDARS: dict[str, _TradingCalendar] = {}
_CALENDARS_LOCK = threading.Lock()


def _calendar(name: str) -> _TradingCalendar:
    found = _CALENDARS.get(name)
    if found is None:
        with _CALENDARS_LOCK:
            found = _CALENDARS.get(name)
            if found is None:
                try:
                    found = _load_calendar(name)
                except Exception:  # never let a calendar problem stop trading
                    _log.exception(
                        "cannot load the %s exchange calendar; every weekday counts as a "
                        "trading day for it",
                        name,
                    )
                    found = _weekdays_calendar(name)
                _CALENDARS[name] = found
    return found


# ---------------------------------------------------------------------------------------------
# one day of one schedule

_MICROS_PER_MINUTE: Final = 60_000_000


def _micros(t: datetime | time) -> int:
    """Microseconds since local midnight (wall clock)."""
    return ((t.hour * 60 + t.minute) * 60 + t.second) * 1_000_000 + t.microsecond


def _hm(text: str) -> int:
    """'09:15' -> minutes since midnight."""
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


@dataclass(frozen=True, slots=True)
class _Day:
    """The states of one local calendar date: `states[i]` holds from `starts[i]` (microseconds
    since local midnight) to the next start; `starts[0] == 0`."""

    starts: tuple[int, ...]
    states: tuple[SessionState, ...]
    trading_end: int | None
    """When this date's own trading day ends (microseconds), None if it is not a trading day."""

    def at(self, micros: int) -> SessionState:
        return self.states[bisect_right(self.starts, micros) - 1]


_Piece = tuple[int, int, SessionState]  # (start minute, end minute, state)


def _make_day(pieces: list[_Piece], filler: SessionState, trading_end: int | None) -> _Day:
    """Lay `pieces` (minutes, non-overlapping) on a day, `filler` in the gaps."""
    starts: list[int] = []
    states: list[SessionState] = []

    def put(start: int, state: SessionState) -> None:
        if states and states[-1] is state:
            return
        if starts and starts[-1] == start:
            states[-1] = state
            return
        starts.append(start)
        states.append(state)

    cursor = 0
    for start, end, state in sorted(pieces, key=lambda p: p[0]):
        if start >= end:
            continue
        if start > cursor:
            put(cursor * _MICROS_PER_MINUTE, filler)
        put(start * _MICROS_PER_MINUTE, state)
        cursor = end
    if cursor < 24 * 60:
        put(cursor * _MICROS_PER_MINUTE, filler)
    return _Day(
        tuple(starts),
        tuple(states),
        None if trading_end is None else trading_end * _MICROS_PER_MINUTE,
    )


_DAY_CACHE_LIMIT: Final = 4096


class _Schedule:
    """The session rules of one group of symbols that share them."""

    tz: ZoneInfo
    calendar_name: str

    def __init__(self) -> None:
        self._days: dict[date, _Day] = {}
        self._lock = threading.Lock()

    @property
    def calendar(self) -> _TradingCalendar:
        return _calendar(self.calendar_name)

    def day(self, local_date: date) -> _Day:
        found = self._days.get(local_date)
        if found is None:
            found = self._build(local_date)
            with self._lock:
                if len(self._days) >= _DAY_CACHE_LIMIT:
                    self._days.clear()
                self._days[local_date] = found
        return found

    def _build(self, local_date: date) -> _Day:
        raise NotImplementedError

    def _closed_filler(self, local_date: date, trading: bool) -> SessionState:
        if trading:
            return _CLOSED
        return _WEEKEND if local_date.weekday() >= 5 else _HOLIDAY

    # queries -----------------------------------------------------------------------------

    def state(self, when: datetime) -> SessionState:
        local = when.astimezone(self.tz)
        return self.day(local.date()).at(_micros(local))

    def trading_day(self, when: datetime) -> date:
        local = when.astimezone(self.tz)
        today = local.date()
        end = self.day(today).trading_end
        if end is not None and _micros(local) < end:
            return today
        return self.calendar.next_trading_day(today)

    def next_open_start(self, when: datetime) -> datetime:
        """The earliest start, strictly after `when`, of a period with status `open`."""
        local = when.astimezone(self.tz)
        today, now_micros = local.date(), _micros(local)
        previous = self.day(today - _ONE_DAY).states[-1].status
        current = today
        for _ in range(_SEARCH_DAYS):
            day = self.day(current)
            for start, state in zip(day.starts, day.states, strict=True):
                is_open = state.status is _S.OPEN
                if is_open and previous is not _S.OPEN and (current > today or start > now_micros):
                    return _aware(current, start, self.tz)
                previous = state.status
            current += _ONE_DAY
        raise RuntimeError(f"no open session within {_SEARCH_DAYS} days of {when.isoformat()}")


def _aware(local_date: date, micros: int, tz: ZoneInfo) -> datetime:
    seconds, micro = divmod(micros, 1_000_000)
    minutes, second = divmod(seconds, 60)
    hour, minute = divmod(minutes, 60)
    local = datetime(
        local_date.year, local_date.month, local_date.day, hour, minute, second, micro, tzinfo=tz
    )
    return local.astimezone(UTC)


class _CnStockSchedule(_Schedule):
    tz = _SHANGHAI
    calendar_name = "XSHG"

    _PIECES: Final[tuple[_Piece, ...]] = (
        (0, _hm("09:15"), _CN_NOT_YET_OPEN),
        (_hm("09:15"), _hm("09:20"), _CN_OPEN_AUCTION),
        (_hm("09:20"), _hm("09:25"), _CN_OPEN_AUCTION_NC),
        (_hm("09:25"), _hm("09:30"), _CN_WAITING_OPEN),
        (_hm("09:30"), _hm("11:30"), _CN_CONTINUOUS),
        (_hm("11:30"), _hm("13:00"), _CN_LUNCH),
        (_hm("13:00"), _hm("14:57"), _CN_CONTINUOUS),
        (_hm("14:57"), _hm("15:00"), _CN_CLOSE_AUCTION),
    )
    _CLOSE: Final = _hm("15:00")

    def _build(self, local_date: date) -> _Day:
        trading = self.calendar.is_trading_day(local_date)
        filler = self._closed_filler(local_date, trading)
        if not trading:
            return _make_day([], filler, None)
        return _make_day(list(self._PIECES), filler, self._CLOSE)


class _HkSchedule(_Schedule):
    tz = _HONG_KONG
    calendar_name = "XHKG"

    def _build(self, local_date: date) -> _Day:
        calendar = self.calendar
        trading = calendar.is_trading_day(local_date)
        filler = self._closed_filler(local_date, trading)
        if not trading:
            return _make_day([], filler, None)
        early = calendar.early_closes.get(local_date)
        close = _hm("16:00") if early is None else early.hour * 60 + early.minute
        pieces: list[_Piece] = [
            (_hm("09:00"), _hm("09:15"), _HK_POS_INPUT),
            (_hm("09:15"), _hm("09:20"), _HK_POS_NO_CANCEL),
            (_hm("09:20"), _hm("09:22"), _HK_POS_MATCHING),
            (_hm("09:22"), _hm("09:30"), _HK_POS_BLOCKING),
        ]
        lunch, afternoon = _hm("12:00"), _hm("13:00")
        if close <= lunch:
            pieces.append((_hm("09:30"), close, _HK_MORNING))
        else:
            pieces += [
                (_hm("09:30"), lunch, _HK_MORNING),
                (lunch, afternoon, _HK_LUNCH),
                (afternoon, close, _HK_AFTERNOON),
            ]
        pieces += [
            (close, close + 1, _HK_CAS_REFERENCE),
            (close + 1, close + 6, _HK_CAS_INPUT),
            (close + 6, close + 8, _HK_CAS_NO_CANCEL),
            (close + 8, close + 10, _HK_CAS_RANDOM_CLOSE),
        ]
        return _make_day(pieces, filler, close + 10)


class _UsSchedule(_Schedule):
    tz = _NEW_YORK
    calendar_name = "XNYS"

    def _build(self, local_date: date) -> _Day:
        calendar = self.calendar
        trading = calendar.is_trading_day(local_date)
        filler = self._closed_filler(local_date, trading)
        evening = _hm("20:00")
        pieces: list[_Piece] = []
        if calendar.is_trading_day(local_date + _ONE_DAY):
            pieces.append((evening, 24 * 60, _US_OVERNIGHT))
        if not trading:
            return _make_day(pieces, filler, None)
        early = calendar.early_closes.get(local_date)
        close = _hm("16:00") if early is None else early.hour * 60 + early.minute
        after_end = evening if early is None else min(close + 4 * 60, evening)
        pieces += [
            (0, _hm("04:00"), _US_OVERNIGHT),
            (_hm("04:00"), _hm("09:30"), _US_PRE_MARKET),
            (_hm("09:30"), close, _US_REGULAR),
            (close, after_end, _US_AFTER_HOURS),
        ]
        return _make_day(pieces, filler, after_end)


NIGHT_SESSION_END: Final[dict[str, str]] = {
    # SHFE / INE, to 02:30 the next morning
    **dict.fromkeys(("au", "ag", "sc"), "02:30"),
    # SHFE / INE base metals, to 01:00
    **dict.fromkeys(("cu", "al", "zn", "pb", "ni", "sn", "ss", "ao", "bc"), "01:00"),
    # SHFE / INE, to 23:00
    **dict.fromkeys(("rb", "hc", "bu", "ru", "fu", "sp", "br", "nr", "lu"), "23:00"),
    # DCE, to 23:00
    **dict.fromkeys(
        (
            "a",
            "b",
            "m",
            "y",
            "p",
            "c",
            "cs",
            "i",
            "j",
            "jm",
            "l",
            "v",
            "pp",
            "eg",
            "eb",
            "pg",
            "rr",
        ),
        "23:00",
    ),
    # CZCE, to 23:00 (tickers are upper case there; lookup is case-insensitive)
    **dict.fromkeys(
        ("sr", "cf", "cy", "ta", "ma", "rm", "oi", "fg", "sa", "pf", "px", "sh"), "23:00"
    ),
}
"""Night-session end per futures product (lower-case ticker letters); products missing here
have no night session."""

_CFFEX_TREASURY: Final = frozenset({"ts", "tf", "t", "tl"})
_PRODUCT = re.compile(r"[A-Za-z]+")


class _FuturesSchedule(_Schedule):
    tz = _SHANGHAI
    calendar_name = "XSHG"

    def __init__(
        self, kind: Literal["commodity", "index", "treasury"], night_end: int | None
    ) -> None:
        super().__init__()
        self.kind = kind
        self.night_end = night_end
        """Minutes; below 15:00 means after midnight. None: no night session."""
        if kind == "commodity":
            self.day_pieces: list[_Piece] = [
                (_hm("09:00"), _hm("10:15"), _FUT_DAY),
                (_hm("10:15"), _hm("10:30"), _FUT_MORNING_BREAK),
                (_hm("10:30"), _hm("11:30"), _FUT_DAY),
                (_hm("11:30"), _hm("13:30"), _FUT_LUNCH),
                (_hm("13:30"), _hm("15:00"), _FUT_DAY),
            ]
        else:
            close = _hm("15:15") if kind == "treasury" else _hm("15:00")
            self.day_pieces = [
                (_hm("09:30"), _hm("11:30"), _FUT_DAY),
                (_hm("11:30"), _hm("13:00"), _FUT_LUNCH),
                (_hm("13:00"), close, _FUT_DAY),
            ]
        self.day_open = self.day_pieces[0][0]
        self.day_close = self.day_pieces[-1][1]

    def has_night_on(self, evening: date) -> bool:
        """A night session runs on the evening of `evening`: it is a trading day and the next
        trading day is the next weekday (no holiday in between)."""
        if self.night_end is None:
            return False
        calendar = self.calendar
        if not calendar.is_trading_day(evening):
            return False
        next_weekday = evening + _ONE_DAY
        while next_weekday.weekday() >= 5:
            next_weekday += _ONE_DAY
        return calendar.next_trading_day(evening) == next_weekday

    def _build(self, local_date: date) -> _Day:
        calendar = self.calendar
        trading = calendar.is_trading_day(local_date)
        filler = self._closed_filler(local_date, trading)
        pieces: list[_Piece] = []
        night_start = _hm("21:00")
        night_end = self.night_end
        crosses_midnight = night_end is not None and night_end < night_start
        # the part after midnight of last evening's night session
        if crosses_midnight and night_end is not None and self.has_night_on(local_date - _ONE_DAY):
            pieces.append((0, night_end, _FUT_NIGHT))
        if trading:
            night_before = self.night_end is not None and self.has_night_on(
                calendar.previous_trading_day(local_date)
            )
            if not night_before:
                pieces += [
                    (self.day_open - 5, self.day_open - 1, _FUT_AUCTION),
                    (self.day_open - 1, self.day_open, _FUT_AUCTION_MATCHING),
                ]
            pieces += self.day_pieces
        if night_end is not None and self.has_night_on(local_date):
            pieces += [
                (night_start - 5, night_start - 1, _FUT_AUCTION),
                (night_start - 1, night_start, _FUT_AUCTION_MATCHING),
                (night_start, 24 * 60 if crosses_midnight else night_end, _FUT_NIGHT),
            ]
        return _make_day(pieces, filler, self.day_close if trading else None)


# ---------------------------------------------------------------------------------------------
# schedules per symbol

_CN_STOCK_SCHEDULE: Final = _CnStockSchedule()
_HK_SCHEDULE: Final = _HkSchedule()
_US_SCHEDULE: Final = _UsSchedule()
_FUTURES_SCHEDULES: dict[tuple[str, int | None], _FuturesSchedule] = {}
_FUTURES_LOCK = threading.Lock()


def _futures_schedule(
    kind: Literal["commodity", "index", "treasury"], night_end: int | None
) -> _FuturesSchedule:
    key = (kind, night_end)
    with _FUTURES_LOCK:
        found = _FUTURES_SCHEDULES.get(key)
        if found is None:
            found = _FUTURES_SCHEDULES[key] = _FuturesSchedule(kind, night_end)
    return found


def _venue(symbol: str) -> Venue:
    try:
        return venue_of(symbol)
    except ValueError:
        raise ValidationFailed(
            f"symbol {symbol!r} is not a canonical TICKER.VENUE symbol",
            {"field": "symbol", "value": symbol},
        ) from None


@functools.lru_cache(maxsize=8192)
def _schedule_of(symbol: str) -> _Schedule:
    venue = _venue(symbol)
    market = VENUE_MARKET[venue]
    if market is Market.CN_STOCK:
        return _CN_STOCK_SCHEDULE
    if market is Market.HK_STOCK:
        return _HK_SCHEDULE
    if market is Market.US_STOCK:
        return _US_SCHEDULE
    match = _PRODUCT.match(symbol)
    product = match.group(0).lower() if match else ""
    kind: Literal["commodity", "index", "treasury"] = "commodity"
    if venue is Venue.CFFEX:
        kind = "treasury" if product in _CFFEX_TREASURY else "index"
    night = NIGHT_SESSION_END.get(product) if kind == "commodity" else None
    return _futures_schedule(kind, None if night is None else _hm(night))


def _require_aware(when: datetime) -> None:
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValidationFailed(
            f"time {when.isoformat()!r} has no timezone offset",
            {"field": "when", "value": when.isoformat()},
        )


# ---------------------------------------------------------------------------------------------
# public


class Sessions:
    """Trading sessions of every venue, in one of the two `market_hours` modes.

    Thread-safe; instances share the (lazily loaded) calendars and per-date caches.
    """

    __slots__ = ("_always_open", "market_hours")

    def __init__(self, market_hours: MarketHours) -> None:
        if market_hours not in ("always_open", "exchange"):
            raise ValidationFailed(
                f"market_hours must be 'always_open' or 'exchange', not {market_hours!r}",
                {"field": "market_hours", "value": market_hours},
            )
        self.market_hours: MarketHours = market_hours
        self._always_open = market_hours == "always_open"

    def warm_up(self) -> None:
        """Load the calendars now instead of on first use (about 0.7 s, once per process)."""
        if not self._always_open:
            for name in ("XSHG", "XHKG", "XNYS"):
                _calendar(name)

    def state(self, symbol: str, when: datetime) -> SessionState:
        """The state of the venue of `symbol` (canonical `TICKER.VENUE`) at `when` (aware)."""
        if when.tzinfo is None:
            _require_aware(when)
        if self._always_open:
            return ALWAYS_OPEN
        return _schedule_of(symbol).state(when)

    def trading_day(self, symbol: str, when: datetime) -> date:
        """The trading day `when` belongs to for `symbol`: the one whose session (breaks and
        night/overnight sessions included) it is in, or, outside sessions, the next one to
        come. In `always_open` mode: the date in Asia/Shanghai."""
        _require_aware(when)
        if self._always_open:
            return when.astimezone(_SHANGHAI).date()
        return _schedule_of(symbol).trading_day(when)

    def next_session_start(self, when: datetime, symbols: Iterable[str]) -> datetime:
        """The earliest start, strictly after `when`, of a continuous-trading period (status
        `open`) of any of the symbols' venues (each futures product has its own sessions).
        With no symbols, the CN A-share sessions are used. In `always_open` mode: `when` +
        1 day (there are no sessions to move to; one day lets day orders expire)."""
        _require_aware(when)
        if self._always_open:
            return when + _ONE_DAY
        schedules: dict[int, _Schedule] = {}
        for symbol in symbols:
            schedule = _schedule_of(symbol)
            schedules.setdefault(id(schedule), schedule)
        if not schedules:
            schedules[id(_CN_STOCK_SCHEDULE)] = _CN_STOCK_SCHEDULE
        return min(schedule.next_open_start(when) for schedule in schedules.values())

    def next_trading_day_start(self, when: datetime) -> datetime:
        """The first 09:00 Asia/Shanghai on an XSHG trading day strictly after `when` (so from
        a trading day's session or evening, the next trading day; before 09:00 on a trading
        day, that same day). In `always_open` mode: `when` + 1 day."""
        _require_aware(when)
        if self._always_open:
            return when + _ONE_DAY
        calendar = _calendar("XSHG")
        local = when.astimezone(_SHANGHAI)
        start = time(9, 0)
        day = local.date()
        if not (calendar.is_trading_day(day) and local.time().replace(tzinfo=None) < start):
            day = calendar.next_trading_day(day)
        return datetime.combine(day, start, tzinfo=_SHANGHAI).astimezone(UTC)

    def venues_status(
        self, symbols: Iterable[str], when: datetime
    ) -> list[tuple[Venue, SessionState]]:
        """One `(venue, state)` per venue present among `symbols`, in `Venue` order. Where a
        venue's symbols differ (futures products with and without a night session), the most
        active state is shown (open > auction > extended hours > break > pre_open > closed)."""
        _require_aware(when)
        best: dict[Venue, SessionState] = {}
        seen: set[tuple[Venue, int]] = set()
        for symbol in symbols:
            venue = _venue(symbol)
            if self._always_open:
                best[venue] = ALWAYS_OPEN
                continue
            schedule = _schedule_of(symbol)
            if (venue, id(schedule)) in seen:
                continue
            seen.add((venue, id(schedule)))
            state = schedule.state(when)
            current = best.get(venue)
            if current is None or _ACTIVITY_RANK[state.status] < _ACTIVITY_RANK[current.status]:
                best[venue] = state
        order = list(Venue)
        return sorted(best.items(), key=lambda item: order.index(item[0]))
