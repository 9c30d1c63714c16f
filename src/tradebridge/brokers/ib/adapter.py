"""The `ib` adapter: an account at Interactive Brokers through TWS or IB Gateway (ib_async).

- ib_async runs on its own thread and loop (`loop.IbLoop`, which says why); everything that
  touches it is in `session.IbSession`, reached through `IbLoop.run` with a timeout on every
  call. Its events become reports on the engine's loop through `LoopSink` (`reports.py`).
- Orders go to TWS with the tradebridge order id as `orderRef`; `place_order` returns once
  TWS acknowledged the order, raises `OrderRejected` with TWS's reason if TWS refused it, and
  `Timeout` (outcome unknown: the engine looks the order up by its reference, never sends it
  again) if TWS said nothing in time.
- The connection is the `Reconnector`'s: it reconnects with backoff after TWS goes away, and
  the engine then reconciles (`query_orders`: open and completed orders of every client;
  `query_trades`: the day's executions, whose commissions go out as `on_fee`).
- Orders entered outside tradebridge carry their details; a completed one is announced once
  (the perm ids announced are kept with `on_state`), so a restart does not record it again.
- Market status comes from the exchange calendars (TWS has no market status request).
"""

import asyncio
import json
import logging
from collections.abc import Callable, Coroutine
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar

import msgspec

from tradebridge.brokers.base import (
    Broker,
    BrokerOrder,
    BrokerSink,
    Capabilities,
    Fill,
    JournalSnapshot,
    VenueStatus,
    filter_contracts,
)
from tradebridge.brokers.ib.config import IbSettings
from tradebridge.brokers.ib.loop import IbLoop
from tradebridge.brokers.ib.session import IbSession
from tradebridge.brokers.paper.sessions import Sessions
from tradebridge.brokers.reconnect import Reconnector
from tradebridge.brokers.threads import LoopSink, SdkExecutor
from tradebridge.domain.enums import TimeInForce
from tradebridge.domain.errors import BrokerUnavailable
from tradebridge.domain.models import AccountSummary, Contract, Position, Quote
from tradebridge.domain.orders import Order
from tradebridge.domain.symbols import Market, market_of

log = logging.getLogger(__name__)
T = TypeVar("T")

EXTERNAL_STATE = "external_orders"
KEEP_EXTERNAL_DAYS = 3
"""Perm ids of orders from outside tradebridge announced this long ago are forgotten (TWS
lists completed orders of the current day only)."""
VENUES = ("AAPL.US", "00700.HK")
"""A symbol of each venue this adapter trades, for the market status."""
START_S = 10.0


