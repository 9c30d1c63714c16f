"""`PaperBroker`: the embedded default broker, a venue simulator behind the `Broker` interface.

It wires the universe (`universe`), the simulated market (`market`), the fill model
(`matching`), venue rules (`rules`), fees (`fees`) and the books (`portfolio`), and reports
through the sink. Everything happens synchronously inside the method that causes it, so the
sink sees events in the order the engine journals them:

- accepted order: `NEW`, then per fill `on_fill`, `on_position`, `on_account`; then either the
  canceled remainder (`CANCELED` and the account or position whose freeze it released) or,
  for an order that rests without any fill, the account or position showing its freeze;
- `set_quote`: `on_quote`, then the fills of resting orders that now cross, in arrival order.

Fill updates carry no `OrderUpdate`: the engine derives `partially_filled`/`filled` from the
fills. Quote moves push no account or position: listeners value holdings from the quotes.

v0 scope: the market moves only through `set_quote`, for both values of `settings.market`
(`random_walk` comes with the next issue), and every venue is open all the time whatever
`settings.market_hours` says (`exchange` sessions come later too), so `day` orders never
expire. Fees are zero; price limits, T+1, maximum order sizes, the STAR/BJ lot rules and
futures are not simulated yet.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from tradebridge.brokers.base import (
    Broker,
    BrokerOrder,
    BrokerSink,
    Capabilities,
    Fill,
    OrderUpdate,
    VenueStatus,
)
from tradebridge.brokers.paper.fees import buy_cost, fee_for
from tradebridge.brokers.paper.market import QuoteBoard
from tradebridge.brokers.paper.matching import Execution, executable, rests
from tradebridge.brokers.paper.portfolio import Portfolio
from tradebridge.brokers.paper.rules import check_order
from tradebridge.brokers.paper.universe import Instrument, build_universe
from tradebridge.config import PaperSettings
from tradebridge.domain.enums import (
    ConnectionState,
    MarketStatus,
    OrderStatus,
    OrderType,
    RejectReason,
    Side,
    TimeInForce,
)
from tradebridge.domain.errors import NotCancelable, NotFound, OrderRejected, ValidationFailed
from tradebridge.domain.models import AccountSummary, Contract, Position, Quote, Trade
from tradebridge.domain.money import round_money
from tradebridge.domain.orders import Order
from tradebridge.domain.symbols import Venue, venue_of
from tradebridge.ids import IdGenerator


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(eq=False, slots=True)
class _PaperOrder:
    """The broker's record of one order it accepted."""

    order: Order
    instrument: Instrument
    broker_order_id: str
    freeze_price: Decimal | None
    """Buys: the price the cash freeze is computed at (the limit, or the ask when a market
    order arrived); None for sells and for a market buy that met no ask."""
    frozen_cash: Decimal
    status: OrderStatus = OrderStatus.NEW
    filled_qty: int = 0

    @property
    def remaining(self) -> int:
        return self.order.qty - self.filled_qty

    def cash_reserved_for(self, qty: int) -> Decimal:
        """Cash a buy keeps frozen while `qty` of it is open."""
        if self.freeze_price is None or qty == 0:
            return Decimal(0)
        return buy_cost(self.instrument.contract, qty, self.freeze_price)


