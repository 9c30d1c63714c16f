"""Strategies: one class, the same code in a backtest and live.

A strategy subclasses `Strategy` and overrides the callbacks it needs; each gets a `Context`,
through which it places and cancels orders and reads positions, the balance, bars and quotes.
`tradebridge strategy backtest FILE` runs it on the paper broker's rules over past bars;
`tradebridge strategy run FILE --account ID` runs it against a server (a paper account or a
real one). Nothing in the strategy says which.

```python
from tradebridge_client.strategy import Context, Strategy

class Dip(Strategy):
    symbols = ["600519.SH"]
    interval = "1d"

    def on_bar(self, ctx: Context, bar: Bar) -> None:
        closes = ctx.closes(bar.symbol, 5)
        if len(closes) == 5 and bar.close < min(closes[:-1]) and not ctx.position(bar.symbol):
            ctx.buy(bar.symbol, 100)
```

When the callbacks run, in every mode:

- `on_start` once, with the bar history (`ctx.bars`) loaded; `on_stop` once at the end.
- `on_bar(bar)` when a bar of `interval` has ended, for each of `symbols`: at the start of
  the next bar, with the market at its opening price (a market order placed then fills
  there, never at a price the bar already showed).
- `on_quote(quote)` for each quote of `symbols` (live: every quote streamed; backtest: the
  opening quote of each bar).
- `on_order(order)` whenever one of the strategy's orders changes (accepted, filled in part
  or whole, canceled, expired, rejected); `on_trade(trade)` for each of its fills. They come
  after the callback that caused them has returned, never inside it.

Orders are the strategy's own: `ctx.open_orders()` lists only them, and each carries a
`client_order_id` made from the strategy's name and what caused it (the bar, quote, order or
fill being handled, and the order's place in that callback) or the `key` given. The same
decision taken again after a crash or restart (the bar handled again) therefore makes the
same `client_order_id`, and the server answers with the order already placed: a restart
never doubles an order.
"""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import re
import sys
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar, Literal

from tradebridge_client.models import (
    AccountSummary,
    Bar,
    Direction,
    Offset,
    Order,
    Position,
    Quote,
    Side,
    TimeInForce,
    Trade,
)
from tradebridge_client.routes import PriceLike

Mode = Literal["backtest", "live"]
Interval = Literal["1m", "5m", "1d"]
INTERVALS: tuple[Interval, ...] = ("1m", "5m", "1d")
NAME_PATTERN = re.compile(r"[A-Za-z0-9_.-]{1,32}")
"""A strategy's name: it starts each of its client_order_ids, so it uses their characters."""
DEFAULT_HISTORY = 200


class Strategy:
    """Base class of a strategy. Set the class attributes, override the callbacks you use.

    Attributes:
        name: starts every client_order_id of the strategy (default: the class name in
            lower case); two runs with one name on one account are the same strategy.
        symbols: the symbols whose bars and quotes it receives.
        interval: the bars it receives: `1m`, `5m` or `1d`.
        history: how many bars of each symbol `ctx.bars` keeps (and loads at start).
    """

    name: str = ""
    symbols: ClassVar[Sequence[str]] = ()
    interval: ClassVar[Interval] = "1m"
    history: ClassVar[int] = DEFAULT_HISTORY

    def on_start(self, ctx: Context) -> None:
        """Before the first bar, with `ctx.bars` holding the history."""

    def on_bar(self, ctx: Context, bar: Bar) -> None:
        """A bar of `interval` has ended (see the module for when exactly)."""

    def on_quote(self, ctx: Context, quote: Quote) -> None:
        """A new quote of one of `symbols`."""

    def on_order(self, ctx: Context, order: Order) -> None:
        """One of the strategy's orders changed."""

    def on_trade(self, ctx: Context, trade: Trade) -> None:
        """One of the strategy's orders was filled, in part or whole."""

    def on_stop(self, ctx: Context) -> None:
        """After the last callback (end of the backtest, or the run was stopped)."""


def strategy_name(strategy: Strategy) -> str:
    """The strategy's `name`, or its class name in lower case; checked against
    `NAME_PATTERN` (raises `ValueError`)."""
    name = strategy.name or type(strategy).__name__.lower()
    if not NAME_PATTERN.fullmatch(name):
        raise ValueError(
            f"strategy name {name!r} must be 1-32 of A-Z a-z 0-9 _ . - (set `name` on the class)"
        )
    return name


