"""`Client` (blocking) and `AsyncClient`: one method per REST route (see `routes`), the
event stream, and order shortcuts.

Both drive the same `exchange` generator, so they log in, retry and read errors alike; each
route's method is made from its function in `routes` and has its signature and docstring.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable, Coroutine, Generator, Sequence
from typing import Any, Concatenate, ParamSpec, TypeVar

import httpx

from tradebridge_client import routes
from tradebridge_client._exchange import (
    Call,
    Credentials,
    RetryPolicy,
    Send,
    Sleep,
    exchange,
    log_in,
)
from tradebridge_client.models import Order, Side
from tradebridge_client.stream import (
    ACCOUNT_CHANNELS,
    AsyncStream,
    Stream,
    StreamSession,
    stream_url,
)

P = ParamSpec("P")
T = TypeVar("T")

DEFAULT_URL = "http://127.0.0.1:8000"
DEFAULT_TIMEOUT_S = 10.0


def _api_url(url: str) -> str:
    """`http://host:8000` or `http://host:8000/api/v1` → the latter."""
    base = url.rstrip("/")
    return base if base.endswith("/api/v1") else f"{base}/api/v1"


def _sync(builder: Callable[P, Call[T]]) -> Callable[Concatenate[Client, P], T]:
    @functools.wraps(builder)
    def method(self: Client, /, *args: P.args, **kwargs: P.kwargs) -> T:
        return self.call(builder(*args, **kwargs))

    return method


def _async(
    builder: Callable[P, Call[T]],
) -> Callable[Concatenate[AsyncClient, P], Coroutine[Any, Any, T]]:
    @functools.wraps(builder)
    async def method(self: AsyncClient, /, *args: P.args, **kwargs: P.kwargs) -> T:
        return await self.call(builder(*args, **kwargs))

    return method


class _Base:
    def __init__(
        self,
        url: str,
        api_key: str | None,
        username: str | None,
        password: str | None,
        retry: RetryPolicy | None,
    ) -> None:
        self.url = _api_url(url)
        self.credentials = Credentials(api_key=api_key, username=username, password=password)
        self.retry = retry if retry is not None else RetryPolicy()

    def _session(
        self,
        account: str,
        since_seq: int | None,
        channels: Sequence[str],
        quotes: Sequence[str],
    ) -> StreamSession:
        return StreamSession(account, since_seq, channels, quotes)


class Client(_Base):
    """A blocking client of a tradebridge server.

    `url` is the server (`http://127.0.0.1:8000`); authenticate with `api_key` (an API key
    or a login token) or with `username` and `password`. `retry` says how calls are retried
    (`RetryPolicy(attempts=1)`: never). Errors are raised as the exceptions of
    `tradebridge_client.errors`. Use it in a `with` block, or `close()` it.
    """

    def __init__(
        self,
        url: str = DEFAULT_URL,
        *,
        api_key: str | None = None,
        username: str | None = None,
        password: str | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        retry: RetryPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        super().__init__(url, api_key, username, password, retry)
        self._http = httpx.Client(base_url=self.url, timeout=timeout_s, transport=transport)

    def call(self, call: Call[T]) -> T:
        """Make one API call described by `call` (as `routes` builds them)."""
        return self._drive(exchange(call, self.credentials, self.retry, time.monotonic))

    def _drive(self, steps: Generator[Send | Sleep, Any, T]) -> T:
        try:
            action = next(steps)
            while True:
                if isinstance(action, Sleep):
                    time.sleep(action.seconds)
                    action = steps.send(None)
                    continue
                try:
                    response = self._http.request(
                        action.method,
                        action.path,
                        params=action.params,
                        content=action.content,
                        data=action.form,
                        headers=action.headers,
                    )
                except httpx.TransportError as failed:
                    action = steps.throw(failed)
                else:
                    action = steps.send(response)
        except StopIteration as done:
            result: T = done.value
            return result

    def _token(self, renew: bool) -> str:
        credentials = self.credentials
        if credentials.can_log_in and (renew or credentials.token is None):
            self._drive(log_in(credentials, self.retry, time.monotonic))
        if credentials.token is None:
            raise ValueError("the stream needs credentials: give api_key or username/password")
        return credentials.token

    def stream(
        self,
        account: str,
        since_seq: int | None = None,
        *,
        channels: Sequence[str] = ACCOUNT_CHANNELS,
        quotes: Sequence[str] = (),
    ) -> Stream:
        """The account's events (`channels`: orders, trades, positions, account) and the
        `quotes` of some symbols, as an endless iterator that reconnects by itself.

        Without `since_seq` it starts with the next event; with it, it first sends every
        event after `since_seq` (`stream.last_seq` is where a later stream resumes)."""
        session = self._session(account, since_seq, channels, quotes)
        return Stream(stream_url(self.url), session, self._token)

    def buy(
        self,
        account: str,
        symbol: str,
        qty: int,
        limit_price: routes.PriceLike | None = None,
        **options: Any,
    ) -> Order:
        """`place_order(account, symbol, "buy", qty, limit_price=..., ...)`."""
        return self.place_order(account, symbol, Side.BUY, qty, limit_price=limit_price, **options)

    def sell(
        self,
        account: str,
        symbol: str,
        qty: int,
        limit_price: routes.PriceLike | None = None,
        **options: Any,
    ) -> Order:
        """`place_order(account, symbol, "sell", qty, limit_price=..., ...)`."""
        return self.place_order(account, symbol, Side.SELL, qty, limit_price=limit_price, **options)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    health = _sync(routes.health)
    login = _sync(routes.login)
    keys = _sync(routes.keys)
    create_key = _sync(routes.create_key)
    revoke_key = _sync(routes.revoke_key)
    accounts = _sync(routes.accounts)
    balance = _sync(routes.balance)
    positions = _sync(routes.positions)
    ping = _sync(routes.ping)
    risk = _sync(routes.risk)
    set_risk = _sync(routes.set_risk)
    place_order = _sync(routes.place_order)
    orders = _sync(routes.orders)
    order = _sync(routes.order)
    order_by_client_id = _sync(routes.order_by_client_id)
    cancel_order = _sync(routes.cancel_order)
    cancel_all = _sync(routes.cancel_all)
    trades = _sync(routes.trades)
    contracts = _sync(routes.contracts)
    quotes = _sync(routes.quotes)
    market_status = _sync(routes.market_status)
    bars = _sync(routes.bars)
    paper_set_quote = _sync(routes.paper_set_quote)
    paper_clock = _sync(routes.paper_clock)
    paper_reset = _sync(routes.paper_reset)
    audit = _sync(routes.audit)
    strategies = _sync(routes.strategies)
    start_strategy = _sync(routes.start_strategy)
    stop_strategy = _sync(routes.stop_strategy)


class AsyncClient(_Base):
    """`Client` for asyncio: the same methods, awaited."""

    def __init__(
        self,
        url: str = DEFAULT_URL,
        *,
        api_key: str | None = None,
        username: str | None = None,
        password: str | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        retry: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(url, api_key, username, password, retry)
        self._http = httpx.AsyncClient(base_url=self.url, timeout=timeout_s, transport=transport)

    async def call(self, call: Call[T]) -> T:
        return await self._drive(exchange(call, self.credentials, self.retry, time.monotonic))

    async def _drive(self, steps: Generator[Send | Sleep, Any, T]) -> T:
        try:
            action = next(steps)
            while True:
                if isinstance(action, Sleep):
                    await asyncio.sleep(action.seconds)
                    action = steps.send(None)
                    continue
                try:
                    response = await self._http.request(
                        action.method,
                        action.path,
                        params=action.params,
                        content=action.content,
                        data=action.form,
                        headers=action.headers,
                    )
                except httpx.TransportError as failed:
                    action = steps.throw(failed)
                else:
                    action = steps.send(response)
        except StopIteration as done:
            result: T = done.value
            return result

    async def _token(self, renew: bool) -> str:
        credentials = self.credentials
        if credentials.can_log_in and (renew or credentials.token is None):
            await self._drive(log_in(credentials, self.retry, time.monotonic))
        if credentials.token is None:
            raise ValueError("the stream needs credentials: give api_key or username/password")
        return credentials.token

    def stream(
        self,
        account: str,
        since_seq: int | None = None,
        *,
        channels: Sequence[str] = ACCOUNT_CHANNELS,
        quotes: Sequence[str] = (),
    ) -> AsyncStream:
        """`Client.stream`, for `async for`."""
        session = self._session(account, since_seq, channels, quotes)
        return AsyncStream(stream_url(self.url), session, self._token)

    async def buy(
        self,
        account: str,
        symbol: str,
        qty: int,
        limit_price: routes.PriceLike | None = None,
        **options: Any,
    ) -> Order:
        return await self.place_order(
            account, symbol, Side.BUY, qty, limit_price=limit_price, **options
        )

    async def sell(
        self,
        account: str,
        symbol: str,
        qty: int,
        limit_price: routes.PriceLike | None = None,
        **options: Any,
    ) -> Order:
        return await self.place_order(
            account, symbol, Side.SELL, qty, limit_price=limit_price, **options
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    health = _async(routes.health)
    login = _async(routes.login)
    keys = _async(routes.keys)
    create_key = _async(routes.create_key)
    revoke_key = _async(routes.revoke_key)
    accounts = _async(routes.accounts)
    balance = _async(routes.balance)
    positions = _async(routes.positions)
    ping = _async(routes.ping)
    risk = _async(routes.risk)
    set_risk = _async(routes.set_risk)
    place_order = _async(routes.place_order)
    orders = _async(routes.orders)
    order = _async(routes.order)
    order_by_client_id = _async(routes.order_by_client_id)
    cancel_order = _async(routes.cancel_order)
    cancel_all = _async(routes.cancel_all)
    trades = _async(routes.trades)
    contracts = _async(routes.contracts)
    quotes = _async(routes.quotes)
    market_status = _async(routes.market_status)
    bars = _async(routes.bars)
    paper_set_quote = _async(routes.paper_set_quote)
    paper_clock = _async(routes.paper_clock)
    paper_reset = _async(routes.paper_reset)
    audit = _async(routes.audit)
    strategies = _async(routes.strategies)
    start_strategy = _async(routes.start_strategy)
    stop_strategy = _async(routes.stop_strategy)
