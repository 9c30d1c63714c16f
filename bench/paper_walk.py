"""Paper `random_walk` market: how many quotes a second the walk produces, next to floors.

    .venv/bin/python bench/paper_walk.py                     # 30 symbols, 10 ms steps, 600 s
    .venv/bin/python bench/paper_walk.py --symbols 100 --seconds 120 --step-ms 1

Rows (all in this process, one after another, best of `--repeat` runs):
  walk                 RandomWalk.step every `--step-ms` of simulated time over `--seconds`
                       for `--symbols` symbols (CN stocks with limits, HK, US, a CN ETF)
  floor: floats        random.Random.random(), as many calls as the walk produced quotes
  floor: quotes        building the same number of `Quote` structs from ready values
  walk, 1 h jumps      steps that each jump an hour: every symbol moves once per step,
                       whatever the elapsed time
  bars                 bars(..., limit=1000) for 1m, 5m and 1d
The ratio column is the walk's cost per quote over the floor's; compare it between runs and
machines rather than the raw rates.
"""

import argparse
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from tradebridge.brokers.paper.bars import Interval, bars
from tradebridge.brokers.paper.walk import RandomWalk
from tradebridge.domain.models import Contract, Quote

START = datetime(2025, 1, 6, 1, 30, tzinfo=UTC)


def universe(count: int) -> list[Contract]:
    """`count` contracts cycling through the markets' kinds of ladders and limits."""
    kinds = (
        ("{:06d}.SH", 600000, "CNY", 100, "0.01", "25.00", Decimal(10)),
        ("{:05d}.HK", 1, "HKD", 400, "0.05", "35.00", None),
        ("S{:04d}.US", 0, "USD", 1, "0.01", "150.00", None),
        ("{:06d}.SH", 510000, "CNY", 100, "0.001", "3.000", Decimal(10)),
        ("P{:04d}.US", 0, "USD", 1, "0.0001", "0.9000", None),
    )
    out = []
    for i in range(count):
        pattern, base, currency, lot, tick, pre_close, limit = kinds[i % len(kinds)]
        out.append(
            Contract(
                symbol=pattern.format(base + i),
                name=f"bench {i}",
                currency=currency,
                lot_size=lot,
                tick_size=Decimal(tick),
                pre_close=Decimal(pre_close),
                price_limit_pct=limit,
            )
        )
    return out


def best_of(repeat: int, run: Callable[[], int]) -> tuple[float, int]:
    """(fastest wall time, count) of `repeat` runs of `run`, which returns what it made."""
    best, count = float("inf"), 0
    for _ in range(repeat):
        began = time.perf_counter()
        count = run()
        best = min(best, time.perf_counter() - began)
    return best, count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--symbols", type=int, default=30)
    parser.add_argument("--step-ms", type=float, default=10.0)
    parser.add_argument("--seconds", type=float, default=600.0, help="simulated time")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    contracts = universe(args.symbols)
    step = timedelta(milliseconds=args.step_ms)
    times = [START + step * (i + 1) for i in range(int(args.seconds * 1000 / args.step_ms))]

    def walk() -> int:
        market = RandomWalk(contracts, args.seed, start=START)
        return sum(len(market.step(now)) for now in times)

    walk_time, quotes = best_of(args.repeat, walk)

    def floats() -> int:
        draw = random.Random(args.seed).random
        for _ in range(quotes):
            draw()
        return quotes

    floats_time, _ = best_of(args.repeat, floats)

    def structs() -> int:
        last, bid, ask = Decimal("25.00"), Decimal("24.99"), Decimal("25.01")
        for _ in range(quotes):
            Quote(
                symbol="600000.SH",
                last=last,
                bid=bid,
                ask=ask,
                bid_size=100,
                ask_size=200,
                pre_close=last,
                time=START,
            )
        return quotes

    structs_time, _ = best_of(args.repeat, structs)

    hours = [START + timedelta(hours=i + 1) for i in range(2000)]

    def jumps() -> int:
        market = RandomWalk(contracts, args.seed, start=START)
        return sum(len(market.step(now)) for now in hours)

    jumps_time, jump_quotes = best_of(args.repeat, jumps)

    simulated = len(times) * args.step_ms / 1000
    print(
        f"\n{args.symbols} symbols, a step every {args.step_ms:g} ms for {simulated:g} s of "
        f"simulated time ({len(times)} steps, {quotes} quotes, "
        f"{quotes / simulated / args.symbols:.2f} quotes/s per symbol simulated)"
    )
    print(f"{'':22}{'quotes/s':>12}{'us/quote':>10}{'walk/row':>10}")
    walk_rate = quotes / walk_time
    for name, elapsed, count in (
        ("walk", walk_time, quotes),
        ("floor: floats", floats_time, quotes),
        ("floor: quotes", structs_time, quotes),
        ("walk, 1 h jumps", jumps_time, jump_quotes),
    ):
        rate = count / elapsed
        print(f"{name:22}{rate:>12,.0f}{1e6 / rate:>10.2f}{walk_rate / rate:>10.3f}")
    steps_per_second = len(times) / walk_time
    print(
        f"walk: one quote costs x{walk_time / floats_time:.1f} a random float and "
        f"x{walk_time / structs_time:.1f} building a Quote; {steps_per_second:,.0f} steps/s, "
        f"{steps_per_second * args.step_ms / 1000:,.0f}x real time"
    )

    contract = contracts[0]
    intervals: tuple[Interval, ...] = ("1m", "5m", "1d")
    for interval in intervals:

        def history(interval: Interval = interval) -> int:
            return len(
                bars(
                    contract,
                    seed=args.seed,
                    interval=interval,
                    end=START,
                    last=contract.pre_close,
                    limit=1000,
                )
            )

        elapsed, _ = best_of(args.repeat, history)
        print(f"bars {interval} x1000: {elapsed * 1000:.1f} ms")


if __name__ == "__main__":
    main()
