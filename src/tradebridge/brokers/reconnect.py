"""Keeping a broker connected: connect, notice the loss, wait, connect again.

Every adapter reconnects by itself. A `Reconnector` runs the adapter's `connect_once` until it
succeeds, reports each state to the sink (`connecting`, `connected`, `disconnected` with the
reason), waits for `lost()`, and starts over after a backoff that doubles from `first_s` up
to `max_s` (reset by a connection that lasted). The engine, told `connected`, reconciles.
"""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from tradebridge.brokers.base import BrokerSink
from tradebridge.domain.enums import ConnectionState
from tradebridge.domain.errors import TradebridgeError

log = logging.getLogger(__name__)


class Backoff:
    """Delays of 0.5, 1, 2, 4 ... up to `max_s` seconds; `reset()` starts again."""

    def __init__(self, first_s: float = 0.5, max_s: float = 30.0) -> None:
        self._first_s = first_s
        self._max_s = max_s
        self._next_s = first_s

    def next(self) -> float:
        delay = self._next_s
        self._next_s = min(self._next_s * 2, self._max_s)
        return delay

    def reset(self) -> None:
        self._next_s = self._first_s


STABLE_S = 30.0
"""A connection that lasted this long resets the backoff."""


class Reconnector:
    """Drives `connect_once` and the sink's connection state until `stop()`.

    `connect_once` raises (anything) when the attempt fails; its message becomes the
    `disconnected` reason. `disconnect` (optional) is run after a loss before the next
    attempt, to free what the lost session held. Call `lost(reason)` on the loop when the SDK
    reports a disconnect (from an SDK thread: through `loop.call_soon_threadsafe`).
    """

    def __init__(
        self,
        name: str,
        sink: BrokerSink,
        connect_once: Callable[[], Awaitable[str]],
        *,
        disconnect: Callable[[], Awaitable[None]] | None = None,
        backoff: Backoff | None = None,
    ) -> None:
        self._name = name
        self._sink = sink
        self._connect_once = connect_once
        self._disconnect = disconnect
        self._backoff = backoff or Backoff()
        self._lost = asyncio.Event()
        self._lost_reason = ""
        self._first_attempt = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.connected = False

    async def start(self, first_attempt_timeout_s: float) -> None:
        """Begin; return when the first attempt ended (or after the timeout), either way."""
        self._task = asyncio.create_task(self._run(), name=f"reconnect {self._name}")
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(first_attempt_timeout_s):
                await self._first_attempt.wait()

    def lost(self, reason: str) -> None:
        """The SDK says the connection is gone."""
        if self.connected:
            self._lost_reason = reason
            self._lost.set()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self.connected = False

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            self._sink.on_connection(ConnectionState.CONNECTING, f"connecting to {self._name}")
            try:
                message = await self._connect_once()
            except asyncio.CancelledError:
                raise
            except Exception as failed:
                reason = failed.message if isinstance(failed, TradebridgeError) else str(failed)
                reason = reason or type(failed).__name__
                self._sink.on_connection(
                    ConnectionState.DISCONNECTED, f"cannot connect to {self._name}: {reason}"
                )
                self._first_attempt.set()
                delay = self._backoff.next()
                log.info("%s: trying again in %.1f s", self._name, delay)
                await asyncio.sleep(delay)
                continue
            self.connected = True
            self._lost.clear()
            connected_at = loop.time()
            self._sink.on_connection(ConnectionState.CONNECTED, message)
            self._first_attempt.set()
            await self._lost.wait()
            self.connected = False
            self._sink.on_connection(
                ConnectionState.DISCONNECTED, f"lost {self._name}: {self._lost_reason}"
            )
            if loop.time() - connected_at >= STABLE_S:
                self._backoff.reset()
            if self._disconnect is not None:
                try:
                    await self._disconnect()
                except Exception:
                    log.exception("%s: cleaning up the lost session failed", self._name)
            await asyncio.sleep(self._backoff.next())