def check_strategy(strategy: Strategy) -> None:
    """Raise `ValueError` naming what is wrong with the strategy's settings."""
    strategy_name(strategy)
    if strategy.interval not in INTERVALS:
        raise ValueError(
            f"interval must be one of {', '.join(INTERVALS)}, not {strategy.interval!r}"
        )
    if isinstance(strategy.symbols, str) or not strategy.symbols:
        raise ValueError("symbols must be a list of at least one symbol, e.g. ['600519.SH']")
    if not 1 <= strategy.history <= 1000:
        raise ValueError(f"history must be from 1 to 1000 bars, not {strategy.history}")


def overrides(strategy: Strategy, callback: str) -> bool:
    """Whether the strategy has its own `callback` (runners skip the work for those it has not)."""
    return getattr(type(strategy), callback) is not getattr(Strategy, callback)


def load_strategy(path: str | Path, class_name: str | None = None) -> Strategy:
    """An instance of the `Strategy` subclass defined in the Python file at `path` (the one
    named `class_name` where the file defines several). Raises `ValueError` saying why when
    there is none, or several and no name."""
    file = Path(path)
    if not file.is_file():
        raise ValueError(f"no strategy file {file}")
    where = hashlib.blake2b(str(file.resolve()).encode(), digest_size=6).hexdigest()
    module_name = f"tradebridge_strategy_{where}"
    spec = importlib.util.spec_from_file_location(module_name, file)
    if spec is None or spec.loader is None:
        raise ValueError(f"{file} is not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # dataclasses and pickling look the module up
    spec.loader.exec_module(module)
    found = [
        value
        for value in vars(module).values()
        if inspect.isclass(value)
        and issubclass(value, Strategy)
        and value is not Strategy
        and value.__module__ == module_name
    ]
    if class_name is not None:
        found = [cls for cls in found if cls.__name__ == class_name]
        if not found:
            raise ValueError(f"{file} defines no Strategy subclass named {class_name}")
    if not found:
        raise ValueError(f"{file} defines no subclass of tradebridge_client.strategy.Strategy")
    if len(found) > 1:
        names = ", ".join(sorted(cls.__name__ for cls in found))
        raise ValueError(f"{file} defines several strategies ({names}); pick one by its class name")
    strategy = found[0]()
    check_strategy(strategy)
    return strategy


def order_key_digest(strategy: str, key: str) -> str:
    """The client_order_id of the order the strategy `strategy` places for `key`: its name,
    a colon, and 20 hex digits of a hash of the key (at most 53 characters)."""
    return f"{strategy}:{hashlib.blake2b(key.encode(), digest_size=10).hexdigest()}"


def event_key(event: tuple[Any, ...]) -> str:
    """A stable text for what a callback handles (`("bar", symbol, interval, time)`, ...)."""
    return "/".join(
        value.isoformat() if isinstance(value, datetime) else str(value) for value in event
    )


class Context(ABC):
    """What a strategy sees of the account and the market, and how it trades.

    The runner (backtest or live) implements the abstract methods; the rest (bar history,
    client_order_ids, the order shortcuts) is shared, so both behave alike.
    """

    mode: Mode
    """`backtest` or `live`."""

    def __init__(self, strategy: Strategy, account: str) -> None:
        self.strategy = strategy
        self.name = strategy_name(strategy)
        self.account = account
        self._history = strategy.history
        self._bars: dict[str, deque[Bar]] = {}
        self._quotes: dict[str, Quote] = {}
        self._event: tuple[Any, ...] = ("start",)
        self._placed_in_event = 0

    # ------------------------------------------------------------------ for the runners

    def handling(self, *event: Any) -> None:
        """The runner is about to call back for `event`; orders placed now take their
        client_order_id from it (see the module)."""
        self._event = event
        self._placed_in_event = 0

    def add_bar(self, bar: Bar) -> None:
        """Keep `bar` in the history of its symbol (before `on_bar` gets it)."""
        bars = self._bars.get(bar.symbol)
        if bars is None:
            bars = self._bars[bar.symbol] = deque(maxlen=self._history)
        bars.append(bar)

    def add_quote(self, quote: Quote) -> None:
        self._quotes[quote.symbol] = quote

    def client_order_id(self, key: str | None) -> str:
        """The client_order_id of the next order: from `key`, or from the event being
        handled and how many orders this callback placed before."""
        if key is None:
            key = f"{event_key(self._event)}#{self._placed_in_event}"
            self._placed_in_event += 1
        return order_key_digest(self.name, key)

    def owns(self, order: Order | Trade) -> bool:
        """Whether the order (or fill) is this strategy's."""
        cid = order.client_order_id
        return cid is not None and cid.startswith(f"{self.name}:")

    # ------------------------------------------------------------------ time and market

    @property
    @abstractmethod
    def now(self) -> datetime:
        """The current time: the simulated one in a backtest, the market's live."""

    def bars(self, symbol: str, count: int | None = None) -> list[Bar]:
        """The last `count` bars of `symbol` (all kept, see `Strategy.history`), oldest
        first; the latest is the bar `on_bar` was just given."""
        bars = self._bars.get(symbol)
        if not bars:
            return []
        if count is None or count >= len(bars):
            return list(bars)
        return list(bars)[-count:]

    def closes(self, symbol: str, count: int | None = None) -> list[Decimal]:
        """The close prices of `bars(symbol, count)`."""
        return [bar.close for bar in self.bars(symbol, count)]

    def quote(self, symbol: str) -> Quote | None:
        """The latest quote of `symbol` seen (one of the strategy's symbols)."""
        return self._quotes.get(symbol)

    # ------------------------------------------------------------------ account

    @abstractmethod
    def positions(self) -> list[Position]:
        """Every position of the account."""

    def position(self, symbol: str, direction: Direction | str | None = None) -> Position | None:
        """The position in `symbol` (futures: the `long` or `short` one; both are held
        apart, and without `direction` the long one), or None when there is none."""
        wanted = Direction(direction) if direction is not None else None
        for position in self.positions():
            if position.symbol != symbol or position.qty == 0:
                continue
            if position.direction is None or position.direction == (wanted or Direction.LONG):
                return position
        return None

    @abstractmethod
    def balance(self) -> AccountSummary:
        """The account's balance summary."""

    @abstractmethod
    def open_orders(self, symbol: str | None = None) -> list[Order]:
        """The strategy's orders that can still fill, oldest first."""

    @abstractmethod
    def order(self, order_id: str) -> Order:
        """One of the account's orders as it is now (`NotFound` if there is none)."""

    # ------------------------------------------------------------------ orders

    @abstractmethod
    def _place(
        self,
        symbol: str,
        side: Side,
        qty: int,
        limit_price: Decimal | None,
        offset: Offset | None,
        time_in_force: TimeInForce,
        client_order_id: str,
    ) -> Order:
        """Place the order; the answer is the order, rejected ones too (never raised)."""

    @abstractmethod
    def _cancel(self, order_id: str) -> Order:
        """Cancel the order; the answer is it as it is now."""

    def place_order(
        self,
        symbol: str,
        side: Side | str,
        qty: int,
        limit_price: PriceLike | None = None,
        *,
        offset: Offset | str | None = None,
        time_in_force: TimeInForce | str = TimeInForce.DAY,
        key: str | None = None,
    ) -> Order:
        """Place an order: a limit order at `limit_price`, or a market order without one.

        The answer is the order, also when it was refused (`status` rejected, with its
        `reject_reason`: `insufficient_position` for a T+1 sell, `market_closed`, ...).
        `key` names the decision, for its client_order_id (see the module); placing the same
        key again returns the first order. Malformed orders (qty 0, an offset on a stock)
        raise `ValidationError`.
        """
        price = None if limit_price is None else _decimal(limit_price)
        return self._place(
            symbol,
            Side(side),
            qty,
            price,
            None if offset is None else Offset(offset),
            TimeInForce(time_in_force),
            self.client_order_id(key),
        )

    def buy(
        self,
        symbol: str,
        qty: int,
        limit_price: PriceLike | None = None,
        *,
        offset: Offset | str | None = None,
        time_in_force: TimeInForce | str = TimeInForce.DAY,
        key: str | None = None,
    ) -> Order:
        """`place_order(symbol, "buy", qty, limit_price, ...)`; futures need `offset`."""
        return self.place_order(
            symbol, Side.BUY, qty, limit_price, offset=offset, time_in_force=time_in_force, key=key
        )

    def sell(
        self,
        symbol: str,
        qty: int,
        limit_price: PriceLike | None = None,
        *,
        offset: Offset | str | None = None,
        time_in_force: TimeInForce | str = TimeInForce.DAY,
        key: str | None = None,
    ) -> Order:
        """`place_order(symbol, "sell", qty, limit_price, ...)`; futures need `offset`."""
        return self.place_order(
            symbol, Side.SELL, qty, limit_price, offset=offset, time_in_force=time_in_force, key=key
        )

    def cancel(self, order: Order | str) -> Order:
        """Cancel one of the strategy's open orders; the answer is the order as it is now
        (an order that ended meanwhile is answered as it ended, not as an error)."""
        return self._cancel(order if isinstance(order, str) else order.id)

    def cancel_all(self, symbol: str | None = None) -> list[Order]:
        """Cancel the strategy's open orders (of `symbol`); the answer lists them."""
        return [self._cancel(order.id) for order in self.open_orders(symbol)]

    def log(self, message: str) -> None:
        """A line in the run's log, stamped with `now`."""
        print(f"{self.now.isoformat(timespec='seconds')} {self.name}: {message}", flush=True)


def _decimal(value: PriceLike) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))


