"""The bars a backtest replays: read from a CSV file, or made by the paper broker's seeded
history generator.

CSV: a header line, then one bar a line. Columns (any order, any case; others are ignored):
`symbol`, `time`, `open`, `high`, `low`, `close` and optionally `volume`. `time` is the start
of the bar: an ISO-8601 date for daily bars (`2024-01-02`), a date and time for minute bars,
with an offset (`2024-01-02T09:30:00+08:00`) or without one, then in the venue's own time
(Asia/Shanghai for SH/SZ/BJ and the futures venues, Asia/Hong_Kong, America/New_York).

Bar times follow the API's: a daily bar is stamped 00:00 UTC of its trading date, a minute
bar with the UTC instant it starts.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from zoneinfo import ZoneInfo

import msgspec

from tradebridge.brokers.paper.bars import INTERVAL_SECONDS, MAX_BARS, bars
from tradebridge.brokers.paper.sessions import Sessions
from tradebridge.domain.errors import ValidationFailed
from tradebridge.domain.models import Contract
from tradebridge.domain.symbols import MARKET_TIMEZONE, market_of, parse_symbol
from tradebridge_client.models import Bar
from tradebridge_client.strategy import Interval

COLUMNS = ("symbol", "time", "open", "high", "low", "close")


class BarDataError(ValueError):
    """Bars that cannot be replayed; the message names the file and line."""


def venue_zone(symbol: str) -> ZoneInfo:
    return ZoneInfo(MARKET_TIMEZONE[market_of(symbol)])


def read_csv(path: Path, interval: Interval) -> list[Bar]:
    """Every bar of the file, ordered by time then symbol. Raises `BarDataError`."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as file:
            rows = list(csv.reader(file))
    except OSError as failed:
        raise BarDataError(f"cannot read {path}: {failed.strerror or failed}") from None
    if not rows:
        raise BarDataError(f"{path} is empty")
    header = [name.strip().lower() for name in rows[0]]
    missing = [name for name in COLUMNS if name not in header]
    if missing:
        raise BarDataError(
            f"{path}: the header has no column {', '.join(missing)} "
            f"(it needs {', '.join(COLUMNS)} and optionally volume)"
        )
    index = {name: header.index(name) for name in (*COLUMNS, "volume") if name in header}
    seen: set[tuple[str, datetime]] = set()
    out: list[Bar] = []
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        try:
            bar = _bar(row, index, interval)
        except (ValueError, IndexError, InvalidOperation) as bad:
            raise BarDataError(f"{path} line {line}: {_reason(bad)}") from None
        if (bar.symbol, bar.time) in seen:
            raise BarDataError(f"{path} line {line}: a second bar of {bar.symbol} at {bar.time}")
        seen.add((bar.symbol, bar.time))
        out.append(bar)
    out.sort(key=lambda bar: (bar.time, bar.symbol))
    return out


def _reason(bad: Exception) -> str:
    if isinstance(bad, ValidationFailed):
        return bad.message
    if isinstance(bad, InvalidOperation):
        return "a price is not a number"
    if isinstance(bad, IndexError):
        return "the line has fewer columns than the header"
    return str(bad)


def _bar(row: list[str], index: dict[str, int], interval: Interval) -> Bar:
    symbol = parse_symbol(row[index["symbol"]])
    when = _time(row[index["time"]].strip(), symbol, interval)
    prices = {name: Decimal(row[index[name]].strip()) for name in ("open", "high", "low", "close")}
    if not all(p.is_finite() and p > 0 for p in prices.values()):
        raise ValueError("prices must be positive numbers")
    low, high = prices["low"], prices["high"]
    if not (
        low <= min(prices["open"], prices["close"]) and max(prices["open"], prices["close"]) <= high
    ):
        raise ValueError("low <= open, close <= high does not hold")
    volume_text = row[index["volume"]].strip() if "volume" in index else ""
    volume = int(Decimal(volume_text)) if volume_text else 0
    return Bar(symbol=symbol, time=when, volume=volume, **prices)


