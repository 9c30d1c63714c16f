"""One WebSocket client of the stream: its subscriptions, its queues and its writer.

Queues and backpressure
    The hub offers messages with plain calls that only touch this connection's own state:
    account events and control messages go into one FIFO (bounded: past `backlog` messages the
    connection is closed with 4409 and the client must resume); quotes go into a dict holding
    the latest pending quote per symbol, so a client that reads slowly gets the newest price
    instead of an ever-growing queue (conflation). One writer task per connection sends,
    events and control messages first, then quotes; only it ever waits on the socket.

Sequence and channels
    Per account the connection keeps a cursor: every event with `seq <= cursor` has been dealt
    with (sent, or skipped because its channel is not subscribed). Each event sent carries
    `prev_seq`, the `seq` of the previous event this connection sent for that account (or the
    `since_seq` of the `subscribed` message that started the stream), so a client subscribed
    to some channels only can still check that nothing is missing: `prev_seq` must equal the
    last `seq` it saw. An event that would leave a hole (never expected: the hub repairs gaps)
    closes the connection with 4409 rather than deliver out of order.

Resume: replay, then live, no gap and no duplicate
    `resume` sets the cursor to `since_seq` and starts holding the account's live events in a
    buffer; a task then checks that `since_seq` is within what is stored (else an `error`,
    `resume_too_old` or `resume_invalid`), acknowledges with `subscribed`, reads the stored
    events after `since_seq` from the database page by page (waiting for the queue to drain
    between pages), and sends them. When a page comes back
    short the replay has caught up with everything stored; the buffered live events are then
    passed through the cursor, which drops those the replay already sent, and the stream is
    live. No await separates the last check from the switch, so nothing slips between them.
    Every event the hub hands out was committed before, so the buffer can only start at or
    before the end of what the replay read: the merged stream is gap-free by construction.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from tradebridge.api.security import Principal, Scope
from tradebridge.api.stream.hub import READ_PAGE, QuoteKey, StreamHub
from tradebridge.api.stream.messages import (
    ACCOUNT_CHANNELS,
    CHANNEL_OF,
    QUOTES_PREFIX,
    AuthOp,
    CloseCode,
    EncodedEvent,
    OpError,
    PingOp,
    PongOp,
    RequestId,
    ResumeOp,
    SubscribeOp,
    UnsubscribeOp,
    encode_event,
    error_message,
    message,
    parse_op,
)
from tradebridge.domain.enums import EventType
from tradebridge.domain.errors import Forbidden, ValidationFailed
from tradebridge.domain.symbols import parse_symbol

__all__ = ["Connection"]

log = logging.getLogger(__name__)

ALL_ACCOUNT_TYPES = frozenset(ACCOUNT_CHANNELS.values())
CHANNEL_HELP = "use orders, trades, positions, account or quotes:SYMBOL"


@dataclass(eq=False, slots=True)
class AccountStream:
    channels: set[EventType]
    cursor: int
    """Every event with `seq <= cursor` has been sent or skipped."""
    last_sent: int
    """`seq` of the last event sent (the `prev_seq` of the next one)."""
    buffer: list[EncodedEvent] | None = None
    """Live events held back while a resume replays from the database."""
    replay: asyncio.Task[None] | None = field(default=None)


class Connection:
    """A client after authentication. `send` sends one text message (and may wait)."""

    def __init__(
        self, hub: StreamHub, principal: Principal, send: Callable[[str], Awaitable[None]]
    ) -> None:
        self.hub = hub
        self.principal = principal
        self.last_heard = asyncio.get_running_loop().time()
        self.closed = asyncio.Event()
        """Set when the connection must end: aborted, or the client went away."""
        self.close_code: int | None = None
        self.close_reason = ""
        self.close_error: str | None = None
        self.gone = False
        """The client went away (nothing more can be sent)."""
        self._send = send
        self._backlog = hub.limits.backlog
        self._page = max(1, min(READ_PAGE, self._backlog // 2))
        self._events: deque[str] = deque()
        self._quotes: dict[QuoteKey, str] = {}
        self._streams: dict[str, AccountStream] = {}
        self._symbols: set[QuoteKey] = set()
        self._wake = asyncio.Event()
        self._room = asyncio.Event()

    # ----------------------------------------------------------------- hub side (never blocks)

    def offer_event(self, event: EncodedEvent) -> None:
        stream = self._streams.get(event.account)
        if stream is None or self.close_code is not None:
            return
        if stream.buffer is not None:
            stream.buffer.append(event)
            if len(stream.buffer) > self._backlog:
                self._overflow()
            return
        self._deliver(stream, event)

    def offer_quote(self, key: QuoteKey, text: str) -> None:
        if self.close_code is None:
            self._quotes[key] = text  # replaces an unsent one: the client gets the latest
            self._wake.set()

    def offer_message(self, text: str) -> None:
        if self.close_code is None:
            self._push(text)

    def may_read(self, account: str) -> bool:
        return self.principal.account is None or self.principal.account == account

    def abort(self, code: int, reason: str, error: str | None = None) -> None:
        """End the connection with close `code` (sent after `error`, if given)."""
        if self.close_code is not None:
            return
        self.close_code = code
        self.close_reason = reason
        self.close_error = error
        self._events.clear()
        self._quotes.clear()
        for stream in self._streams.values():
            stream.buffer = None
        self.closed.set()
        self._wake.set()

    # ----------------------------------------------------------------- writer

    async def run(self, read_loop: Coroutine[Any, Any, None], name: str) -> None:
        """Write with `write_loop` and read with `read_loop` until the connection closes,
        then stop both."""
        writer = asyncio.create_task(self.write_loop(), name=f"{name}-writer")
        reader = asyncio.create_task(read_loop, name=f"{name}-reader")
        try:
            await self.closed.wait()
        finally:
            for task in (reader, writer):
                task.cancel()
            for task in (reader, writer):
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def write_loop(self) -> None:
        """Send what is queued, account events and control messages before quotes."""
        events, quotes, wake, room, send = (
            self._events,
            self._quotes,
            self._wake,
            self._room,
            self._send,
        )
        try:
            while self.close_code is None:
                await wake.wait()
                wake.clear()
                while self.close_code is None:
                    if events:
                        text = events.popleft()
                        if not room.is_set():
                            room.set()
                    elif quotes:
                        text = quotes.pop(next(iter(quotes)))
                    else:
                        break
                    await send(text)
        except asyncio.CancelledError:
            raise
        except Exception:  # the client went away (send raises once the socket is gone)
            self.gone = True
            self.closed.set()

    def client_gone(self) -> None:
        self.gone = True
        self.closed.set()

    def stop(self) -> None:
        """Cancel the replays and leave the hub (the endpoint calls this once, at the end)."""
        for stream in self._streams.values():
            if stream.replay is not None:
                stream.replay.cancel()
        self.hub.unregister(self)

    # ----------------------------------------------------------------- operations

    def handle(self, raw: str | bytes) -> None:
        """Carry out one client message; a refused one is answered with an `error` message."""
        self.last_heard = asyncio.get_running_loop().time()
        try:
            op = parse_op(raw)
            if isinstance(op, PingOp):
                self._push(message("pong", id=op.id))
            elif isinstance(op, PongOp):
                pass
            elif isinstance(op, SubscribeOp):
                self._subscribe(op)
            elif isinstance(op, UnsubscribeOp):
                self._unsubscribe(op)
            elif isinstance(op, ResumeOp):
                self._resume(op)
            else:
                assert isinstance(op, AuthOp)
                raise OpError("bad_request", "already authenticated", id=op.id)
        except OpError as refused:
            self._push(error_message(refused.code, refused.message, refused.details, id=refused.id))

    def _account(self, requested: str | None, request_id: RequestId, *, check: bool) -> str:
        account = requested or self.principal.account or self.hub.accounts[0]
        if account not in self.hub.accounts:
            raise OpError("not_found", f"no account {account!r}", {"account": account}, request_id)
        if check:
            try:
                self.principal.require(Scope.READ, account)
            except Forbidden as refused:
                raise OpError("forbidden", refused.message, refused.details, request_id) from None
        return account

    @staticmethod
    def _channels(channels: list[str], request_id: RequestId) -> tuple[set[EventType], list[str]]:
        types: set[EventType] = set()
        symbols: list[str] = []
        for channel in channels:
            event_type = ACCOUNT_CHANNELS.get(channel)
            if event_type is not None:
                types.add(event_type)
            elif channel.startswith(QUOTES_PREFIX):
                try:
                    symbol = parse_symbol(channel[len(QUOTES_PREFIX) :])
                except ValidationFailed as exc:
                    raise OpError(
                        "unknown_channel",
                        f"channel {channel!r}: {exc.message}",
                        {"channel": channel},
                        request_id,
                    ) from None
                if symbol not in symbols:
                    symbols.append(symbol)
            else:
                raise OpError(
                    "unknown_channel",
                    f"unknown channel {channel!r}; {CHANNEL_HELP}",
                    {"channel": channel},
                    request_id,
                )
        return types, symbols

    def _subscribe(self, op: SubscribeOp) -> None:
        types, symbols = self._channels(op.channels, op.id)
        account = self._account(op.account, op.id, check=True)
        new_symbols = [s for s in symbols if (account, s) not in self._symbols]
        limit = self.hub.limits.max_symbols
        if len(self._symbols) + len(new_symbols) > limit:
            raise OpError(
                "too_many_symbols",
                f"a connection may subscribe to at most {limit} quote symbols",
                {"limit": limit},
                op.id,
            )
        if types:
            stream = self._streams.get(account)
            if stream is None:
                last = self.hub.last_seq(account) or 0
                self._streams[account] = AccountStream(types, cursor=last, last_sent=last)
                self.hub.watch_account(self, account)
            else:
                stream.channels |= types
        for symbol in new_symbols:
            self._symbols.add((account, symbol))
            self.hub.watch_symbol(self, account, symbol)
        self._acknowledge(account, op.id)
        for symbol in new_symbols:
            latest = self.hub.latest_quote(account, symbol)
            if latest is not None:
                self.offer_quote((account, symbol), latest)

    def _unsubscribe(self, op: UnsubscribeOp) -> None:
        types, symbols = self._channels(op.channels, op.id)
        account = self._account(op.account, op.id, check=False)
        stream = self._streams.get(account)
        if stream is not None and types:
            stream.channels -= types
            if not stream.channels:
                self._drop_stream(account)
        for symbol in symbols:
            if (account, symbol) in self._symbols:
                self._symbols.discard((account, symbol))
                self.hub.unwatch_symbol(self, account, symbol)
                self._quotes.pop((account, symbol), None)
        self._acknowledge(account, op.id)

    def _resume(self, op: ResumeOp) -> None:
        types, symbols = self._channels(op.channels or [], op.id)
        if symbols:
            raise OpError(
                "bad_request",
                "resume takes account channels only; subscribe to quotes with subscribe",
                {"op": "resume"},
                op.id,
            )
        account = self._account(op.account, op.id, check=True)
        stream = self._streams.get(account)
        if stream is None:
            stream = AccountStream(set(), cursor=0, last_sent=0)
            self._streams[account] = stream
            self.hub.watch_account(self, account)
        elif stream.replay is not None:
            stream.replay.cancel()  # its buffer stays: it holds every live event since
        stream.channels = types or stream.channels or set(ALL_ACCOUNT_TYPES)
        stream.cursor = stream.last_sent = op.since_seq
        if stream.buffer is None:
            stream.buffer = []
        stream.replay = asyncio.create_task(
            self._replay(account, stream, op.since_seq, op.id), name=f"stream-replay {account}"
        )

    def _acknowledge(self, account: str, request_id: RequestId) -> None:
        """`subscribed` with every channel of the connection now; `since_seq` is where its
        stream of `account` stands: the `prev_seq` of the next event it will get."""
        stream = self._streams.get(account)
        channels = [] if stream is None else sorted(CHANNEL_OF[t] for t in stream.channels)
        channels += sorted(QUOTES_PREFIX + s for a, s in self._symbols if a == account)
        data: dict[str, object] = {"channels": channels}
        if stream is not None:
            data["since_seq"] = stream.last_sent
        self._push(message("subscribed", data, id=request_id, account=account))

    def _drop_stream(self, account: str) -> None:
        stream = self._streams.pop(account, None)
        if stream is None:
            return
        self.hub.unwatch_account(self, account)
        if stream.replay is not None and stream.replay is not asyncio.current_task():
            stream.replay.cancel()

    # ----------------------------------------------------------------- replay

    async def _replay(
        self, account: str, stream: AccountStream, since_seq: int, request_id: RequestId
    ) -> None:
        try:
            await self._replay_stored(account, stream, since_seq, request_id)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("stream: replay of account %s failed", account)
            self._fail_resume(
                account, "internal_error", "the replay failed; try again", {}, request_id
            )

    async def _replay_stored(
        self, account: str, stream: AccountStream, since_seq: int, request_id: RequestId
    ) -> None:
        stored = await self.hub.seq_range(account)
        first, last = stored if stored is not None else (since_seq + 1, 0)
        if since_seq > last:
            self._fail_resume(
                account,
                "resume_invalid",
                f"since_seq {since_seq} is after the last event of {account} ({last}); "
                "reload state over REST, then subscribe",
                {"since_seq": since_seq, "last_seq": last},
                request_id,
            )
            return
        if since_seq + 1 < first:
            self._fail_resume_too_old(account, since_seq, first, request_id)
            return
        self._acknowledge(account, request_id)
        cursor = since_seq
        while True:
            await self._wait_for_room(self._page)
            events = await self.hub.read_events(account, cursor, self._page)
            if self.close_code is not None:
                return
            for event in events:
                if event.seq != cursor + 1:  # pruned while we read
                    self._fail_resume_too_old(account, since_seq, event.seq, request_id)
                    return
                cursor = event.seq
                stream.cursor = cursor
                if event.type in stream.channels:
                    self._push(encode_event(event).text(stream.last_sent))
                    stream.last_sent = cursor
            if len(events) < self._page:
                break
        # Caught up with the database: from here on the live events, minus what was sent.
        buffered, stream.buffer = stream.buffer or [], None
        stream.replay = None
        for live in buffered:
            self._deliver(stream, live)

    def _fail_resume_too_old(
        self, account: str, since_seq: int, first: int, request_id: RequestId
    ) -> None:
        self._fail_resume(
            account,
            "resume_too_old",
            f"events of {account} after seq {since_seq} are no longer kept (the oldest is "
            f"{first}); reload state over REST, then subscribe",
            {"since_seq": since_seq, "first_seq": first},
            request_id,
        )

    def _fail_resume(
        self,
        account: str,
        code: str,
        text: str,
        details: dict[str, object],
        request_id: RequestId,
    ) -> None:
        self._drop_stream(account)
        self._push(error_message(code, text, details, id=request_id, account=account))

    async def _wait_for_room(self, room: int) -> None:
        while self.close_code is None and self._backlog - len(self._events) < room:
            self._room.clear()
            await self._room.wait()

    # ----------------------------------------------------------------- internals

    def _deliver(self, stream: AccountStream, event: EncodedEvent) -> None:
        if event.seq <= stream.cursor:
            return  # already sent by a replay
        if event.seq != stream.cursor + 1:
            reason = f"events of {event.account} after seq {stream.cursor} are missing; resume"
            self.abort(
                CloseCode.RESUME_REQUIRED,
                reason,
                error_message(
                    "resume_required",
                    reason,
                    {"last_seq": stream.cursor},
                    account=event.account,
                ),
            )
            return
        stream.cursor = event.seq
        if event.type in stream.channels:
            self._push(event.text(stream.last_sent))
            stream.last_sent = event.seq

    def _push(self, text: str) -> None:
        if self.close_code is not None:
            return
        events = self._events
        events.append(text)
        if len(events) > self._backlog:
            self._overflow()
        else:
            self._wake.set()

    def _overflow(self) -> None:
        reason = "too far behind; reconnect and resume from the last seq received"
        self.abort(
            CloseCode.RESUME_REQUIRED,
            reason,
            error_message("backlog_exceeded", reason, {"limit": self._backlog}),
        )