class Callbacks:
    """Calls a strategy back, one callback at a time, as both runners do.

    News of the strategy's orders and fills that arrive while a callback runs (a backtest
    fills an order inside `ctx.buy`) wait until it has returned, then are delivered in the
    order they came; the callbacks skipped are those the strategy does not override.
    """

    def __init__(self, strategy: Strategy, ctx: Context) -> None:
        self.strategy = strategy
        self.ctx = ctx
        self._pending: deque[Order | Trade] = deque()
        self._running = False
        self.wants_bars = overrides(strategy, "on_bar")
        self.wants_quotes = overrides(strategy, "on_quote")
        self.wants_orders = overrides(strategy, "on_order")
        self.wants_trades = overrides(strategy, "on_trade")

    def start(self) -> None:
        self._run(("start", self.ctx.now.date()), self.strategy.on_start)

    def stop(self) -> None:
        self._run(("stop", self.ctx.now.date()), self.strategy.on_stop)

    def bar(self, bar: Bar, *, keep: bool = True) -> None:
        """`bar` into the history (unless `keep` is False: it is there already), then
        `on_bar`."""
        if keep:
            self.ctx.add_bar(bar)
        if self.wants_bars:
            self._run(
                ("bar", bar.symbol, self.strategy.interval, bar.time), self.strategy.on_bar, bar
            )

    def quote(self, quote: Quote) -> None:
        self.ctx.add_quote(quote)
        if self.wants_quotes:
            self._run(("quote", quote.symbol, quote.time), self.strategy.on_quote, quote)

    def order(self, order: Order) -> None:
        """News of an order (delivered if it is the strategy's)."""
        if self.wants_orders and self.ctx.owns(order):
            self._deliver(order)

    def trade(self, trade: Trade) -> None:
        if self.wants_trades and self.ctx.owns(trade):
            self._deliver(trade)

    def _deliver(self, news: Order | Trade) -> None:
        self._pending.append(news)
        if not self._running:
            self._drain()

    def _run(self, event: tuple[Any, ...], callback: Any, *args: Any) -> None:
        self._running = True
        try:
            self.ctx.handling(*event)
            callback(self.ctx, *args)
        finally:
            self._running = False
        self._drain()

    def _drain(self) -> None:
        while self._pending:
            news = self._pending.popleft()
            self._running = True
            try:
                if isinstance(news, Trade):
                    self.ctx.handling("trade", news.id)
                    self.strategy.on_trade(self.ctx, news)
                else:
                    self.ctx.handling("order", news.id, news.status, news.filled_qty)
                    self.strategy.on_order(self.ctx, news)
            finally:
                self._running = False


__all__ = [
    "INTERVALS",
    "Callbacks",
    "Context",
    "Interval",
    "Mode",
    "Strategy",
    "check_strategy",
    "load_strategy",
    "order_key_digest",
    "overrides",
    "strategy_name",
]
