"""Backtests: a strategy over recorded (or generated) bars, on the paper broker's own rules.

In one process, with no server: a `PaperBroker` (manual market, the account's sessions and
holidays, its lots, T+1, price limits and fees) runs on a simulated clock that jumps from bar
to bar, and the strategy trades it through `BacktestContext`, the backtest's side of the
same `Context` a live run has.

Each bar is played at its opening instant (a minute bar's start; a daily bar's first
continuous session that day), in time order across symbols:

1. the clock moves there; a new trading day rolls the account (day orders expire, T+1
   shares settle, the price limits follow the last close) and records the day's equity;
2. the market moves to the bar's open (resting orders that cross fill there), and the
   strategy gets `on_quote` with it, then `on_bar` with the symbol's *previous* bar, which
   has just ended: so an order placed on a bar trades at the next bar's prices, never at
   one the bar already showed;
3. the market walks the bar: to its low and high (the nearer one first) where orders
   rest, then to its close.

The last bars are delivered at the end, with the market at their close; then `on_stop`.
Recorded prices are put on the tick ladder and inside the day's limits (`replay_price`).
What a backtest leaves out: the engine's risk limits (the account has none), the trading
state, and the depth of the market (the book is deep: an order fills whole at the quote).
"""

from __future__ import annotations

import time
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

import msgspec

from tradebridge.brokers.base import Fill, OrderUpdate
from tradebridge.brokers.paper.broker import PaperBroker
from tradebridge.brokers.paper.config import ContractRow, PaperSettings
from tradebridge.brokers.paper.sessions import MarketHours, Sessions
from tradebridge.brokers.paper.universe import BUILT_IN
from tradebridge.domain import orders as domain
from tradebridge.domain.enums import (
    ConnectionState,
    Offset,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
)
from tradebridge.domain.errors import NotCancelable, OrderRejected, ValidationFailed
from tradebridge.domain.models import AccountSummary as DomainSummary
from tradebridge.domain.models import Contract
from tradebridge.domain.models import Position as DomainPosition
from tradebridge.domain.models import Quote as DomainQuote
from tradebridge.domain.symbols import MARKET_CURRENCY, Market, market_of, parse_symbol
from tradebridge.domain.ticks import ladder_for
from tradebridge.engine.checks import validate_request
from tradebridge.strategies.bar_data import BarDataError
from tradebridge_client import errors as client_errors
from tradebridge_client import models as client
from tradebridge_client.strategy import Callbacks, Context, Interval, Strategy

T = TypeVar("T")
ACCOUNT = "backtest"
DEFAULT_CASH = Decimal(1_000_000)
HOUR = timedelta(hours=1)
"""The account's trading day changes only on the hour (15:00 Shanghai, or midnight there
when always open): the replay rolls it at most once an hour of simulated time."""


@dataclass(frozen=True, slots=True)
class BacktestSettings:
    """What a backtest runs on besides its bars."""

    interval: Interval
    cash: Decimal = DEFAULT_CASH
    """The account's cash, in the currency of the symbols traded."""
    market_hours: MarketHours = "exchange"
    paper: PaperSettings = field(default_factory=PaperSettings)
    """Fees and extra contracts (`[accounts.paper]` of a config); its cash and market are
    replaced by the backtest's."""


@dataclass(frozen=True, slots=True)
class DayEquity:
    day: date
    equity: Decimal
    cash: Decimal


@dataclass
class BacktestOutcome:
    """What happened in a backtest (`report` makes the figures of it)."""

    strategy: str
    symbols: list[str]
    interval: Interval
    currency: str
    initial_cash: Decimal
    bars: int
    orders: list[client.Order]
    trades: list[client.Trade]
    days: list[DayEquity]
    adjusted_prices: int
    replay_seconds: float


def run_backtest(
    strategy: Strategy, bars: Sequence[client.Bar], settings: BacktestSettings
) -> BacktestOutcome:
    """Replay `bars` (ordered by time) through `strategy`. Raises `BarDataError` for bars
    the paper broker cannot trade (an unknown futures contract, several currencies)."""
    return Backtest(strategy, bars, settings).run()


