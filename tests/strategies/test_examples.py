"""The example strategies of `examples/`, backtested: what they do, and their exact results
(the bars are the paper broker's seeded history, the same on every machine)."""

from __future__ import annotations

from collections import Counter
from datetime import date
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from tradebridge.brokers.paper.sessions import Sessions
from tradebridge.brokers.paper.universe import build_universe
from tradebridge.strategies.backtest import BacktestOutcome, BacktestSettings, run_backtest
from tradebridge.strategies.bar_data import between, generate, read_csv
from tradebridge.strategies.report import report
from tradebridge_client.strategy import load_strategy

EXAMPLES = Path(__file__).parents[2] / "examples"
SHANGHAI = ZoneInfo("Asia/Shanghai")


def backtest_example(file: str, symbol: str, start: date, end: date) -> BacktestOutcome:
    strategy = load_strategy(EXAMPLES / file)
    contract = build_universe([])[symbol].contract
    bars = generate(
        [contract], strategy.interval, start, end, seed=42, sessions=Sessions("exchange")
    )
    return run_backtest(strategy, bars, BacktestSettings(interval=strategy.interval))


def test_the_moving_average_cross_never_sells_shares_bought_that_day() -> None:
    outcome = backtest_example("ma_cross.py", "600519.SH", date(2024, 1, 2), date(2024, 3, 29))
    held_since: list[date] = []
    for trade in outcome.trades:
        day = trade.time.astimezone(SHANGHAI).date()
        assert trade.qty % 100 == 0
        if trade.side == "buy":
            held_since.append(day)
        else:
            assert held_since, "a sell without shares"
            assert all(bought < day for bought in held_since)  # T+1
            held_since.clear()
    assert all(o.status == "filled" for o in outcome.orders)  # none refused, none missed
    data = report(outcome)
    assert (data["bars"], data["orders"], len(data["trades"])) == (2784, 79, 79)
    assert data["final_equity"] == "989891.73"
    assert data["fees"] == "6661.27"
    assert (data["return"], data["max_drawdown"], data["sharpe"]) == (-0.010108, 0.015486, -1.2316)
    assert data["rejected"] == {}


def test_the_futures_breakout_goes_long_and_short_with_the_right_offsets() -> None:
    outcome = backtest_example(
        "futures_breakout.py", "rb2601.SHFE", date(2024, 1, 2), date(2024, 1, 31)
    )
    kinds = Counter((o.side, o.offset) for o in outcome.orders)
    assert kinds == {
        ("buy", "open"): 17,
        ("sell", "open"): 16,
        ("buy", "close_yesterday"): 13,
        ("sell", "close_today"): 12,
        ("sell", "close_yesterday"): 4,
        ("buy", "close_today"): 3,
    }
    assert all(o.status == "filled" for o in outcome.orders)  # no close took the wrong lots
    assert all(o.qty == 1 for o in outcome.orders)
    data = report(outcome)
    assert data["final_equity"] == "998043.60"
    assert data["fees"] == "96.40"
    assert (data["bars"], data["orders"]) == (1518, 65)


def test_a_csv_of_bars_backtests_as_the_bars_it_holds() -> None:
    strategy = load_strategy(EXAMPLES / "ma_cross.py")
    start, end = date(2024, 1, 2), date(2024, 1, 31)
    from_file = between(read_csv(EXAMPLES / "data" / "600519.SH-5m.csv", "5m"), "5m", start, end)
    contract = build_universe([])["600519.SH"].contract
    made = generate([contract], "5m", start, end, seed=42, sessions=Sessions("exchange"))
    assert from_file == made  # the file is that history, in local time
    settings = BacktestSettings(interval="5m")
    first = report(run_backtest(strategy, from_file, settings))
    second = report(run_backtest(load_strategy(EXAMPLES / "ma_cross.py"), made, settings))
    first.pop("run"), second.pop("run")
    assert first == second
    assert Decimal(first["final_equity"]) > 0
