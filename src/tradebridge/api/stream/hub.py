"""The stream hub: one per web worker process, shared by all its WebSocket connections.

Feed
    One `EventSubscriber` receives every account event, quote and status the engine publishes
    (each web worker has its own, so with N workers each receives all of them). A single task
    reads it and hands each item to the connections that want it.

Order and gap repair
    The hub keeps, per account, the last `seq` it has handed out. An event with the next `seq`
    goes out at once; one at or below it is a duplicate and is dropped; one above it means the
    bus lost something (PUB/SUB drops rather than blocks), so the missing events are read from
    the database first (the engine commits an event before it publishes it, so they are there)
    and handed out in order, then the new one. A lost event with nothing after it would not
    show up that way, so a periodic check compares the database's last `seq` with the hub's and
    reads what has been stored for a whole check interval without arriving (and at once when
    the engine link comes back, for events committed just before the engine went away).
    Connections therefore see each account's events gap-free, whatever the bus dropped.

Fan-out never waits
    Each event is decoded and encoded to JSON once, then offered to every interested
    connection with a plain method call that only appends to that connection's own bounded
    queue (or replaces its pending quote for the symbol). No `await` happens inside a fan-out
    loop, so a slow or stuck client cannot delay anyone else; each connection's own writer task
    does the sending (see `connection.py`).

Status and heartbeats
    Engine link up/down (from the subscriber's liveness) and broker connection changes (the
    engine's status topic) go to every connection allowed to see them. Every heartbeat interval
    each connection gets a `ping`, and one that has sent nothing for three intervals is closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol, TypeVar

import msgspec
from sqlalchemy import Connection, Engine

from tradebridge.api.stream.messages import (
    PING,
    CloseCode,
    EncodedEvent,
    decode_envelope,
    encode_event,
    encode_quote,
    error_message,
    message,
)
from tradebridge.api.stream.quote_interest import QuoteInterest
from tradebridge.config import ServerSettings, Settings
from tradebridge.engine.protocol import STATUS_TOPIC, AccountEvent, ConnectionEvent
from tradebridge.rpc import EventSubscriber
from tradebridge.rpc.link import WebEnd
from tradebridge.store import queries

__all__ = ["EventSource", "Listener", "StreamHub", "StreamLimits"]

log = logging.getLogger(__name__)
T = TypeVar("T")

ACCOUNT_PREFIX = "acct."
QUOTE_PREFIX = "quote."
QuoteKey = tuple[str, str]
"""A quote stream: (account, symbol)."""
TOPICS = [ACCOUNT_PREFIX, QUOTE_PREFIX, STATUS_TOPIC]
READ_PAGE = 500
"""Events read from the database per query (repair and replay)."""
MIN_CHECK_INTERVAL_S = 0.5
"""The database is compared with the feed every engine heartbeat, but not more often."""
YIELD_EVERY = 16
"""The feed lets other tasks (the connections' writers) run after this many events."""
SILENT_HEARTBEATS = 3
"""A client that sends nothing for this many heartbeat intervals is closed."""

_connection_event = msgspec.msgpack.Decoder(ConnectionEvent)


class EventSource(Protocol):
    """What the hub reads: `tradebridge.rpc.EventSubscriber`, or a stand-in in tests."""

    @property
    def alive(self) -> bool: ...

    async def start(self) -> None: ...

    async def receive(self) -> tuple[str, bytes]: ...

    async def close(self) -> None: ...


class Listener(Protocol):
    """A connection as the hub sees it; every method returns at once and never blocks."""

    last_heard: float
    """Loop time of the last message from the client."""

    def offer_event(self, event: EncodedEvent) -> None: ...

    def offer_quote(self, key: QuoteKey, text: str) -> None: ...

    def offer_message(self, text: str) -> None: ...

    def may_read(self, account: str) -> bool: ...

    def abort(self, code: int, reason: str, error: str | None = None) -> None: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class StreamLimits:
    heartbeat_s: float = 15.0
    auth_timeout_s: float = 5.0
    backlog: int = 10_000
    max_symbols: int = 1_000
    max_connections: int = 10_000
    max_pending: int = 256
    send_buffer: int = 65_536

    @classmethod
    def from_settings(cls, server: ServerSettings) -> StreamLimits:
        return cls(
            heartbeat_s=server.stream_heartbeat_ms / 1000,
            auth_timeout_s=server.stream_auth_timeout_ms / 1000,
            backlog=server.stream_backlog,
            max_symbols=server.stream_max_symbols,
            max_connections=server.stream_max_connections,
            max_pending=server.stream_max_pending,
            send_buffer=server.stream_send_buffer,
        )


def engine_status(up: bool) -> str:
    return message("status", {"engine": "up" if up else "down"})


class StreamHub:
    def __init__(
        self,
        source: EventSource,
        db: Engine,
        accounts: Iterable[str],
        limits: StreamLimits | None = None,
        *,
        check_interval_s: float = 1.0,
        startup_wait_s: float = 0.0,
        interest: QuoteInterest | None = None,
    ) -> None:
        """`interest`, where given, is told which quotes the connections want (and tells the
        engine)."""
        self.limits = limits or StreamLimits()
        self.accounts = tuple(accounts)
        self.engine_up = False
        self._source = source
        self._db = db
        self._check_interval_s = check_interval_s
        self._startup_wait_s = startup_wait_s
        self._poll_s = min(0.1, check_interval_s)
        self._executor = ThreadPoolExecutor(2, thread_name_prefix="stream-db")
        self._last: dict[str, int] = {}
        self._tail_seen: dict[str, int] = {}
        self._by_account: dict[str, set[Listener]] = {a: set() for a in self.accounts}
        self._by_symbol: dict[QuoteKey, set[Listener]] = {}
        self._listeners: set[Listener] = set()
        self._raw_quotes: dict[QuoteKey, bytes] = {}
        self.interest = interest
        self._broker_status: dict[str, str] = {}
        self._open = 0
        self._pending = 0
        self._tasks: list[asyncio.Task[None]] = []

    @classmethod
    def from_settings(
        cls, settings: Settings, link: WebEnd, db: Engine, interest: QuoteInterest | None = None
    ) -> StreamHub:
        """A hub reading the engine's event bus with its own `EventSubscriber`."""
        subscriber = EventSubscriber(
            link.events_address,
            TOPICS,
            heartbeat_ms=settings.engine.heartbeat_ms,
            curve=link.curve,
        )
        return cls(
            subscriber,
            db,
            [a.id for a in settings.accounts],
            StreamLimits.from_settings(settings.server),
            check_interval_s=max(settings.engine.heartbeat_ms / 1000, MIN_CHECK_INTERVAL_S),
            startup_wait_s=min(2 * settings.engine.heartbeat_ms / 1000, 3.0),
            interest=interest,
        )

    # ----------------------------------------------------------------- life cycle

    async def start(self) -> None:
        await self._source.start()
        # After subscribing: whatever was committed before is counted here, and whatever
        # is committed after arrives over the bus or is repaired.
        self._last = await self._db_call(self._load_last_seqs)
        # A running engine is heard from within a heartbeat: wait that long for it, so the
        # first clients are not told "down" just before "up".
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._startup_wait_s
        while not self._source.alive and loop.time() < deadline:  # noqa: ASYNC110 - polled
            await asyncio.sleep(0.02)
        self.engine_up = self._source.alive
        if self.interest is not None:
            self.interest.start()
        self._tasks = [
            asyncio.create_task(self._run(), name="stream-hub-feed"),
            asyncio.create_task(self._watch(), name="stream-hub-watch"),
            asyncio.create_task(self._heartbeat(), name="stream-hub-heartbeat"),
        ]

    async def stop(self) -> None:
        for listener in list(self._listeners):
            listener.abort(CloseCode.GOING_AWAY, "the server is shutting down; reconnect")
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        if self.interest is not None:
            await self.interest.stop()
        await self._source.close()
        self._executor.shutdown(wait=False, cancel_futures=True)

    def _load_last_seqs(self, conn: Connection) -> dict[str, int]:
        return {account: queries.last_seq(conn, account) for account in self.accounts}

    # ----------------------------------------------------------------- connections

    def admit(self) -> bool:
        """Count an authenticated socket in; False when the worker already has as many as
        allowed."""
        if self._open >= self.limits.max_connections:
            return False
        self._open += 1
        return True

    def release(self) -> None:
        self._open -= 1

    def admit_pending(self) -> bool:
        """Count in a socket that has yet to authenticate, apart from the authenticated ones
        (so unauthenticated clients cannot take their places); False when the worker already
        has as many as allowed."""
        if self._pending >= self.limits.max_pending:
            return False
        self._pending += 1
        return True

    def release_pending(self) -> None:
        self._pending -= 1

    def register(self, listener: Listener) -> None:
        """An authenticated connection: it gets status messages and heartbeats from now on."""
        self._listeners.add(listener)

    def unregister(self, listener: Listener) -> None:
        self._listeners.discard(listener)
        for listeners in self._by_account.values():
            listeners.discard(listener)
        for account, symbol in [key for key, ls in self._by_symbol.items() if listener in ls]:
            self.unwatch_symbol(listener, account, symbol)

    def watch_account(self, listener: Listener, account: str) -> None:
        self._by_account[account].add(listener)

    def unwatch_account(self, listener: Listener, account: str) -> None:
        self._by_account[account].discard(listener)

    def watch_symbol(self, listener: Listener, account: str, symbol: str) -> None:
        listeners = self._by_symbol.setdefault((account, symbol), set())
        if not listeners and self.interest is not None:
            self.interest.add(account, symbol)
        listeners.add(listener)

    def unwatch_symbol(self, listener: Listener, account: str, symbol: str) -> None:
        listeners = self._by_symbol.get((account, symbol))
        if listeners is not None:
            listeners.discard(listener)
            if not listeners:
                del self._by_symbol[(account, symbol)]
                if self.interest is not None:
                    self.interest.remove(account, symbol)

    def last_seq(self, account: str) -> int | None:
        """The last `seq` handed out for `account`; None for an account this web does not
        serve."""
        return self._last.get(account)

    def latest_quote(self, account: str, symbol: str) -> str | None:
        """The last quote of `symbol` seen on `account`, as a message, if any."""
        raw = self._raw_quotes.get((account, symbol))
        return None if raw is None else encode_quote(account, raw)

    def status_messages(self, listener: Listener) -> list[str]:
        """What a newly authenticated connection is told first: the engine link, then each
        readable account's last known broker connection state."""
        return [engine_status(self.engine_up)] + [
            text for account, text in self._broker_status.items() if listener.may_read(account)
        ]

    async def seq_range(self, account: str) -> tuple[int, int] | None:
        return await self._db_call(lambda conn: queries.seq_range(conn, account))

    async def read_events(self, account: str, after: int, limit: int) -> list[AccountEvent]:
        """Stored events of `account` with `seq > after`, in order, at most `limit`."""

        def read(conn: Connection) -> list[AccountEvent]:
            rows = queries.events_after(conn, account, after, limit)
            return [decode_envelope(payload) for _, payload in rows]

        return await self._db_call(read)

    async def _db_call(self, work: Callable[[Connection], T]) -> T:
        def run() -> T:
            with self._db.connect() as conn:
                return work(conn)

        return await asyncio.get_running_loop().run_in_executor(self._executor, run)

    # ----------------------------------------------------------------- feed

    async def _run(self) -> None:
        receive = self._source.receive
        handled = 0
        while True:
            handled += 1
            if handled % YIELD_EVERY == 0:
                # `receive` does not suspend while events are waiting: let the writers run.
                await asyncio.sleep(0)
            try:
                topic, payload = await receive()
            except RuntimeError:  # the source was closed
                return
            try:
                if topic.startswith(ACCOUNT_PREFIX):
                    await self._on_account_event(decode_envelope(payload))
                elif topic.startswith(QUOTE_PREFIX):
                    account, _, symbol = topic[len(QUOTE_PREFIX) : -1].partition(".")
                    self._on_quote((account, symbol), payload)
                elif topic == STATUS_TOPIC:
                    self._on_connection_event(_connection_event.decode(payload))
            except Exception:
                log.exception("stream hub: dropped an event on %r it could not process", topic)

    async def _on_account_event(self, event: AccountEvent) -> None:
        last = self._last.get(event.account)
        if last is None or event.seq <= last:
            return  # an account this web does not serve, or already handed out (repaired)
        if event.seq > last + 1:
            await self._repair(event.account, event.seq - 1)
            if event.seq <= self._last[event.account]:
                return
        self._publish(event)

    def _publish(self, event: AccountEvent) -> None:
        self._last[event.account] = event.seq
        listeners = self._by_account.get(event.account)
        if listeners:
            encoded = encode_event(event)
            for listener in listeners:
                listener.offer_event(encoded)

    async def _repair(self, account: str, upto: int) -> None:
        """Hand out the stored events after the last one handed out, up to `upto`.

        Safe to run while the feed goes on (or twice at once): whatever arrived meanwhile is
        skipped by `seq`."""
        first_missing = self._last[account] + 1
        while self._last[account] < upto:
            after = self._last[account]
            events = await self.read_events(account, after, min(READ_PAGE, upto - after))
            progressed = False
            for event in events:
                last = self._last[account]
                if event.seq <= last:
                    continue
                if event.seq != last + 1 or event.seq > upto:
                    break
                self._publish(event)
                progressed = True
            if not progressed:
                if self._last[account] < upto:
                    log.warning(
                        "stream hub: events %d-%d of account %s are not in the database; "
                        "connections that needed them are asked to resume",
                        self._last[account] + 1,
                        upto,
                        account,
                    )
                return
        log.info(
            "stream hub: repaired events %d-%d of account %s from the database",
            first_missing,
            upto,
            account,
        )

    def _on_quote(self, key: QuoteKey, payload: bytes) -> None:
        self._raw_quotes[key] = payload
        listeners = self._by_symbol.get(key)
        if listeners:
            text = encode_quote(key[0], payload)
            for listener in listeners:
                listener.offer_quote(key, text)

    def _on_connection_event(self, event: ConnectionEvent) -> None:
        text = message(
            "status",
            {"broker": event.state.value, "message": event.message},
            account=event.account,
        )
        self._broker_status[event.account] = text
        for listener in self._listeners:
            if listener.may_read(event.account):
                listener.offer_message(text)

    # ----------------------------------------------------------------- background checks

    async def _watch(self) -> None:
        """Follow the engine link; look for events stored but never received."""
        loop = asyncio.get_running_loop()
        next_check = loop.time() + self._check_interval_s
        while True:
            await asyncio.sleep(self._poll_s)
            alive = self._source.alive
            came_back = alive and not self.engine_up
            if alive != self.engine_up:
                self.engine_up = alive
                if alive:
                    log.info("stream hub: engine link up")
                else:
                    log.warning("stream hub: engine link down")
                text = engine_status(alive)
                for listener in self._listeners:
                    listener.offer_message(text)
                if alive and self.interest is not None:
                    self.interest.renew_all()
            if came_back or (alive and loop.time() >= next_check):
                try:
                    await self._check_tails(immediately=came_back)
                except Exception:
                    log.exception("stream hub: could not compare with the database")
                next_check = loop.time() + self._check_interval_s

    async def _check_tails(self, *, immediately: bool) -> None:
        handed_out = dict(self._last)  # before the read: the database has at least these
        stored = await self._db_call(self._load_last_seqs)
        for account, db_last in stored.items():
            if db_last < handed_out[account]:
                self._history_reset(account, db_last)
                continue
            seen_before = self._tail_seen.get(account)
            self._tail_seen[account] = db_last
            target = db_last if immediately else seen_before
            if target is not None and target > self._last[account]:
                await self._repair(account, target)

    def _history_reset(self, account: str, db_last: int) -> None:
        """The database holds fewer events than were handed out (it was replaced, say): the
        numbering starts again below what clients have seen, so they must reload."""
        log.warning(
            "stream hub: account %s's events end at seq %d in the database, below the %d "
            "already sent; its clients are asked to reload",
            account,
            db_last,
            self._last[account],
        )
        self._last[account] = db_last
        self._tail_seen.pop(account, None)
        reason = f"the event history of {account} was reset; reload state over REST"
        error = error_message("history_reset", reason, account=account)
        for listener in list(self._by_account.get(account, ())):
            listener.abort(CloseCode.RESUME_REQUIRED, reason, error)

    async def _heartbeat(self) -> None:
        interval = self.limits.heartbeat_s
        silent_limit = SILENT_HEARTBEATS * interval
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(interval)
            now = loop.time()
            for listener in list(self._listeners):
                if now - listener.last_heard > silent_limit:
                    reason = f"nothing received from the client for {silent_limit:g} s"
                    listener.abort(
                        CloseCode.TIMEOUT, reason, error_message("heartbeat_timeout", reason)
                    )
                else:
                    listener.offer_message(PING)