def _now(coroutine: Coroutine[Any, Any, T]) -> T:
    """The result of a coroutine that never suspends, as the paper broker's do."""
    try:
        coroutine.send(None)
    except StopIteration as done:
        result: T = done.value
        return result
    coroutine.close()
    raise RuntimeError("the paper broker waited for something in a backtest")


def _client(value: Any, kind: type[T]) -> T:
    return msgspec.convert(value, kind, from_attributes=True)


class Backtest:
    def __init__(
        self, strategy: Strategy, bars: Sequence[client.Bar], settings: BacktestSettings
    ) -> None:
        if not bars:
            raise BarDataError("there are no bars to replay in that period")
        self.strategy = strategy
        self.settings = settings
        self.symbols = sorted({bar.symbol for bar in bars})
        self.currency = _currency(self.symbols)
        self.sessions = Sessions(settings.market_hours)
        self._opening_cache: dict[tuple[str, datetime], datetime] = {}
        played = sorted(((self._opening(bar), bar) for bar in bars), key=_play_order)
        self._played = played
        self.now: datetime = played[0][0]
        paper = settings.paper.model_copy(
            update={
                "cash": {self.currency: settings.cash},
                "market": "manual",
                "market_hours": settings.market_hours,
                "contracts": [*settings.paper.contracts, *_missing_rows(settings.paper, bars)],
            }
        )
        self.book = Book(self)
        try:
            self.broker = PaperBroker(
                ACCOUNT, paper, self.book, base_currency=self.currency, clock=self._clock
            )
        except ValidationFailed as refused:
            raise BarDataError(refused.message) from None
        self.ctx = BacktestContext(self)
        self.callbacks = Callbacks(strategy, self.ctx)
        self.days: list[DayEquity] = []
        self.adjusted = 0
        self.pending_opens: dict[str, Decimal] = {}
        """Bars opened at the current instant whose open price the market has not yet
        moved to (see `settle`)."""

    def _clock(self) -> datetime:
        return self.now

    def _opening(self, bar: client.Bar) -> datetime:
        """When a bar is played: a minute bar at its start, a daily bar at the first start
        of continuous trading of its date."""
        if self.settings.interval != "1d" or self.sessions.market_hours == "always_open":
            return bar.time
        key = (bar.symbol, bar.time)
        found = self._opening_cache.get(key)
        if found is None:
            found = self._opening_cache[key] = self.sessions.next_session_start(
                bar.time, [bar.symbol]
            )
        return found

    # ------------------------------------------------------------------ the replay

    def run(self) -> BacktestOutcome:
        started = time.perf_counter()
        broker, callbacks, pending = self.broker, self.callbacks, self.pending_opens
        self._check_symbols()
        self._open_markets()
        wants_quotes = callbacks.wants_quotes
        ended: dict[str, client.Bar] = {}
        next_roll = self.now
        callbacks.start()
        for instant, bar in self._played:
            if instant > self.now:
                self.now = instant
                if instant >= next_roll:
                    self._roll()
                    next_roll = instant.replace(minute=0, second=0, microsecond=0) + HOUR
            symbol = bar.symbol
            resting = broker.has_resting(symbol)
            if resting or wants_quotes:
                self._move(symbol, bar.open)
                if wants_quotes:
                    callbacks.quote(self.ctx.market_quote(symbol))
            else:
                pending[symbol] = bar.open  # moved there only if the strategy looks (`settle`)
            previous = ended.get(symbol)
            if previous is not None:
                callbacks.bar(previous)
            if broker.has_resting(symbol):
                self.settle()
                nearer, further = (
                    (bar.low, bar.high) if bar.close >= bar.open else (bar.high, bar.low)
                )
                for price in (nearer, further, bar.close):
                    self._walk(symbol, price)
            else:
                pending.pop(symbol, None)
                self._move(symbol, bar.close)
            ended[symbol] = bar
        self.settle()
        for bar in sorted(ended.values(), key=lambda bar: bar.symbol):
            callbacks.bar(bar)
        callbacks.stop()
        self._record(broker.trading_day)
        elapsed = time.perf_counter() - started
        return BacktestOutcome(
            strategy=self.ctx.name,
            symbols=self.symbols,
            interval=self.settings.interval,
            currency=self.currency,
            initial_cash=self.settings.cash,
            bars=len(self._played),
            orders=[_client(order, client.Order) for order in self.book.orders.values()],
            trades=self.book.trades,
            days=self.days,
            adjusted_prices=self.adjusted,
            replay_seconds=elapsed,
        )

    def _open_markets(self) -> None:
        """Each symbol's market at the open of its first bar, the base of its first day's
        limits, before anything trades."""
        first: dict[str, client.Bar] = {}
        for _, bar in self._played:
            first.setdefault(bar.symbol, bar)
        for symbol, bar in first.items():
            self._move(symbol, bar.open, pre_close=bar.open)

    def settle(self) -> None:
        """Move the markets whose bar has opened to their open price. Done only when
        something could see it (the strategy reads the market or trades, or orders rest):
        otherwise no one can tell, and a bar costs one move instead of two."""
        pending = self.pending_opens
        while pending:
            symbol, price = pending.popitem()
            self._move(symbol, price)

    def _check_symbols(self) -> None:
        for symbol in self.strategy.symbols:
            if parse_symbol(symbol) not in self.symbols:
                raise BarDataError(f"the strategy trades {symbol}, but there are no bars of it")

    def _move(self, symbol: str, price: Decimal, pre_close: Decimal | None = None) -> None:
        quote = self.broker.replay_price(symbol, price, pre_close=pre_close)
        if quote.last != price:
            self.adjusted += 1
        self.ctx.moved()

    def _walk(self, symbol: str, target: Decimal) -> None:
        """Move the market of `symbol` to `target` through the prices of the limit orders
        resting on the way: a buy limit the market falls through fills at its limit (the
        market stops one tick under it, where the ask is the limit), a sell limit at its
        limit the market rises through; an order the market jumps over (a gap at the open)
        fills at the quote it finds."""
        (quote,) = _now(self.broker.quotes([symbol]))
        current = quote.last
        ladder = ladder_for(self.book.contract(symbol))
        stops: list[Decimal] = []
        for order in self.book.open.values():
            limit = order.limit_price
            if order.symbol != symbol or limit is None:
                continue
            if order.side is Side.BUY and target < limit <= current:
                stops.append(ladder.step_down(limit) or limit)
            elif order.side is Side.SELL and current <= limit < target:
                stops.append(ladder.step_up(limit))
        for price in sorted(set(stops), reverse=target < current):
            self._move(symbol, price)
        self._move(symbol, target)

    def _roll(self) -> None:
        """Bring the account to the clock: a new trading day rolls it (and its equity of the
        day before is recorded)."""
        day = self.broker.trading_day
        self.broker.tick()
        if self.broker.trading_day != day:
            self._record(day)

    def _record(self, day: date) -> None:
        summary = _now(self.broker.query_account())
        if self.days and self.days[-1].day == day:
            self.days.pop()
        self.days.append(DayEquity(day=day, equity=summary.equity, cash=summary.cash))


