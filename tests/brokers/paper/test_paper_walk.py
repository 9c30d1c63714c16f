"""The `random_walk` market mode: reproducible, on the tick, inside the limits, cheap to step."""

import itertools
import math
import statistics
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from paper_support import make_contract

from tradebridge.brokers.paper.walk import (
    RandomWalk,
    min_price,
    price_limits,
    profile_for,
)
from tradebridge.domain.errors import NotFound
from tradebridge.domain.models import Contract, Quote
from tradebridge.domain.ticks import HK_TICKS, US_TICKS, TickLadder, ladder_for

START = datetime(2025, 1, 6, 1, 30, tzinfo=UTC)


MOUTAI = make_contract("600519.SH", "1500.00", limit="10")
PINGAN = make_contract("000001.SZ", "11.50", limit="10")
ETF = make_contract("510300.SH", "4.000", tick="0.001", limit="10")
TENCENT = make_contract("00700.HK", "480.0", tick="0.2")
HSBC = make_contract("00005.HK", "15.00", lot=400, tick="0.02")
AAPL = make_contract("AAPL.US", "230.00", lot=1)
PENNY = make_contract("PENNY.US", "0.9500", lot=1, tick="0.0001")
COPPER = make_contract("cu2601.SHFE", "75000", lot=1, tick="10", limit="7", multiplier="5")
TIGHT = make_contract("600036.SH", "42.00", limit="2")
UNIVERSE = [MOUTAI, PINGAN, ETF, TENCENT, HSBC, AAPL, PENNY, COPPER, TIGHT]
BY_SYMBOL = {contract.symbol: contract for contract in UNIVERSE}


def check_quote(quote: Quote, contract: Contract) -> None:
    """Every invariant a walk quote keeps."""
    ladder = ladder_for(contract)
    assert quote.symbol == contract.symbol
    assert quote.pre_close is not None
    limits = price_limits(ladder, quote.pre_close, contract.price_limit_pct)
    lower, upper = limits if limits is not None else (min_price(ladder), None)
    for price in (quote.last, quote.bid, quote.ask):
        if price is None:
            continue
        assert price > 0
        assert ladder.is_on_tick(price), (price, quote)
        assert price >= lower, (price, quote)
        assert upper is None or price <= upper, (price, quote)
    assert quote.bid is not None or quote.ask is not None
    if quote.bid is not None and quote.ask is not None:
        assert quote.bid < quote.ask
        assert quote.bid <= quote.last <= quote.ask
    if quote.bid is None:  # limit-down (or the smallest price): sellers queue at the limit
        assert quote.bid_size == 0
        assert quote.last == quote.ask == lower
    if quote.ask is None:  # limit-up: buyers queue at the limit
        assert quote.ask_size == 0
        assert quote.last == quote.bid == upper
    unit = contract.lot_size * profile_for(contract).display_lots
    for side, size in ((quote.bid, quote.bid_size), (quote.ask, quote.ask_size)):
        assert size % unit == 0
        assert (size > 0) == (side is not None)


def run(walk: RandomWalk, times: list[datetime]) -> list[Quote]:
    out: list[Quote] = []
    for now in times:
        out.extend(walk.step(now))
    return out


def every(step: timedelta, count: int, start: datetime = START) -> list[datetime]:
    return [start + step * (i + 1) for i in range(count)]


MIXED_TIMES = (
    every(timedelta(milliseconds=10), 300)
    + every(timedelta(seconds=1), 100, START + timedelta(seconds=3))
    + every(timedelta(hours=1), 20, START + timedelta(seconds=103))
)


# --- starting point -----------------------------------------------------------------------------


def test_starts_at_pre_close() -> None:
    walk = RandomWalk(UNIVERSE, 1, start=START)
    assert walk.symbols == [contract.symbol for contract in UNIVERSE]
    assert walk.now == START
    for contract in UNIVERSE:
        quote = walk.quote(contract.symbol)
        assert (quote.last, quote.pre_close, quote.time) == (
            contract.pre_close,
            contract.pre_close,
            START,
        )
        check_quote(quote, contract)


