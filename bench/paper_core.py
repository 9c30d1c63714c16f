"""Paper broker core speed: place -> fill -> books, in process (no engine, no I/O).

Each scenario sends pre-built orders straight to `PaperBroker.place_order` (driven without an
event loop: the coroutine never suspends) with a sink that drops every event, and counts
orders per second. Every order takes the whole path: venue rules, freezes, the fill, fees,
the books, and the fill, position and account pushed to the sink.

The floor, measured in the same run, is building the same number of `Order` structs: the
least any code handling these orders must do. The ratio (orders/s of the floor over orders/s
of the scenario) is what to compare between runs and machines. Goal: >= 50,000 orders/s.

    .venv/bin/python bench/paper_core.py [--orders 50000] [--repeat 3]
"""

import argparse
import time
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar, cast

from tradebridge.brokers.base import Fill, OrderUpdate
from tradebridge.brokers.paper.broker import PaperBroker
from tradebridge.brokers.paper.config import PaperSettings
from tradebridge.domain.enums import ConnectionState, Offset, OrderStatus, OrderType, Side
from tradebridge.domain.enums import TimeInForce as Tif
from tradebridge.domain.models import AccountSummary, Position, Quote
from tradebridge.domain.orders import Order

T = TypeVar("T")
NOW = datetime(2025, 1, 6, 2, 0, tzinfo=UTC)
RICH = {"CNY": Decimal(10) ** 15, "HKD": Decimal(10) ** 15, "USD": Decimal(10) ** 15}
DEEP = 10**12


class NullSink:
    def on_order_update(self, update: OrderUpdate) -> None: ...
    def on_fill(self, fill: Fill) -> None: ...
    def on_position(self, position: Position) -> None: ...
    def on_account(self, summary: AccountSummary) -> None: ...
    def on_quote(self, quote: Quote) -> None: ...
    def on_connection(self, state: ConnectionState, message: str) -> None: ...
    def on_state(self, key: str, value: str) -> None: ...


def order(
    n: int, symbol: str, side: Side, qty: int, price: str | None, offset: Offset | None = None
) -> Order:
    return Order(
        id=f"o{n}",
        client_order_id=f"c{n}",
        account="bench",
        symbol=symbol,
        side=side,
        offset=offset,
        type=OrderType.LIMIT if price else OrderType.MARKET,
        time_in_force=Tif.DAY,
        qty=qty,
        limit_price=Decimal(price) if price else None,
        filled_qty=0,
        avg_fill_price=None,
        status=OrderStatus.PENDING_NEW,
        reject_reason=None,
        broker_order_id=None,
        created_at=NOW,
        updated_at=NOW,
    )


B, S = Side.BUY, Side.SELL
SCENARIOS: dict[str, Callable[[int], Order]] = {
    "CN stock buy (T+1, fees)": lambda n: order(n, "600519.SH", B, 100, "1500.01"),
    "US round trip (buy, sell)": lambda n: order(n, "AAPL.US", B if n % 2 else S, 10, None),
    "HK round trip (buy, sell)": lambda n: order(n, "00700.HK", B if n % 2 else S, 100, None),
    "futures open / close_today": lambda n: order(
        n, "cu2601.SHFE", B if n % 2 else S, 1, None, Offset.OPEN if n % 2 else Offset.CLOSE_TODAY
    ),
}


def drive(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine that never suspends, without an event loop."""
    try:
        coroutine.send(None)
    except StopIteration as done:
        return cast(T, done.value)
    raise RuntimeError("the paper broker suspended")


def run_scenario(make: Callable[[int], Order], count: int) -> float:
    broker = PaperBroker("bench", PaperSettings(cash=RICH), NullSink(), clock=lambda: NOW)
    for symbol in ("600519.SH", "AAPL.US", "00700.HK", "cu2601.SHFE"):
        (quote,) = drive(broker.quotes([symbol]))
        broker.set_quote(symbol, last=quote.last, bid_size=DEEP, ask_size=DEEP)
    orders = [make(n) for n in range(1, count + 1)]  # odd first: buys and opens lead
    start = time.perf_counter()
    for o in orders:
        drive(broker.place_order(o))
    elapsed = time.perf_counter() - start
    trades = drive(broker.query_trades())
    assert len(trades) == count, f"{count - len(trades)} orders did not fill"
    return count / elapsed


def floor(count: int) -> float:
    start = time.perf_counter()
    for n in range(count):
        order(n, "600519.SH", B, 100, "1500.01")
    return count / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=3, help="best of this many runs")
    args = parser.parse_args()
    best_floor = max(floor(args.orders) for _ in range(args.repeat))
    print(f"{'':32} {'orders/s':>10} {'floor/this':>11}")
    print(f"{'floor: build Order structs':32} {best_floor:>10,.0f} {1:>11.1f}")
    for name, make in SCENARIOS.items():
        rate = max(run_scenario(make, args.orders) for _ in range(args.repeat))
        print(f"{name:32} {rate:>10,.0f} {best_floor / rate:>11.1f}")


if __name__ == "__main__":
    main()
