"""Bar history for GET /market/bars, and live bars folded from quotes."""

import itertools
import math
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from paper_support import make_contract

from tradebridge.brokers.paper.bars import (
    INTERVAL_SECONDS,
    BarBuilder,
    Interval,
    bar_start,
    bar_times,
    bars,
)
from tradebridge.brokers.paper.walk import min_price, price_limits
from tradebridge.domain.models import Bar, Contract, Quote
from tradebridge.domain.ticks import ladder_for

END = datetime(2025, 1, 8, 3, 17, 42, 123456, tzinfo=UTC)  # a Wednesday
INTERVALS: tuple[Interval, ...] = ("1m", "5m", "1d")


MOUTAI = make_contract("600519.SH", "1500.00", limit="10")
ETF = make_contract("510300.SH", "4.000", tick="0.001", limit="10")
TIGHT = make_contract("600036.SH", "42.00", limit="2")
HSBC = make_contract("00005.HK", "10.00", lot=400, tick="0.02")
PENNY = make_contract("PENNY.US", "1.0000", lot=1, tick="0.01")
COPPER = Contract(
    symbol="cu2601.SHFE",
    name="copper",
    currency="CNY",
    lot_size=1,
    tick_size=Decimal(10),
    pre_close=Decimal(75000),
    price_limit_pct=Decimal(7),
    multiplier=Decimal(5),
)
CONTRACTS = [MOUTAI, ETF, TIGHT, HSBC, PENNY, COPPER]


def check_bars(
    history: list[Bar], contract: Contract, interval: Interval, last: Decimal, limit: int
) -> None:
    """Every invariant of a history."""
    ladder = ladder_for(contract)
    assert len(history) == limit
    assert history[-1].close == last
    times = [bar.time for bar in history]
    assert times == sorted(set(times))
    for bar in history:
        assert bar.symbol == contract.symbol
        assert bar.time.tzinfo is UTC
        assert bar_start(interval, bar.time) == bar.time
        assert 0 < bar.low <= min(bar.open, bar.close)
        assert max(bar.open, bar.close) <= bar.high
        for price in (bar.open, bar.high, bar.low, bar.close):
            assert ladder.is_on_tick(price), (price, bar)
        assert bar.volume > 0
        assert bar.volume % contract.lot_size == 0
    if interval == "1d" and contract.price_limit_pct is not None:
        for previous, bar in itertools.pairwise(history):
            limits = price_limits(ladder, previous.close, contract.price_limit_pct)
            assert limits is not None
            lower, upper = limits
            assert lower <= bar.low, (previous.close, bar)
            assert bar.high <= upper, (previous.close, bar)


# --- times --------------------------------------------------------------------------------------


