"""What the broker reports, applied to the account's ledger: the engine side of `BrokerSink`.

Statuses go through the order state machine; fills move quantities (a broker's
`partially_filled`/`filled` status only means "acknowledged"); a report is matched to its
order by our reference or by the broker's order id. Brokers differ in the order they report
things, and each difference has its place here:
- a fill for an order not known yet (its first report still on the way) is held until the
  order is known;
- an order the broker reports ended while counting fills not yet sent ends when they came;
- a fee reported after its fill (IB) updates the trade, which is published again;
- an order placed outside tradebridge is recorded with `client_order_id` null.
"""

import asyncio
import contextlib
import logging
from collections.abc import Callable
from decimal import Decimal

import msgspec

from tradebridge.brokers.base import BrokerSink, Fill, OrderUpdate
from tradebridge.domain.enums import ConnectionState, EventType, OrderStatus
from tradebridge.domain.errors import EngineUnavailable, IllegalTransition
from tradebridge.domain.forms import price_on
from tradebridge.domain.models import AccountSummary, Position, Quote, Trade
from tradebridge.domain.orders import Order, apply_fill, cancel_refused, transition
from tradebridge.engine.ledger import Ledger, now

log = logging.getLogger(__name__)

FILLS_AWAITED_S = 30.0
"""How long an order the broker reports ended waits for fills the broker counted but has not
sent yet, before it ends anyway (the fills that come later are then refused and logged)."""
MAX_HELD = 10_000
"""Fills (and early fees) held for an order the broker has not told us about yet."""


