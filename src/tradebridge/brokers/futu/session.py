"""One connection to OpenD: the SDK's quote context and trade context, opened and closed
together.

Who reconnects: tradebridge, not the SDK. Left alone, the SDK's contexts reconnect by
themselves every 6 s, and while they do, every call blocks (`_get_sync_query_processor`
spins until the context is ready again), pushes are dropped, and nothing tells the caller.
So the adapter watches the contexts' status, and the moment either is not ready it reports
the connection lost, closes both (which turns the SDK's own reconnect off) and lets its
`Reconnector` open a new pair with backoff; the engine reconciles after each reconnect. Calls
made while a context is not ready give up after `QUERY_CONNECT_WAIT_S` instead of spinning.

The SDK's constructors cannot be told to try once: they block, retrying every 6 s, until
OpenD answers. They run on a thread of their own (`Opener`); an attempt that outlasts its
wait is awaited again by the next one, never started twice, and one that finishes after the
adapter closed is closed at once.
"""

import asyncio
import concurrent.futures
import contextlib
import logging
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

QUERY_CONNECT_WAIT_S = 3.0
"""How long a call waits for a context that is not ready before the SDK fails it."""
PROBE_TIMEOUT_S = 3.0


class Session:
    """A quote context and a trade context on the same OpenD."""

    def __init__(self, sdk: Any, quote: Any, trade: Any) -> None:
        self.sdk = sdk
        self.quote = quote
        self.trade = trade

    def broken(self) -> str | None:
        """Why the session no longer works (a context not ready), or None while it does."""
        ready = self.sdk.ContextStatus.READY
        for name, context in (("quote", self.quote), ("trade", self.trade)):
            status = context.status
            if status != ready:
                return f"the {name} context is {status}"
        return None

    def close(self) -> None:
        for context in (self.quote, self.trade):
            with contextlib.suppress(Exception):  # closing a context never fails the caller
                context.close()


def open_session(sdk: Any, host: str, port: int, trd_market: str) -> Session:
    """Both contexts, connected (blocking: on the `Opener`'s thread)."""
    quote = sdk.OpenQuoteContext(host=host, port=port)
    try:
        trade = sdk.OpenSecTradeContext(filter_trdmarket=trd_market, host=host, port=port)
    except BaseException:
        quote.close()
        raise
    session = Session(sdk, quote, trade)
    for context in (quote, trade):
        context.set_sync_query_connect_timeout(QUERY_CONNECT_WAIT_S)
    return session


class Opener:
    """Opens sessions on a thread of its own, one attempt at a time (see the module doc)."""

    def __init__(self, name: str, open_one: Callable[[], Session]) -> None:
        self._open_one = open_one
        self._pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix=name)
        self._pending: concurrent.futures.Future[Session] | None = None
        self._closed = False

    async def open(self, wait_s: float) -> Session:
        if self._closed:
            raise ConnectionError("the adapter is closed")
        if self._pending is None:
            self._pending = self._pool.submit(self._open_one)
        pending = self._pending
        try:
            async with asyncio.timeout(wait_s):
                session = await asyncio.shield(asyncio.wrap_future(pending))
        except TimeoutError:
            raise ConnectionError(
                f"OpenD accepted the connection but did not complete the handshake in {wait_s:g} s"
            ) from None
        except asyncio.CancelledError:
            raise
        except Exception:
            self._pending = None
            raise
        self._pending = None
        return session

    def close(self) -> None:
        """No more attempts; one still under way is closed when it ends."""
        self._closed = True
        if self._pending is not None:
            self._pending.add_done_callback(_close_when_opened)
        self._pool.shutdown(wait=False, cancel_futures=True)


def _close_when_opened(future: "concurrent.futures.Future[Session]") -> None:
    if not future.cancelled() and future.exception() is None:
        log.info("futu: a connection opened after the adapter closed: closing it")
        future.result().close()


async def probe(host: str, port: int) -> None:
    """Fail fast, before the SDK's constructors (which would retry forever), when nothing
    listens on OpenD's port."""
    try:
        async with asyncio.timeout(PROBE_TIMEOUT_S):
            _, writer = await asyncio.open_connection(host, port)
    except TimeoutError:
        raise ConnectionError(f"OpenD at {host}:{port} does not answer") from None
    except OSError as failed:
        raise ConnectionError(f"OpenD at {host}:{port}: {failed.strerror or failed}") from None
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
