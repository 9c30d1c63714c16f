"""Settling an account's open orders with the broker: after a restart, after a reconnect, and
for an order whose placement got no answer.

Policy (docs/README.md "Restart and recovery"): orders placed outside tradebridge are
recorded, fills the journal lacks are booked once (by the broker's trade id), each open order
takes the broker's status; a cancel not seen answered is sent again; an acknowledged order
the broker no longer knows expires (`unknown_to_broker`). An order the broker never
received (`pending_new`): after a restart it is sent if at most `resubmit_within_s` old,
else it expires (`not_sent_before_restart`); in the same run (its placement got no answer)
it is looked up again and again, and never sent twice.
"""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Protocol, TypeVar

import msgspec

from tradebridge.brokers.base import Broker, BrokerOrder, OrderUpdate
from tradebridge.domain.enums import EventType, OrderStatus
from tradebridge.domain.errors import EngineUnavailable, NotCancelable, TradebridgeError
from tradebridge.domain.models import AccountSummary, Contract, Position
from tradebridge.domain.orders import Order, cancel_refused, transition
from tradebridge.engine.ledger import Ledger, now, position_key
from tradebridge.engine.reports import BrokerReports

log = logging.getLogger(__name__)
T = TypeVar("T")

LOOKUP_DELAYS_S = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
"""When an order whose placement got no answer is looked up at the broker again."""


class Ask(Protocol):
    """A broker call within the account's timeout, naming what it asks for."""

    def __call__(self, query: Awaitable[T], what: str, /) -> Awaitable[T]: ...