def _time(text: str, symbol: str, interval: Interval) -> datetime:
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"time {text!r} is not an ISO-8601 date or time") from None
    if interval == "1d":
        local = (
            parsed.date() if parsed.tzinfo is None else parsed.astimezone(venue_zone(symbol)).date()
        )
        return datetime.combine(local, time(0), tzinfo=UTC)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=venue_zone(symbol))
    return parsed.astimezone(UTC)


def trading_date(bar: Bar, interval: Interval) -> date:
    """The date a bar belongs to: a daily bar's own, a minute bar's in its venue's time."""
    if interval == "1d":
        return bar.time.date()
    return bar.time.astimezone(venue_zone(bar.symbol)).date()


def between(
    bars: Iterable[Bar], interval: Interval, start: date | None, end: date | None
) -> list[Bar]:
    """The bars whose trading date is from `start` to `end` (both included; None: open)."""
    return [
        bar
        for bar in bars
        if (start is None or trading_date(bar, interval) >= start)
        and (end is None or trading_date(bar, interval) <= end)
    ]


def generate(
    contracts: Sequence[Contract],
    interval: Interval,
    start: date,
    end: date,
    *,
    seed: int,
    sessions: Sessions,
) -> list[Bar]:
    """Bars of each contract from `start` to `end`, one for each interval of continuous
    trading (daily: each trading day), ordered by time then symbol.

    Their prices are the paper broker's seeded history (`brokers.paper.bars`, the same for
    the same seed), ending at the contract's `pre_close`: as many bars as the sessions have,
    made in one run and laid on the sessions' times, so the market does not wander while
    it is closed."""
    if end < start:
        raise BarDataError(f"--to {end} is before --from {start}")
    out: list[Bar] = []
    for contract in contracts:
        times = session_times(contract.symbol, interval, start, end, sessions)
        prices = _history(contract, interval, len(times), seed)
        out += [
            msgspec.structs.replace(bar, time=when) for bar, when in zip(prices, times, strict=True)
        ]
    out.sort(key=lambda bar: (bar.time, bar.symbol))
    return out


def session_times(
    symbol: str, interval: Interval, start: date, end: date, sessions: Sessions
) -> list[datetime]:
    """The start of every bar of `interval` from `start` to `end` that begins in continuous
    trading of `symbol` (daily: 00:00 UTC of each trading day)."""
    first = datetime.combine(start, time(0), tzinfo=UTC)
    if interval == "1d":
        days = (first + timedelta(days=n) for n in range((end - start).days + 1))
        return [day for day in days if _trades_on(symbol, day, sessions)]
    zone = venue_zone(symbol)
    cursor = datetime.combine(start, time(0), tzinfo=zone).astimezone(UTC)
    stop = datetime.combine(end + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)
    step = timedelta(seconds=INTERVAL_SECONDS[interval])
    times: list[datetime] = []
    while cursor < stop:
        if sessions.state(symbol, cursor).matches:
            times.append(cursor)
        cursor += step
    return times


def _trades_on(symbol: str, day: datetime, sessions: Sessions) -> bool:
    if sessions.market_hours == "always_open":
        return day.weekday() < 5
    opening = sessions.next_session_start(day, [symbol])
    return opening.astimezone(venue_zone(symbol)).date() == day.date()


def _history(contract: Contract, interval: Interval, count: int, seed: int) -> list[Bar]:
    """`count` consecutive bars of the generated history ending at the contract's
    `pre_close`, made in pieces of at most `MAX_BARS` walking back from the last (each piece
    ends where the next one opens)."""
    end = datetime(2000, 1, 3, tzinfo=UTC)  # any fixed time: the bars get the sessions' times
    step = timedelta(seconds=INTERVAL_SECONDS[interval])
    pieces: list[list[Bar]] = []
    price, left = contract.pre_close, count
    while left > 0:
        limit = min(left, MAX_BARS)
        made = bars(contract, seed=seed, interval=interval, end=end, last=price, limit=limit)
        pieces.append([msgspec.convert(bar, Bar, from_attributes=True) for bar in made])
        left -= limit
        price = made[0].open
        end = made[0].time - step
    return [bar for piece in reversed(pieces) for bar in piece]
