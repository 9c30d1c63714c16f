"""Broker SDKs and their threads: what keeps them off the engine's state.

An SDK that calls back on threads of its own reports through a `LoopSink`, which hands every
call to the engine loop in order; blocking SDK calls run on the adapter's own `SdkExecutor`,
never the loop's default one, with a timeout. `ThreadCheckedSink` is what the engine puts
between an adapter and itself when `TRADEBRIDGE_CHECK_THREADS` is set (as the test suite
does): a sink call from any thread but the loop's then fails loudly instead of corrupting
the books at random.
"""

import asyncio
import concurrent.futures
import functools
import logging
import os
import threading
from collections.abc import Callable
from decimal import Decimal
from typing import ParamSpec, TypeVar

from tradebridge.brokers.base import BrokerSink, Fill, OrderUpdate
from tradebridge.domain.enums import ConnectionState
from tradebridge.domain.errors import BrokerUnavailable, Timeout
from tradebridge.domain.models import AccountSummary, Position, Quote

log = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")

CHECK_THREADS_ENV = "TRADEBRIDGE_CHECK_THREADS"


def thread_checks_enabled() -> bool:
    return os.environ.get(CHECK_THREADS_ENV, "") not in ("", "0")


class WrongThread(RuntimeError):
    """A broker sink was called from a thread other than the engine loop's."""


class LoopSink(BrokerSink):
    """A sink any thread may call: each call runs on `loop`, in the order the calls were made.

    A call made after the loop closed (an SDK thread outliving the engine) is dropped with a
    log line rather than raising into the SDK.
    """

    def __init__(self, target: BrokerSink, loop: asyncio.AbstractEventLoop) -> None:
        self._target = target
        self._loop = loop

    def post(self, method: Callable[..., None], *args: object) -> None:
        """Run `method(*args)` on the loop (also for the adapter's own callbacks, such as
        `Reconnector.lost`)."""
        try:
            self._loop.call_soon_threadsafe(method, *args)
        except RuntimeError:  # the loop is closed
            log.warning("broker report %s after the engine loop closed: dropped", method.__name__)

    def on_order_update(self, update: OrderUpdate) -> None:
        self.post(self._target.on_order_update, update)

    def on_fill(self, fill: Fill) -> None:
        self.post(self._target.on_fill, fill)

    def on_fee(self, trade_id: str, fee: Decimal) -> None:
        self.post(self._target.on_fee, trade_id, fee)

    def on_cancel_refused(
        self, order_id: str | None, broker_order_id: str | None, reason: str
    ) -> None:
        self.post(self._target.on_cancel_refused, order_id, broker_order_id, reason)

    def on_position(self, position: Position) -> None:
        self.post(self._target.on_position, position)

    def on_account(self, summary: AccountSummary) -> None:
        self.post(self._target.on_account, summary)

    def on_quote(self, quote: Quote) -> None:
        self.post(self._target.on_quote, quote)

    def on_connection(self, state: ConnectionState, message: str) -> None:
        self.post(self._target.on_connection, state, message)

    def on_state(self, key: str, value: str) -> None:
        self.post(self._target.on_state, key, value)


def _on_loop_thread(method: Callable[P, None]) -> Callable[P, None]:
    @functools.wraps(method)
    def checked(*args: P.args, **kwargs: P.kwargs) -> None:
        sink = args[0]
        assert isinstance(sink, ThreadCheckedSink)
        if threading.get_ident() != sink.loop_thread:
            raise WrongThread(
                f"BrokerSink.{method.__name__} called on thread "
                f"{threading.current_thread().name!r}, not the engine loop's: "
                "hand SDK callbacks to the loop (brokers.threads.LoopSink)"
            )
        method(*args, **kwargs)

    return checked


class ThreadCheckedSink(BrokerSink):
    """Passes every call to `target` after checking it comes from the loop's thread."""

    def __init__(self, target: BrokerSink, loop_thread: int) -> None:
        self._target = target
        self.loop_thread = loop_thread

    @_on_loop_thread
    def on_order_update(self, update: OrderUpdate) -> None:
        self._target.on_order_update(update)

    @_on_loop_thread
    def on_fill(self, fill: Fill) -> None:
        self._target.on_fill(fill)

    @_on_loop_thread
    def on_fee(self, trade_id: str, fee: Decimal) -> None:
        self._target.on_fee(trade_id, fee)

    @_on_loop_thread
    def on_cancel_refused(
        self, order_id: str | None, broker_order_id: str | None, reason: str
    ) -> None:
        self._target.on_cancel_refused(order_id, broker_order_id, reason)

    @_on_loop_thread
    def on_position(self, position: Position) -> None:
        self._target.on_position(position)

    @_on_loop_thread
    def on_account(self, summary: AccountSummary) -> None:
        self._target.on_account(summary)

    @_on_loop_thread
    def on_quote(self, quote: Quote) -> None:
        self._target.on_quote(quote)

    @_on_loop_thread
    def on_connection(self, state: ConnectionState, message: str) -> None:
        self._target.on_connection(state, message)

    @_on_loop_thread
    def on_state(self, key: str, value: str) -> None:
        self._target.on_state(key, value)


class SdkExecutor:
    """The threads an adapter runs its blocking SDK calls on, its own and no one else's.

    `run` waits at most `timeout` seconds and then raises `Timeout`; the call itself cannot
    be interrupted and goes on in its thread, so with one thread (the default, for SDKs that
    are not thread-safe) later calls wait behind a hung one until it returns.
    """

    def __init__(self, name: str, *, threads: int = 1, timeout_s: float = 10.0) -> None:
        self._pool = concurrent.futures.ThreadPoolExecutor(threads, thread_name_prefix=name)
        self._timeout_s = timeout_s
        self._closed = False

    async def run(
        self,
        call: Callable[P, T],
        /,
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        """`call(*args, **kwargs)` on the adapter's thread, within the default timeout."""
        return await self.run_within(self._timeout_s, call, *args, **kwargs)

    async def run_within(
        self,
        timeout_s: float,
        call: Callable[P, T],
        /,
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        if self._closed:
            raise BrokerUnavailable("the broker adapter is closed")
        future = asyncio.get_running_loop().run_in_executor(
            self._pool, functools.partial(call, *args, **kwargs)
        )
        try:
            # not `asyncio.wait_for`: on Python 3.11 it returns the result of a call that ends
            # just as the caller is cancelled, and the cancellation is lost
            async with asyncio.timeout(timeout_s):
                return await future
        except TimeoutError:
            name = getattr(call, "__qualname__", repr(call))
            raise Timeout(
                f"the broker SDK did not answer {name} within {timeout_s:g} s",
                {"call": name},
            ) from None

    def close(self) -> None:
        """Stop taking calls; queued ones are dropped, a running one finishes on its own."""
        self._closed = True
        self._pool.shutdown(wait=False, cancel_futures=True)
