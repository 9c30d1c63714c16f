"""`PaperBroker`: the embedded default broker, a venue simulator behind the `Broker` interface.

It wires the universe (`universe`), the simulated market (`market`), the fill model
(`matching`), venue rules (`rules`), what orders need and freeze (`admission`, `tickets`),
fees (`fees`), the stock and cash books (`portfolio`) and the futures book (`futures`), and
reports through the sink. Everything happens
synchronously inside the method that causes it, so the sink sees events in the order the
engine journals them:

- accepted order: `NEW`, then per fill `on_fill`, `on_position`, `on_account`; then either the
  canceled remainder (`CANCELED` and the account or position whose freeze it released) or,
  for an order that rests without any fill, the account or position showing its freeze;
- `set_quote`: `on_quote`, then the fills of resting orders that now cross, in arrival order;
- `roll_day`: each expired order (`EXPIRED` and what its freeze released), every new quote,
  the fills of resting orders that cross them, then every position and the account.

Fill updates carry no `OrderUpdate`: the engine derives `partially_filled`/`filled` from the
fills. Quote moves push no account or position: listeners value holdings from the quotes.

Account totals (in the base currency): `cash`; `frozen` = cash frozen by open orders plus the
margin of open futures positions; `available = cash - frozen`; `market_value` = stocks at the
last price (futures are not owned, so not counted); `unrealized_pnl` = stocks' plus futures';
`equity = cash + market_value + futures unrealized P&L`; `realized_pnl` = stock sells net of
the fees of both sides, plus futures close P&L net of every futures fee. So equity is always
the initial cash plus realized and unrealized P&L.

Restarts: the engine journals the fills, and what else the account needs is kept with them
through `sink.on_state`: the clock's offset, the trading day, the market (each instrument's
last price and `pre_close`, saved when set by hand, at each new day and every few seconds
while the random walk moves) and the last fill before a reset. `restore` rebuilds the books
from them (`replay`) and reopens the orders still open; the engine then sends the orders
the broker never received.

Time and the market: the account has its own clock (`clock.PaperClock`, moved forward by
`advance_clock`) and sessions (`sessions.Sessions`: every venue always open, or the real
sessions and holidays with `market_hours = "exchange"`). Outside a venue's sessions orders
are refused (`market_closed`); in call auctions and breaks limit orders are accepted and wait,
and cancels are refused in the no-cancel windows. A ticker task (`tick`, several times a
second) moves the `random_walk` market, fills resting orders when continuous trading starts,
and rolls the trading day when the clock enters a new one. With `market = "manual"` prices
move only through `set_quote`.
"""

import asyncio
import contextlib
import itertools
import json
import logging
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Literal

from tradebridge.brokers.base import (
    BarInterval,
    Broker,
    BrokerOrder,
    BrokerSink,
    Capabilities,
    Fill,
    JournalFill,
    JournalSnapshot,
    OrderUpdate,
    Simulator,
    VenueStatus,
    filter_contracts,
)
from tradebridge.brokers.paper.admission import admit, release
from tradebridge.brokers.paper.bars import bars
from tradebridge.brokers.paper.booking import book_execution
from tradebridge.brokers.paper.clock import PaperClock
from tradebridge.brokers.paper.config import PaperSettings
from tradebridge.brokers.paper.fees import fee_schedules
from tradebridge.brokers.paper.futures import CloseSource, FuturesBook
from tradebridge.brokers.paper.market import QuoteBoard
from tradebridge.brokers.paper.matching import Execution, executable, rests
from tradebridge.brokers.paper.portfolio import Portfolio
from tradebridge.brokers.paper.replay import book_fill, reopen
from tradebridge.brokers.paper.rules import check_order, price_band
from tradebridge.brokers.paper.sessions import Sessions, SessionState
from tradebridge.brokers.paper.tickets import Ticket
from tradebridge.brokers.paper.universe import build_universe
from tradebridge.brokers.paper.walk import RandomWalk, min_price, snap_to_ladder
from tradebridge.domain.enums import (
    ConnectionState,
    Direction,
    OrderStatus,
    OrderType,
    RejectReason,
    Side,
    TimeInForce,
)
from tradebridge.domain.errors import NotCancelable, NotFound, OrderRejected, ValidationFailed
from tradebridge.domain.models import AccountSummary, Bar, Contract, Position, Quote, Trade
from tradebridge.domain.money import round_money
from tradebridge.domain.orders import Order
from tradebridge.ids import IdGenerator