def test_refuses_bad_arguments() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        RandomWalk([MOUTAI], 1, start=datetime(2025, 1, 6))
    with pytest.raises(ValueError, match="duplicate"):
        RandomWalk([MOUTAI, MOUTAI], 1, start=START)
    with pytest.raises(ValueError, match="updates_per_second"):
        RandomWalk([MOUTAI], 1, start=START, updates_per_second=0)
    walk = RandomWalk([MOUTAI], 1, start=START)
    with pytest.raises(ValueError, match="timezone-aware"):
        walk.step(datetime(2025, 1, 6, 2))
    with pytest.raises(NotFound):
        walk.quote("AAPL.US")
    with pytest.raises(NotFound):
        walk.set_reference("AAPL.US", last=Decimal(1))


# --- reproducibility ----------------------------------------------------------------------------


def test_same_seed_same_steps_same_quotes() -> None:
    first = run(RandomWalk(UNIVERSE, 42, start=START), MIXED_TIMES)
    second = run(RandomWalk(UNIVERSE, 42, start=START), MIXED_TIMES)
    assert len(first) > 500
    assert first == second


def test_different_seed_different_quotes() -> None:
    first = run(RandomWalk(UNIVERSE, 42, start=START), MIXED_TIMES)
    other = run(RandomWalk(UNIVERSE, 43, start=START), MIXED_TIMES)
    assert first != other
    assert [q.last for q in first if q.symbol == AAPL.symbol] != [
        q.last for q in other if q.symbol == AAPL.symbol
    ]


def test_adding_a_symbol_keeps_the_other_paths() -> None:
    alone = run(RandomWalk([AAPL], 5, start=START), MIXED_TIMES)
    together = run(RandomWalk([MOUTAI, AAPL, TENCENT], 5, start=START), MIXED_TIMES)
    assert alone == [quote for quote in together if quote.symbol == AAPL.symbol]


# --- stepping -----------------------------------------------------------------------------------


def test_step_not_after_the_last_changes_nothing() -> None:
    walk = RandomWalk(UNIVERSE, 3, start=START)
    assert walk.step(START) == []
    assert walk.step(START - timedelta(hours=1)) == []
    later = START + timedelta(minutes=5)
    assert walk.step(later) != []
    snapshot = [walk.quote(contract.symbol) for contract in UNIVERSE]
    assert walk.step(later) == []
    assert walk.step(later - timedelta(microseconds=1)) == []
    assert walk.now == later
    assert [walk.quote(contract.symbol) for contract in UNIVERSE] == snapshot


def test_each_step_returns_at_most_one_changed_quote_per_symbol() -> None:
    walk = RandomWalk(UNIVERSE, 9, start=START)
    previous = {contract.symbol: walk.quote(contract.symbol) for contract in UNIVERSE}
    for now in MIXED_TIMES:
        quotes = walk.step(now)
        symbols = [quote.symbol for quote in quotes]
        assert len(symbols) == len(set(symbols))
        for quote in quotes:
            assert quote.time == now
            assert walk.quote(quote.symbol) == quote
            old = previous[quote.symbol]
            assert (old.last, old.bid, old.ask, old.bid_size, old.ask_size) != (
                quote.last,
                quote.bid,
                quote.ask,
                quote.bid_size,
                quote.ask_size,
            )
            previous[quote.symbol] = quote


def test_several_updates_a_second_per_symbol() -> None:
    walk = RandomWalk(UNIVERSE, 11, start=START)
    quotes = run(walk, every(timedelta(milliseconds=100), 600))  # one minute
    for contract in UNIVERSE:
        per_second = sum(quote.symbol == contract.symbol for quote in quotes) / 60
        assert 1.5 < per_second <= 3.5, (contract.symbol, per_second)


