"""One connection to MiniQMT: an `XtQuantTrader` built and driven on a thread of its own.

`XtQuantTrader()` makes an asyncio event loop and sets it as the constructing thread's loop,
so it is built on the session's own thread (never the engine loop's), which then makes every
call into it. Each (re)connection gets a new session, trader and thread: a call that hangs in
the SDK (a sync call has no timeout) stays with the session it hung in.

Requests use xtquant's async variants; their answers (by seq) come on the SDK's callback
thread, are posted to the engine loop and matched there (`Answers`): an answer can be posted
before the SDK call that sent the request has returned its seq to the loop.
"""

import asyncio
import contextlib
import logging
import random
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from tradebridge.brokers.qmt.config import QmtSettings
from tradebridge.brokers.threads import LoopSink, SdkExecutor
from tradebridge.domain.errors import Timeout

log = logging.getLogger(__name__)
V = TypeVar("V")

KEPT_ANSWERS = 1_000
"""Answers held for a seq nobody waits for yet (bounded: late ones are dropped)."""
CONNECT_TIMEOUT_S = 20.0
"""How long building, connecting and subscribing a trader may take."""


@dataclass(frozen=True, slots=True)
class Sdk:
    """xtquant's modules, imported when the account first connects."""

    xttrader: Any
    xttype: Any
    xtconstant: Any
    xtdata: Any


class Answers(Generic[V]):
    """Answers the SDK delivers by seq, matched to their waiters on the loop."""

    def __init__(self) -> None:
        self._early: OrderedDict[int, V] = OrderedDict()
        self._waiting: dict[int, asyncio.Future[V]] = {}

    def deliver(self, seq: int, answer: V) -> None:
        waiter = self._waiting.pop(seq, None)
        if waiter is not None:
            if not waiter.done():
                waiter.set_result(answer)
            return
        self._early[seq] = answer
        while len(self._early) > KEPT_ANSWERS:
            self._early.popitem(last=False)

    async def wait(self, seq: int, timeout_s: float) -> V:
        """The answer to `seq`; `TimeoutError` after `timeout_s`."""
        if seq in self._early:
            return self._early.pop(seq)
        waiter: asyncio.Future[V] = asyncio.get_running_loop().create_future()
        self._waiting[seq] = waiter
        try:
            async with asyncio.timeout(timeout_s):
                return await waiter
        finally:
            self._waiting.pop(seq, None)

    def close(self) -> None:
        """The session is over: its waiters get no answer (`TimeoutError`, as when MiniQMT
        is silent: their requests were sent, their outcome is unknown)."""
        for waiter in self._waiting.values():
            if not waiter.done():
                waiter.set_exception(TimeoutError("the connection to MiniQMT was closed"))
        self._waiting.clear()


def _resolve(future: "asyncio.Future[Any]", result: Any) -> None:
    if not future.done():
        future.set_result(result)


class QmtSession:
    def __init__(self, number: int, sdk: Sdk, settings: QmtSettings, account: str) -> None:
        self.number = number
        self.sdk = sdk
        self.settings = settings
        self.session_id = settings.session_id or random.randint(100_000, 2_000_000_000)
        self.calls = SdkExecutor(f"qmt-{account}-{number}", timeout_s=settings.request_timeout_s)
        self.trader: Any = None
        self.account: Any = None
        self.order_answers: Answers[dict[str, Any]] = Answers()
        self.cancel_answers: Answers[dict[str, Any]] = Answers()
        self.placing: dict[int, str] = {}
        """seq -> our order id, while `place_order` waits for MiniQMT's answer."""
        self.order_errors: dict[int, dict[str, Any]] = {}
        """Order errors of placements under way, by seq (their `place_order` reports them)."""
        self.abandoned: OrderedDict[int, str] = OrderedDict()
        """seq -> our order id of placements whose answer did not come in time."""
        self.abandoned_unsent: OrderedDict[str, None] = OrderedDict()
        """Our order ids of placements given up before xtquant returned their seq (their
        answer names them by its remark)."""

    @property
    def timeout_s(self) -> float:
        return self.settings.request_timeout_s

    async def open(self, callbacks: Any) -> None:
        """Build the trader on the session's thread, start it, connect and subscribe the
        account; raise (with MiniQMT's answer) if any step fails."""
        await self.calls.run_within(CONNECT_TIMEOUT_S, self._build, callbacks)

    def _build(self, callbacks: Any) -> None:  # on the session's thread
        """Sets `trader` at once, so that `close` stops it even if whoever waited for the
        connection gave up (both run on this one thread, in turn)."""
        settings = self.settings
        trader = self.sdk.xttrader.XtQuantTrader(settings.userdata_path, self.session_id, callbacks)
        trader.start()
        self.trader = trader
        try:
            result = trader.connect()
            if result != 0:
                raise ConnectionError(
                    f"XtQuantTrader.connect() returned {result}: is MiniQMT running and logged "
                    f"in, with userdata_path {settings.userdata_path}?"
                )
            account = self.sdk.xttype.StockAccount(settings.account_id, settings.account_type)
            if isinstance(account, str):  # xtquant's way of refusing an account id
                raise ValueError(account)
            subscribed = trader.subscribe(account)
            if subscribed != 0:
                raise ConnectionError(
                    f"subscribe({settings.account_id}) returned {subscribed}: MiniQMT is not "
                    "logged in with this account"
                )
        except BaseException:
            self.trader = None
            with contextlib.suppress(Exception):
                trader.stop()
            raise
        self.account = account

    def _stop(self) -> None:  # on the session's thread, after any `_build`
        trader, self.trader = self.trader, None
        if trader is not None:
            trader.stop()

    async def close(self) -> None:
        self.order_answers.close()
        self.cancel_answers.close()
        try:
            await self.calls.run(self._stop)
        except Exception as failed:  # the session is over either way
            log.info("MiniQMT session %d: stopping the trader failed: %r", self.number, failed)
        self.calls.close()

    async def query(self, loop_sink: LoopSink, method: str, *args: Any) -> Any:
        """`trader.<method>(account, callback, *args)` (an `_async` query) and its answer."""
        answer: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

        def deliver(result: Any) -> None:  # on the SDK's callback thread
            loop_sink.post(_resolve, answer, result)

        await self.calls.run(getattr(self.trader, method), self.account, deliver, *args)
        try:
            async with asyncio.timeout(self.timeout_s):
                return await answer
        except TimeoutError:
            raise Timeout(
                f"MiniQMT did not answer {method} within {self.timeout_s:g} s", {"call": method}
            ) from None

    def abandon(self, seq: int | None, order_id: str) -> None:
        """No one waits for the answer to this placement any more (`seq` None: not known)."""
        if seq is None:
            self.abandoned_unsent[order_id] = None
            while len(self.abandoned_unsent) > KEPT_ANSWERS:
                self.abandoned_unsent.popitem(last=False)
            return
        self.abandoned[seq] = order_id
        while len(self.abandoned) > KEPT_ANSWERS:
            self.abandoned.popitem(last=False)

    def take_abandoned(self, seq: int, order_id: str | None) -> str | None:
        """The order whose abandoned placement this answer (`seq`, the order its remark
        names) is for, if it is one."""
        found = self.abandoned.pop(seq, None)
        if found is None and order_id is not None and order_id in self.abandoned_unsent:
            del self.abandoned_unsent[order_id]
            found = order_id
        return found
