"""The quote symbols this web process's clients want, told to the engine as leases.

The engine asks its brokers to stream only what some web wants (`market.watch_quotes`), so a
web announces, per account, every symbol any of its WebSocket clients subscribed to: soon
after a change, again every `LEASE_S / 3` (a web that dies stops wanting them when its lease
ends), and at once when the engine link comes back (a restarted engine knows nothing).
"""

import asyncio
import contextlib
import logging
import secrets
from collections import Counter
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)

LEASE_S = 30.0
ANNOUNCE_DELAY_S = 0.05
"""Changes within this time go out together."""

Announce = Callable[[str, str, list[str], float], Awaitable[None]]
"""`announce(owner, account, symbols, lease_s)`: the engine call."""


class QuoteInterest:
    def __init__(self, announce: Announce) -> None:
        self._announce = announce
        self.owner = f"web-{secrets.token_hex(6)}"
        self._counts: dict[str, Counter[str]] = {}
        self._changed: set[str] = set()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="quote-interest")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def add(self, account: str, symbol: str) -> None:
        counts = self._counts.setdefault(account, Counter())
        counts[symbol] += 1
        if counts[symbol] == 1:
            self._mark(account)

    def remove(self, account: str, symbol: str) -> None:
        counts = self._counts.get(account)
        if counts is None or not counts[symbol]:
            return
        counts[symbol] -= 1
        if not counts[symbol]:
            del counts[symbol]
            self._mark(account)

    def renew_all(self) -> None:
        """Announce everything again (the engine may have restarted)."""
        for account in self._counts:
            self._mark(account)

    def _mark(self, account: str) -> None:
        self._changed.add(account)
        self._wake.set()

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(LEASE_S / 3):
                    await self._wake.wait()
            if not self._wake.is_set():
                self.renew_all()
            await asyncio.sleep(ANNOUNCE_DELAY_S)
            self._wake.clear()
            changed, self._changed = self._changed, set()
            for account in sorted(changed):
                symbols = sorted(self._counts.get(account, ()))
                try:
                    await self._announce(self.owner, account, symbols, LEASE_S)
                except Exception as failed:  # the engine is away: the next round tells it
                    log.debug("quote subscriptions of %s not told: %s", account, failed)
                    self._changed.add(account)
