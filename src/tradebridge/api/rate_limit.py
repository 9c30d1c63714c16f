"""Request rate limits (`[rate_limits]`): per caller for the whole API, per account for orders.

Over a limit, a request is answered 429 `rate_limited` with `Retry-After` (seconds) and never
reaches its route. Every counted answer carries `RateLimit-Limit`, `RateLimit-Remaining`,
`RateLimit-Reset` (seconds) and `RateLimit-Policy` (`100;w=1`) of the limit closest to being
reached.

Counting is a sliding window counter (`api.window_counter`), in the memory of each web worker
process.
"""

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import limits
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tradebridge.api.caller import caller_of
from tradebridge.api.compat.paths import order_account
from tradebridge.api.errors import error_response
from tradebridge.api.window_counter import WindowCounter
from tradebridge.config import RateLimitSettings

ORDERS_PATH = re.compile(r"^/api/v1/accounts/([^/]+)/orders$")
"""Placing an order: `POST` here counts on the account's order limit."""
UNCOUNTED_PATHS = frozenset(
    {"/api/v1/health", "/metrics", "/docs", "/docs/oauth2-redirect", "/openapi.json"}
)


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
        self._api = _Limit("caller", settings.api)
        self._orders = _Limit("account", settings.orders)
        self._on_limited = on_limited

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self._enabled or scope["type"] != "http" or not _counted(scope):
            await self.app(scope, receive, send)
            return
        quota = self._api.count(caller_of(scope).rate_key)
        account = _order_account(scope)
        if quota.allowed and account is not None:
            for_account = self._orders.count(account)
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


class _Limit:
    """One configured limit and its counts."""

    def __init__(self, name: str, rate: str) -> None:
        item = limits.parse(rate)
        self._name = name
        self._rate = rate
        self._counter = WindowCounter(item.amount, item.get_expiry())

    def count(self, key: str) -> Quota:
        counted = self._counter.hit(key)
        return Quota(
            name=self._name,
            rate=self._rate,
            amount=self._counter.amount,
            window_s=int(self._counter.window_s),
            allowed=counted.allowed,
            remaining=counted.remaining,
            reset_s=max(1, math.ceil(counted.reset_s)),
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
