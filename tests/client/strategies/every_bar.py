"""A test strategy: on every bar of 600519.SH it buys 100 shares at the bar's close plus
0.01 (the ask of a market set at the close), and logs what it is told. When the file named
by `TB_CRASH_AFTER_ORDER` exists, it deletes it and kills its own process (SIGKILL) just
after placing an order: a crash in the middle of handling a bar."""

import os
import signal
from decimal import Decimal

from tradebridge_client import Bar, Order, Trade
from tradebridge_client.strategy import Context, Strategy


class EveryBar(Strategy):
    name = "everybar"
    symbols = ("600519.SH",)
    interval = "1m"
    history = 5

    def on_start(self, ctx: Context) -> None:
        ctx.log(f"started in {ctx.mode} with {len(ctx.bars('600519.SH'))} bars of history")

    def on_bar(self, ctx: Context, bar: Bar) -> None:
        order = ctx.buy(bar.symbol, 100, bar.close + Decimal("0.01"))
        ctx.log(f"bar {bar.time.isoformat()} close {bar.close}: order {order.id} {order.status}")
        marker = os.environ.get("TB_CRASH_AFTER_ORDER")
        if marker and os.path.exists(marker):
            os.unlink(marker)
            os.kill(os.getpid(), signal.SIGKILL)

    def on_order(self, ctx: Context, order: Order) -> None:
        ctx.log(f"order {order.id} {order.status}")

    def on_trade(self, ctx: Context, trade: Trade) -> None:
        ctx.log(f"trade {trade.id} {trade.qty} at {trade.price}")

    def on_stop(self, ctx: Context) -> None:
        ctx.log("stopped")
