"""An account's quotes: which symbols its broker streams, and the latest quote of each.

Symbols are wanted by the web processes (their WebSocket clients' `quotes:SYMBOL`
subscriptions, renewed as leases, so a web that dies stops wanting them) and by the engine
itself (the symbols it was asked to quote or trade, most recent first, bounded). The broker
streams what is wanted (`subscribe_quotes` / `unsubscribe_quotes`); a broker without
streaming is polled (`quotes()`) every `poll_interval_s` instead. A quote is taken from
memory only while its symbol is streamed; otherwise it is asked of the broker.
"""

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar

from tradebridge.brokers.base import Broker
from tradebridge.domain.errors import NotFound, TradebridgeError
from tradebridge.domain.models import Quote

log = logging.getLogger(__name__)
T = TypeVar("T")

ENGINE_INTEREST = 200
"""Symbols the engine keeps streaming for itself (the most recently traded or asked)."""
MAX_WANTED = 5_000
"""Symbols streamed for one account at most; beyond, the oldest engine interest goes."""


class Ask(Protocol):
    def __call__(self, query: Awaitable[T], what: str, /) -> Awaitable[T]: ...


class QuoteFeed:
    def __init__(
        self,
        broker: Callable[[], Broker],
        publish: Callable[[Quote], None],
        ask: "Ask",
        *,
        poll_interval_s: float = 1.0,
    ) -> None:
        """`broker` gives the account's adapter (it may be replaced by an unavailable one);
        `ask` runs a broker call with the account's timeout (and names what it asks)."""
        self._broker = broker
        self._publish = publish
        self._ask = ask
        self._poll_interval_s = poll_interval_s
        self.latest: dict[str, Quote] = {}
        self._leases: dict[str, tuple[frozenset[str], float]] = {}
        self._engine_interest: OrderedDict[str, None] = OrderedDict()
        self._streaming: set[str] = set()
        self._applying = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None

    @property
    def streams(self) -> bool:
        return self._broker().capabilities.quote_streaming

    def start(self, name: str) -> None:
        self._task = asyncio.create_task(self._run(), name=f"quotes {name}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def on_quote(self, quote: Quote) -> None:
        self.latest[quote.symbol] = quote
        self._publish(quote)

    async def snapshot(self, symbols: list[str]) -> list[Quote]:
        """Quotes of `symbols`: streamed ones from memory, the others asked of the broker
        (and streamed from then on). Raises `NotFound` naming what the broker has not."""
        missing = [s for s in symbols if s not in self._streaming or s not in self.latest]
        if missing:
            for quote in await self._ask(self._broker().quotes(missing), "quotes"):
                self.latest[quote.symbol] = quote
            self.want(missing)
        absent = [s for s in symbols if s not in self.latest]
        if absent:
            raise NotFound(f"no quote for {', '.join(absent)}", {"symbols": absent})
        return [self.latest[s] for s in symbols]

    def want(self, symbols: list[str]) -> None:
        """The engine itself wants these streamed (it trades or quotes them)."""
        added = False
        for symbol in symbols:
            added |= symbol not in self._engine_interest
            self._engine_interest[symbol] = None
            self._engine_interest.move_to_end(symbol)
        while len(self._engine_interest) > ENGINE_INTEREST:
            self._engine_interest.popitem(last=False)
        if added:
            self._schedule_apply()

    async def lease(self, owner: str, symbols: list[str], lease_s: float) -> None:
        """`owner` (a web process) wants `symbols` streamed for `lease_s` seconds."""
        if symbols:
            self._leases[owner] = (frozenset(symbols), time.monotonic() + lease_s)
        else:
            self._leases.pop(owner, None)
        await self._apply()

    async def resubscribe(self) -> None:
        """After a reconnect: the broker's new session streams nothing yet."""
        self._streaming.clear()
        await self._apply()

    def _wanted(self) -> set[str]:
        now = time.monotonic()
        for owner in [o for o, (_, expires) in self._leases.items() if expires < now]:
            del self._leases[owner]
        wanted: set[str] = set()
        for symbols, _ in self._leases.values():
            wanted |= symbols
        for symbol in reversed(self._engine_interest):
            if len(wanted) >= MAX_WANTED:
                break
            wanted.add(symbol)
        return wanted

    def _schedule_apply(self) -> None:
        with contextlib.suppress(RuntimeError):  # no loop: applied by the next run
            asyncio.get_running_loop().create_task(self._apply())

    async def _apply(self) -> None:
        """Subscribe what is wanted and not streamed, unsubscribe what is no longer wanted."""
        if not self.streams:
            return
        async with self._applying:
            wanted = self._wanted()
            added = sorted(wanted - self._streaming)
            removed = sorted(self._streaming - wanted)
            try:
                if added:
                    await self._ask(self._broker().subscribe_quotes(added), "a quote subscription")
                    self._streaming |= set(added)
                if removed:
                    self._streaming -= set(removed)
                    for symbol in removed:
                        self.latest.pop(symbol, None)
                    await self._ask(self._broker().unsubscribe_quotes(removed), "an unsubscription")
            except TradebridgeError as failed:
                log.warning("quote subscription of %s failed: %s", added or removed, failed.message)

    async def _run(self) -> None:
        """Expire leases; poll a broker that does not stream."""
        while True:
            await asyncio.sleep(self._poll_interval_s)
            try:
                if self.streams:
                    await self._apply()
                    continue
                wanted = sorted(self._wanted())
                if wanted:
                    for quote in await self._ask(self._broker().quotes(wanted), "quotes"):
                        self.on_quote(quote)
            except TradebridgeError as failed:
                log.debug("polling quotes failed: %s", failed.message)
            except Exception:
                log.exception("the quote feed failed; trying again")