def _play_order(played: tuple[datetime, client.Bar]) -> tuple[datetime, str]:
    return played[0], played[1].symbol


def _currency(symbols: Sequence[str]) -> str:
    currencies = {MARKET_CURRENCY[market_of(symbol)] for symbol in symbols}
    if len(currencies) > 1:
        raise BarDataError(
            "a backtest trades in one currency; these symbols trade in "
            + ", ".join(sorted(currencies))
        )
    return currencies.pop()


def _missing_rows(paper: PaperSettings, bars: Sequence[client.Bar]) -> list[ContractRow]:
    """Contracts for stocks the paper broker does not know, from their first bar (their
    venue and board give the rest). Futures must be configured: they need terms."""
    known = {row.symbol for row in BUILT_IN} | {row.symbol for row in paper.contracts}
    rows: dict[str, ContractRow] = {}
    for bar in bars:
        if bar.symbol in known or bar.symbol in rows:
            continue
        if market_of(bar.symbol) is Market.CN_FUTURES:
            raise BarDataError(
                f"{bar.symbol} is not a built-in futures contract: give its terms (multiplier, "
                "tick_size, margin_rate, pre_close) in [[accounts.paper.contracts]] of --config"
            )
        rows[bar.symbol] = ContractRow(symbol=bar.symbol, pre_close=bar.open)
    return list(rows.values())


