"""Login throttling against password guessing: failed logins are counted per username and
per client address over a moving window; past either limit, logins answer 429 `rate_limited`
with `Retry-After` until the oldest failure in the window is old enough.

A successful login forgets the failures of its username (the owner got in), never those of
the address: an attacker who owns one account cannot reset the count of their guesses at
others. Counts live in the memory of each web worker (with N workers an attacker gets at
most N times the limits) and start afresh when it restarts.
"""

import math
import time
from collections import Counter

from limits import RateLimitItemPerSecond
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

FAILURES_PER_USERNAME = 10
"""Failed logins for one username within the window, from any address."""
FAILURES_PER_CLIENT = 30
"""Failed logins from one client address within the window, for any usernames."""
WINDOW_SECONDS = 300


class LoginThrottle:
    """Counts failed logins. `admit` before checking a password, `finish` after."""

    def __init__(
        self,
        failures_per_username: int = FAILURES_PER_USERNAME,
        failures_per_client: int = FAILURES_PER_CLIENT,
        window_seconds: int = WINDOW_SECONDS,
    ) -> None:
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        self._per_username = RateLimitItemPerSecond(failures_per_username, window_seconds)
        self._per_client = RateLimitItemPerSecond(failures_per_client, window_seconds)
        # Checks under way count as failures until they are known, so a burst of concurrent
        # guesses cannot slip past a limit that was not reached when each one started.
        self._in_flight: Counter[tuple[str, str]] = Counter()

    def admit(self, username: str, client: str) -> int | None:
        """None if a login may be tried now (then `finish` must follow), else the seconds
        until one may."""
        waits = [
            wait
            for item, identity in self._counters(username, client)
            if (wait := self._wait(item, identity)) is not None
        ]
        if waits:
            return max(waits)
        for _, identity in self._counters(username, client):
            self._in_flight[identity] += 1
        return None

    def finish(self, username: str, client: str, *, succeeded: bool | None) -> None:
        """After `admit`: `succeeded` None when the password could not be checked (the
        database was away), which counts neither way."""
        for item, identity in self._counters(username, client):
            self._in_flight[identity] -= 1
            if not self._in_flight[identity]:
                del self._in_flight[identity]
            if succeeded is False:
                self._limiter.hit(item, *identity)
        if succeeded:
            self._limiter.clear(self._per_username, "username", username)

    def _counters(
        self, username: str, client: str
    ) -> list[tuple[RateLimitItemPerSecond, tuple[str, str]]]:
        return [
            (self._per_username, ("username", username)),
            (self._per_client, ("client", client)),
        ]

    def _wait(self, item: RateLimitItemPerSecond, identity: tuple[str, str]) -> int | None:
        reset_at, remaining = self._limiter.get_window_stats(item, *identity)
        if remaining - self._in_flight[identity] > 0:
            return None
        if remaining > 0:  # full only with the checks under way: they end within a second
            return 1
        return max(1, math.ceil(reset_at - time.time()))