class IbBroker(Broker):
    name = "ib"
    capabilities = Capabilities(
        markets=frozenset({Market.US_STOCK, Market.HK_STOCK}),
        market_orders=True,
        short_selling=True,  # IB decides what the account may sell and buy, and says why not
        broker_checks_funds=True,
        quote_streaming=True,
        bars=False,
        time_in_force=frozenset(TimeInForce),
    )

    def __init__(self, account_id: str, settings: IbSettings, sink: BrokerSink) -> None:
        super().__init__(account_id, sink)
        self._settings = settings
        self._loop = IbLoop(f"ib-{account_id}")
        self._session: IbSession | None = None
        self._reconnector = Reconnector(
            f"TWS at {settings.host}:{settings.port}",
            sink,
            self._connect_once,
            disconnect=self._drop_session,
        )
        self._external: dict[str, str] = {}
        """Perm id -> day announced, of orders placed outside tradebridge."""
        self._calendars = SdkExecutor(f"ib-{account_id}-calendar", timeout_s=10.0)
        self._market_hours = Sessions("exchange")
        self._warming: asyncio.Task[None] | None = None

    # ------------------------------------------------------------------ life cycle

    async def restore(self, snapshot: JournalSnapshot) -> None:
        stored = snapshot.state.get(EXTERNAL_STATE)
        if stored:
            self._external = dict(json.loads(stored))

    async def connect(self) -> None:
        self._loop.start()
        warm_up = self._calendars.run(self._market_hours.warm_up)  # ~1 s, off every loop
        self._warming = asyncio.get_running_loop().create_task(warm_up, name="ib calendars")
        self._warming.add_done_callback(_log_failure)
        s = self._settings
        await self._reconnector.start(min(2 * s.connect_timeout_s + s.request_timeout_s, START_S))

    async def _connect_once(self) -> str:
        session = await self._ensure_session()
        s = self._settings
        return await self._loop.run(
            session.connect, 2 * s.connect_timeout_s + s.request_timeout_s, "the connection"
        )

    async def _ensure_session(self) -> IbSession:
        if self._session is None:
            sink = LoopSink(self.sink, asyncio.get_running_loop())

            def make() -> IbSession:
                return IbSession(
                    self.account_id,
                    self._settings,
                    sink,
                    on_lost=self._reconnector.lost,
                    on_external=self._remember_external,
                )

            self._session = await self._loop.call(make, START_S, "starting ib_async")
        return self._session

    async def _drop_session(self) -> None:
        """After a loss: free what the lost connection held before the next attempt."""
        if self._session is not None:
            session = self._session
            await self._loop.call(lambda: session.disconnect("lost"), START_S, "disconnecting")

    async def close(self) -> None:
        await self._reconnector.stop()
        session = self._session
        if session is not None:
            try:
                await self._loop.call(lambda: session.disconnect("closed"), 2.0, "disconnecting")
            except Exception as failed:
                log.warning("disconnecting from TWS failed: %s", failed)
        await self._loop.stop()
        if self._warming is not None:
            self._warming.cancel()
        self._calendars.close()

    async def ping(self) -> bool:
        if self._session is None or not self._reconnector.connected:
            return False
        try:
            return await self._on_ib(self._session.ping, "a ping")
        except BrokerUnavailable:
            return False

    # ------------------------------------------------------------------ calls to TWS

    def _live(self) -> IbSession:
        if self._session is None or not self._reconnector.connected:
            raise BrokerUnavailable(f"account {self.account_id}: not connected to TWS")
        return self._session

    async def _on_ib(
        self,
        make: Callable[[], Coroutine[Any, Any, T]],
        what: str,
        timeout_s: float | None = None,
    ) -> T:
        limit = timeout_s if timeout_s is not None else self._settings.request_timeout_s + 1
        return await self._loop.run(make, limit, what)

    async def _call(self, function: Callable[[], T], what: str) -> T:
        return await self._loop.call(function, self._settings.request_timeout_s, what)

    # ------------------------------------------------------------------ orders

    async def place_order(self, order: Order) -> None:
        session = self._live()
        s = self._settings
        await self._on_ib(
            lambda: session.place(order),
            f"order {order.id}",
            s.order_ack_timeout_s + s.request_timeout_s + 1,
        )

    async def cancel_order(self, order: Order) -> None:
        session = self._live()
        await self._call(lambda: session.cancel(order.id, order.broker_order_id), "a cancel")

    async def query_orders(self) -> list[BrokerOrder]:
        session = self._live()
        orders = await self._on_ib(
            session.orders, "its orders", 2 * self._settings.request_timeout_s
        )
        listed, announced = [], []
        for found in orders:
            perm_id = found.broker_order_id
            if found.details is not None and perm_id is not None:
                if found.status.is_terminal and perm_id in self._external:
                    found = msgspec.structs.replace(found, details=None)  # recorded before
                else:
                    announced.append(perm_id)
            listed.append(found)
        self._remember_external(*announced)
        return listed

    def _remember_external(self, *perm_ids: str) -> None:
        """Orders from outside tradebridge reported with their details (on the loop)."""
        fresh = [p for p in perm_ids if p not in self._external]
        if not fresh:
            return
        today = date.today()
        oldest = (today - timedelta(days=KEEP_EXTERNAL_DAYS)).isoformat()
        kept = {p: day for p, day in self._external.items() if day >= oldest}
        kept.update(dict.fromkeys(fresh, today.isoformat()))
        self._external = kept
        self.sink.on_state(EXTERNAL_STATE, json.dumps(kept, sort_keys=True))

    async def query_trades(self) -> list[Fill]:
        """Today's executions; each commission TWS reported goes out as `on_fee` first, so a
        fill booked before with its fee pending gets it, and a new one is booked with it."""
        session = self._live()
        fills, fees = await self._on_ib(session.executions, "its executions")
        for fill in fills:
            fee = fees.get(fill.trade_id)
            if fee is not None:
                self.sink.on_fee(fill.trade_id, fee)
        return fills

    # ------------------------------------------------------------------ books

    async def query_positions(self) -> list[Position]:
        session = self._live()
        return await self._call(session.positions, "positions")

    async def query_account(self) -> AccountSummary:
        session = self._live()
        return await self._call(lambda: session.summary(self.account_id), "the account")

    # ------------------------------------------------------------------ market

    async def contract(self, symbol: str) -> Contract | None:
        if market_of(symbol) not in self.capabilities.markets:
            return None
        session = self._live()
        return await self._on_ib(lambda: session.contract(symbol), f"contract {symbol}")

    async def contracts(self, venue: str | None, text: str | None) -> list[Contract]:
        """The contracts looked up so far (IB has no listing of all of them)."""
        if self._session is None:
            return []
        session = self._session
        return filter_contracts(await self._call(session.listed, "its contracts"), venue, text)

    async def quotes(self, symbols: list[str]) -> list[Quote]:
        session = self._live()
        return await self._on_ib(lambda: session.snapshot(symbols), "quotes")

    async def subscribe_quotes(self, symbols: list[str]) -> None:
        session = self._live()
        await self._on_ib(lambda: session.subscribe(symbols), "a quote subscription")

    async def unsubscribe_quotes(self, symbols: list[str]) -> None:
        if self._session is None or not self._reconnector.connected:
            return  # the lost session streams nothing any more
        session = self._session
        await self._call(lambda: session.unsubscribe(symbols), "an unsubscription")

    async def market_status(self) -> list[VenueStatus]:
        states = await self._calendars.run(
            self._market_hours.venues_status, VENUES, datetime.now(UTC)
        )
        return [
            VenueStatus(venue=venue.value, status=state.status, broker_status=state.broker_status)
            for venue, state in states
        ]


def _log_failure(task: "asyncio.Task[None]") -> None:
    if not task.cancelled() and task.exception() is not None:
        log.warning("loading the exchange calendars failed: %s", task.exception())
