"""Running a strategy live: against a tradebridge server, through `Client` and its stream.

`LiveRunner(strategy, client, account).run()` loads the account (positions, balance, the
strategy's open orders) and the last `history` bars of each symbol (`GET /market/bars`,
without the one still forming), then follows the account's stream: quotes of the symbols go
to `on_quote` and are folded into bars (`BarBuilder`), which go to `on_bar` as each ends
(when the first quote of the next one arrives); the strategy's orders and fills go to
`on_order` and `on_trade`. It runs until stopped (`stop()`, SIGTERM or Ctrl-C), then calls
`on_stop`.

Crashes and restarts: with a `state_file`, the runner writes down the `seq` of the last
account event it has handled, and the bar it is handing to `on_bar` while it does. Started
again, it resumes the stream after that `seq` (order and fill news missed meanwhile come
now, once) and hands the interrupted bar to `on_bar` again first. The strategy then takes
the same decisions again, and since a decision's `client_order_id` comes from what it was
taken on, the orders it had already placed are answered as they are, not placed twice.
"""

from __future__ import annotations

import contextlib
import os
import signal
import tempfile
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from types import FrameType
from typing import Any

import msgspec

from tradebridge_client.client import Client
from tradebridge_client.errors import (
    DuplicateClientOrderId,
    NotCancelable,
    OrderRejected,
    ResumeFailed,
)
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
from tradebridge_client.strategy import (
    Callbacks,
    Context,
    Interval,
    Strategy,
    check_strategy,
)
from tradebridge_client.stream import AccountEvent, QuoteEvent, Stream

INTERVAL_SECONDS: dict[Interval, int] = {"1m": 60, "5m": 300, "1d": 86400}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def bar_start(interval: Interval, when: datetime) -> datetime:
    """The start of the bar of `interval` holding `when`, as the server's bars are cut: 1m
    and 5m on UTC minute boundaries, 1d at 00:00 UTC."""
    when = when.astimezone(UTC)
    if interval == "1d":
        return datetime(when.year, when.month, when.day, tzinfo=UTC)
    size = INTERVAL_SECONDS[interval]
    seconds = (when - _EPOCH) // timedelta(seconds=1)
    return _EPOCH + timedelta(seconds=seconds - seconds % size)


class BarBuilder:
    """The bars of one symbol, folded from its quotes (a live bar's volume is what the bar
    it continues had: quotes carry no traded volume)."""

    def __init__(self, symbol: str, interval: Interval, forming: Bar | None = None) -> None:
        """`forming`: the server's bar still in progress, which the quotes continue."""
        self.symbol = symbol
        self.interval = interval
        self.current = forming

    def add(self, quote: Quote) -> Bar | None:
        """Fold in `quote`; the bar it ended, if it is the first quote of a new bar."""
        start = bar_start(self.interval, quote.time)
        price = quote.last
        current = self.current
        if current is not None and start <= current.time:
            self.current = msgspec.structs.replace(
                current,
                high=max(current.high, price),
                low=min(current.low, price),
                close=price,
            )
            return None
        self.current = Bar(
            symbol=self.symbol,
            time=start,
            open=price,
            high=price,
            low=price,
            close=price,
            volume=0,
        )
        return current


class RunState(msgspec.Struct, kw_only=True):
    """What a run keeps in its state file."""

    strategy: str
    account: str
    last_seq: int | None = None
    """The last account event handled."""
    pending_bar: Bar | None = None
    """The bar `on_bar` was handling (None once it returned)."""


class StateFile:
    """The run's state, written atomically (a crash leaves the old one or the new one)."""

    def __init__(self, path: Path, strategy: str, account: str) -> None:
        self.path = path
        self.state = RunState(strategy=strategy, account=account)
        if path.exists():
            saved = msgspec.json.decode(path.read_bytes(), type=RunState)
            if (saved.strategy, saved.account) != (strategy, account):
                raise ValueError(
                    f"{path} is the state of {saved.strategy} on {saved.account}, "
                    f"not of {strategy} on {account}"
                )
            self.state = saved

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = msgspec.json.encode(self.state)
        handle, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=self.path.name)
        try:
            with os.fdopen(handle, "wb") as file:
                file.write(data)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise


