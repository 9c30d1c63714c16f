"""Bar history for `GET /market/bars` in the paper broker, and live bars folded from quotes.

Pure: no I/O, no clock, no global state.

`bars` makes `limit` bars of an interval ending with the bar that contains `end`, oldest first,
walking *backwards* from the current price: the last bar closes at `last`, each earlier close
is the next one moved by a seeded log-normal return with the market's volatility
(`MarketProfile`, the same as the random walk's, scaled to the interval).

Each bar's random numbers are a hash of `(seed, symbol, interval, bar time)`, not a stream, so
the shape of the history is fixed by the bar times alone: asking again later, when `last` has
moved or a new bar has begun, gives the same shape rescaled to end at the new price, and a
chart does not jump about between refreshes. Same arguments, same bars, on any machine.

- Times: bars start on their interval boundary in UTC: 1m/5m on UTC minute boundaries,
  running round the clock (the walk moves whenever it is stepped); 1d at 00:00 UTC of each
  date, Monday to Friday (no holiday calendar). The UTC date is the venue's trading date
  for every session of CN, HK and US stocks. When `end` falls on a weekend the last daily bar
  is Friday's.
- Prices are on the contract's tick ladder and > 0; `low <= open, close <= high`.
- Daily bars keep open, high, low and close inside the daily price limits from the previous
  bar's close (`price_limit_pct`, rounded half up to the tick as the walk does). Pass
  `pre_close` (the walk's) to make the bar before the last one close exactly there.
- Volume is in whole lots, around the market's daily turnover (spread evenly over the
  session for 1m/5m bars), larger on bars that move more.

`BarBuilder` folds live quotes (and, optionally, traded volume) into current bars; the caller
chooses how to join them to the history, e.g. history with `end` just before the first live
bar and `last` equal to its open.
"""

import hashlib
import math
import struct
from collections import deque
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import Literal, get_args

from tradebridge.brokers.paper.walk import min_price, price_limits, profile_for, snap_to_ladder
from tradebridge.domain.models import Bar, Contract, Quote
from tradebridge.domain.ticks import TickLadder, ladder_for

Interval = Literal["1m", "5m", "1d"]
INTERVALS: tuple[Interval, ...] = get_args(Interval)
INTERVAL_SECONDS: dict[Interval, int] = {"1m": 60, "5m": 300, "1d": 86400}
MAX_BARS = 1000