@pytest.mark.parametrize("interval", ["1m", "5m"])
@pytest.mark.parametrize("limit", [1, 7, 1000])
def test_intraday_bars_are_aligned_and_end_with_the_bar_containing_end(
    interval: Interval, limit: int
) -> None:
    history = bars(MOUTAI, seed=1, interval=interval, end=END, last=Decimal("1510.00"), limit=limit)
    check_bars(history, MOUTAI, interval, Decimal("1510.00"), limit)
    size = timedelta(seconds=INTERVAL_SECONDS[interval])
    assert history[-1].time <= END < history[-1].time + size
    for previous, bar in itertools.pairwise(history):
        assert bar.time - previous.time == size
    for bar in history:
        assert bar.time.second == bar.time.microsecond == 0
        assert bar.time.minute % (size.seconds // 60) == 0


def test_daily_bars_are_at_utc_midnight_on_weekdays() -> None:
    history = bars(MOUTAI, seed=1, interval="1d", end=END, last=Decimal("1510.00"), limit=30)
    check_bars(history, MOUTAI, "1d", Decimal("1510.00"), 30)
    assert history[-1].time == datetime(2025, 1, 8, tzinfo=UTC)
    assert all(bar.time.weekday() < 5 for bar in history)
    assert all((bar.time.hour, bar.time.minute) == (0, 0) for bar in history)
    assert history[0].time == datetime(2024, 11, 28, tzinfo=UTC)  # 30 weekdays back


def test_daily_bars_on_a_weekend_end_with_friday() -> None:
    sunday = datetime(2025, 1, 12, 15, 0, tzinfo=UTC)
    assert bar_times("1d", sunday, 2) == [
        datetime(2025, 1, 9, tzinfo=UTC),
        datetime(2025, 1, 10, tzinfo=UTC),
    ]
    history = bars(HSBC, seed=3, interval="1d", end=sunday, last=Decimal("10.00"), limit=3)
    assert history[-1].time == datetime(2025, 1, 10, tzinfo=UTC)
    assert history[-1].close == Decimal("10.00")


def test_bar_start_converts_to_utc() -> None:
    shanghai = datetime(2025, 1, 8, 9, 33, 20, tzinfo=UTC).astimezone(ZoneInfo("Asia/Shanghai"))
    assert bar_start("1m", shanghai) == datetime(2025, 1, 8, 9, 33, tzinfo=UTC)
    assert bar_start("5m", shanghai) == datetime(2025, 1, 8, 9, 30, tzinfo=UTC)
    assert bar_start("1d", shanghai) == datetime(2025, 1, 8, tzinfo=UTC)


# --- prices -------------------------------------------------------------------------------------


@pytest.mark.parametrize("contract", CONTRACTS, ids=lambda c: c.symbol)
@pytest.mark.parametrize("interval", INTERVALS)
def test_long_histories_keep_every_invariant(contract: Contract, interval: Interval) -> None:
    last = contract.pre_close
    history = bars(contract, seed=7, interval=interval, end=END, last=last, limit=1000)
    check_bars(history, contract, interval, last, 1000)


def test_hk_history_crosses_tick_bands_on_the_spread_table() -> None:
    history = bars(HSBC, seed=7, interval="1d", end=END, last=Decimal("10.00"), limit=1000)
    ladder = ladder_for(HSBC)
    ticks = {ladder.tick_at(price) for bar in history for price in (bar.low, bar.high)}
    assert {Decimal("0.01"), Decimal("0.02")} <= ticks


def test_tight_daily_limits_hold_from_the_previous_close() -> None:
    history = bars(TIGHT, seed=5, interval="1d", end=END, last=Decimal("42.00"), limit=1000)
    check_bars(history, TIGHT, "1d", Decimal("42.00"), 1000)
    at_limit = 0
    for previous, bar in itertools.pairwise(history):
        limits = price_limits(ladder_for(TIGHT), previous.close, TIGHT.price_limit_pct)
        assert limits is not None
        at_limit += bar.high == limits[1] or bar.low == limits[0]
    assert at_limit > 50  # the 2% limit binds often at 2% daily volatility


def test_pre_close_fixes_the_close_before_the_last_daily_bar() -> None:
    history = bars(
        MOUTAI,
        seed=1,
        interval="1d",
        end=END,
        last=Decimal("1620.00"),
        limit=20,
        pre_close=Decimal("1500.00"),
    )
    check_bars(history, MOUTAI, "1d", Decimal("1620.00"), 20)
    assert history[-2].close == Decimal("1500.00")
    assert history[-1].high <= Decimal("1650.00")
    assert history[-1].low >= Decimal("1350.00")


def test_history_looks_like_a_market() -> None:
    history = bars(MOUTAI, seed=2, interval="1d", end=END, last=Decimal("1500.00"), limit=1000)
    returns = [
        math.log(bar.close / previous.close) for previous, bar in itertools.pairwise(history)
    ]
    sigma = math.sqrt(sum(r * r for r in returns) / len(returns))
    assert sigma == pytest.approx(0.02, rel=0.15)
    assert len({bar.volume for bar in history}) > 900
    ranges = [float((bar.high - bar.low) / bar.close) for bar in history]
    assert 0.01 < sum(ranges) / len(ranges) < 0.06


# --- determinism --------------------------------------------------------------------------------


def test_same_arguments_same_bars_and_seed_matters() -> None:
    def history(seed: int) -> list[Bar]:
        return bars(MOUTAI, seed=seed, interval="5m", end=END, last=Decimal("1510.00"), limit=500)

    assert history(1) == history(1)
    assert [bar.close for bar in history(1)] != [bar.close for bar in history(2)]


def test_the_shape_survives_a_new_price_and_a_new_bar() -> None:
    """Later requests rescale the same history instead of drawing a new one."""
    before = bars(HSBC, seed=4, interval="1m", end=END, last=Decimal("10.00"), limit=200)
    after = bars(
        HSBC,
        seed=4,
        interval="1m",
        end=END + timedelta(minutes=1),
        last=Decimal("10.50"),
        limit=200,
    )
    assert after[-2].time == before[-1].time
    old = {bar.time: bar for bar in before}
    common = [bar for bar in after if bar.time in old][:-1]
    assert len(common) == 198
    for a, b in itertools.pairwise(common):
        moved_then = math.log(old[b.time].close / old[a.time].close)
        moved_now = math.log(b.close / a.close)
        assert moved_now == pytest.approx(moved_then, abs=0.003)  # equal up to tick rounding


# --- arguments ----------------------------------------------------------------------------------


def test_bad_arguments_are_refused() -> None:
    def call(**changes: object) -> list[Bar]:
        arguments: dict[str, object] = {
            "seed": 1,
            "interval": "1m",
            "end": END,
            "last": Decimal("1500.00"),
            "limit": 10,
        }
        arguments.update(changes)
        return bars(MOUTAI, **arguments)  # type: ignore[arg-type]

    assert len(call(limit=1000)) == 1000
    for changes, message in (
        ({"limit": 0}, "limit"),
        ({"limit": 1001}, "limit"),
        ({"interval": "1h"}, "interval"),
        ({"end": datetime(2025, 1, 8)}, "timezone-aware"),
        ({"last": Decimal("1500.001")}, "on the tick"),
        ({"last": Decimal(0)}, "positive"),
        ({"interval": "1d", "pre_close": Decimal("-1")}, "positive"),
    ):
        with pytest.raises(ValueError, match=message):
            call(**changes)


@settings(max_examples=150, deadline=None)
@given(
    contract=st.sampled_from(CONTRACTS),
    seed=st.integers(0, 2**40),
    interval=st.sampled_from(INTERVALS),
    end=st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2040, 1, 1), timezones=st.just(UTC)
    ),
    scale=st.integers(-2000, 2000),
    limit=st.integers(1, 60),
)
def test_invariants_hold_for_any_request(
    contract: Contract, seed: int, interval: Interval, end: datetime, scale: int, limit: int
) -> None:
    """`last` anywhere from ~1/7 to ~7 times the contract's price, snapped to its tick."""
    ladder = ladder_for(contract)
    raw = contract.pre_close * Decimal(math.exp(scale / 1000))
    tick = ladder.tick_at(raw)
    last = max((raw / tick).to_integral_value() * tick, min_price(ladder))
    history = bars(contract, seed=seed, interval=interval, end=end, last=last, limit=limit)
    check_bars(history, contract, interval, last, limit)
    assert history[-1].time <= end