def test_big_time_jumps_move_each_symbol_once() -> None:
    """A jump of hours (or years) resolves to one move per symbol, not to a loop over time;
    bench/paper_walk.py measures the cost."""
    contracts = [make_contract(f"S{i:02d}.US", "50.00", lot=1) for i in range(30)]
    walk = RandomWalk(contracts, 1, start=START)
    counts = [len(walk.step(now)) for now in every(timedelta(hours=1), 1000)]
    counts.append(len(walk.step(START + timedelta(days=3650))))
    assert max(counts) == 30
    assert sum(counts) >= 0.99 * 30 * len(counts)


def test_volatility_per_session_is_the_daily_volatility() -> None:
    """One step per trading session: log returns are N(0, 2%) (driftless, per the profile)."""
    session = timedelta(seconds=profile_for(AAPL).session_seconds)
    walk = RandomWalk([AAPL], 17, start=START)
    lasts = [walk.quote(AAPL.symbol).last]
    for now in every(session, 3000):
        walk.step(now)
        lasts.append(walk.quote(AAPL.symbol).last)
    returns = [math.log(b / a) for a, b in itertools.pairwise(lasts)]
    assert statistics.stdev(returns) == pytest.approx(0.02, rel=0.08)
    assert abs(statistics.fmean(returns)) < 0.0015


def test_volatility_scales_with_the_square_root_of_time() -> None:
    """Minute steps: sigma = 2% * sqrt(60 s / 6.5 h), and jumps longer than a session count as
    one session."""
    expensive = make_contract("BRK.US", "2000.00", lot=1)
    walk = RandomWalk([expensive], 23, start=START)
    lasts = [walk.quote(expensive.symbol).last]
    for now in every(timedelta(minutes=1), 3000):
        walk.step(now)
        lasts.append(walk.quote(expensive.symbol).last)
    returns = [math.log(b / a) for a, b in itertools.pairwise(lasts)]
    expected = 0.02 * math.sqrt(60 / profile_for(expensive).session_seconds)
    assert statistics.stdev(returns) == pytest.approx(expected, rel=0.1)

    week_steps = RandomWalk([expensive], 23, start=START)
    lasts = [week_steps.quote(expensive.symbol).last]
    for now in every(timedelta(days=7), 2000):
        week_steps.step(now)
        lasts.append(week_steps.quote(expensive.symbol).last)
    returns = [math.log(b / a) for a, b in itertools.pairwise(lasts)]
    assert statistics.stdev(returns) == pytest.approx(0.02, rel=0.1)


# --- ticks, limits, sizes -----------------------------------------------------------------------


def test_hk_walk_across_tick_bands_stays_on_the_spread_table() -> None:
    walk = RandomWalk([HSBC], 2, start=START, daily_volatility=1.5)
    quotes = run(walk, every(timedelta(seconds=1), 4000))
    lasts = [quote.last for quote in quotes]
    assert min(lasts) < 10 < 20 < max(lasts)  # crossed the 10.00 and 20.00 band edges
    for quote in quotes:
        check_quote(quote, HSBC)
        for price in (quote.last, quote.bid, quote.ask):
            assert price is None or HK_TICKS.is_on_tick(price)
    assert {HK_TICKS.tick_at(last) for last in lasts} >= {
        Decimal("0.01"),
        Decimal("0.02"),
        Decimal("0.05"),
    }


def test_us_sub_dollar_prices_tick_at_a_hundredth_of_a_cent() -> None:
    walk = RandomWalk([PENNY], 4, start=START, daily_volatility=1.0)
    quotes = run(walk, every(timedelta(seconds=1), 4000))
    for quote in quotes:
        check_quote(quote, PENNY)
    lasts = [quote.last for quote in quotes]
    assert min(lasts) < 1 < max(lasts)
    sub_dollar = [last for last in lasts if last < 1]
    assert any(last * 100 != int(last * 100) for last in sub_dollar)  # sub-penny used
    assert all(US_TICKS.is_on_tick(last) for last in lasts)
    assert all((last * 100) == int(last * 100) for last in lasts if last >= 1)