class LiveContext(Context):
    """The strategy's `Context` on a server: orders through the client, the account as the
    stream keeps it (loaded over REST at start)."""

    mode = "live"

    def __init__(self, strategy: Strategy, client: Client, account: str) -> None:
        super().__init__(strategy, account)
        self.client = client
        self._positions: dict[tuple[str, Direction | None], Position] = {}
        self._balance: AccountSummary | None = None
        self._orders: dict[str, Order] = {}
        """The strategy's orders seen (open ones, and those it placed in this run)."""
        self._now: datetime | None = None

    def load(self) -> None:
        """The account as it is now: positions, balance, the strategy's open orders."""
        self._positions = {(p.symbol, p.direction): p for p in self.client.positions(self.account)}
        self._balance = self.client.balance(self.account)
        for order in self.client.orders(self.account, status="open", limit=1000):
            if self.owns(order):
                self._orders[order.id] = order

    def saw_time(self, when: datetime) -> None:
        if self._now is None or when > self._now:
            self._now = when

    def update_order(self, order: Order) -> None:
        known = self._orders.get(order.id)
        if known is None or order.updated_at >= known.updated_at:
            self._orders[order.id] = order

    def update_position(self, position: Position) -> None:
        self._positions[(position.symbol, position.direction)] = position

    def update_balance(self, summary: AccountSummary) -> None:
        self._balance = summary

    @property
    def now(self) -> datetime:
        """The market's time: that of the latest quote or bar (the server's clock, which on
        a paper account may run ahead), or this machine's before any."""
        return self._now or datetime.now(UTC)

    def positions(self) -> list[Position]:
        return [p for p in self._positions.values() if p.qty != 0]

    def balance(self) -> AccountSummary:
        if self._balance is None:
            self._balance = self.client.balance(self.account)
        return self._balance

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        found = [
            order
            for order in self._orders.values()
            if order.status.is_open and (symbol is None or order.symbol == symbol)
        ]
        return sorted(found, key=lambda order: order.id)

    def order(self, order_id: str) -> Order:
        found = self._orders.get(order_id)
        if found is None:
            found = self.client.order(self.account, order_id)
        return found

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
        try:
            order = self.client.place_order(
                self.account,
                symbol,
                side,
                qty,
                limit_price=limit_price,
                offset=offset,
                time_in_force=time_in_force,
                client_order_id=client_order_id,
            )
        except OrderRejected as refused:
            if refused.order_id is None:
                raise
            order = self.client.order(self.account, refused.order_id)
        except DuplicateClientOrderId:
            # This decision was taken before (a restart) with other figures: its order stands.
            order = self.client.order_by_client_id(self.account, client_order_id)
        self.update_order(order)
        return order

    def _cancel(self, order_id: str) -> Order:
        try:
            order = self.client.cancel_order(self.account, order_id)
        except NotCancelable:
            order = self.client.order(self.account, order_id)
        self.update_order(order)
        return order


class Stopped(Exception):
    """The run was asked to stop (a signal)."""


