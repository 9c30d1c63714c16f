"""The WebSocket event stream (`/api/v1/stream`), resumed after every reconnect.

`StreamSession` is the protocol without I/O (what to send on connect, what each message
means); `Stream` (sync) and `AsyncStream` drive it over a socket. A stream keeps the `seq` of
the last account event it handed out; after any disconnect it connects again (with backoff)
and sends `resume` from there, so the caller sees every account event once, in order, with
no gap: an event at or below that `seq` is dropped as a repeat, and an event whose
`prev_seq` is not it (a hole, which the server should never leave) makes it reconnect and
resume. Quotes are not numbered; they just continue after a reconnect.

The stream ends only when closed, or with an error reconnecting cannot mend: bad
credentials (`Unauthorized`, `Forbidden`), a subscription the server refuses (`NotFound`,
`StreamError`), or a `since_seq` the server no longer has (`ResumeFailed`: reload the state
over REST, then stream again without `since_seq`).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from typing import Any

import msgspec
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from tradebridge_client.errors import (
    Forbidden,
    NotFound,
    ResumeFailed,
    StreamError,
    TradebridgeError,
    Unauthorized,
)
from tradebridge_client.models import AccountSummary, Order, Position, Quote, Struct, Trade

ACCOUNT_CHANNELS: tuple[str, ...] = ("orders", "trades", "positions", "account")
IDLE_PING_S = 10.0
"""With nothing received for this long the client sends a `ping` (the server closes
connections that stay silent for three of its heartbeats)."""
DEAD_AFTER_S = 45.0
"""With nothing received for this long, the connection is taken for dead and replaced."""
RECONNECT_FIRST_S = 0.1
RECONNECT_MAX_S = 5.0


class AccountEvent(Struct, frozen=True, kw_only=True):
    """A numbered change of an account: `type` is `order`, `trade`, `position` or
    `account` (the balance summary), `data` the resource as REST returns it."""

    type: str
    account: str
    seq: int
    data: Order | Trade | Position | AccountSummary


class QuoteEvent(Struct, frozen=True, kw_only=True):
    """A quote of `account`'s broker (each account streams its own broker's market)."""

    account: str | None
    quote: Quote


class StatusEvent(Struct, frozen=True, kw_only=True):
    """The engine (`account` None: `{"engine": "up"|"down"}`) or an account's broker
    (`{"broker": "connected"|..., "message": ...}`)."""

    account: str | None
    data: dict[str, Any]


Event = AccountEvent | QuoteEvent | StatusEvent

_DATA_TYPES: dict[str, type[Any]] = {
    "order": Order,
    "trade": Trade,
    "position": Position,
    "account": AccountSummary,
}


class _Message(msgspec.Struct):
    type: str
    account: str | None = None
    seq: int | None = None
    prev_seq: int | None = None
    id: str | int | None = None
    data: msgspec.Raw = msgspec.Raw(b"null")


class _ErrorData(msgspec.Struct):
    code: str
    message: str = ""
    details: dict[str, Any] = msgspec.field(default_factory=dict)


class _Subscribed(msgspec.Struct):
    channels: list[str] = msgspec.field(default_factory=list)
    since_seq: int | None = None


_decode_message = msgspec.json.Decoder(_Message).decode
_decode_error = msgspec.json.Decoder(_ErrorData).decode
_decode_subscribed = msgspec.json.Decoder(_Subscribed).decode
_decode_quote = msgspec.json.Decoder(Quote).decode
_decode_status = msgspec.json.Decoder(dict[str, Any]).decode
_DATA_DECODERS = {name: msgspec.json.Decoder(kind).decode for name, kind in _DATA_TYPES.items()}
_encode = msgspec.json.Encoder().encode

_ACCOUNT_OP = "account"
_QUOTES_OP = "quotes"

_RECONNECTABLE = frozenset(
    {
        "auth_timeout",
        "heartbeat_timeout",
        "backlog_exceeded",
        "resume_required",
        "too_many_connections",
        "internal_error",
    }
)
_RESUME_FAILED = frozenset({"resume_too_old", "resume_invalid", "history_reset"})


class Reconnect(Exception):
    """The connection must be replaced and the stream resumed (a hole in the sequence, or
    the server asked for it)."""


class StreamSession:
    """The stream protocol of one account (and quotes), without I/O."""

    def __init__(
        self,
        account: str,
        since_seq: int | None,
        channels: Sequence[str],
        quotes: Sequence[str],
    ) -> None:
        unknown = [c for c in channels if c not in ACCOUNT_CHANNELS]
        if unknown:
            raise ValueError(f"unknown channel {unknown[0]!r}; use {', '.join(ACCOUNT_CHANNELS)}")
        if not channels and not quotes:
            raise ValueError("stream at least one channel or quote")
        self.account = account
        self.last_seq = since_seq
        """The `seq` of the last account event handed out (resume from here)."""
        self.channels = list(channels)
        self.quotes = [f"quotes:{symbol}" for symbol in quotes]

    def opening(self, token: str) -> list[str]:
        """The messages that start (or restart) the stream on a new connection."""
        messages = [_op("auth", token=token)]
        if self.channels and self.last_seq is not None:
            messages.append(
                _op(
                    "resume",
                    id=_ACCOUNT_OP,
                    account=self.account,
                    since_seq=self.last_seq,
                    channels=self.channels,
                )
            )
        elif self.channels:
            messages.append(
                _op("subscribe", id=_ACCOUNT_OP, account=self.account, channels=self.channels)
            )
        if self.quotes:
            messages.append(
                _op("subscribe", id=_QUOTES_OP, account=self.account, channels=self.quotes)
            )
        return messages

    def receive(self, text: str | bytes) -> tuple[Event | None, str | None]:
        """What one server message means: an event to hand out (or None) and a reply to
        send (or None). Raises `Reconnect`, or an error that ends the stream."""
        message = _decode_message(text)
        kind = message.type
        if kind in _DATA_DECODERS:
            return self._account_event(message), None
        if kind == "quote":
            return QuoteEvent(account=message.account, quote=_decode_quote(message.data)), None
        if kind == "status":
            return StatusEvent(account=message.account, data=_decode_status(message.data)), None
        if kind == "ping":
            return None, _op("pong")
        if kind == "subscribed":
            if message.id == _ACCOUNT_OP:
                since = _decode_subscribed(message.data).since_seq
                if self.last_seq is None:
                    self.last_seq = since
            return None, None
        if kind == "error":
            raise _stream_error(_decode_error(message.data))
        return None, None  # pong, and types newer than this client

    def _account_event(self, message: _Message) -> AccountEvent | None:
        seq, account = message.seq, message.account
        if seq is None or account is None:
            raise StreamError(f"a {message.type} event without seq or account")
        if self.last_seq is not None and seq <= self.last_seq:
            return None  # a repeat, after a resume
        if self.last_seq is not None and message.prev_seq not in (None, self.last_seq):
            raise Reconnect(f"event {seq} follows {message.prev_seq}, expected {self.last_seq}")
        self.last_seq = seq
        data = _DATA_DECODERS[message.type](message.data)
        return AccountEvent(type=message.type, account=account, seq=seq, data=data)


def _op(op: str, **fields: Any) -> str:
    return _encode({"op": op, **fields}).decode()


def _stream_error(error: _ErrorData) -> Exception:
    code, text, details = error.code, error.message, error.details
    if code in _RECONNECTABLE:
        return Reconnect(f"{code}: {text}")
    if code in _RESUME_FAILED:
        return ResumeFailed(text, details, code=code)
    if code == "unauthorized":
        return Unauthorized(text, details)
    if code == "forbidden":
        return Forbidden(text, details)
    if code == "not_found":
        return NotFound(text, details)
    return StreamError(text, details, code=code)


def stream_url(base_url: str) -> str:
    """The stream's URL for an API at `base_url` (`http://host:8000/api/v1`)."""
    scheme, rest = base_url.split("://", 1)
    return f"{'wss' if scheme == 'https' else 'ws'}://{rest.rstrip('/')}/stream"


