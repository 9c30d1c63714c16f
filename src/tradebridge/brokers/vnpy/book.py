"""What the gateway has told us, on the engine loop: the day's orders and trades, positions,
the account, instruments and ticks; and which of its orders are ours.

vnpy gateways have no client reference on most brokers (CTP's ids are
`frontid_sessionid_orderref`, made by the gateway), so the book keeps our order id by vnpy's
`vt_orderid`, and keeps it durable through `sink.on_state` (journaled with the order that got
it). An order of the gateway is ours when:
- its `vt_orderid` is known (placed in this run, or stored by an earlier one);
- it echoes our id as `reference` (the order `send_order` makes from our `OrderRequest`);
- it is pushed while one of our `send_order` calls is still in progress: it is held until the
  call returns, so an exchange's answer overtaking the gateway's return value is not taken
  for an order placed elsewhere;
- at login after a restart, it is the first order replayed with the parameters of an order the
  journal has as sent but never acknowledged (killed between `send_order` and the journal's
  commit of its id): adopted, never sent twice.
Any other order was placed outside tradebridge (in the broker's own app) and is reported
with its details, once.

A login starts a session: the gateway replays the day's orders and trades (CTP's private flow
from the day's start, the others' queries at login); what it did not replay is no longer at
the broker, so `orders()` and `fills()` list what this session has seen.
"""

import asyncio
import contextlib
import json
import logging
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import msgspec

from tradebridge.brokers.base import (
    BrokerOrder,
    BrokerSink,
    Fill,
    JournalSnapshot,
    OrderUpdate,
)
from tradebridge.brokers.vnpy.mapping import same_offset
from tradebridge.brokers.vnpy.reports import (
    GatewayAccount,
    GatewayContract,
    GatewayOrder,
)
from tradebridge.domain.enums import OrderStatus
from tradebridge.domain.models import AccountSummary, Balance, Contract, Position, Quote
from tradebridge.domain.orders import Order
from tradebridge.domain.symbols import venue_of

log = logging.getLogger(__name__)

STATE_PREFIX = "vt:"
"""`on_state` keys: `vt:<vt_orderid>` -> {"order": our id or null (placed elsewhere), "day"}."""
KEEP_DAYS = 7
"""Stored ids older than this are not loaded: vnpy ids are unique within a trading day (and
a weekend), and a stale one must not claim an order of another day."""
MATCH_SKEW_S = 60.0
"""At a restart, a replayed order is adopted for a journaled one if placed at most this long
before it (the broker's clock against ours)."""
REJECT_REASON_WAIT_S = 0.3
"""Gateways log the reason of a rejection right after pushing it (CTP `onRspOrderInsert`)."""
LOG_LINES = 50

_RANK = {
    OrderStatus.PENDING_NEW: 0,
    OrderStatus.NEW: 1,
    OrderStatus.PARTIALLY_FILLED: 2,
}
_HELD = object()


def _position_key(position: Position) -> str:
    direction = position.direction
    return position.symbol if direction is None else f"{position.symbol}:{direction.value}"


def _rank(status: OrderStatus) -> int:
    return _RANK.get(status, 3)