log = logging.getLogger(__name__)

ZERO = Decimal(0)
TICK_SECONDS = 0.1
"""How often the ticker moves the market and looks at the sessions and the trading day."""
DAY_REFERENCE = "600519.SH"
"""The account's trading day is the Shanghai one (the base market of the embedded default)."""
MAX_CLOCK_MOVE = timedelta(days=3653)
"""The furthest one `advance_clock(to=...)` goes: ten years (a clock near the year 9999 would
overflow every date computed from it)."""
LATEST_CLOCK = datetime(2200, 1, 1, tzinfo=UTC)
"""The paper clock never passes this, however many moves add up."""
MARKET_SAVE_INTERVAL_S = 5.0
"""How often the moving random-walk market is saved for a restart."""

STATE_CLOCK = "clock_offset_us"
STATE_TRADING_DAY = "trading_day"
STATE_MARKET = "market"
STATE_RESET = "reset_after_fill"
"""Keys of what the account keeps through `sink.on_state`."""


def _utc_now() -> datetime:
    return datetime.now(UTC)


class PaperBroker(Broker):
    name = "paper"
    capabilities = Capabilities(
        market_orders=True,
        short_selling=False,
        quote_streaming=True,
        bars=True,
        restores_from_journal=True,
    )

    def __init__(
        self,
        account_id: str,
        settings: PaperSettings,
        sink: BrokerSink,
        *,
        base_currency: str = "CNY",
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        """Raises `ValidationFailed` naming the symbol if a configured contract is unusable."""
        super().__init__(account_id, sink)
        self.settings = settings
        self.base_currency = base_currency
        self.clock = PaperClock(real=clock or _utc_now)
        self._clock = self.clock.now
        self._sessions = Sessions(settings.market_hours)
        self._id_prefix = IdGenerator().new_id()
        self._id_count = itertools.count(1)
        self._instruments = build_universe(settings.contracts)
        self._fees = fee_schedules(settings.fees)
        self._market = QuoteBoard(
            self._instruments, self._clock, refill=settings.market == "random_walk"
        )
        self._portfolio = Portfolio(settings.cash)
        self._futures = FuturesBook()
        self._tickets: dict[str, Ticket] = {}
        self._resting: dict[str, dict[str, Ticket]] = {}
        """Open orders by symbol, then by order id in arrival order."""
        self._trades: list[Trade] = []
        self._walk = (
            RandomWalk(
                [i.contract for i in self._instruments.values()], settings.seed, start=self._clock()
            )
            if settings.market == "random_walk"
            else None
        )
        self._trading_day = self._sessions.trading_day(DAY_REFERENCE, self._clock())
        self._ticker: asyncio.Task[None] | None = None
        self._market_saved_at = time.monotonic()

    # -- restart -----------------------------------------------------------------------

    async def restore(self, snapshot: JournalSnapshot) -> None:
        """Rebuild the account from the journal: clock, books, market, open orders.

        Fills after the last reset are booked in order, the trading day rolling between
        them as it did live (T+1 shares settle, today's futures lots become yesterday's);
        the ticker rolls into today's trading day, expiring day orders, once it runs.
        """
        state = snapshot.state
        offset = timedelta(microseconds=int(state.get(STATE_CLOCK, "0")))
        if offset:
            self.clock.advance_to(self._clock() + offset)
        self._trades = [_trade_of(fill, self.account_id) for fill in snapshot.fills]
        trading_day: date | None = None
        for fill in _after_reset(snapshot.fills, state.get(STATE_RESET)):
            day = self._sessions.trading_day(DAY_REFERENCE, fill.time)
            if trading_day is not None and day > trading_day:
                self._start_day()
            trading_day = max(day, trading_day or day)
            book_fill(fill, self._instruments[fill.symbol], self._portfolio, self._futures)
        saved_day = state.get(STATE_TRADING_DAY)
        if saved_day is not None:
            day = date.fromisoformat(saved_day)
            if trading_day is not None and day > trading_day:
                self._start_day()
            trading_day = max(day, trading_day or day)
        self._trading_day = trading_day or self._trading_day
        self._restore_market(state.get(STATE_MARKET))
        fills_of: dict[str, list[JournalFill]] = {}
        for fill in snapshot.fills:
            fills_of.setdefault(fill.order_id, []).append(fill)
        for order in snapshot.open_orders:
            if order.status is OrderStatus.PENDING_NEW:
                continue  # never acknowledged: the engine sends it (or expires it) after connect
            instrument = self._instruments[order.symbol]
            ticket = reopen(
                order,
                fills_of.get(order.id, ()),
                instrument,
                self._market.quote(order.symbol),
                self._fees[instrument.fee_table],
                order.broker_order_id or self._new_id(),
                self._portfolio,
                self._futures,
            )
            self._tickets[order.id] = ticket
            self._resting.setdefault(order.symbol, {})[order.id] = ticket
        log.info(
            "paper account %s restored: %d fills, %d open orders, trading day %s",
            self.account_id,
            len(snapshot.fills),
            len(snapshot.open_orders),
            self._trading_day,
        )

    def _restore_market(self, saved: str | None) -> None:
        """Each instrument's quote as last saved: the price, both sides and their sizes (a
        quote set by hand comes back exactly), and the random walk goes on from there."""
        if saved is None:
            return
        for symbol, fields in json.loads(saved).items():
            if symbol not in self._instruments:
                continue
            last, pre_close, *sides = fields
            bid, ask, bid_size, ask_size = sides or (None, None, None, None)  # older saves
            try:
                quote = self._market.set(
                    symbol,
                    last=Decimal(last),
                    pre_close=Decimal(pre_close),
                    bid=None if bid is None else Decimal(bid),
                    ask=None if ask is None else Decimal(ask),
                    bid_size=bid_size,
                    ask_size=ask_size,
                    deep=self._walk is not None,
                )
            except ValidationFailed as exc:  # the contract's configuration changed
                log.warning("saved market of %s not restored: %s", symbol, exc.message)
                continue
            if self._walk is not None:
                self._walk.set_reference(symbol, last=quote.last, pre_close=quote.pre_close)

    def _save_market(self) -> None:
        quotes = (self._market.quote(symbol) for symbol in self._instruments)
        market = {
            q.symbol: [
                str(q.last),
                str(q.pre_close),
                None if q.bid is None else str(q.bid),
                None if q.ask is None else str(q.ask),
                q.bid_size,
                q.ask_size,
            ]
            for q in quotes
        }
        self.sink.on_state(STATE_MARKET, json.dumps(market, separators=(",", ":")))
        self._market_saved_at = time.monotonic()

    # -- connection --------------------------------------------------------------------

    async def connect(self) -> None:
        self._sessions.warm_up()
        self.sink.on_connection(ConnectionState.CONNECTED, "paper broker ready")
        self.sink.on_account(self._summary())
        self._ticker = asyncio.create_task(
            self._run_ticker(), name=f"paper-ticker {self.account_id}"
        )

    async def close(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
            self._ticker = None
        self.sink.on_connection(ConnectionState.DISCONNECTED, "paper broker closed")

    async def ping(self) -> bool:
        return True

    # -- orders ------------------------------------------------------------------------

    async def place_order(self, order: Order) -> None:
        """Accept `order` or raise before any sink call: `OrderRejected` for what the venue
        or the books refuse, `ValidationFailed` for a malformed order."""
        instrument = self._instruments.get(order.symbol)
        if instrument is None:
            raise OrderRejected(
                RejectReason.UNKNOWN_SYMBOL,
                f"{order.symbol} is not traded by the paper broker",
                {"symbol": order.symbol},
            )
        if order.id in self._tickets:
            raise ValidationFailed(f"order {order.id} was already placed", {"field": "id"})
        session = self._session(order.symbol)
        _check_session(order, session)
        check_order(instrument, order, self._market.band(order.symbol))
        quote = self._market.quote(order.symbol)
        ticket = admit(
            order,
            instrument,
            quote,
            self._fees[instrument.fee_table],
            self._new_id(),
            self._portfolio,
            self._futures,
        )
        self._tickets[order.id] = ticket
        self.sink.on_order_update(
            OrderUpdate(
                order_id=order.id,
                status=OrderStatus.NEW,
                broker_order_id=ticket.broker_order_id,
            )
        )
        execution = (
            executable(order, ticket.remaining, quote, ticket.fill_step)
            if session.matches
            else None
        )
        if execution is not None:
            self._fill(ticket, execution)
        if ticket.remaining == 0:
            return
        if not rests(order):
            self._end(ticket, OrderStatus.CANCELED, self._unfilled_reason(ticket))
            return
        self._resting.setdefault(order.symbol, {})[order.id] = ticket
        if ticket.filled_qty == 0:
            self._push_reservation(ticket)

    async def cancel_order(self, order: Order) -> None:
        ticket = self._tickets.get(order.id)
        if ticket is None:
            raise NotCancelable(
                f"order {order.id} is unknown to the paper broker", {"order_id": order.id}
            )
        if ticket.status.is_terminal:
            raise NotCancelable(
                f"order {order.id} is already {ticket.status.value}", {"order_id": order.id}
            )
        session = self._session(order.symbol)
        if not session.accepts_cancels:
            raise NotCancelable(
                f"{order.symbol}: no cancels during the {session.broker_status.replace('_', ' ')}",
                {"order_id": order.id, "broker_status": session.broker_status},
            )
        self._end(ticket, OrderStatus.CANCELED, None)

    async def query_orders(self) -> list[BrokerOrder]:
        return [
            BrokerOrder(
                order_id=ticket.order.id,
                broker_order_id=ticket.broker_order_id,
                status=ticket.status,
                filled_qty=ticket.filled_qty,
            )
            for ticket in self._tickets.values()
        ]

    async def query_trades(self) -> list[Fill]:
        return [
            Fill(
                trade_id=trade.id,
                order_id=trade.order_id,
                qty=trade.qty,
                price=trade.price,
                fee=trade.fee,
                time=trade.time,
            )
            for trade in self._trades
        ]

    # -- books -------------------------------------------------------------------------

    async def query_positions(self) -> list[Position]:
        """Stock holdings, then futures positions (long and short apart)."""
        return self._all_positions()

    async def query_account(self) -> AccountSummary:
        return self._summary()

    # -- market ------------------------------------------------------------------------

    async def contract(self, symbol: str) -> Contract | None:
        """As configured; today's `pre_close` (which rolls) is on the quote."""
        instrument = self._instruments.get(symbol)
        return None if instrument is None else instrument.contract

    async def contracts(self, venue: str | None, text: str | None) -> list[Contract]:
        """The whole universe, filtered."""
        return filter_contracts([i.contract for i in self._instruments.values()], venue, text)

    async def quotes(self, symbols: list[str]) -> list[Quote]:
        return [self._market.quote(symbol) for symbol in symbols]

    async def market_status(self) -> list[VenueStatus]:
        states = self._sessions.venues_status(self._instruments, self._clock())
        return [
            VenueStatus(venue=venue.value, status=state.status, broker_status=state.broker_status)
            for venue, state in states
        ]

    async def bars(self, symbol: str, interval: BarInterval, limit: int) -> list[Bar]:
        """History generated from the seed that ends at the current price (see `bars`)."""
        quote = self._market.quote(symbol)
        return bars(
            self._instruments[symbol].contract,
            seed=self.settings.seed,
            interval=interval,
            end=self._clock(),
            last=quote.last,
            limit=limit,
            pre_close=quote.pre_close,
        )

    async def subscribe_quotes(self, symbols: list[str]) -> None:
        """Nothing to subscribe: every quote change is pushed. Unknown symbols: `NotFound`."""
        for symbol in symbols:
            if symbol not in self._instruments:
                raise NotFound(f"{symbol} is not traded by the paper broker")

    # -- simulator controls (`brokers.base.Simulator`) ------------------------------------

    def simulator(self) -> Simulator:
        return self

    def set_quote(
        self,
        symbol: str,
        *,
        last: Decimal,
        bid: Decimal | None = None,
        ask: Decimal | None = None,
        bid_size: int | None = None,
        ask_size: int | None = None,
        pre_close: Decimal | None = None,
    ) -> Quote:
        """Set the market of `symbol`, push the quote, then fill resting orders that cross.

        Omitted `bid`/`ask` are one tick below/above `last`, or none (size 0) where that is
        beyond the daily limits; omitted sizes are the ones last set (so this restores depth
        that fills consumed); omitted `pre_close` is kept, a new one moves the limits.
        Raises `NotFound` for an unknown symbol and `ValidationFailed` naming the field for
        a non-positive or off-tick price, a price outside the daily limits (naming them),
        `bid >= ask` or a negative size.
        """
        quote = self._market.set(
            symbol,
            last=last,
            bid=bid,
            ask=ask,
            bid_size=bid_size,
            ask_size=ask_size,
            pre_close=pre_close,
        )
        if self._walk is not None:
            self._walk.set_reference(symbol, last=quote.last, pre_close=quote.pre_close)
        self.sink.on_quote(quote)
        self._save_market()
        self._match(symbol)
        return quote

    def replay_price(
        self, symbol: str, price: Decimal, *, pre_close: Decimal | None = None
    ) -> Quote:
        """Move the market of `symbol` to a traded price of recorded history, for a backtest:
        the quote goes to `price` (sides one tick either way, the depth last set, a deep
        book) and resting orders that now cross fill, as with `set_quote`, but the quote is
        neither pushed nor saved (a backtest replays many and keeps no state).

        The price is first put on the tick ladder (half up) and inside today's limits: a
        recorded price beyond a limit (adjusted history, a data error) is taken as the limit,
        where the market would have stopped; compare the answer's `last` to see it was.
        `pre_close` sets the base of the limits (the first price of a symbol). Raises
        `NotFound` for an unknown symbol.
        """
        instrument = self._instruments.get(symbol)
        if instrument is None:
            raise NotFound(f"{symbol} is not traded by the paper broker")
        ticks = instrument.ticks
        if not ticks.is_on_tick(price):
            price = max(snap_to_ladder(ticks, price), min_price(ticks))
        band = (
            self._market.band(symbol)
            if pre_close is None
            else price_band(ticks, pre_close, instrument.contract.price_limit_pct)
        )
        if band is not None:
            price = min(max(price, band.lower), band.upper)
        quote = self._market.replay(symbol, price, pre_close)
        if symbol in self._resting:
            self._match(symbol)
        return quote

    def has_resting(self, symbol: str) -> bool:
        """Whether orders of `symbol` rest, waiting for the market to cross them."""
        return bool(self._resting.get(symbol))

    @property
    def trading_day(self) -> date:
        """The account's trading day (Shanghai's), as the last `tick` saw it."""
        return self._trading_day

    def advance_clock(
        self,
        *,
        advance: Literal["next_day", "next_session"] | None = None,
        to: datetime | None = None,
    ) -> datetime:
        """Move the account's clock forward and play what that time brings (a new trading
        day, the market's moves, the start of continuous trading); return the new time.

        `next_day`: the start of the next trading day (09:00 Shanghai with exchange hours,
        24 hours on otherwise); `next_session`: the next start of continuous trading of any
        venue traded here; `to`: that instant. Raises `ValidationFailed` for a time before now.
        """
        now = self._clock()
        if to is not None:
            if to.tzinfo is not None and (to - now > MAX_CLOCK_MOVE or to >= LATEST_CLOCK):
                raise ValidationFailed(
                    f"the paper clock moves at most {MAX_CLOCK_MOVE.days} days at once and "
                    f"stays before {LATEST_CLOCK.year}; {to.isoformat()} is further from the "
                    f"paper time {now.isoformat()}",
                    {"field": "to", "value": to.isoformat(), "now": now.isoformat()},
                )
            target = to
        elif advance == "next_day":
            target = self._sessions.next_trading_day_start(now)
        else:
            target = self._sessions.next_session_start(now, self._instruments)
        self.clock.advance_to(target)
        offset_us = self.clock.offset // timedelta(microseconds=1)
        self.sink.on_state(STATE_CLOCK, str(offset_us))
        self.tick()
        return self._clock()

    def tick(self) -> None:
        """Bring the simulation up to the clock: roll the trading day if a new one began,
        move the random-walk market of the venues trading now, and fill resting orders that
        cross where continuous trading is on."""
        now = self._clock()
        trading_day: date = self._sessions.trading_day(DAY_REFERENCE, now)
        if trading_day != self._trading_day:
            self._trading_day = trading_day
            self.roll_day()
        if self._walk is not None:
            for moved in self._walk.step(now):
                if self._session(moved.symbol).matches:
                    self._apply_walk(moved)
            if time.monotonic() - self._market_saved_at >= MARKET_SAVE_INTERVAL_S:
                self._save_market()
        for symbol in list(self._resting):
            self._match(symbol)

    def _apply_walk(self, moved: Quote) -> None:
        try:
            quote = self._market.set(
                moved.symbol,
                last=moved.last,
                bid=moved.bid,
                ask=moved.ask,
                bid_size=moved.bid_size,
                ask_size=moved.ask_size,
                deep=True,
            )
        except ValidationFailed as exc:  # the walk and the board disagree on a limit: skip
            log.warning("random walk move of %s skipped: %s", moved.symbol, exc.message)
            return
        self.sink.on_quote(quote)

    async def _run_ticker(self) -> None:
        while True:
            await asyncio.sleep(TICK_SECONDS)
            try:
                self.tick()
            except Exception:  # one bad tick must not stop the market
                log.exception("paper ticker of %s failed", self.account_id)

    def _session(self, symbol: str) -> SessionState:
        return self._sessions.state(symbol, self._clock())

    def roll_day(self) -> None:
        """End the trading day and open the next one.

        Open `day` orders expire (reason "end of day"), releasing what they froze; `gtc`
        orders stay, except closes of today's futures lots, which are yesterday's tomorrow.
        Shares bought under T+1 become sellable, today's futures lots become yesterday's,
        and each instrument's last price becomes its `pre_close`, so the daily limits follow;
        quotes reopen one tick either side of it with the depth last set. Resting orders that
        cross the new quotes fill; then every position and the account are pushed.
        """
        for orders in list(self._resting.values()):
            for ticket in list(orders.values()):
                if ticket.order.time_in_force is TimeInForce.DAY:
                    self._end(ticket, OrderStatus.EXPIRED, "end of day")
                elif ticket.source is CloseSource.TODAY:
                    self._end(
                        ticket, OrderStatus.EXPIRED, "end of day: today's lots become yesterday's"
                    )
        self._start_day()
        for quote in self._market.roll():
            if self._walk is not None:
                self._walk.set_reference(quote.symbol, last=quote.last, pre_close=quote.pre_close)
            self.sink.on_quote(quote)
        self.sink.on_state(STATE_TRADING_DAY, self._trading_day.isoformat())
        self._save_market()
        for symbol in list(self._resting):
            self._match(symbol)
        for position in self._all_positions():
            self.sink.on_position(position)
        self.sink.on_account(self._summary())

    def _start_day(self) -> None:
        """What a new trading day does to the books: T+1 shares settle, today's futures
        lots become yesterday's."""
        self._portfolio.settle()
        self._futures.roll()

    def reset(self) -> None:
        """Back to the configured cash with no positions, no open orders, initial quotes.

        Open orders are canceled with reason `reset`; then every quote, a qty-0 position for
        each former holding and the account are pushed. Order and trade history is kept.
        """
        for orders in self._resting.values():
            for ticket in orders.values():
                ticket.status = OrderStatus.CANCELED
                self.sink.on_order_update(
                    OrderUpdate(
                        order_id=ticket.order.id,
                        status=OrderStatus.CANCELED,
                        broker_order_id=ticket.broker_order_id,
                        reason="reset",
                    )
                )
        self._resting.clear()
        former = [holding.symbol for holding in self._portfolio.holdings()]
        former_futures = self._futures.held()
        self._portfolio = Portfolio(self.settings.cash)
        self._futures = FuturesBook()
        self._market.reset()
        for symbol in self._instruments:
            quote = self._market.quote(symbol)
            if self._walk is not None:
                self._walk.set_reference(symbol, last=quote.last, pre_close=quote.pre_close)
            self.sink.on_quote(quote)
        self.sink.on_state(STATE_RESET, self._trades[-1].id if self._trades else "")
        self._save_market()
        for symbol in former:
            self.sink.on_position(self._stock_position(symbol))
        for symbol, direction in former_futures:
            self.sink.on_position(self._futures_position(symbol, direction))
        self.sink.on_account(self._summary())

    # -- fills and endings ---------------------------------------------------------------

    def _match(self, symbol: str) -> None:
        """Fill the resting orders of `symbol` that cross its quote, in arrival order."""
        resting = self._resting.get(symbol)
        if not resting or not self._session(symbol).matches:
            return
        for ticket in list(resting.values()):
            quote = self._market.quote(symbol)
            execution = executable(ticket.order, ticket.remaining, quote, ticket.fill_step)
            if execution is not None:
                self._fill(ticket, execution)
                if ticket.remaining == 0:
                    del resting[ticket.order.id]

    def _fill(self, ticket: Ticket, execution: Execution) -> None:
        """Book one execution, consume the displayed size and push fill, position, account."""
        order, instrument = ticket.order, ticket.instrument
        qty, price = execution
        amount = round_money(price * qty * instrument.contract.multiplier)  # settled to the cent
        fee = ticket.fee_for(amount)
        ticket.filled_notional += amount
        ticket.filled_qty += qty
        ticket.status = (
            OrderStatus.FILLED if ticket.remaining == 0 else OrderStatus.PARTIALLY_FILLED
        )
        still_frozen = ticket.cash_reserved_for(ticket.remaining)
        unfrozen = ticket.frozen_cash - still_frozen
        ticket.frozen_cash = still_frozen
        book_execution(
            ticket.kind,
            ticket.direction,
            ticket.source,
            instrument,
            qty,
            price,
            amount,
            fee,
            released=unfrozen,
            portfolio=self._portfolio,
            futures=self._futures,
        )
        self._market.consume(order.symbol, order.side, qty)
        now = self._clock()
        trade = Trade(
            id=self._new_id(),
            order_id=order.id,
            client_order_id=order.client_order_id,
            account=self.account_id,
            symbol=order.symbol,
            side=order.side,
            qty=qty,
            price=price,
            fee=fee,
            time=now,
        )
        self._trades.append(trade)
        self.sink.on_fill(
            Fill(order_id=order.id, trade_id=trade.id, qty=qty, price=price, fee=fee, time=now)
        )
        self.sink.on_position(self._position_of(ticket))
        self.sink.on_account(self._summary())

    def _end(self, ticket: Ticket, status: OrderStatus, reason: str | None) -> None:
        """Cancel or expire the open remainder, release its freeze, push the update and what
        the release changed."""
        order = ticket.order
        released = release(ticket, self._portfolio, self._futures)
        ticket.status = status
        self._resting.get(order.symbol, {}).pop(order.id, None)
        self.sink.on_order_update(
            OrderUpdate(
                order_id=order.id,
                status=status,
                broker_order_id=ticket.broker_order_id,
                reason=reason,
            )
        )
        if released:
            self._push_reservation(ticket)

    def _push_reservation(self, ticket: Ticket) -> None:
        """Push what an order's freeze shows in: the position for a sell or close, the
        account for a buy or open."""
        if ticket.freezes_position:
            self.sink.on_position(self._position_of(ticket))
        else:
            self.sink.on_account(self._summary())

    @staticmethod
    def _unfilled_reason(ticket: Ticket) -> str:
        """Why the remainder of an order that cannot rest is canceled, for the trader."""
        order = ticket.order
        side = "ask" if order.side is Side.BUY else "bid"
        if order.time_in_force is TimeInForce.FOK:
            return f"fok: {order.qty} could not fill at once"
        if order.type is OrderType.LIMIT:
            return f"ioc: {ticket.remaining} unfilled"
        if ticket.filled_qty == 0:
            # A market order takes whatever its side shows, so it only misses a side with none.
            return f"market order: no {side} to trade against"
        return f"market order: the {side} had no size left for {ticket.remaining}"

    def _new_id(self) -> str:
        """A broker order or trade id: unique across restarts (the prefix is a fresh ULID),
        cheap to make (a counter after it)."""
        return f"{self._id_prefix}-{next(self._id_count)}"

    # -- views -------------------------------------------------------------------------

    def _position_of(self, ticket: Ticket) -> Position:
        if ticket.direction is not None:
            return self._futures_position(ticket.order.symbol, ticket.direction)
        return self._stock_position(ticket.order.symbol)

    def _stock_position(self, symbol: str) -> Position:
        instrument = self._instruments[symbol]
        return self._portfolio.position(
            symbol,
            instrument.currency,
            self._market.quote(symbol).last,
            instrument.cost_quantum,
        )

    def _futures_position(self, symbol: str, direction: Direction) -> Position:
        instrument = self._instruments[symbol]
        return self._futures.position(
            instrument.contract,
            direction,
            self._market.quote(symbol).last,
            instrument.cost_quantum,
        )

    def _all_positions(self) -> list[Position]:
        stocks = [self._stock_position(h.symbol) for h in self._portfolio.holdings()]
        futures = [self._futures_position(s, d) for s, d in self._futures.held()]
        return stocks + futures

    def _last(self, symbol: str) -> Decimal:
        return self._market.quote(symbol).last

    def _summary(self) -> AccountSummary:
        base = self.base_currency
        return self._portfolio.summary(
            self.account_id, base, self._last, self._futures.unrealized(base, self._last)
        )


def _after_reset(fills: list[JournalFill], last_before_reset: str | None) -> list[JournalFill]:
    """The fills booked since the last reset (after the fill it names; all if none)."""
    if not last_before_reset:
        return fills
    for index, fill in enumerate(fills):
        if fill.broker_trade_id == last_before_reset:
            return fills[index + 1 :]
    log.warning("the fill before the last reset, %s, is not in the journal", last_before_reset)
    return fills


def _trade_of(fill: JournalFill, account: str) -> Trade:
    """A journaled fill as the broker lists it (`query_trades`): with its own trade id."""
    return Trade(
        id=fill.broker_trade_id,
        order_id=fill.order_id,
        client_order_id=fill.client_order_id,
        account=account,
        symbol=fill.symbol,
        side=fill.side,
        qty=fill.qty,
        price=fill.price,
        fee=fill.fee,
        time=fill.time,
    )


def _check_session(order: Order, session: SessionState) -> None:
    """Refuse what the venue would not take now: anything outside its sessions, and orders
    that must trade at once (market, ioc, fok) outside continuous trading."""
    if not session.accepts_orders:
        raise OrderRejected(
            RejectReason.MARKET_CLOSED,
            f"{order.symbol}: the market is {session.broker_status.replace('_', ' ')}",
            {"broker_status": session.broker_status},
        )
    immediate = order.type is OrderType.MARKET or order.time_in_force in (
        TimeInForce.IOC,
        TimeInForce.FOK,
    )
    if immediate and not session.matches:
        raise OrderRejected(
            RejectReason.MARKET_CLOSED,
            f"{order.symbol}: only limit day or gtc orders are taken during the "
            f"{session.broker_status.replace('_', ' ')}",
            {"broker_status": session.broker_status},
        )
