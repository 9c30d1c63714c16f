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
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from zoneinfo import ZoneInfo

import msgspec

from tradebridge.brokers.paper.bars import INTERVAL_SECONDS, MAX_BARS, bar_start, bars
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
    """Bars of each contract from `start` to `end` as the paper broker's history generator
    makes them (`brokers.paper.bars`: seeded, reproducible), ending at its `pre_close`; only
    those of trading days and, for minute bars, of continuous trading. Ordered by time then
    symbol."""
    if end < start:
        raise BarDataError(f"--to {end} is before --from {start}")
    out: list[Bar] = []
    for contract in contracts:
        for bar in _history(contract, interval, start, end, seed):
            if _in_session(bar, interval, sessions):
                out.append(bar)
    out.sort(key=lambda bar: (bar.time, bar.symbol))
    return out


def _history(
    contract: Contract, interval: Interval, start: date, end: date, seed: int
) -> Iterator[Bar]:
    """The generated bars of `contract` from `start` to `end`, in pieces of at most
    `MAX_BARS` walking back from the last (each piece ends where the next one opens)."""
    first = datetime.combine(start, time(0), tzinfo=UTC)
    last_start = bar_start(interval, datetime.combine(end, time(23, 59), tzinfo=UTC))
    step = timedelta(seconds=INTERVAL_SECONDS[interval])
    pieces: list[list[Bar]] = []
    price = contract.pre_close
    cursor = last_start
    while cursor >= first:
        made = bars(contract, seed=seed, interval=interval, end=cursor, last=price, limit=MAX_BARS)
        kept = [bar for bar in made if bar.time >= first]
        pieces.append([msgspec.convert(bar, Bar, from_attributes=True) for bar in kept])
        if len(kept) < len(made) or not kept:
            break
        price = kept[0].open
        cursor = kept[0].time - step
    for piece in reversed(pieces):
        yield from piece


def _in_session(bar: Bar, interval: Interval, sessions: Sessions) -> bool:
    if sessions.market_hours == "always_open":
        return True
    if interval == "1d":
        opening = sessions.next_session_start(bar.time, [bar.symbol])
        return opening.astimezone(venue_zone(bar.symbol)).date() == bar.time.date()
    return sessions.state(bar.symbol, bar.time).matches
