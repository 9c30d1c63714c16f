"""Moving-average cross on an A-share, minding T+1.

On each 5-minute bar of 600519.SH: when the 10-bar average of the closes crosses above the
30-bar one, buy 100 shares (unless already holding or buying); while it stays below, sell
what may be sold. Shares bought today can only be sold from the next trading day (T+1): the
position's `available_qty` says how many may be sold now, so a sell signal on the day of a
buy waits for the next day.

The decisions come from the bars and the account alone (no state kept in the object), so a
restarted run takes them again exactly as before, and the orders it places again are the
ones it already has (see `tradebridge_client.strategy`).

    tradebridge strategy backtest examples/ma_cross.py --from 2024-01-02 --to 2024-03-29
    tradebridge strategy run examples/ma_cross.py --account paper
"""

from decimal import Decimal

from tradebridge_client import Bar, Side
from tradebridge_client.strategy import Context, Strategy

FAST = 10
SLOW = 30
LOT = 100


def average(prices: list[Decimal]) -> Decimal:
    return sum(prices, Decimal(0)) / len(prices)


class MaCross(Strategy):
    name = "ma-cross"
    symbols = ("600519.SH",)
    interval = "5m"
    history = SLOW + 1

    def on_bar(self, ctx: Context, bar: Bar) -> None:
        closes = ctx.closes(bar.symbol, SLOW + 1)
        if len(closes) <= SLOW:
            return  # not enough history yet
        before = average(closes[-FAST - 1 : -1]) - average(closes[-SLOW - 1 : -1])
        now = average(closes[-FAST:]) - average(closes[-SLOW:])
        position = ctx.position(bar.symbol)
        pending = {order.side for order in ctx.open_orders(bar.symbol)}
        if before <= 0 < now and position is None and Side.BUY not in pending:
            ctx.buy(bar.symbol, LOT)
        elif (
            now < 0
            and position is not None
            and position.available_qty > 0
            and Side.SELL not in pending
        ):
            ctx.sell(bar.symbol, position.available_qty)
