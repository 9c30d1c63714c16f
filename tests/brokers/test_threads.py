"""`SdkExecutor`: blocking SDK calls off the loop, with a timeout, and cancellable."""

import asyncio
import threading
import time

import pytest

from tradebridge.brokers.threads import SdkExecutor
from tradebridge.domain.errors import Timeout

pytestmark = pytest.mark.anyio


async def test_a_call_runs_on_the_executors_thread_and_returns() -> None:
    executor = SdkExecutor("sdk-test", timeout_s=5)
    try:
        name = await executor.run(lambda: threading.current_thread().name)
        assert name.startswith("sdk-test")
    finally:
        executor.close()


async def test_a_call_that_hangs_is_a_timeout() -> None:
    executor = SdkExecutor("sdk-test", timeout_s=0.1)
    release = threading.Event()
    try:
        with pytest.raises(Timeout, match="did not answer"):
            await executor.run(release.wait, 5)
    finally:
        release.set()
        executor.close()


async def test_a_cancel_that_meets_the_calls_end_is_not_lost() -> None:
    """The caller is cancelled after the call has ended but before the loop has seen it end
    (a reconnect loop stopped while its last SDK call returns): it must end cancelled, not
    carry on with the result."""
    executor = SdkExecutor("sdk-test", timeout_s=5)
    release, ended = threading.Event(), threading.Event()

    def call() -> str:
        release.wait(5)
        ended.set()
        return "result"

    try:
        caller = asyncio.create_task(executor.run(call))
        await asyncio.sleep(0.05)  # the call is under way
        release.set()
        assert ended.wait(5)
        time.sleep(0.05)  # noqa: ASYNC251 (the loop blocked on purpose: the end is queued)
        caller.cancel()
        with pytest.raises(asyncio.CancelledError):
            await caller
    finally:
        executor.close()