class Reconciler:
    def __init__(
        self,
        ledger: Ledger,
        reports: BrokerReports,
        *,
        broker: Callable[[], Broker],
        ask: Ask,
        contract: Callable[[str], Awaitable[Contract | None]],
        send: Callable[[Order], Awaitable[None]],
        connected: Callable[[], bool],
        resubmit_within_s: float,
    ) -> None:
        self._ledger = ledger
        self._reports = reports
        self._broker = broker
        self._ask = ask
        self._contract = contract
        self._send = send
        self._connected = connected
        self._resubmit_within_s = resubmit_within_s
        self._lookups: dict[str, asyncio.Task[None]] = {}

    def close(self) -> None:
        for task in list(self._lookups.values()):
            task.cancel()

    def take_books(
        self, positions: list[Position], summary: AccountSummary, *, announce: bool
    ) -> None:
        """The broker's books replace ours. After a reconnect, what changed while away is
        published (the first read at start publishes nothing: nothing changed)."""
        ledger = self._ledger
        fresh = {position_key(p): ledger.shown(p) for p in positions if p.qty}
        if announce:
            for key, position in fresh.items():
                if ledger.positions.get(key) != position:
                    ledger.emit(EventType.POSITION, position)
            for key, gone in ledger.positions.items():
                if key not in fresh:
                    ledger.emit(EventType.POSITION, msgspec.structs.replace(gone, qty=0))
            if summary != ledger.summary:
                ledger.emit(EventType.ACCOUNT, summary)
        ledger.positions = fresh
        ledger.summary = summary

    async def reconcile(self, order_ids: list[str], *, restarted: bool) -> None:
        """Bring `order_ids` (left open) and the fills of the day in line with the broker."""
        ledger, broker = self._ledger, self._broker()
        if order_ids:
            log.info("account %s: reconciling %d open orders", ledger.account_id, len(order_ids))
        for symbol in sorted({o.symbol for i in order_ids if (o := ledger.orders.open.get(i))}):
            with contextlib.suppress(TradebridgeError):
                await self._contract(symbol)  # their fills are averaged on the instrument's tick
        listed = await self._ask(broker.query_orders(), "its orders")
        for report in listed:
            known = ledger.orders.find(report.order_id, report.broker_order_id)
            if report.details is not None and known is None:
                self._reports.on_order_update(
                    OrderUpdate(
                        status=report.status,
                        order_id=report.order_id,
                        broker_order_id=report.broker_order_id,
                        reason=report.reason,
                        details=report.details,
                    )
                )
        for fill in await self._ask(broker.query_trades(), "its trades"):
            if fill.trade_id not in ledger.broker_trade_ids:
                self._reports.on_fill(fill)
        for order_id in order_ids:
            order = ledger.orders.open.get(order_id)
            if order is None:
                continue  # a fill just booked ended it
            found = next((r for r in listed if _reports_on(r, order)), None)
            if found is None:
                try:
                    found = await self._find(order)
                except TradebridgeError:
                    continue  # logged; it stays as it is until the next reconciliation
            if found is not None:
                await self._adopt(order, found)
            else:
                await self._never_received(order, restarted=restarted)

    async def _never_received(self, order: Order, *, restarted: bool) -> None:
        ledger = self._ledger
        resubmit_after = now() - timedelta(seconds=self._resubmit_within_s)
        if order.status is not OrderStatus.PENDING_NEW:
            ledger.store(transition(order, OrderStatus.EXPIRED, now(), reason="unknown_to_broker"))
        elif not restarted:
            self.look_up_later(order.id)
        elif order.created_at < resubmit_after or not self._resubmit_within_s:
            ledger.store(
                transition(order, OrderStatus.EXPIRED, now(), reason="not_sent_before_restart")
            )
        else:
            log.info(
                "account %s: sending order %s, never received by the broker",
                ledger.account_id,
                order.id,
            )
            with contextlib.suppress(TradebridgeError):  # the send recorded the outcome
                await self._send(order)

    async def _find(self, order: Order) -> BrokerOrder | None:
        try:
            return await self._ask(self._broker().find_order(order), "an order")
        except TradebridgeError as failed:
            log.error(
                "account %s: order %s stays %s: %s",
                self._ledger.account_id,
                order.id,
                order.status.value,
                failed.message,
            )
            raise

    async def _adopt(self, order: Order, found: BrokerOrder) -> None:
        """Take the broker's status for an order left open; send a pending cancel again."""
        if found.status is OrderStatus.FILLED:
            if order.filled_qty < order.qty:
                log.error(
                    "account %s: the broker has order %s filled, but only %d of %d filled are "
                    "known; it stays open until the broker's fills arrive",
                    self._ledger.account_id,
                    order.id,
                    order.filled_qty,
                    order.qty,
                )
            self._acknowledge(order, found.broker_order_id)
        elif found.status.is_terminal:
            self._reports.on_order_update(
                OrderUpdate(
                    order_id=order.id,
                    status=found.status,
                    broker_order_id=found.broker_order_id,
                    reason=found.reason or "reconciled with the broker",
                    filled_qty=found.filled_qty,
                )
            )
        elif order.status is OrderStatus.PENDING_NEW:
            self._acknowledge(order, found.broker_order_id)
        elif order.status is OrderStatus.PENDING_CANCEL and (
            found.status is not OrderStatus.PENDING_CANCEL
        ):
            try:
                await self._ask(self._broker().cancel_order(order), "the cancel")
            except NotCancelable:
                current = self._ledger.orders.open.get(order.id)
                if current is not None and current.status is OrderStatus.PENDING_CANCEL:
                    self._ledger.store(cancel_refused(current, now()))

    def _acknowledge(self, order: Order, broker_order_id: str | None) -> None:
        if order.status is OrderStatus.PENDING_NEW:
            self._reports.on_order_update(
                OrderUpdate(
                    order_id=order.id, status=OrderStatus.NEW, broker_order_id=broker_order_id
                )
            )

    def look_up_later(self, order_id: str) -> None:
        """An order whose placement got no answer: ask the broker about it now and then until
        it is known, never sending it again (the broker may have it)."""
        if order_id not in self._lookups:
            self._lookups[order_id] = asyncio.get_running_loop().create_task(
                self._look_up(order_id), name=f"look up {self._ledger.account_id} {order_id}"
            )

    async def _look_up(self, order_id: str) -> None:
        ledger = self._ledger
        try:
            for delay in LOOKUP_DELAYS_S:
                await asyncio.sleep(delay)
                order = ledger.orders.open.get(order_id)
                if order is None or order.status is not OrderStatus.PENDING_NEW:
                    return
                if not self._connected():
                    continue  # reconciled when the broker is back
                with contextlib.suppress(TradebridgeError):
                    found = await self._find(order)
                    if found is not None:
                        await self._adopt(order, found)
                        with contextlib.suppress(EngineUnavailable):
                            await ledger.journal.commit()
                        return
            log.error(
                "account %s: the broker still does not know order %s, whose placement got no "
                "answer; it stays pending_new until the broker reports it or the next restart",
                ledger.account_id,
                order_id,
            )
        finally:
            self._lookups.pop(order_id, None)


def _reports_on(report: BrokerOrder, order: Order) -> bool:
    """Whether the broker's `report` is about `order` (by our reference or its id)."""
    if report.order_id is not None:
        return report.order_id == order.id
    return report.broker_order_id is not None and report.broker_order_id == order.broker_order_id
