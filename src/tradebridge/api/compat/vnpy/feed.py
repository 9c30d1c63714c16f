"""What the dialect's WebSockets receive: `{"type", "topic", "data"}` messages of the
account's orders, trades, positions and balance, and ticks of the subscribed symbols.

The feed is one listener of the worker's stream hub (no second event subscriber), attached
while at least one vnpy client is connected. It translates each event once and offers the
text to every client; the clients are `/api/v1/stream` connections without subscriptions,
so they keep their queues, backlog bound and tick conflation. Account events arrive through
the hub gap-free and in order; the feed translates them in that order on a task of its own,
because a trade of a futures order needs the order's offset, which our trades do not carry:
it is remembered from the order's events, or asked of the engine for an order placed before
the feed was attached.
"""

import asyncio
import contextlib
import logging
from typing import Protocol

import msgspec

from tradebridge.api.compat.vnpy.mapping import is_futures
from tradebridge.api.compat.vnpy.objects import Json, VnpyView
from tradebridge.api.compat.vnpy.subscriptions import TickSubscriptions
from tradebridge.api.engine_client import EngineClient
from tradebridge.api.stream.connection import Connection
from tradebridge.api.stream.hub import QuoteKey, StreamHub
from tradebridge.api.stream.messages import CloseCode, EncodedEvent
from tradebridge.domain.enums import EventType, Offset
from tradebridge.domain.errors import TradebridgeError
from tradebridge.domain.models import AccountSummary, Position, Quote, Trade
from tradebridge.domain.orders import Order

log = logging.getLogger(__name__)

TOPICS: dict[str, str] = {
    "tick": "eTick.",
    "order": "eOrder.",
    "trade": "eTrade.",
    "position": "ePosition.",
    "account": "eAccount.",
}
"""vnpy's event types, which vnpy_webtrader sends as `topic`."""

REFRESH_S = 1.0
"""How often the subscriptions file is looked at for symbols other workers added."""
OFFSETS_KEPT = 100_000


class _OrderMessage(msgspec.Struct):
    data: Order


class _TradeMessage(msgspec.Struct):
    data: Trade


class _PositionMessage(msgspec.Struct):
    data: Position


class _AccountMessage(msgspec.Struct):
    data: AccountSummary


class _QuoteMessage(msgspec.Struct):
    data: Quote


_order = msgspec.json.Decoder(_OrderMessage)
_trade = msgspec.json.Decoder(_TradeMessage)
_position = msgspec.json.Decoder(_PositionMessage)
_account = msgspec.json.Decoder(_AccountMessage)
_quote = msgspec.json.Decoder(_QuoteMessage)
_encode = msgspec.json.Encoder().encode


def vnpy_message(kind: str, data: Json) -> str:
    return _encode({"type": kind, "topic": TOPICS[kind], "data": data}).decode()


class ContractNames(Protocol):
    def name(self, symbol: str) -> str: ...


