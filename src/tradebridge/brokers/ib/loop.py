"""ib_async's event loop, on a thread of its own.

ib_async is an asyncio library: its socket, its decoder and every event it emits run on one
event loop, and its request methods expect to be called there. The adapter gives it a loop
of its own on a dedicated thread rather than the engine's loop, because:

- the engine's loop then never runs ib_async's decoding of TWS's message bursts (a reconnect
  replays the day's orders and executions) nor its logging, and a slow journal commit on the
  engine side never delays reading TWS's socket;
- ib_async's state (trades, fills, tickers) is touched by one thread only, the one that
  runs its loop; SDK callbacks reach the engine through `LoopSink`, as for every other SDK;
- ib_async's synchronous helpers (`IB.run`, `util.run`) call `run_until_complete`, which
  would fail, or block, on the engine's running loop; on this thread nothing calls them.

Every call from the engine hops to this loop with `run` and waits at most its timeout; on a
timeout the call's task on this loop is cancelled too, so nothing is left waiting behind.
"""

import asyncio
import logging
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from tradebridge.domain.errors import BrokerUnavailable, Timeout

log = logging.getLogger(__name__)
T = TypeVar("T")

START_S = 5.0
STOP_S = 5.0


class IbLoop:
    def __init__(self, name: str) -> None:
        self._name = name
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._running = threading.Event()
        self._stopped = False
        self._on_end: Callable[[], None] | None = None

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        return self._loop

    def start(self) -> None:
        if not self._thread.is_alive() and not self._stopped:
            self._thread.start()
            if not self._running.wait(START_S):
                raise BrokerUnavailable(f"the {self._name} thread did not start")

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.call_soon(self._running.set)
        try:
            self._loop.run_forever()
        finally:
            for task in asyncio.all_tasks(self._loop):
                task.cancel()
            self._loop.run_until_complete(asyncio.sleep(0))
            self._loop.close()
            if self._on_end is not None:
                self._on_end()

    def on_thread(self) -> bool:
        return threading.get_ident() == self._thread.ident

    async def run(
        self, make: Callable[[], Coroutine[Any, Any, T]], timeout_s: float, what: str
    ) -> T:
        """`await make()` on this loop, within `timeout_s`; `Timeout` naming `what` after."""
        if self._stopped or not self._running.is_set():
            raise BrokerUnavailable("the IB adapter is not running")
        future = asyncio.run_coroutine_threadsafe(make(), self._loop)
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future), timeout_s)
        except TimeoutError:
            raise Timeout(
                f"TWS did not answer {what} within {timeout_s:g} s", {"request": what}
            ) from None

    async def call(self, function: Callable[[], T], timeout_s: float, what: str) -> T:
        """`function()` (not a coroutine) on this loop."""

        async def wrapped() -> T:
            return function()

        return await self.run(wrapped, timeout_s, what)

    async def stop(self) -> None:
        """Stop the loop (its tasks are cancelled) and wait a little for its thread to end,
        without blocking the caller's loop."""
        if self._stopped:
            return
        self._stopped = True
        if not self._thread.is_alive():
            return
        ended = asyncio.Event()
        caller = asyncio.get_running_loop()

        def on_end() -> None:
            caller.call_soon_threadsafe(ended.set)

        self._on_end = on_end
        self._loop.call_soon_threadsafe(self._loop.stop)
        try:
            await asyncio.wait_for(ended.wait(), STOP_S)
        except TimeoutError:
            log.error("the %s thread did not stop within %.0f s", self._name, STOP_S)