def test_price_limits_are_rounded_half_up_to_the_tick() -> None:
    cents = TickLadder.fixed(Decimal("0.01"))
    assert price_limits(cents, Decimal("11.05"), Decimal(10)) == (
        Decimal("9.95"),  # 9.945
        Decimal("12.16"),  # 12.155
    )
    assert price_limits(cents, Decimal("42.00"), Decimal(2)) == (
        Decimal("41.16"),
        Decimal("42.84"),
    )
    assert price_limits(cents, Decimal("10.00"), None) is None
    assert price_limits(cents, Decimal("0.05"), Decimal(99)) == (
        Decimal("0.01"),  # 0.0005 rounds to 0: the lowest price instead
        Decimal("0.10"),
    )
    assert price_limits(HK_TICKS, Decimal("19.50"), Decimal(5)) == (
        Decimal("18.52"),  # 18.525 on the 0.02 band, half up
        Decimal("20.50"),  # 20.475 on the 0.05 band
    )


def test_tight_limit_and_high_volatility_stay_inside_and_stick_at_the_limits() -> None:
    walk = RandomWalk([TIGHT], 6, start=START, daily_volatility=0.3)
    quotes = run(walk, every(timedelta(seconds=1), 5000))
    limits = walk.limits(TIGHT.symbol)
    assert limits == (Decimal("41.16"), Decimal("42.84"))
    lower, upper = limits
    for quote in quotes:
        check_quote(quote, TIGHT)
        assert lower <= quote.last <= upper
    at_upper = [quote for quote in quotes if quote.last == upper]
    at_lower = [quote for quote in quotes if quote.last == lower]
    assert len(at_upper) > 20
    assert len(at_lower) > 20
    assert all(q.ask is None and q.ask_size == 0 and q.bid == upper for q in at_upper)
    assert all(q.bid is None and q.bid_size == 0 and q.ask == lower for q in at_lower)
    assert all(q.bid_size > 0 for q in at_upper)
    # it stays at the limit for a while, then comes off it
    runs = [a.last == b.last == upper for a, b in itertools.pairwise(quotes)]
    assert sum(runs) > 10
    first_at_upper = next(i for i, quote in enumerate(quotes) if quote.last == upper)
    assert any(quote.last < upper for quote in quotes[first_at_upper:])


def test_sizes_are_whole_lots_plausible_and_varying() -> None:
    walk = RandomWalk(UNIVERSE, 8, start=START)
    quotes = run(walk, every(timedelta(milliseconds=100), 600))
    for contract in UNIVERSE:
        mine = [quote for quote in quotes if quote.symbol == contract.symbol]
        sizes = [quote.bid_size for quote in mine] + [quote.ask_size for quote in mine]
        unit = contract.lot_size * profile_for(contract).display_lots
        assert all(size > 0 and size % unit == 0 for size in sizes)
        assert len(set(sizes)) > 10, contract.symbol
        notional = statistics.median(sizes) * float(contract.pre_close * contract.multiplier)
        profile = profile_for(contract)
        assert profile.quote_notional / 10 < notional < profile.quote_notional * 10 or (
            statistics.median(sizes) <= 2 * unit  # a lot is worth more than the usual depth
        )
    aapl = [quote for quote in quotes if quote.symbol == AAPL.symbol]
    assert all(quote.bid_size % 100 == 0 for quote in aapl)  # US round lots


def test_spread_is_one_or_a_few_ticks() -> None:
    walk = RandomWalk(UNIVERSE, 12, start=START)
    quotes = run(walk, every(timedelta(milliseconds=100), 600))
    for contract in (PINGAN, ETF, TENCENT, AAPL, COPPER):
        ladder = ladder_for(contract)
        widths = set()
        for quote in quotes:
            if quote.symbol != contract.symbol or quote.bid is None or quote.ask is None:
                continue
            width = int((quote.ask - quote.bid) / ladder.tick_at(quote.bid))
            widths.add(width)
        assert widths <= {1, 2, 3}, (contract.symbol, widths)
        assert 1 in widths


# --- set_reference ------------------------------------------------------------------------------