class _Backoff:
    def __init__(self) -> None:
        self.delay = RECONNECT_FIRST_S

    def next(self) -> float:
        wait = self.delay / 2 + random.uniform(0, self.delay / 2)
        self.delay = min(self.delay * 2, RECONNECT_MAX_S)
        return wait

    def reset(self) -> None:
        self.delay = RECONNECT_FIRST_S


_CONNECT_ERRORS = (OSError, InvalidHandshake, InvalidURI, TimeoutError, ConnectionClosed)
_FATAL_CLOSES: dict[int, type[TradebridgeError]] = {
    4400: StreamError,
    4401: Unauthorized,
    4403: Forbidden,
}


class _StreamState:
    """What the sync and the async stream share: the session, the backoff, and what to do
    after a failure."""

    def __init__(self, url: str, session: StreamSession, open_timeout_s: float) -> None:
        self._url = url
        self.session = session
        self._open_timeout_s = open_timeout_s
        self._closed = False
        self._backoff = _Backoff()
        self._renewed = False
        """Whether the credential was renewed since the last event (a refusal after that
        ends the stream)."""

    @property
    def last_seq(self) -> int | None:
        """The `seq` of the last account event handed out: where to resume from."""
        return self.session.last_seq

    def _failed(self, failure: Exception) -> None:
        """After the connection was dropped for `failure`: raise what ends the stream."""
        closed = failure.rcvd if isinstance(failure, ConnectionClosed) else None
        if closed is not None:
            fatal = _FATAL_CLOSES.get(closed.code)
            if fatal is Unauthorized:
                failure = Unauthorized(closed.reason)
            elif fatal is not None:
                raise fatal(closed.reason, {"close_code": closed.code})
        if isinstance(failure, Unauthorized):
            if self._renewed:
                raise failure
            self._renewed = True

    def _delivered(self) -> None:
        self._backoff.reset()
        self._renewed = False