class PaperBroker(Broker):
    name = "paper"
    capabilities = Capabilities(
        market_orders=True,
        modify=False,
        short_selling=False,
        futures_offsets=False,
        quote_streaming=True,
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
        self._clock = clock or _utc_now
        self._ids = IdGenerator()
        self._instruments = build_universe(settings.contracts)
        self._market = QuoteBoard(self._instruments, self._clock)
        self._portfolio = Portfolio(settings.cash)
        self._orders: dict[str, _PaperOrder] = {}
        self._resting: dict[str, dict[str, _PaperOrder]] = {}
        """Open orders by symbol, then by order id in arrival order."""
        self._trades: list[Trade] = []

    # -- connection --------------------------------------------------------------------

    async def connect(self) -> None:
        self.sink.on_connection(ConnectionState.CONNECTED, "paper broker ready")
        self.sink.on_account(self._summary())

    async def close(self) -> None:
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
        if order.id in self._orders:
            raise ValidationFailed(f"order {order.id} was already placed", {"field": "id"})
        check_order(instrument, order)
        quote = self._market.quote(order.symbol)
        if order.side is Side.BUY:
            record = self._accept_buy(instrument, order, quote)
        else:
            record = self._accept_sell(instrument, order)
        self._orders[order.id] = record
        self.sink.on_order_update(
            OrderUpdate(
                order_id=order.id,
                status=OrderStatus.NEW,
                broker_order_id=record.broker_order_id,
            )
        )
        execution = executable(order, record.remaining, quote)
        if execution is not None:
            self._fill(record, execution)
        if record.remaining == 0:
            return
        if not rests(order):
            self._cancel(record, self._unfilled_reason(record))
            return
        self._resting.setdefault(order.symbol, {})[order.id] = record
        if record.filled_qty == 0:
            self._push_reservation(record)

    async def cancel_order(self, order: Order) -> None:
        record = self._orders.get(order.id)
        if record is None:
            raise NotCancelable(
                f"order {order.id} is unknown to the paper broker", {"order_id": order.id}
            )
        if record.status.is_terminal:
            raise NotCancelable(
                f"order {order.id} is already {record.status.value}", {"order_id": order.id}
            )
        self._cancel(record, None)

    async def query_orders(self) -> list[BrokerOrder]:
        return [
            BrokerOrder(
                order_id=record.order.id,
                broker_order_id=record.broker_order_id,
                status=record.status,
                filled_qty=record.filled_qty,
            )
            for record in self._orders.values()
        ]

    async def query_trades(self) -> list[Trade]:
        return list(self._trades)

    # -- books -------------------------------------------------------------------------

    async def query_positions(self) -> list[Position]:
        return [self._position(holding.symbol) for holding in self._portfolio.holdings()]

    async def query_account(self) -> AccountSummary:
        return self._summary()

    # -- market ------------------------------------------------------------------------

    async def contracts(self) -> list[Contract]:
        return [instrument.contract for instrument in self._instruments.values()]

    async def quotes(self, symbols: list[str]) -> list[Quote]:
        return [self._market.quote(symbol) for symbol in symbols]

    async def market_status(self) -> list[VenueStatus]:
        venues = {venue_of(symbol) for symbol in self._instruments}
        return [
            VenueStatus(venue=venue.value, status=MarketStatus.OPEN, broker_status="always_open")
            for venue in Venue
            if venue in venues
        ]

    async def subscribe_quotes(self, symbols: list[str]) -> None:
        """Nothing to subscribe: every quote change is pushed. Unknown symbols: `NotFound`."""
        for symbol in symbols:
            if symbol not in self._instruments:
                raise NotFound(f"{symbol} is not traded by the paper broker")

    # -- paper controls (not part of the Broker interface) ------------------------------

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

        Omitted `bid`/`ask` are one tick below/above `last`; omitted sizes are the ones last
        set (so this restores depth that fills consumed); omitted `pre_close` is kept.
        Raises `NotFound` for an unknown symbol and `ValidationFailed` naming the field for
        a non-positive or off-tick price, `bid >= ask` or a negative size.
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
        self.sink.on_quote(quote)
        for record in list(self._resting.get(symbol, {}).values()):
            execution = executable(record.order, record.remaining, self._market.quote(symbol))
            if execution is not None:
                self._fill(record, execution)
                if record.remaining == 0:
                    del self._resting[symbol][record.order.id]
        return quote

    def reset(self) -> None:
        """Back to the configured cash with no positions, no open orders, initial quotes.

        Open orders are canceled with reason `reset`; then every quote, a qty-0 position for
        each former holding and the account are pushed. Order and trade history is kept.
        """
        for orders in self._resting.values():
            for record in orders.values():
                record.status = OrderStatus.CANCELED
                self.sink.on_order_update(
                    OrderUpdate(
                        order_id=record.order.id,
                        status=OrderStatus.CANCELED,
                        broker_order_id=record.broker_order_id,
                        reason="reset",
                    )
                )
        self._resting.clear()
        former = [holding.symbol for holding in self._portfolio.holdings()]
        self._portfolio = Portfolio(self.settings.cash)
        self._market.reset()
        for symbol in self._instruments:
            self.sink.on_quote(self._market.quote(symbol))
        for symbol in former:
            self.sink.on_position(self._position(symbol))
        self.sink.on_account(self._summary())

    # -- internals ---------------------------------------------------------------------

    def _accept_buy(self, instrument: Instrument, order: Order, quote: Quote) -> _PaperOrder:
        """Check the cash a buy needs; freeze it and return the order's record."""
        freeze_price = order.limit_price if order.type is OrderType.LIMIT else quote.ask
        record = _PaperOrder(
            order=order,
            instrument=instrument,
            broker_order_id=self._ids.new_id(),
            freeze_price=freeze_price,
            frozen_cash=Decimal(0),
        )
        needed = record.cash_reserved_for(order.qty)
        available = self._portfolio.available_cash(instrument.currency)
        if needed > available:
            at = f"{freeze_price}" if order.type is OrderType.LIMIT else f"market (ask {quote.ask})"
            raise OrderRejected(
                RejectReason.INSUFFICIENT_FUNDS,
                f"buy {order.qty} {order.symbol} at {at} needs {round_money(needed)} "
                f"{instrument.currency}, {round_money(available)} available",
                {"needed": str(round_money(needed)), "available": str(round_money(available))},
            )
        record.frozen_cash = needed
        self._portfolio.freeze_cash(instrument.currency, needed)
        return record

    def _accept_sell(self, instrument: Instrument, order: Order) -> _PaperOrder:
        """Check the shares a sell needs; freeze them and return the order's record."""
        holding = self._portfolio.holding(order.symbol)
        if holding is None:
            raise OrderRejected(
                RejectReason.INSUFFICIENT_POSITION,
                f"sell {order.qty} {order.symbol}: no position to sell "
                "(short selling is not supported)",
                {"available_qty": 0},
            )
        if order.qty > holding.available_qty:
            raise OrderRejected(
                RejectReason.INSUFFICIENT_POSITION,
                f"sell {order.qty} {order.symbol} needs {order.qty} shares available, "
                f"{holding.available_qty} available ({holding.qty} held, "
                f"{holding.frozen_qty} frozen by open sell orders)",
                {"available_qty": holding.available_qty},
            )
        self._portfolio.freeze_qty(order.symbol, order.qty)
        return _PaperOrder(
            order=order,
            instrument=instrument,
            broker_order_id=self._ids.new_id(),
            freeze_price=None,
            frozen_cash=Decimal(0),
        )

    def _fill(self, record: _PaperOrder, execution: Execution) -> None:
        """Book one execution, consume the displayed size and push fill, position, account."""
        order = record.order
        qty, price = execution
        fee = fee_for(record.instrument.contract, order.side, qty, price)
        record.filled_qty += qty
        record.status = (
            OrderStatus.FILLED if record.remaining == 0 else OrderStatus.PARTIALLY_FILLED
        )
        if order.side is Side.BUY:
            still_frozen = record.cash_reserved_for(record.remaining)
            self._portfolio.buy(
                order.symbol,
                record.instrument.currency,
                qty,
                price,
                fee,
                release=record.frozen_cash - still_frozen,
            )
            record.frozen_cash = still_frozen
        else:
            self._portfolio.sell(order.symbol, qty, price, fee)
        self._market.consume(order.symbol, order.side, qty)
        now = self._clock()
        trade = Trade(
            id=self._ids.new_id(),
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
        self.sink.on_position(self._position(order.symbol))
        self.sink.on_account(self._summary())

    def _cancel(self, record: _PaperOrder, reason: str | None) -> None:
        """Cancel the open remainder, release its freeze, push the update and what changed."""
        order = record.order
        released = order.side is Side.SELL or record.frozen_cash > 0
        if order.side is Side.BUY:
            self._portfolio.release_cash(record.instrument.currency, record.frozen_cash)
            record.frozen_cash = Decimal(0)
        else:
            self._portfolio.release_qty(order.symbol, record.remaining)
        record.status = OrderStatus.CANCELED
        self._resting.get(order.symbol, {}).pop(order.id, None)
        self.sink.on_order_update(
            OrderUpdate(
                order_id=order.id,
                status=OrderStatus.CANCELED,
                broker_order_id=record.broker_order_id,
                reason=reason,
            )
        )
        if released:
            self._push_reservation(record)

    def _push_reservation(self, record: _PaperOrder) -> None:
        """Push what an order's freeze shows in: the account for a buy, the position for a
        sell."""
        if record.order.side is Side.BUY:
            self.sink.on_account(self._summary())
        else:
            self.sink.on_position(self._position(record.order.symbol))

    @staticmethod
    def _unfilled_reason(record: _PaperOrder) -> str:
        """Why the remainder of an order that cannot rest is canceled, for the trader."""
        order = record.order
        side = "ask" if order.side is Side.BUY else "bid"
        if order.time_in_force is TimeInForce.FOK:
            return f"fok: {order.qty} could not fill at once"
        if order.type is OrderType.LIMIT:
            return f"ioc: {record.remaining} unfilled"
        if record.filled_qty == 0:
            # A market order takes whatever its side shows, so it only misses a side with none.
            return f"market order: no {side} to trade against"
        return f"market order: the {side} had no size left for {record.remaining}"

    def _position(self, symbol: str) -> Position:
        instrument = self._instruments[symbol]
        return self._portfolio.position(
            symbol,
            instrument.currency,
            self._market.quote(symbol).last,
            instrument.ticks.finest.scaleb(-2),
        )

    def _summary(self) -> AccountSummary:
        return self._portfolio.summary(
            self.account_id, self.base_currency, lambda symbol: self._market.quote(symbol).last
        )