def test_set_reference_continues_from_the_new_price() -> None:
    walk = RandomWalk(UNIVERSE, 21, start=START)
    run(walk, every(timedelta(seconds=1), 10))
    walk.set_reference(MOUTAI.symbol, last=Decimal("1600.00"), pre_close=Decimal("1590.00"))
    quote = walk.quote(MOUTAI.symbol)
    assert (quote.last, quote.pre_close, quote.time) == (
        Decimal("1600.00"),
        Decimal("1590.00"),
        walk.now,
    )
    check_quote(quote, MOUTAI)
    assert walk.limits(MOUTAI.symbol) == (Decimal("1431.00"), Decimal("1749.00"))
    quotes = run(walk, every(timedelta(milliseconds=100), 100, walk.now))
    mine = [q for q in quotes if q.symbol == MOUTAI.symbol]
    assert mine
    for q in mine:
        check_quote(q, MOUTAI)
        assert q.pre_close == Decimal("1590.00")
        assert abs(q.last - Decimal(1600)) < 20  # continues from 1600, not from 1500


def test_set_reference_keeps_the_quote_valid() -> None:
    walk = RandomWalk([MOUTAI, TENCENT], 21, start=START)
    walk.set_reference(TENCENT.symbol, last=Decimal("480.1"))  # off the 0.2 tick
    assert walk.quote(TENCENT.symbol).last == Decimal("480.2")  # 480.1 rounds half up
    walk.set_reference(MOUTAI.symbol, last=Decimal("2000.00"))  # above the limit
    quote = walk.quote(MOUTAI.symbol)
    assert quote.last == Decimal("1650.00")
    check_quote(quote, MOUTAI)
    with pytest.raises(ValueError, match="positive"):
        walk.set_reference(MOUTAI.symbol, last=Decimal(0))
    with pytest.raises(ValueError, match="positive"):
        walk.set_reference(MOUTAI.symbol, last=Decimal(1), pre_close=Decimal(-1))


def test_set_reference_is_part_of_the_reproducible_sequence() -> None:
    def scenario(seed: int) -> list[Quote]:
        walk = RandomWalk(UNIVERSE, seed, start=START)
        out = run(walk, MIXED_TIMES[:200])
        walk.set_reference(HSBC.symbol, last=Decimal("19.90"))
        out.append(walk.quote(HSBC.symbol))
        return out + run(walk, MIXED_TIMES[200:])

    assert scenario(1) == scenario(1)


# --- property -----------------------------------------------------------------------------------

_steps = st.lists(
    st.one_of(
        st.integers(1, 200),  # milliseconds
        st.integers(200, 10_000),
        st.integers(10_000, 10**9),  # up to ~11 days
        st.tuples(st.sampled_from(sorted(BY_SYMBOL)), st.integers(-3000, 3000)),
    ),
    min_size=1,
    max_size=60,
)


@settings(max_examples=150, deadline=None)
@given(seed=st.integers(0, 2**32), steps=_steps, volatility=st.sampled_from([None, 0.5, 3.0]))
def test_invariants_hold_for_any_step_sequence(
    seed: int, steps: list[int | tuple[str, int]], volatility: float | None
) -> None:
    walk = RandomWalk(UNIVERSE, seed, start=START, daily_volatility=volatility)
    now = START
    for step in steps:
        if isinstance(step, tuple):  # the admin moves a symbol by a number of per-mille
            symbol, permille = step
            current = walk.quote(symbol)
            last = max(current.last * (1 + Decimal(permille) / 1000), Decimal("0.0001"))
            pre_close = current.last if permille % 2 else None
            walk.set_reference(symbol, last=last, pre_close=pre_close)
            check_quote(walk.quote(symbol), BY_SYMBOL[symbol])
            continue
        now += timedelta(milliseconds=step)
        quotes = walk.step(now)
        assert len({quote.symbol for quote in quotes}) == len(quotes)
        for quote in quotes:
            assert quote.time == now
            check_quote(quote, BY_SYMBOL[quote.symbol])
    for contract in UNIVERSE:
        check_quote(walk.quote(contract.symbol), contract)