class GatewayBook:
    """The loop side of the bridge (`reports.Receiver`); every method runs on the loop."""

    def __init__(self, account_id: str, currency: str, sink: BrokerSink, flagged: bool) -> None:
        self._account_id = account_id
        self._currency = currency
        self._sink = sink
        self._flagged = flagged
        """Whether the gateway has a login flag (else logged in = an account was reported)."""
        self.ours: dict[str, str] = {}
        """Our order id by vt_orderid."""
        self._vt_orderids: dict[str, str] = {}
        """vt_orderid by our order id."""
        self.external: set[str] = set()
        """vt_orderids of orders placed elsewhere, already reported with their details."""
        self._in_flight: dict[str, Order] = {}
        self.after_events: Callable[[Callable[[], None]], None] = lambda then: then()
        """Runs `then` on the loop once every event the gateway put so far is in (the
        adapter's barrier)."""
        self._orphans: list[Order] = []
        self._held: list[tuple[str, Any]] = []
        self._rejects: dict[str, tuple[OrderUpdate, asyncio.TimerHandle]] = {}
        self.orders: dict[str, GatewayOrder] = {}
        self._fills: dict[str, Fill] = {}
        self._seen: dict[str, int] = {}
        """The session each order and fill was last pushed in."""
        self.session = 0
        self.logged_in = False
        self.login_at: float | None = None
        self.account_at: float | None = None
        self.last_activity = 0.0
        """When a contract, order or trade last came (the login replay is over when quiet)."""
        self.contracts: dict[str, GatewayContract] = {}
        self._positions: dict[str, Position] = {}
        self._accounts: dict[str, GatewayAccount] = {}
        self._summary: AccountSummary | None = None
        self.ticks: dict[str, Quote] = {}
        self._ticked = asyncio.Event()
        self.streaming: set[str] = set()
        self._logs: deque[tuple[int, float, str]] = deque(maxlen=LOG_LINES)
        self.log_seq = 0

    # ----------------------------------------------------------------- restore

    def restore(self, snapshot: JournalSnapshot, today: date) -> None:
        """Our ids from the journal: each open order's vt_orderid, and those stored."""
        oldest = (today - timedelta(days=KEEP_DAYS)).isoformat()
        for key, value in snapshot.state.items():
            if not key.startswith(STATE_PREFIX):
                continue
            stored = json.loads(value)
            if stored["day"] < oldest:
                continue
            vt_orderid = key.removeprefix(STATE_PREFIX)
            if stored["order"] is None:
                self.external.add(vt_orderid)
            else:
                self._know(vt_orderid, stored["order"])
        for order in snapshot.open_orders:
            if order.broker_order_id is not None:
                self._know(order.broker_order_id, order.id)
            elif order.status is OrderStatus.PENDING_NEW and order.id not in self._vt_orderids:
                self._orphans.append(order)

    def end_replay(self) -> None:
        """The login replay is over: a journaled order not adopted by now was never received
        (the engine sends it again or expires it)."""
        if self._orphans:
            log.info(
                "account %s: %d orders journaled as sent were not replayed by the gateway",
                self._account_id,
                len(self._orphans),
            )
        self._orphans.clear()

    # ----------------------------------------------------------------- our sends

    def sending(self, order: Order) -> None:
        self._in_flight[order.id] = order
        self._orphans = [o for o in self._orphans if o.id != order.id]

    def sent(self, order_id: str, vt_orderid: object) -> None:
        """`send_order` returned (on its thread; posted before the caller resumes). Without
        an id, the order stays in flight until the events the gateway put meanwhile are in:
        one of them may be the order, with our reference (vnpy_hft 1.0.3 returns None)."""
        if not (isinstance(vt_orderid, str) and vt_orderid):
            self.after_events(lambda: self._settle(order_id))
            return
        if vt_orderid not in self.ours:
            self._adopt(vt_orderid, order_id)
        self._settle(order_id)

    def _settle(self, order_id: str) -> None:
        self._in_flight.pop(order_id, None)
        if not self._in_flight:
            held, self._held = self._held, []
            for kind, item in held:
                self._take(kind, item)

    def vt_orderid_of(self, order_id: str) -> str | None:
        return self._vt_orderids.get(order_id)

    def _know(self, vt_orderid: str, order_id: str) -> None:
        self.ours[vt_orderid] = order_id
        self._vt_orderids[order_id] = vt_orderid

    def _adopt(self, vt_orderid: str, order_id: str) -> None:
        self._know(vt_orderid, order_id)
        self._store(vt_orderid, order_id)
        self._sink.on_order_update(
            OrderUpdate(
                status=OrderStatus.PENDING_NEW, order_id=order_id, broker_order_id=vt_orderid
            )
        )

    def _store(self, vt_orderid: str, order_id: str | None) -> None:
        day = datetime.now(UTC).date().isoformat()
        value = json.dumps({"order": order_id, "day": day}, separators=(",", ":"))
        self._sink.on_state(STATE_PREFIX + vt_orderid, value)

    # ----------------------------------------------------------------- orders and trades

    def on_gateway_order(self, order: GatewayOrder) -> None:
        self.last_activity = time.monotonic()
        self._take("order", order)

    def on_gateway_trade(self, fill: Fill) -> None:
        self.last_activity = time.monotonic()
        self._take("trade", fill)

    def _take(self, kind: str, item: Any) -> None:
        if kind == "order":
            vt_orderid = item.vt_orderid
            order_id = self._owner(vt_orderid, item.reference, item)
        else:
            vt_orderid = item.broker_order_id
            order_id = self._owner(vt_orderid, "", None)
        if order_id is _HELD:
            self._held.append((kind, item))
            return
        assert order_id is None or isinstance(order_id, str)
        if kind == "order":
            self._order(item, order_id)
        else:
            self._trade(item, order_id)

    def _owner(self, vt_orderid: str, reference: str, order: GatewayOrder | None) -> object:
        """Our order id for `vt_orderid`, None if it was placed elsewhere, `_HELD` if that
        cannot be told yet."""
        found = self.ours.get(vt_orderid)
        if found is not None:
            return found
        if vt_orderid in self.external:
            return None
        if reference and reference in self._in_flight:
            self._adopt(vt_orderid, reference)
            return reference
        if self._in_flight:
            return _HELD
        if order is not None:
            orphan = self._replayed(order)
            if orphan is not None:
                log.info(
                    "account %s: order %s, journaled as sent, is the gateway's %s",
                    self._account_id,
                    orphan.id,
                    vt_orderid,
                )
                self._orphans.remove(orphan)
                self._adopt(vt_orderid, orphan.id)
                return orphan.id
        return None

    def _replayed(self, order: GatewayOrder) -> Order | None:
        details = order.details
        venue = venue_of(details.symbol)
        for orphan in self._orphans:
            if (
                orphan.symbol == details.symbol
                and orphan.side is details.side
                and orphan.qty == details.qty
                and orphan.type is details.type
                and orphan.time_in_force is details.time_in_force
                and orphan.limit_price == details.limit_price
                and same_offset(orphan.offset, details.offset, venue)
                and (
                    order.time is None
                    or order.time >= orphan.created_at - timedelta(seconds=MATCH_SKEW_S)
                )
            ):
                return orphan
        return None

    def _order(self, order: GatewayOrder, order_id: str | None) -> None:
        vt_orderid = order.vt_orderid
        previous = self.orders.get(vt_orderid)
        self._seen[vt_orderid] = self.session
        if previous is not None and _rank(order.status) < _rank(previous.status):
            return  # behind: the SUBMITTING `send_order` put can come after the broker's answer
        self.orders[vt_orderid] = order
        first_external = order_id is None and vt_orderid not in self.external
        if first_external:
            self.external.add(vt_orderid)
            self._store(vt_orderid, None)
        update = OrderUpdate(
            status=order.status,
            order_id=order_id,
            broker_order_id=vt_orderid,
            filled_qty=order.filled_qty,
            details=order.details if first_external else None,
        )
        if order.status is OrderStatus.REJECTED and vt_orderid not in self._rejects:
            handle = asyncio.get_running_loop().call_later(
                REJECT_REASON_WAIT_S, self._reject, vt_orderid, None
            )
            self._rejects[vt_orderid] = (update, handle)
            return
        self._sink.on_order_update(update)

    def _reject(self, vt_orderid: str, reason: str | None) -> None:
        """A rejection, with the gateway's log line that says why."""
        update, handle = self._rejects.pop(vt_orderid)
        handle.cancel()
        if reason is None:
            recent = [m for _, at, m in self._logs if at >= time.monotonic() - 1.0]
            reason = recent[-1] if recent else "rejected by the gateway"
        self._sink.on_order_update(msgspec.structs.replace(update, reason=reason))

    def _trade(self, fill: Fill, order_id: str | None) -> None:
        self._fills[fill.trade_id] = fill
        self._seen[fill.trade_id] = self.session
        self._sink.on_fill(msgspec.structs.replace(fill, order_id=order_id))

    def _current(self, key: str) -> bool:
        return not self._flagged or self._seen.get(key) == self.session

    def broker_orders(self) -> list[BrokerOrder]:
        """The orders of this session, as the reconciler takes them."""
        listed = []
        for vt_orderid, order in self.orders.items():
            if not self._current(vt_orderid):
                continue
            order_id = self.ours.get(vt_orderid)
            listed.append(
                BrokerOrder(
                    order_id=order_id,
                    broker_order_id=vt_orderid,
                    status=order.status,
                    filled_qty=order.filled_qty,
                    details=None if order_id else order.details,
                )
            )
        return listed

    def fills(self) -> list[Fill]:
        return [
            msgspec.structs.replace(fill, order_id=self.ours.get(fill.broker_order_id or ""))
            for trade_id, fill in self._fills.items()
            if self._current(trade_id)
        ]

    # ----------------------------------------------------------------- books

    def on_gateway_position(self, position: Position) -> None:
        key = _position_key(position)
        if self._positions.get(key) != position:
            self._positions[key] = position
            self._sink.on_position(position)

    def positions(self) -> list[Position]:
        return [p for p in self._positions.values() if p.qty]

    def on_gateway_account(self, account: GatewayAccount) -> None:
        self.account_at = time.monotonic()
        if not self._flagged and not self.logged_in:
            self._login(True)
        self._accounts[account.vt_accountid] = account
        summary = self._summarize()
        if summary != self._summary:
            self._summary = summary
            self._sink.on_account(summary)

    def _summarize(self) -> AccountSummary:
        accounts = self._accounts.values()
        cash = sum((a.balance for a in accounts), Decimal(0))
        frozen = sum((a.frozen for a in accounts), Decimal(0))
        available = sum((a.available for a in accounts), Decimal(0))
        pnl = sum((p.unrealized_pnl for p in self._positions.values()), Decimal(0))
        return AccountSummary(
            account=self._account_id,
            currency=self._currency,
            cash=cash,
            available=available,
            frozen=frozen,
            market_value=Decimal(0),
            equity=cash,
            realized_pnl=Decimal(0),
            unrealized_pnl=pnl,
            balances=[
                Balance(currency=self._currency, cash=cash, available=available, frozen=frozen)
            ],
        )

    def summary(self) -> AccountSummary | None:
        return self._summary

    # ----------------------------------------------------------------- market, link

    def on_gateway_contract(self, contract: GatewayContract) -> None:
        self.last_activity = time.monotonic()
        self.contracts[contract.contract.symbol] = contract

    def contract(self, symbol: str) -> Contract | None:
        found = self.contracts.get(symbol)
        if found is None:
            return None
        quote = self.ticks.get(symbol)
        if quote is not None and quote.pre_close is not None:
            return msgspec.structs.replace(found.contract, pre_close=quote.pre_close)
        return found.contract

    def on_gateway_tick(self, quote: Quote) -> None:
        self.ticks[quote.symbol] = quote
        self._ticked.set()
        if quote.symbol in self.streaming:
            self._sink.on_quote(quote)

    async def wait_for_ticks(self, symbols: list[str], timeout_s: float) -> None:
        """Until each of `symbols` has a tick, or `timeout_s` passed."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_s):
                while any(s not in self.ticks for s in symbols):
                    self._ticked.clear()
                    await self._ticked.wait()

    def on_gateway_log(self, message: str) -> None:
        self.log_seq += 1
        self._logs.append((self.log_seq, time.monotonic(), message))
        log.info("account %s: vnpy gateway: %s", self._account_id, message)
        for vt_orderid in list(self._rejects):
            self._reject(vt_orderid, message)

    def logs_since(self, seq: int) -> list[str]:
        return [message for number, _, message in self._logs if number > seq]

    @property
    def last_log(self) -> str:
        return self._logs[-1][2] if self._logs else ""

    def on_gateway_login(self, logged_in: bool) -> None:
        self._login(logged_in)

    def _login(self, logged_in: bool) -> None:
        self.logged_in = logged_in
        if logged_in:
            self.session += 1
            self.login_at = time.monotonic()
            self.account_at = self.account_at if not self._flagged else None

    def ready(self, settle_s: float) -> bool:
        """Logged in, the account reported, and the login replay over (instruments came and
        nothing came for `settle_s`)."""
        if not self.logged_in or self.login_at is None or self.account_at is None:
            return False
        if not self.contracts:
            return False
        quiet_since = max(self.login_at, self.last_activity)
        return time.monotonic() - quiet_since >= settle_s

    def close(self) -> None:
        for _, handle in self._rejects.values():
            handle.cancel()
        self._rejects.clear()