class BrokerReports(BrokerSink):
    def __init__(
        self,
        ledger: Ledger,
        *,
        on_quote: Callable[[Quote], None],
        on_connection: Callable[[ConnectionState, str], None],
    ) -> None:
        self._ledger = ledger
        self._on_quote = on_quote
        self._on_connection = on_connection
        self._commits: set[asyncio.Task[None]] = set()
        self.fee_pending: dict[str, Trade] = {}
        """Trades booked without a fee, by broker trade id."""
        self._early_fees: dict[str, Decimal] = {}
        self._held_fills: dict[str, list[Fill]] = {}
        self._ending: dict[str, tuple[OrderUpdate, asyncio.TimerHandle]] = {}

    def close(self) -> None:
        for _, timer in self._ending.values():
            timer.cancel()

    # ----------------------------------------------------------------- orders

    def on_order_update(self, update: OrderUpdate) -> None:
        ledger = self._ledger
        order = ledger.orders.find(update.order_id, update.broker_order_id)
        if order is None:
            if update.details is not None:
                self._record_external(update)
            else:
                log.warning(
                    "account %s: broker update for unknown order %s/%s (%s) ignored",
                    ledger.account_id,
                    update.order_id,
                    update.broker_order_id,
                    update.status.value,
                )
            return
        if order.status.is_terminal:
            if update.status is not order.status:
                log.warning(
                    "account %s: broker says %s for order %s, already %s: ignored",
                    ledger.account_id,
                    update.status.value,
                    order.id,
                    order.status.value,
                )
            return
        status = update.status
        if status is OrderStatus.PENDING_NEW:
            status = order.status  # the broker has it, not yet acknowledged by the venue
        elif status in (OrderStatus.PARTIALLY_FILLED, OrderStatus.FILLED):
            # acknowledged; quantities move with the fills themselves
            status = OrderStatus.NEW if order.status is OrderStatus.PENDING_NEW else order.status
        elif status.is_terminal and (update.filled_qty or 0) > order.filled_qty:
            self._end_after_fills(order, update)
            return
        elif status is OrderStatus.NEW and order.status in (
            OrderStatus.PENDING_CANCEL,
            OrderStatus.PARTIALLY_FILLED,
        ):
            status = order.status  # still working: the fills or the cancel's outcome decide
        if status is order.status:
            if update.broker_order_id and update.broker_order_id != order.broker_order_id:
                self._store(msgspec.structs.replace(order, broker_order_id=update.broker_order_id))
            return
        try:
            updated = transition(
                order, status, now(), reason=update.reason, broker_order_id=update.broker_order_id
            )
        except IllegalTransition as refused:
            log.warning("account %s: refused broker update: %s", ledger.account_id, refused.message)
            return
        self._store(updated)

    def _end_after_fills(self, order: Order, update: OrderUpdate) -> None:
        """The broker ended `order` counting fills not yet here: end it when they are (or
        after `FILLS_AWAITED_S`)."""
        if order.id in self._ending:
            self._ending[order.id][1].cancel()
        timer = asyncio.get_running_loop().call_later(FILLS_AWAITED_S, self._end_late, order.id)
        self._ending[order.id] = (update, timer)

    def _end_late(self, order_id: str) -> None:
        update, _ = self._ending[order_id]
        log.error(
            "account %s: order %s ends %s without the last fills the broker counted",
            self._ledger.account_id,
            order_id,
            update.status.value,
        )
        self._end_now(order_id)
        commit = asyncio.get_running_loop().create_task(self._commit())  # no caller waits
        self._commits.add(commit)
        commit.add_done_callback(self._commits.discard)

    async def _commit(self) -> None:
        with contextlib.suppress(EngineUnavailable):  # the engine stops; logged there
            await self._ledger.journal.commit()

    def _end_now(self, order_id: str) -> None:
        update, timer = self._ending.pop(order_id)
        timer.cancel()
        self.on_order_update(msgspec.structs.replace(update, filled_qty=None))

    def _record_external(self, update: OrderUpdate) -> None:
        """An order placed outside tradebridge (in the broker's own app): recorded with
        `client_order_id` null, followed from then on, touched only if a caller cancels it."""
        details = update.details
        assert details is not None
        status = update.status
        if status in (OrderStatus.PENDING_NEW, OrderStatus.PARTIALLY_FILLED, OrderStatus.FILLED):
            status = OrderStatus.NEW  # the broker has it; its fills follow
        limit = details.limit_price
        if limit is not None:
            limit = price_on(self._ledger.ladder(details.symbol, limit), limit)
        order = Order(
            id=self._ledger.ids.new_id(),
            client_order_id=None,
            account=self._ledger.account_id,
            symbol=details.symbol,
            side=details.side,
            offset=details.offset,
            type=details.type,
            time_in_force=details.time_in_force,
            qty=details.qty,
            limit_price=limit,
            filled_qty=0,
            avg_fill_price=None,
            status=status,
            reject_reason=update.reason if status.is_terminal else None,
            broker_order_id=update.broker_order_id,
            created_at=details.created_at,
            updated_at=now(),
        )
        log.info(
            "account %s: order %s placed outside tradebridge recorded as %s",
            self._ledger.account_id,
            update.broker_order_id,
            order.id,
        )
        self._store(order, new=True)

    def _store(self, order: Order, *, new: bool = False) -> None:
        """The ledger's `store` (`store_new` for an order it has not seen), then the fills
        held for an order whose broker id it learns."""
        held = None
        if order.broker_order_id is not None:
            held = self._held_fills.pop(order.broker_order_id, None)
        if new:
            self._ledger.store_new(order)
        else:
            self._ledger.store(order)
        for fill in held or ():
            self.on_fill(fill)

    # ----------------------------------------------------------------- fills and fees

    def on_fill(self, fill: Fill) -> None:
        ledger = self._ledger
        if fill.trade_id in ledger.broker_trade_ids:
            log.info("account %s: fill %s already applied", ledger.account_id, fill.trade_id)
            return
        order = ledger.orders.find(fill.order_id, fill.broker_order_id)
        if order is None:
            self._hold(fill)
            return
        ladder = ledger.ladder(order.symbol, fill.price)
        price = price_on(ladder, fill.price)
        try:
            updated = apply_fill(order, fill.qty, price, ladder.tick_at(price), fill.time)
        except IllegalTransition as refused:
            log.warning("account %s: refused fill: %s", ledger.account_id, refused.message)
            return
        fee = fill.fee if fill.fee is not None else self._early_fees.pop(fill.trade_id, None)
        trade = Trade(
            id=ledger.ids.new_id(),
            order_id=order.id,
            client_order_id=order.client_order_id,
            account=ledger.account_id,
            symbol=order.symbol,
            side=order.side,
            qty=fill.qty,
            price=price,
            fee=fee,
            time=fill.time,
        )
        if fee is None:
            self.fee_pending[fill.trade_id] = trade
        if updated.broker_order_id is None and fill.broker_order_id is not None:
            updated = msgspec.structs.replace(updated, broker_order_id=fill.broker_order_id)
        self._store(updated)
        ledger.book_trade(trade, fill.trade_id)
        ending = self._ending.get(order.id)
        if ending is not None and updated.status.is_terminal:
            self._ending.pop(order.id)[1].cancel()  # filled after all
        elif ending is not None and updated.filled_qty >= (ending[0].filled_qty or 0):
            self._end_now(order.id)

    def _hold(self, fill: Fill) -> None:
        account = self._ledger.account_id
        if fill.broker_order_id is None or len(self._held_fills) >= MAX_HELD:
            log.warning(
                "account %s: fill %s for unknown order %s ignored",
                account,
                fill.trade_id,
                fill.order_id,
            )
            return
        held = self._held_fills.setdefault(fill.broker_order_id, [])
        if all(f.trade_id != fill.trade_id for f in held):
            held.append(fill)
        log.info(
            "account %s: fill %s of order %s held until the order is known",
            account,
            fill.trade_id,
            fill.broker_order_id,
        )

    def on_fee(self, trade_id: str, fee: Decimal) -> None:
        trade = self.fee_pending.pop(trade_id, None)
        if trade is None:
            known = trade_id in self._ledger.broker_trade_ids
            if not known and len(self._early_fees) < MAX_HELD:
                self._early_fees[trade_id] = fee  # the fee came before its fill
            return
        self._ledger.journal.stage_trade_fee(trade.id, fee)
        self._ledger.emit(EventType.TRADE, msgspec.structs.replace(trade, fee=fee))

    def on_cancel_refused(
        self, order_id: str | None, broker_order_id: str | None, reason: str
    ) -> None:
        order = self._ledger.orders.find(order_id, broker_order_id)
        if order is None or order.status is not OrderStatus.PENDING_CANCEL:
            return
        log.info(
            "account %s: the broker refused to cancel %s: %s",
            self._ledger.account_id,
            order.id,
            reason,
        )
        self._store(cancel_refused(order, now()))

    # ----------------------------------------------------------------- books, market, link

    def on_position(self, position: Position) -> None:
        self._ledger.set_position(position)

    def on_account(self, summary: AccountSummary) -> None:
        self._ledger.set_summary(summary)

    def on_quote(self, quote: Quote) -> None:
        self._on_quote(quote)

    def on_connection(self, state: ConnectionState, message: str) -> None:
        self._on_connection(state, message)

    def on_state(self, key: str, value: str) -> None:
        self._ledger.journal.stage_state(self._ledger.account_id, key, value)
