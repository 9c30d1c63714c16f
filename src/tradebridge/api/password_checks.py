"""Password checks (argon2) on threads of their own, a few at a time.

One argon2 check takes 64 MiB and most of a core for tens of milliseconds. Run on the shared
thread pool, a flood of logins ran dozens at once: the web process grew by gigabytes and every
request that needs a pool thread (database reads) waited behind them. Here at most
`concurrency` run at once, at most `queue` more wait, and a login beyond that is refused at
once (`PasswordChecksBusy`), before its password is looked at.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")


class PasswordChecksBusy(Exception):
    """As many checks as allowed are running or waiting."""


class PasswordChecks:
    def __init__(self, concurrency: int, queue: int) -> None:
        self._executor = ThreadPoolExecutor(concurrency, thread_name_prefix="password-check")
        self._admitted_max = concurrency + queue
        self._admitted = 0
        """Checks submitted and not finished (running or waiting); a check whose caller
        went away still counts until its thread is done with it."""
        self._lock = threading.Lock()

    async def run(self, check: Callable[[], T]) -> T:
        """`check()` on one of the threads; `PasswordChecksBusy` when none may be queued."""
        with self._lock:
            if self._admitted >= self._admitted_max:
                raise PasswordChecksBusy
            self._admitted += 1
        future = self._executor.submit(check)
        future.add_done_callback(self._finished)
        return await asyncio.wrap_future(future)

    def _finished(self, _: Future[T]) -> None:
        with self._lock:
            self._admitted -= 1