class LiveRunner:
    """Runs `strategy` on `account` of the server `client` talks to (see the module)."""

    def __init__(
        self,
        strategy: Strategy,
        client: Client,
        account: str,
        *,
        state_file: Path | None = None,
    ) -> None:
        check_strategy(strategy)
        self.strategy = strategy
        self.client = client
        self.account = account
        self.ctx = LiveContext(strategy, client, account)
        self.callbacks = Callbacks(strategy, self.ctx)
        self.state = StateFile(state_file, self.ctx.name, account) if state_file else None
        self._builders: dict[str, BarBuilder] = {}
        self._stream: Stream | None = None
        self._stopping = threading.Event()
        self._busy = False
        """Handling an event: a signal then lets it finish, and the run ends after it."""

    def stop(self) -> None:
        """End the run (from another thread): `on_stop` is called, then `run` returns."""
        self._stopping.set()
        if self._stream is not None:
            self._stream.close()

    def run(self) -> None:
        with self._signals():
            try:
                with self._busy_now():
                    self.ctx.load()
                    self._warm_up()
            except Stopped:
                return  # stopped before it started
            try:
                with self._busy_now():
                    self.callbacks.start()
                    self._finish_interrupted_bar()
                for event in self._events():
                    with self._busy_now():
                        self._handle(event)
                        self._checkpoint()
                    if self._stopping.is_set():
                        break  # a signal came while it handled the event
            except Stopped:
                pass
            finally:
                self._busy = True  # a second signal does not cut `on_stop` short
                if self._stream is not None:
                    self._stream.close()
                self.callbacks.stop()

    @contextlib.contextmanager
    def _busy_now(self) -> Iterator[None]:
        """While the strategy (or the start) works, a signal only asks the run to end."""
        self._busy = True
        try:
            yield
        finally:
            self._busy = False
        if self._stopping.is_set():
            raise Stopped

    def _events(self) -> Iterator[AccountEvent | QuoteEvent]:
        """The stream's events, resumed after the `seq` the state file holds; if the server
        no longer has that far back, from now on (what was missed is lost to `on_order`
        and `on_trade`; positions and orders are read again)."""
        since = self.state.state.last_seq if self.state else None
        while not self._stopping.is_set():
            stream = self._stream = self._open_stream(since)
            try:
                for event in stream:
                    if self._stopping.is_set():
                        return
                    if isinstance(event, AccountEvent | QuoteEvent):
                        yield event
                return  # closed by `stop`
            except ResumeFailed as refused:
                print(f"cannot resume after event {since} ({refused.code}): going on from now")
                stream.close()
                since = None
                self.ctx.load()

    def _open_stream(self, since_seq: int | None) -> Stream:
        return self.client.stream(self.account, since_seq, quotes=list(self.strategy.symbols))

    def _warm_up(self) -> None:
        interval, count = self.strategy.interval, self.strategy.history
        for symbol in self.strategy.symbols:
            bars = self.client.bars(
                symbol, interval=interval, limit=count + 1, account=self.account
            )
            forming = bars[-1] if bars else None
            for bar in bars[:-1]:
                self.ctx.add_bar(bar)
            if forming is not None:
                self.ctx.saw_time(forming.time)
            self._builders[symbol] = BarBuilder(symbol, interval, forming)

    def _finish_interrupted_bar(self) -> None:
        if self.state is None or self.state.state.pending_bar is None:
            return
        bar = self.state.state.pending_bar
        history = self.ctx.bars(bar.symbol)
        if not history or history[-1].time < bar.time:
            self.ctx.add_bar(bar)
        self._deliver_bar(bar, keep=False)

    def _handle(self, event: AccountEvent | QuoteEvent) -> None:
        ctx, callbacks = self.ctx, self.callbacks
        if isinstance(event, QuoteEvent):
            quote = event.quote
            builder = self._builders.get(quote.symbol)
            if builder is None:
                return
            ctx.saw_time(quote.time)
            ended = builder.add(quote)
            if ended is not None:
                self._deliver_bar(ended)
            callbacks.quote(quote)
            return
        data = event.data
        if isinstance(data, Order):
            if ctx.owns(data):
                ctx.update_order(data)
                if data.status != "pending_new":
                    callbacks.order(data)
        elif isinstance(data, Trade):
            callbacks.trade(data)
        elif isinstance(data, Position):
            ctx.update_position(data)
        else:
            ctx.update_balance(data)

    def _deliver_bar(self, bar: Bar, *, keep: bool = True) -> None:
        if self.state is not None:
            self.state.state.pending_bar = bar
            self._checkpoint(force=True)
        self.callbacks.bar(bar, keep=keep)
        if self.state is not None:
            self.state.state.pending_bar = None
            self._checkpoint(force=True)

    def _checkpoint(self, *, force: bool = False) -> None:
        """Write down the `seq` of the last account event handled (the stream's: events
        are handled in its order), when it changed or `force`."""
        if self.state is None:
            return
        seq = self.state.state.last_seq if self._stream is None else self._stream.last_seq
        if seq != self.state.state.last_seq or force:
            self.state.state.last_seq = seq
            self.state.save()

    @contextlib.contextmanager
    def _signals(self) -> Iterator[None]:
        """SIGTERM and Ctrl-C end the run once the event being handled is done (in the
        main thread only: elsewhere, call `stop`)."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return

        def stop(signum: int, frame: FrameType | None) -> Any:
            self._stopping.set()
            if not self._busy:
                raise Stopped  # out of the wait for the next event

        previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