_DAY = timedelta(days=1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_HIGH_LOW = 0.6
"""How far high and low reach beyond open/close, in bar volatilities (times |N(0,1)|)."""


def _check_interval(interval: str) -> Interval:
    for known in INTERVALS:
        if interval == known:
            return known
    raise ValueError(f"interval must be one of {', '.join(INTERVALS)}, got {interval!r}")


def _utc(value: datetime, name: str) -> datetime:
    if value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got {value!r}")
    return value.astimezone(UTC)


def bar_start(interval: Interval, time: datetime) -> datetime:
    """Start (UTC) of the bar of `interval` that contains the aware `time`."""
    time = _utc(time, "time")
    if _check_interval(interval) == "1d":
        return datetime(time.year, time.month, time.day, tzinfo=UTC)
    size = INTERVAL_SECONDS[interval]
    seconds = (time - _EPOCH) // timedelta(seconds=1)
    return _EPOCH + timedelta(seconds=seconds - seconds % size)


def bar_times(interval: Interval, end: datetime, limit: int) -> list[datetime]:
    """Start times of the `limit` bars ending with the one that contains `end`, oldest first
    (daily bars on weekdays only)."""
    last = bar_start(interval, end)
    if interval != "1d":
        size = timedelta(seconds=INTERVAL_SECONDS[interval])
        return [last - size * (limit - 1 - i) for i in range(limit)]
    days: list[datetime] = []
    day = last
    while len(days) < limit:
        if day.weekday() < 5:
            days.append(day)
        day -= _DAY
    days.reverse()
    return days


def _normals(key: str) -> tuple[float, float, float, float, float, float]:
    """Six independent N(0, 1) draws that are a pure function of `key` (Box-Muller on a hash)."""
    words = struct.unpack("<6Q", hashlib.blake2b(key.encode(), digest_size=48).digest())
    u = [((word >> 11) + 0.5) * 2.0**-53 for word in words]  # uniform in (0, 1)
    out: list[float] = []
    for a, b in ((u[0], u[1]), (u[2], u[3]), (u[4], u[5])):
        r = math.sqrt(-2.0 * math.log(a))
        out += (r * math.cos(2 * math.pi * b), r * math.sin(2 * math.pi * b))
    return out[0], out[1], out[2], out[3], out[4], out[5]


def _on_ladder(ladder: TickLadder, price: float, rounding: str = ROUND_HALF_UP) -> Decimal:
    """`price` on the ladder, at least its smallest price."""
    return max(snap_to_ladder(ladder, Decimal(price), rounding), min_price(ladder))


def _fit_previous_close(
    ladder: TickLadder, close: Decimal, previous: Decimal, pct: Decimal
) -> Decimal:
    """`previous`, moved as little as needed for `close` to lie inside its daily limits."""
    limits = price_limits(ladder, previous, pct)
    assert limits is not None
    lower, upper = limits
    if close > upper:
        previous = snap_to_ladder(ladder, close / (1 + pct / 100), ROUND_CEILING)
        while (limits := price_limits(ladder, previous, pct)) and limits[1] < close:
            previous = ladder.step_up(previous)
    elif close < lower:
        if pct < 100:
            previous = snap_to_ladder(ladder, close / (1 - pct / 100), ROUND_FLOOR)
        while (limits := price_limits(ladder, previous, pct)) and limits[0] > close:
            below = ladder.step_down(previous)
            if below is None:
                break
            previous = below
    return previous


def bars(
    contract: Contract,
    *,
    seed: int,
    interval: Interval,
    end: datetime,
    last: Decimal,
    limit: int,
    pre_close: Decimal | None = None,
) -> list[Bar]:
    """`limit` (1-1000) bars of `interval` ending with the bar containing `end`, oldest first;
    the last one closes at `last` (the current price, on the tick). For 1d, `pre_close` is
    the close of the bar before the last one (by default a seeded one). See the module."""
    interval = _check_interval(interval)
    if not 1 <= limit <= MAX_BARS:
        raise ValueError(f"limit must be from 1 to {MAX_BARS}, got {limit}")
    ladder = ladder_for(contract)
    for name, price in (("last", last), ("pre_close", pre_close)):
        if price is not None and not (price.is_finite() and price > 0 and ladder.is_on_tick(price)):
            raise ValueError(f"{name} of {contract.symbol} must be a positive price on the tick")
    profile = profile_for(contract)
    daily = interval == "1d"
    day_fraction = 1.0 if daily else INTERVAL_SECONDS[interval] / profile.session_seconds
    sigma = profile.daily_volatility * math.sqrt(day_fraction)
    gap_sigma = sigma * (0.3 if daily else 0.1)
    pct = contract.price_limit_pct if daily else None
    floor = min_price(ladder)
    lot = contract.lot_size
    lot_value = float(lot * contract.multiplier)
    turnover = profile.daily_turnover * day_fraction
    times = bar_times(interval, end, limit)

    out: list[Bar] = []
    close = last
    for i in range(limit - 1, -1, -1):
        z = _normals(f"{seed}:{contract.symbol}:{interval}:{int(times[i].timestamp())}")
        close_f = float(close)
        if i == limit - 1 and daily and pre_close is not None:
            previous = pre_close
        else:
            previous = _on_ladder(ladder, close_f * math.exp(-sigma * z[0]))
            if pct is not None:
                previous = _fit_previous_close(ladder, close, previous, pct)
        lower, upper = floor, None
        limits = price_limits(ladder, previous, pct)
        if limits is not None:  # a given pre_close may not fit: widen to what is shown
            lower, upper = min(limits[0], close), max(limits[1], close)
        previous_f = float(previous)

        open_ = _on_ladder(ladder, previous_f * math.exp(gap_sigma * z[1]))
        open_ = max(open_, lower) if upper is None else min(max(open_, lower), upper)
        open_f = float(open_)
        high = _on_ladder(
            ladder, max(open_f, close_f) * math.exp(_HIGH_LOW * sigma * abs(z[2])), ROUND_CEILING
        )
        if upper is not None:
            high = min(high, upper)
        high = max(high, open_, close)
        low = _on_ladder(
            ladder, min(open_f, close_f) * math.exp(-_HIGH_LOW * sigma * abs(z[3])), ROUND_FLOOR
        )
        low = min(max(low, lower), open_, close)

        move = abs(math.log(close_f / previous_f)) / sigma  # ~|N(0,1)|, mean 0.8
        activity = math.exp(0.5 * z[4] - 0.125) * (0.6 + 0.5 * move)
        lots = turnover / (lot_value * (open_f + close_f) / 2) * activity
        out.append(
            Bar(
                symbol=contract.symbol,
                time=times[i],
                open=open_,
                high=high,
                low=low,
                close=close,
                volume=lot * max(1, round(lots)),
            )
        )
        close = previous
    out.reverse()
    return out


class _LiveBar:
    __slots__ = ("close", "high", "low", "open", "time", "volume")

    def __init__(self, time: datetime, price: Decimal, volume: int) -> None:
        self.time = time
        self.open = self.high = self.low = self.close = price
        self.volume = volume

    def bar(self, symbol: str) -> Bar:
        return Bar(
            symbol=symbol,
            time=self.time,
            open=self.open,
            high=self.high,
            low=self.low,
            close=self.close,
            volume=self.volume,
        )


class BarBuilder:
    """Current bars folded from live quotes: OHLC of `quote.last` per bar of each interval.

    Quotes carry no traded volume, so volume is what `add` is given (e.g. the quantity of a
    paper fill), 0 by default. A quote older than the symbol's latest one is ignored. Keeps
    the latest `max_bars` bars per symbol and interval.
    """

    def __init__(
        self, *, intervals: Iterable[Interval] = INTERVALS, max_bars: int = MAX_BARS
    ) -> None:
        self._intervals = tuple(_check_interval(interval) for interval in intervals)
        self._max_bars = max_bars
        self._bars: dict[tuple[str, Interval], deque[_LiveBar]] = {}
        self._latest: dict[str, datetime] = {}

    def add(self, quote: Quote, volume: int = 0) -> None:
        latest = self._latest.get(quote.symbol)
        if latest is not None and quote.time < latest:
            return
        self._latest[quote.symbol] = quote.time
        for interval in self._intervals:
            start = bar_start(interval, quote.time)
            key = (quote.symbol, interval)
            live = self._bars.get(key)
            if live is None:
                live = self._bars[key] = deque(maxlen=self._max_bars)
            current = live[-1] if live else None
            if current is None or start > current.time:
                live.append(_LiveBar(start, quote.last, volume))
            else:
                current.high = max(current.high, quote.last)
                current.low = min(current.low, quote.last)
                current.close = quote.last
                current.volume += volume

    def bars(self, symbol: str, interval: Interval, limit: int) -> list[Bar]:
        """The latest `limit` bars of `symbol`, oldest first; [] before its first quote."""
        live = self._bars.get((symbol, _check_interval(interval)))
        if not live or limit <= 0:
            return []
        return [bar.bar(symbol) for bar in list(live)[-limit:]]
