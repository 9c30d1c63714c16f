"""Request rate limits (`[rate_limits]`): per caller for the whole API, per account for orders.

Over a limit, a request is answered 429 `rate_limited` with `Retry-After` (seconds) and never
reaches its route. Every counted answer carries `RateLimit-Limit`, `RateLimit-Remaining`,
`RateLimit-Reset` (seconds) and `RateLimit-Policy` (`100;w=1`) of the limit closest to being
reached.

Counting uses the `limits` library's sliding window counter: the previous window's count,
weighted by how much of it still overlaps the last `window` seconds, plus the current one. It
costs two counters per key whatever the rate, and a burst at a window's edge cannot double
the rate as with fixed windows. Counts live in the memory of each web worker process, in
`LoopStorage`.
"""

import contextlib
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import limits
from limits.storage import MemoryStorage
from limits.strategies import SlidingWindowCounterRateLimiter
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tradebridge.api.caller import caller_of
from tradebridge.api.compat.paths import order_account
from tradebridge.api.errors import error_response
from tradebridge.config import RateLimitSettings

ORDERS_PATH = re.compile(r"^/api/v1/accounts/([^/]+)/orders$")
"""Placing an order: `POST` here counts on the account's order limit."""
UNCOUNTED_PATHS = frozenset(
    {"/api/v1/health", "/metrics", "/docs", "/docs/oauth2-redirect", "/openapi.json"}
)
SWEEP_S = 1.0
"""How often expired counters are dropped from `LoopStorage` (on the way of a count)."""


class _NoLocks(dict[str, contextlib.nullcontext[None]]):
    """`MemoryStorage.locks` for a storage used by one thread: every key's lock is a no-op."""

    _UNLOCKED: contextlib.nullcontext[None] = contextlib.nullcontext()

    def __missing__(self, key: str) -> contextlib.nullcontext[None]:
        return self._UNLOCKED


class LoopStorage(MemoryStorage):
    """`limits`' in-memory storage as the event loop uses it: from one thread, so without
    its lock per key; expired counters are dropped on the way, at most every `SWEEP_S`,
    rather than by the `threading.Timer` `MemoryStorage` starts again every few counts."""

    STORAGE_SCHEME = ["tradebridge-loop"]  # noqa: RUF012 - registered apart from `memory://`

    def __init__(self) -> None:
        self._next_sweep = 0.0
        super().__init__()
        self.timer.cancel()  # the constructor's one Timer; no other is started
        self.locks = _NoLocks()  # type: ignore[assignment]

    def _MemoryStorage__schedule_expiry(self) -> None:  # noqa: N802 - MemoryStorage calls it
        now = time.monotonic()
        if now >= self._next_sweep:
            self._next_sweep = now + SWEEP_S
            self._MemoryStorage__expire_events()  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class Quota:
    """One limit after counting a request against it."""

    name: str
    """`caller` or `account`."""
    rate: str
    """As configured, e.g. `100/second`."""
    amount: int
    window_s: int
    allowed: bool
    remaining: int
    reset_s: int
    """Seconds until the count has gone down enough to allow one more request."""

    def headers(self) -> list[tuple[bytes, bytes]]:
        return [
            (b"ratelimit-limit", str(self.amount).encode()),
            (b"ratelimit-remaining", str(self.remaining).encode()),
            (b"ratelimit-reset", str(self.reset_s).encode()),
            (b"ratelimit-policy", f"{self.amount};w={self.window_s}".encode()),
        ]


class RateLimits:
    """The ASGI middleware applying `[rate_limits]`; it must sit where the database is open
    (the caller's credentials are looked up)."""

    def __init__(
        self,
        app: ASGIApp,
        settings: RateLimitSettings,
        on_limited: Callable[[str], None] = lambda name: None,
    ) -> None:
        self.app = app
        self._enabled = settings.enabled
        self._api = (settings.api, limits.parse(settings.api))
        self._orders = (settings.orders, limits.parse(settings.orders))
        self._limiter = SlidingWindowCounterRateLimiter(LoopStorage())
        self._on_limited = on_limited

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self._enabled or scope["type"] != "http" or not _counted(scope):
            await self.app(scope, receive, send)
            return
        quota = self._count("caller", self._api, caller_of(scope).rate_key)
        account = _order_account(scope)
        if quota.allowed and account is not None:
            for_account = self._count("account", self._orders, account)
            if not for_account.allowed or for_account.remaining < quota.remaining:
                quota = for_account
        if not quota.allowed:
            self._on_limited(quota.name)
            await _refusal(quota, account)(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), *quota.headers()]
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _count(self, name: str, limit: tuple[str, limits.RateLimitItem], key: str) -> Quota:
        """Count a request; the in-memory storage answers at once (the synchronous API costs
        less than half of the asynchronous one)."""
        rate, item = limit
        allowed = self._limiter.hit(item, name, key)
        reset_at, remaining = self._limiter.get_window_stats(item, name, key)
        return Quota(
            name=name,
            rate=rate,
            amount=item.amount,
            window_s=item.get_expiry(),
            allowed=allowed,
            remaining=remaining,
            reset_s=max(1, math.ceil(reset_at - time.time())),
        )


def _refusal(quota: Quota, account: str | None) -> ASGIApp:
    subject = f"account {account!r}" if quota.name == "account" else "caller"
    details: dict[str, object] = {
        "limit": quota.rate,
        "scope": quota.name,
        "retry_after": quota.reset_s,
    }
    if quota.name == "account":
        details["account"] = account
    response = error_response(
        "rate_limited",
        f"too many requests: at most {quota.rate} per {subject}; try again in {quota.reset_s} s",
        details,
        {"Retry-After": str(quota.reset_s)},
    )
    response.raw_headers.extend(quota.headers())
    return response


def _order_account(scope: Scope) -> str | None:
    """The account this request places an order on: `POST /api/v1/accounts/{id}/orders`,
    or a route a dialect registered as placing orders (`compat.paths.count_orders`)."""
    found = ORDERS_PATH.match(scope["path"]) if scope["method"] == "POST" else None
    if found is not None:
        return found[1]
    return order_account(scope)


def _counted(scope: Scope) -> bool:
    """Everything but the health check, metrics, API docs and the browser page's files."""
    path: str = scope["path"]
    if path in UNCOUNTED_PATHS:
        return False
    if path.startswith("/api/"):
        return True
    return not path.startswith(_file_mounts(scope["app"]))


def _file_mounts(app: Any) -> tuple[str, ...]:
    """The path prefixes (`/static/`) of the app's mounts that serve files, found once per
    app: matching a dialect's request against every route cost more than its route."""
    mounts: tuple[str, ...] | None = getattr(app.state, "file_mounts", None)
    if mounts is None:
        mounts = tuple(
            f"{route.path}/"
            for route in app.router.routes
            if isinstance(route, Mount) and isinstance(route.app, StaticFiles)
        )
        app.state.file_mounts = mounts
    return mounts