class Book:
    """The broker's sink: the orders and fills of the backtest, as the engine would book
    them, told to the strategy."""

    def __init__(self, backtest: Backtest) -> None:
        self._backtest = backtest
        self.orders: dict[str, domain.Order] = {}
        self.by_client_id: dict[str, str] = {}
        self.open: dict[str, domain.Order] = {}
        self.trades: list[client.Trade] = []
        self._contracts: dict[str, Contract] = {}
        self._order_count = 0

    def new_order_id(self) -> str:
        self._order_count += 1
        return f"O{self._order_count:08d}"

    def store(self, order: domain.Order) -> client.Order:
        self.orders[order.id] = order
        if order.status.is_terminal:
            self.open.pop(order.id, None)
        else:
            self.open[order.id] = order
        self._backtest.ctx.moved()
        return _client(order, client.Order)

    def forget(self, order: domain.Order) -> None:
        self.orders.pop(order.id, None)
        self.open.pop(order.id, None)
        if order.client_order_id is not None:
            self.by_client_id.pop(order.client_order_id, None)

    def tell(self, order: domain.Order) -> None:
        self._backtest.callbacks.order(self.store(order))

    def on_order_update(self, update: OrderUpdate) -> None:
        assert update.order_id is not None
        order = self.orders[update.order_id]
        self.tell(
            domain.transition(
                order,
                update.status,
                self._backtest.now,
                reason=update.reason,
                broker_order_id=update.broker_order_id,
            )
        )

    def on_fill(self, fill: Fill) -> None:
        assert fill.order_id is not None
        order = self.orders[fill.order_id]
        contract = self.contract(order.symbol)
        tick = ladder_for(contract).tick_at(fill.price)
        filled = domain.apply_fill(order, fill.qty, fill.price, tick, fill.time)
        trade = client.Trade(
            id=f"T{len(self.trades) + 1:08d}",
            order_id=order.id,
            client_order_id=order.client_order_id or order.id,
            account=ACCOUNT,
            symbol=order.symbol,
            side=client.Side(order.side),
            qty=fill.qty,
            price=fill.price,
            fee=fill.fee if fill.fee is not None else Decimal(0),
            time=fill.time,
        )
        self.trades.append(trade)
        self.tell(filled)
        self._backtest.callbacks.trade(trade)

    def contract(self, symbol: str) -> Contract:
        found = self._contracts.get(symbol)
        if found is None:
            found = _now(self._backtest.broker.contract(symbol))
            assert found is not None
            self._contracts[symbol] = found
        return found

    def on_fee(self, trade_id: str, fee: Decimal) -> None:
        """The paper broker knows every fee at once."""

    def on_cancel_refused(
        self, order_id: str | None, broker_order_id: str | None, reason: str
    ) -> None:
        """The paper broker refuses cancels at once (`NotCancelable`)."""

    def on_position(self, position: DomainPosition) -> None:
        """Positions are read from the broker when the strategy asks."""

    def on_account(self, summary: DomainSummary) -> None:
        """The balance is read from the broker when the strategy asks."""

    def on_quote(self, quote: DomainQuote) -> None:
        """Quotes are read from the broker when the strategy asks."""

    def on_connection(self, state: ConnectionState, message: str) -> None:
        """A backtest's broker is always there."""

    def on_state(self, key: str, value: str) -> None:
        """A backtest keeps no state."""