class Stream(_StreamState):
    """Events of one account (and quotes), as an iterator that never ends by itself (see
    the module docstring). Use it in a `with` block, or `close()` it."""

    def __init__(
        self,
        url: str,
        session: StreamSession,
        token: Callable[[bool], str],
        *,
        open_timeout_s: float = 10.0,
    ) -> None:
        """`token(renew)` gives the credential to send (`renew`: the last one was refused)."""
        super().__init__(url, session, open_timeout_s)
        self._token = token
        self._socket: Any = None

    def __iter__(self) -> Iterator[Event]:
        return self

    def __next__(self) -> Event:
        while not self._closed:
            if self._socket is None:
                self._connect()
                continue
            try:
                event = self._receive()
            except (Reconnect, ConnectionClosed, OSError, Unauthorized) as failure:
                self._drop()
                self._failed(failure)
                continue
            if event is not None:
                self._delivered()
                return event
        raise StopIteration

    def _receive(self) -> Event | None:
        idle = 0.0
        while True:
            try:
                text = self._socket.recv(timeout=IDLE_PING_S)
                break
            except TimeoutError:
                idle += IDLE_PING_S
                if idle >= DEAD_AFTER_S:
                    raise Reconnect("no message from the server") from None
                self._socket.send(_op("ping"))
        event, reply = self.session.receive(text)
        if reply is not None:
            self._socket.send(reply)
        return event

    def _connect(self) -> None:
        from websockets.sync.client import connect

        try:
            # Entered as a context manager (websockets 17.1 deprecates a sync connection
            # that is not); `_drop` closes it.
            socket = connect(
                self._url, open_timeout=self._open_timeout_s, max_size=2**24
            ).__enter__()
        except _CONNECT_ERRORS:
            time.sleep(self._backoff.next())
            return
        try:
            for text in self.session.opening(self._token(self._renewed)):
                socket.send(text)
        except _CONNECT_ERRORS:
            socket.close()
            time.sleep(self._backoff.next())
            return
        self._socket = socket

    def _drop(self) -> None:
        if self._socket is not None:
            with contextlib.suppress(*_CONNECT_ERRORS):
                self._socket.close()
            self._socket = None
        if not self._closed:
            time.sleep(self._backoff.next())

    def close(self) -> None:
        self._closed = True
        self._drop()

    def __enter__(self) -> Stream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncStream(_StreamState):
    """`Stream` for `async for` (and `async with`)."""

    def __init__(
        self,
        url: str,
        session: StreamSession,
        token: Callable[[bool], Awaitable[str]],
        *,
        open_timeout_s: float = 10.0,
    ) -> None:
        """`token(renew)` is awaited for the credential to send."""
        super().__init__(url, session, open_timeout_s)
        self._token = token
        self._socket: Any = None

    def __aiter__(self) -> AsyncIterator[Event]:
        return self

    async def __anext__(self) -> Event:
        while not self._closed:
            if self._socket is None:
                await self._connect()
                continue
            try:
                event = await self._receive()
            except (Reconnect, ConnectionClosed, OSError, Unauthorized) as failure:
                await self._drop()
                self._failed(failure)
                continue
            if event is not None:
                self._delivered()
                return event
        raise StopAsyncIteration

    async def _receive(self) -> Event | None:
        idle = 0.0
        while True:
            try:
                text = await asyncio.wait_for(self._socket.recv(), IDLE_PING_S)
                break
            except TimeoutError:
                idle += IDLE_PING_S
                if idle >= DEAD_AFTER_S:
                    raise Reconnect("no message from the server") from None
                await self._socket.send(_op("ping"))
        event, reply = self.session.receive(text)
        if reply is not None:
            await self._socket.send(reply)
        return event

    async def _connect(self) -> None:
        from websockets.asyncio.client import connect

        try:
            socket = await connect(self._url, open_timeout=self._open_timeout_s, max_size=2**24)
        except _CONNECT_ERRORS:
            await asyncio.sleep(self._backoff.next())
            return
        try:
            for text in self.session.opening(await self._token(self._renewed)):
                await socket.send(text)
        except _CONNECT_ERRORS:
            await socket.close()
            await asyncio.sleep(self._backoff.next())
            return
        self._socket = socket

    async def _drop(self) -> None:
        if self._socket is not None:
            with contextlib.suppress(*_CONNECT_ERRORS):
                await self._socket.close()
            self._socket = None
        if not self._closed:
            await asyncio.sleep(self._backoff.next())

    async def close(self) -> None:
        self._closed = True
        await self._drop()

    async def __aenter__(self) -> AsyncStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


__all__ = [
    "ACCOUNT_CHANNELS",
    "AccountEvent",
    "AsyncStream",
    "Event",
    "QuoteEvent",
    "StatusEvent",
    "Stream",
    "StreamSession",
]
