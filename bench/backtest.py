"""Backtest replay speed: bars per second through the paper broker's rules, in process.

Bars are the paper broker's seeded 1-minute history of a few A-shares (made before the clock
starts). Scenarios:

- **trivial**: a strategy whose `on_bar` only counts the bars it gets: the replay's own cost
  (clock, trading days, the market moved to each bar's close, the callback, the history);
- **ma-cross**: `examples/ma_cross.py` on the same bars (averages, positions, orders).

The floor, measured in the same run, is a bare loop handing every bar to a Python function
that counts it: the least any replay of these bars must do. The ratio (floor bars/s over the
scenario's) is what to compare between runs and machines. Goal: >= 100,000 bars/s for the
trivial strategy.

    .venv/bin/python bench/backtest.py [--days 60] [--repeat 3]
"""

import argparse
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

from tradebridge.brokers.paper.sessions import Sessions
from tradebridge.brokers.paper.universe import build_universe
from tradebridge.strategies.backtest import BacktestSettings, run_backtest
from tradebridge.strategies.bar_data import generate
from tradebridge_client import Bar
from tradebridge_client.strategy import Context, Strategy, load_strategy

SYMBOLS = ("600519.SH", "601318.SH", "600036.SH", "000001.SZ")
START = date(2024, 1, 2)
EXAMPLE = Path(__file__).parents[1] / "examples" / "ma_cross.py"


class Counting(Strategy):
    name = "counting"
    symbols = SYMBOLS
    interval = "1m"

    def __init__(self) -> None:
        self.bars = 0

    def on_bar(self, ctx: Context, bar: Bar) -> None:
        self.bars += 1


def replay(make: Callable[[], Strategy], bars: list[Bar]) -> float:
    strategy = make()
    outcome = run_backtest(strategy, bars, BacktestSettings(interval="1m"))
    if isinstance(strategy, Counting):
        assert strategy.bars == len(bars), f"{len(bars) - strategy.bars} bars were not delivered"
    return outcome.bars / outcome.replay_seconds


def floor(bars: list[Bar]) -> float:
    seen = [0]

    def on_bar(bar: Bar) -> None:
        seen[0] += 1

    start = time.perf_counter()
    for bar in bars:
        on_bar(bar)
    return len(bars) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=60, help="calendar days of bars")
    parser.add_argument("--repeat", type=int, default=3, help="best of this many runs")
    args = parser.parse_args()
    universe = build_universe([])
    contracts = [universe[symbol].contract for symbol in SYMBOLS]
    end = START + timedelta(days=args.days - 1)
    bars = generate(contracts, "1m", START, end, seed=42, sessions=Sessions("exchange"))
    print(f"{len(bars):,} bars of {len(SYMBOLS)} symbols, {START} to {end}")
    best_floor = max(floor(bars) for _ in range(args.repeat))
    print(f"{'':34} {'bars/s':>10} {'floor/this':>11}")
    print(f"{'floor: a loop calling a function':34} {best_floor:>10,.0f} {1:>11.1f}")
    scenarios: dict[str, Callable[[], Strategy]] = {
        "trivial strategy": Counting,
        "ma-cross (examples/)": lambda: _ma_cross(),
    }
    for name, make in scenarios.items():
        rate = max(replay(make, bars) for _ in range(args.repeat))
        print(f"{name:34} {rate:>10,.0f} {best_floor / rate:>11.1f}")


def _ma_cross() -> Strategy:
    strategy = load_strategy(EXAMPLE)
    strategy.symbols = SYMBOLS  # type: ignore[misc]
    strategy.interval = "1m"  # type: ignore[misc]
    return strategy


if __name__ == "__main__":
    main()