class BacktestContext(Context):
    """The strategy's `Context` in a backtest: every call goes straight to the paper broker."""

    mode = "backtest"

    def __init__(self, backtest: Backtest) -> None:
        super().__init__(backtest.strategy, ACCOUNT)
        self._backtest = backtest
        self._positions: list[client.Position] | None = None
        self._balance: client.AccountSummary | None = None

    def moved(self) -> None:
        """Prices or the books changed: positions and the balance are read again."""
        self._positions = None
        self._balance = None

    @property
    def now(self) -> datetime:
        return self._backtest.now.astimezone(UTC)

    def market_quote(self, symbol: str) -> client.Quote:
        self._backtest.settle()
        (quote,) = _now(self._backtest.broker.quotes([symbol]))
        return _client(quote, client.Quote)

    def quote(self, symbol: str) -> client.Quote | None:
        """The quote of `symbol` now (a backtest always has the current one)."""
        if symbol not in self._backtest.symbols:
            return None
        return self.market_quote(symbol)

    def positions(self) -> list[client.Position]:
        self._backtest.settle()
        if self._positions is None:
            found = _now(self._backtest.broker.query_positions())
            self._positions = [_client(position, client.Position) for position in found]
        return list(self._positions)

    def balance(self) -> client.AccountSummary:
        self._backtest.settle()
        if self._balance is None:
            summary = _now(self._backtest.broker.query_account())
            self._balance = _client(summary, client.AccountSummary)
        return self._balance

    def open_orders(self, symbol: str | None = None) -> list[client.Order]:
        return [
            _client(order, client.Order)
            for order in self._backtest.book.open.values()
            if symbol is None or order.symbol == symbol
        ]

    def order(self, order_id: str) -> client.Order:
        found = self._backtest.book.orders.get(order_id)
        if found is None:
            raise client_errors.NotFound(f"order {order_id} not found", status=404)
        return _client(found, client.Order)

    def _place(
        self,
        symbol: str,
        side: client.Side,
        qty: int,
        limit_price: Decimal | None,
        offset: client.Offset | None,
        time_in_force: client.TimeInForce,
        client_order_id: str,
    ) -> client.Order:
        book, backtest = self._backtest.book, self._backtest
        backtest.settle()
        try:
            request = domain.OrderRequest(
                symbol=parse_symbol(symbol),
                side=Side(side),
                qty=qty,
                type=OrderType.LIMIT if limit_price is not None else OrderType.MARKET,
                limit_price=limit_price,
                time_in_force=TimeInForce(time_in_force),
                client_order_id=client_order_id,
                offset=None if offset is None else Offset(offset),
            )
            validate_request(request)
        except ValidationFailed as bad:
            raise client_errors.ValidationError(bad.message, bad.details, status=422) from None
        existing = book.by_client_id.get(client_order_id)
        if existing is not None:  # the same decision again: the order it made
            return _client(book.orders[existing], client.Order)
        order = domain.new_order(
            request,
            order_id=book.new_order_id(),
            client_order_id=client_order_id,
            account=ACCOUNT,
            now=backtest.now,
        )
        book.by_client_id[client_order_id] = order.id
        book.store(order)
        try:
            _now(backtest.broker.place_order(order))
        except OrderRejected as refused:
            rejected = domain.transition(
                order, OrderStatus.REJECTED, backtest.now, reason=refused.reason.value
            )
            book.tell(rejected)
        except ValidationFailed as bad:  # malformed for the venue: nothing was placed
            book.forget(order)
            raise client_errors.ValidationError(bad.message, bad.details, status=422) from None
        return _client(book.orders[order.id], client.Order)

    def _cancel(self, order_id: str) -> client.Order:
        book, backtest = self._backtest.book, self._backtest
        backtest.settle()
        order = book.orders.get(order_id)
        if order is None:
            return self.order(order_id)  # raises NotFound
        if not order.status.is_terminal:
            try:
                _now(backtest.broker.cancel_order(order))
            except NotCancelable as refused:  # the venue's no-cancel windows
                raise client_errors.NotCancelable(
                    refused.message, refused.details, status=409
                ) from None
        return _client(book.orders[order_id], client.Order)
