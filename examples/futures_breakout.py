"""A channel breakout on rebar futures, long and short, with the offsets SHFE wants.

On each 5-minute bar of rb2601.SHFE: a close above the highest high of the 20 bars before
goes long one lot (closing a short first), a close below the lowest low goes short. Futures
orders say what they do to the position (`offset`): `open` a position, or close one; SHFE
closes today's lots with `close_today` and earlier ones with `close_yesterday` (each is
refused for the other's lots), so the strategy remembers on which trading day each side
was opened, from its fills.

    tradebridge strategy backtest examples/futures_breakout.py --from 2024-01-02 --to 2024-01-31
    tradebridge strategy run examples/futures_breakout.py --account paper
"""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from tradebridge_client import Bar, Direction, Offset, Side, Trade
from tradebridge_client.strategy import Context, Strategy

CHANNEL = 20
LOTS = 1
SHANGHAI = ZoneInfo("Asia/Shanghai")


def trading_day(when: datetime) -> date:
    """The trading day of an instant on SHFE: the night session (from 21:00) belongs to the
    next weekday."""
    local = when.astimezone(SHANGHAI)
    day = local.date()
    if local.hour >= 18:
        day += timedelta(days=1)
        while day.weekday() >= 5:
            day += timedelta(days=1)
    return day


class Breakout(Strategy):
    name = "breakout"
    symbols = ("rb2601.SHFE",)
    interval = "5m"
    history = CHANNEL + 1

    def __init__(self) -> None:
        self.opened_on: dict[Direction, date] = {}
        """The trading day each side was last opened (from the fills)."""

    def on_trade(self, ctx: Context, trade: Trade) -> None:
        if ctx.order(trade.order_id).offset == Offset.OPEN:
            direction = Direction.LONG if trade.side == Side.BUY else Direction.SHORT
            self.opened_on[direction] = trading_day(trade.time)

    def close_offset(self, ctx: Context, direction: Direction) -> Offset:
        if self.opened_on.get(direction) == trading_day(ctx.now):
            return Offset.CLOSE_TODAY
        return Offset.CLOSE_YESTERDAY

    def on_bar(self, ctx: Context, bar: Bar) -> None:
        bars = ctx.bars(bar.symbol, CHANNEL + 1)
        if len(bars) <= CHANNEL or ctx.open_orders(bar.symbol):
            return
        high = max(b.high for b in bars[:-1])
        low = min(b.low for b in bars[:-1])
        long = ctx.position(bar.symbol, Direction.LONG)
        short = ctx.position(bar.symbol, Direction.SHORT)
        if bar.close > high:
            if short is not None:
                offset = self.close_offset(ctx, Direction.SHORT)
                ctx.buy(bar.symbol, short.available_qty, offset=offset)
            if long is None:
                ctx.buy(bar.symbol, LOTS, offset=Offset.OPEN)
        elif bar.close < low:
            if long is not None:
                offset = self.close_offset(ctx, Direction.LONG)
                ctx.sell(bar.symbol, long.available_qty, offset=offset)
            if short is None:
                ctx.sell(bar.symbol, LOTS, offset=Offset.OPEN)