class VnpyFeed:
    """Implements the hub's `Listener`; every method the hub calls returns at once."""

    def __init__(
        self, view: VnpyView, subscriptions: TickSubscriptions, names: ContractNames
    ) -> None:
        self.view = view
        self._subscriptions = subscriptions
        self._names = names
        self._clients: set[Connection] = set()
        self._hub: StreamHub | None = None
        self._engine: EngineClient | None = None
        self._events: asyncio.Queue[EncodedEvent] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._watched: set[str] = set()
        self._offsets: dict[str, Offset | None] = {}

    # ----------------------------------------------------------------- clients

    def add(self, client: Connection, hub: StreamHub, engine: EngineClient) -> None:
        """Start sending to `client`; the first one attaches the feed to the hub."""
        self._clients.add(client)
        if len(self._clients) > 1:
            return
        self._hub, self._engine = hub, engine
        hub.register(self)
        hub.watch_account(self, self.view.account)
        self._follow_subscriptions()
        self._task = asyncio.create_task(self._run(), name="vnpy-feed")

    def remove(self, client: Connection) -> None:
        """Stop sending to `client`; without clients the feed leaves the hub."""
        self._clients.discard(client)
        if self._clients or self._hub is None:
            return
        self._hub.unregister(self)  # the account and every symbol too
        self._hub = None
        self._watched.clear()
        if self._task is not None:
            self._task.cancel()
            self._task = None
        self._events = asyncio.Queue()  # a new task starts with what comes from then on

    def subscribed(self, quote: Quote) -> None:
        """A symbol was subscribed through this worker: follow it, and show its current
        quote at once (as a gateway does after a subscription)."""
        if not self._clients:
            return
        self._follow_subscriptions()
        text = vnpy_message("tick", self.view.tick(quote, self._names.name(quote.symbol)))
        for client in list(self._clients):
            client.offer_quote((self.view.account, quote.symbol), text)

    def _follow_subscriptions(self) -> None:
        if self._hub is None:
            return
        for symbol in self._subscriptions.current() - self._watched:
            self._watched.add(symbol)
            self._hub.watch_symbol(self, self.view.account, symbol)

    # ----------------------------------------------------------------- the hub's Listener

    @property
    def last_heard(self) -> float:
        """Always now: the hub's heartbeat watch is for clients that read its pings; each
        vnpy client's socket is watched by the server's WebSocket pings instead."""
        return asyncio.get_running_loop().time()

    @last_heard.setter
    def last_heard(self, value: float) -> None:
        pass

    def offer_event(self, event: EncodedEvent) -> None:
        if self._clients:
            self._events.put_nowait(event)
            if self._hub is not None and self._events.qsize() > self._hub.limits.backlog:
                self._events = asyncio.Queue()
                self.abort(CloseCode.RESUME_REQUIRED, "too far behind; reconnect")

    def offer_quote(self, key: QuoteKey, text: str) -> None:
        if not self._clients:
            return
        quote = _quote.decode(text).data
        tick = vnpy_message("tick", self.view.tick(quote, self._names.name(quote.symbol)))
        for client in list(self._clients):
            client.offer_quote(key, tick)

    def offer_message(self, text: str) -> None:
        """Pings and engine or broker status: vnpy has no such messages."""

    def may_read(self, account: str) -> bool:
        return account == self.view.account

    def abort(self, code: int, reason: str, error: str | None = None) -> None:
        """The hub stops (shutdown), or the account's history was reset: the clients are
        closed and reconnect (vnpy clients have nothing to resume)."""
        for client in list(self._clients):
            client.abort(code, reason)

    # ----------------------------------------------------------------- translation

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        next_refresh = loop.time() + REFRESH_S
        while True:
            event: EncodedEvent | None = None
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(next_refresh - loop.time(), 0)):
                    event = await self._events.get()
            if loop.time() >= next_refresh:
                self._follow_subscriptions()
                next_refresh = loop.time() + REFRESH_S
            if event is None:
                continue
            try:
                text = await self._translate(event)
            except Exception:
                log.exception("vnpy feed: dropped event %d of %s", event.seq, event.account)
                continue
            for client in list(self._clients):
                client.offer_message(text)

    async def _translate(self, event: EncodedEvent) -> str:
        raw = event.contiguous
        if event.type is EventType.ORDER:
            order = _order.decode(raw).data
            self._remember_offset(order)
            return vnpy_message("order", self.view.order(order))
        if event.type is EventType.TRADE:
            trade = _trade.decode(raw).data
            return vnpy_message("trade", self.view.trade(trade, await self._offset(trade)))
        if event.type is EventType.POSITION:
            return vnpy_message("position", self.view.position(_position.decode(raw).data))
        return vnpy_message("account", self.view.account_data(_account.decode(raw).data))

    def _remember_offset(self, order: Order) -> None:
        if order.offset is None:
            return
        if len(self._offsets) >= OFFSETS_KEPT:
            self._offsets.clear()
        self._offsets[order.id] = order.offset

    async def _offset(self, trade: Trade) -> Offset | None:
        if not is_futures(trade.symbol):
            return None
        if trade.order_id in self._offsets or self._engine is None:
            return self._offsets.get(trade.order_id)
        try:
            order = await self._engine.get_order(self.view.account, trade.order_id)
        except TradebridgeError as exc:
            log.warning("vnpy feed: no offset for trade %s: %s", trade.id, exc.message)
            return None
        self._remember_offset(order)
        return order.offset