# --- live bars ----------------------------------------------------------------------------------


def quote(at: datetime, last: str, symbol: str = "600519.SH") -> Quote:
    price = Decimal(last)
    return Quote(
        symbol=symbol,
        last=price,
        bid=price,
        ask=price + Decimal("0.01"),
        bid_size=100,
        ask_size=100,
        pre_close=Decimal("1500.00"),
        time=at,
    )


def test_bar_builder_folds_quotes_into_bars() -> None:
    builder = BarBuilder()
    t0 = datetime(2025, 1, 8, 1, 31, 10, tzinfo=UTC)
    for seconds, last, volume in (
        (0, "1500.00", 100),
        (20, "1503.00", 0),
        (40, "1498.00", 200),
        (65, "1501.00", 0),  # next minute
        (400, "1502.00", 300),  # 01:37:50: next 5-minute bar
    ):
        builder.add(quote(t0 + timedelta(seconds=seconds), last), volume)
    builder.add(quote(t0 - timedelta(minutes=10), "1400.00"))  # out of order: ignored

    minute = builder.bars("600519.SH", "1m", 10)
    assert [(b.time.minute, b.open, b.high, b.low, b.close, b.volume) for b in minute] == [
        (31, Decimal("1500.00"), Decimal("1503.00"), Decimal("1498.00"), Decimal("1498.00"), 300),
        (32, Decimal("1501.00"), Decimal("1501.00"), Decimal("1501.00"), Decimal("1501.00"), 0),
        (37, Decimal("1502.00"), Decimal("1502.00"), Decimal("1502.00"), Decimal("1502.00"), 300),
    ]
    assert [bar.time.minute for bar in builder.bars("600519.SH", "1m", 2)] == [32, 37]
    five = builder.bars("600519.SH", "5m", 10)
    assert [(b.time.minute, b.high, b.low, b.close, b.volume) for b in five] == [
        (30, Decimal("1503.00"), Decimal("1498.00"), Decimal("1501.00"), 300),
        (35, Decimal("1502.00"), Decimal("1502.00"), Decimal("1502.00"), 300),
    ]
    (day,) = builder.bars("600519.SH", "1d", 10)
    assert (day.time, day.open, day.high, day.low, day.close, day.volume) == (
        datetime(2025, 1, 8, tzinfo=UTC),
        Decimal("1500.00"),
        Decimal("1503.00"),
        Decimal("1498.00"),
        Decimal("1502.00"),
        600,
    )
    assert builder.bars("AAPL.US", "1m", 10) == []


def test_bar_builder_keeps_the_latest_bars() -> None:
    builder = BarBuilder(intervals=["1m"], max_bars=5)
    t0 = datetime(2025, 1, 8, 1, 30, tzinfo=UTC)
    for minute in range(12):
        builder.add(quote(t0 + timedelta(minutes=minute), f"{1500 + minute}.00"))
    kept = builder.bars("600519.SH", "1m", 100)
    assert [bar.close for bar in kept] == [Decimal(f"{1500 + m}.00") for m in range(7, 12)]
    assert builder.bars("600519.SH", "5m", 10) == []
    with pytest.raises(ValueError, match="interval"):
        BarBuilder(intervals=["1h"])  # type: ignore[list-item]
