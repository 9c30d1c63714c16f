"""Backtests trade on the paper broker's rules: when orders trade, lots, T+1, price limits,
sessions, day orders, fees; and the strategy is called back as it would be live."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from tradebridge.strategies.backtest import BacktestOutcome, BacktestSettings, run_backtest
from tradebridge.strategies.bar_data import BarDataError
from tradebridge.strategies.report import figures, report
from tradebridge_client import Bar, Order, Trade, ValidationError
from tradebridge_client.strategy import Context, Strategy

SYMBOL = "600519.SH"
SHANGHAI = ZoneInfo("Asia/Shanghai")
D = Decimal


def daily(*rows: tuple[str, str, str, str, str], symbol: str = SYMBOL) -> list[Bar]:
    """Daily bars from (date, open, high, low, close)."""
    return [
        Bar(
            symbol=symbol,
            time=datetime.fromisoformat(day).replace(tzinfo=UTC),
            open=D(o),
            high=D(h),
            low=D(low),
            close=D(c),
            volume=1000,
        )
        for day, o, h, low, c in rows
    ]


def minutes(day: str, start: str, closes: list[str], symbol: str = SYMBOL) -> list[Bar]:
    """Minute bars from `start` (Shanghai time) on `day`, each opening at the last close."""
    first = datetime.fromisoformat(f"{day}T{start}").replace(tzinfo=SHANGHAI)
    bars, previous = [], D(closes[0])
    for n, close in enumerate(closes):
        c = D(close)
        bars.append(
            Bar(
                symbol=symbol,
                time=(first + timedelta(minutes=n)).astimezone(UTC),
                open=previous,
                high=max(previous, c),
                low=min(previous, c),
                close=c,
                volume=100,
            )
        )
        previous = c
    return bars


class Scripted(Strategy):
    """Runs `script(ctx, bar, n)` on the n-th bar it is given; records what it is told."""

    name = "scripted"
    symbols = (SYMBOL,)
    interval = "1d"

    def __init__(self, script: Callable[[Context, Bar, int], None]) -> None:
        self.script = script
        self.seen = 0
        self.told: list[str] = []
        self.placed: list[Order] = []

    def on_bar(self, ctx: Context, bar: Bar) -> None:
        self.told.append(f"bar {bar.close}")
        self.script(ctx, bar, self.seen)
        self.seen += 1

    def on_order(self, ctx: Context, order: Order) -> None:
        self.told.append(f"order {order.status}")

    def on_trade(self, ctx: Context, trade: Trade) -> None:
        self.told.append(f"trade {trade.qty} at {trade.price}")


def backtest(strategy: Strategy, bars: list[Bar], **settings: object) -> BacktestOutcome:
    interval = settings.pop("interval", strategy.interval)
    return run_backtest(strategy, bars, BacktestSettings(interval=interval, **settings))  # type: ignore[arg-type]


def on(n: int, action: Callable[[Context, Bar], Order]) -> Callable[[Context, Bar, int], None]:
    def script(ctx: Context, bar: Bar, seen: int) -> None:
        if seen == n:
            assert isinstance(strategy_of(ctx), Scripted)
            strategy_of(ctx).placed.append(action(ctx, bar))

    return script


def strategy_of(ctx: Context) -> Scripted:
    strategy = ctx.strategy
    assert isinstance(strategy, Scripted)
    return strategy


WEEK = daily(
    ("2024-01-02", "1500.00", "1510.00", "1490.00", "1505.00"),
    ("2024-01-03", "1507.00", "1520.00", "1500.00", "1515.00"),
    ("2024-01-04", "1512.00", "1530.00", "1470.00", "1480.00"),
    ("2024-01-05", "1481.00", "1490.00", "1450.00", "1460.00"),
)


def test_an_order_placed_on_a_bar_trades_at_the_next_bar_s_open() -> None:
    strategy = Scripted(on(0, lambda ctx, bar: ctx.buy(bar.symbol, 100)))
    outcome = backtest(strategy, WEEK)
    (trade,) = outcome.trades
    assert trade.price == D("1507.01")  # the ask at the open of 2024-01-03, not 1505 (the close)
    assert trade.time == datetime(2024, 1, 3, 9, 30, tzinfo=SHANGHAI)
    assert strategy.told[:4] == ["bar 1505.00", "order new", "order filled", "trade 100 at 1507.01"]


def test_news_of_orders_comes_after_the_callback_that_placed_them() -> None:
    def place(ctx: Context, bar: Bar) -> Order:
        order = ctx.buy(bar.symbol, 100)
        strategy_of(ctx).told.append(f"placed {order.status}")
        return order

    strategy = Scripted(on(0, place))
    backtest(strategy, WEEK)
    assert strategy.told[:3] == ["bar 1505.00", "placed filled", "order new"]


def test_shares_bought_today_are_sold_from_the_next_day_only() -> None:
    bars = minutes("2024-01-02", "09:30", ["1500.00"] * 3) + minutes(
        "2024-01-03", "09:30", ["1500.00"] * 2
    )

    def script(ctx: Context, bar: Bar, seen: int) -> None:
        if seen == 0:
            ctx.buy(bar.symbol, 100)
        elif seen in (1, 3):
            strategy_of(ctx).placed.append(ctx.sell(bar.symbol, 100))

    strategy = Scripted(script)
    strategy.interval = "1m"  # type: ignore[misc]
    outcome = backtest(strategy, bars)
    same_day, next_day = strategy.placed
    assert (same_day.status, same_day.reject_reason) == ("rejected", "insufficient_position")
    assert next_day.status == "filled"
    assert report(outcome)["rejected"] == {"insufficient_position": 1}


def test_orders_off_the_lot_size_are_rejected() -> None:
    strategy = Scripted(on(0, lambda ctx, bar: ctx.buy(bar.symbol, 150)))
    backtest(strategy, WEEK)
    (order,) = strategy.placed
    assert (order.status, order.reject_reason) == ("rejected", "invalid_lot_size")


def test_a_resting_limit_fills_where_the_bar_reaches_it_and_day_orders_expire() -> None:
    def script(ctx: Context, bar: Bar, seen: int) -> None:
        if seen == 0:
            strategy_of(ctx).placed += [
                ctx.buy(bar.symbol, 100, "1480.01"),  # the low of 01-04 (1470) reaches it
                ctx.buy(bar.symbol, 100, "1400.00"),  # nothing reaches it
            ]

    strategy = Scripted(script)
    outcome = backtest(strategy, WEEK)
    reached, unreached = (outcome.orders[0], outcome.orders[1])
    assert (reached.status, reached.avg_fill_price) == ("expired", None)  # 01-03 never went there
    assert unreached.status == "expired"
    strategy = Scripted(on(1, lambda ctx, bar: ctx.buy(bar.symbol, 100, "1480.01")))
    outcome = backtest(strategy, WEEK)
    (order,) = outcome.orders
    assert (order.status, order.avg_fill_price) == ("filled", D("1480.01"))


def test_prices_beyond_the_daily_limit_stop_at_it_and_nobody_sells_there() -> None:
    bars = daily(
        ("2024-01-02", "100.00", "100.00", "100.00", "100.00"),
        ("2024-01-03", "115.00", "115.00", "115.00", "115.00"),  # +15%: the limit is +10%
        ("2024-01-04", "110.00", "110.00", "110.00", "110.00"),
        symbol="600036.SH",
    )
    strategy = Scripted(on(0, lambda ctx, bar: ctx.buy(bar.symbol, 100)))
    strategy.symbols = ("600036.SH",)  # type: ignore[misc]
    outcome = backtest(strategy, bars)
    assert outcome.adjusted_prices == 2  # the open and the close of 01-03, at 110.00
    (order,) = strategy.placed
    assert order.status == "canceled"  # limit up: no ask to buy from
    assert order.reject_reason == "market order: no ask to trade against"


def test_orders_outside_the_sessions_are_refused() -> None:
    bars = minutes("2024-01-02", "14:55", ["1500.00"] * 7)  # to 15:01

    def script(ctx: Context, bar: Bar, seen: int) -> None:
        strategy_of(ctx).placed.append(ctx.buy(bar.symbol, 100))

    strategy = Scripted(script)
    strategy.interval = "1m"  # type: ignore[misc]
    backtest(strategy, bars)
    states = [
        (o.created_at.astimezone(SHANGHAI).strftime("%H:%M"), o.status, o.reject_reason)
        for o in strategy.placed
    ]
    assert states[0] == ("14:56", "filled", None)  # continuous trading
    assert states[2][1:] == ("rejected", "market_closed")  # 14:58: the closing call auction
    assert states[-1][1:] == ("rejected", "market_closed")  # 15:01: closed


def test_fees_are_charged_and_equity_adds_up() -> None:
    def script(ctx: Context, bar: Bar, seen: int) -> None:
        if seen == 0:
            ctx.buy(bar.symbol, 100)
        if seen == 2:
            ctx.sell(bar.symbol, 100)

    outcome = backtest(Scripted(script), WEEK)
    buy, sell = outcome.trades
    assert buy.fee == D("37.68") + D("1.51")  # 0.025% commission, 0.001% transfer fee of 150,701
    assert sell.fee > buy.fee  # stamp duty on sells
    result = figures(outcome)
    assert result.fees == buy.fee + sell.fee
    pnl = (sell.price - buy.price) * 100 - result.fees
    assert result.final_equity == Decimal(1_000_000) + pnl
    assert [d.day for d in outcome.days] == [date(2024, 1, n) for n in (2, 3, 4, 5)]


def test_a_malformed_order_raises_as_live() -> None:
    strategy = Scripted(on(0, lambda ctx, bar: ctx.buy(bar.symbol, 100, offset="open")))
    with pytest.raises(ValidationError) as raised:
        backtest(strategy, WEEK)
    assert raised.value.details["field"] == "offset"


def test_the_same_key_gives_the_same_order() -> None:
    def script(ctx: Context, bar: Bar, seen: int) -> None:
        if seen < 2:
            strategy_of(ctx).placed.append(ctx.buy(bar.symbol, 100, "1400.00", key="entry"))

    strategy = Scripted(script)
    outcome = backtest(strategy, WEEK)
    first, again = strategy.placed
    assert again.id == first.id
    assert len(outcome.orders) == 1


def test_bars_of_several_currencies_are_refused() -> None:
    bars = WEEK + daily(("2024-01-02", "230.00", "231.00", "229.00", "230.00"), symbol="AAPL.US")
    with pytest.raises(BarDataError, match="one currency"):
        backtest(Scripted(on(0, lambda ctx, bar: ctx.buy(bar.symbol, 100))), bars)


def test_a_strategy_needs_bars_of_its_symbols() -> None:
    strategy = Scripted(on(0, lambda ctx, bar: ctx.buy(bar.symbol, 100)))
    strategy.symbols = ("601318.SH",)  # type: ignore[misc]
    with pytest.raises(BarDataError, match=r"601318\.SH"):
        backtest(strategy, WEEK)


def test_report_figures() -> None:
    outcome = backtest(Scripted(on(0, lambda ctx, bar: ctx.buy(bar.symbol, 100))), WEEK)
    values = [float(d.equity) for d in outcome.days]
    peak = max(values[: values.index(min(values[1:])) + 1])
    result = figures(outcome)
    assert result.max_drawdown == pytest.approx((peak - min(values[1:])) / peak)
    assert result.total_return == pytest.approx(values[-1] / 1_000_000 - 1)
    assert result.sharpe is not None
    assert result.sharpe < 0  # it lost money, day after day
    data = report(outcome)
    assert data["final_equity"] == str(outcome.days[-1].equity)
    assert [row["date"] for row in data["daily_equity"]] == [
        "2024-01-02",
        "2024-01-03",
        "2024-01-04",
        "2024-01-05",
    ]
