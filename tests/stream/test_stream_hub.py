"""The stream hub and connections in-process: gap repair, fan-out, backpressure, replay merge."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
import pytest
from sqlalchemy import Engine

from tradebridge.api.security import Principal, Scope
from tradebridge.api.stream.connection import Connection
from tradebridge.api.stream.endpoint import RedactTokens, take_query_token
from tradebridge.api.stream.hub import StreamHub, StreamLimits
from tradebridge.api.stream.messages import CloseCode, EncodedEvent
from tradebridge.domain.enums import ConnectionState, EventType
from tradebridge.domain.models import Position, Quote
from tradebridge.engine.protocol import (
    STATUS_TOPIC,
    AccountEvent,
    ConnectionEvent,
    account_topic,
    quote_topic,
)
from tradebridge.rpc import EventPublisher, EventSubscriber
from tradebridge.store.database import create_db_engine
from tradebridge.store.migrate import upgrade
from tradebridge.store.schema import events

pytestmark = pytest.mark.anyio

ADMIN = Principal(username="t", scopes=frozenset(Scope))
_encode = msgspec.msgpack.Encoder().encode
_decode_json = msgspec.json.Decoder().decode


def payload(seq: int, account: str = "paper") -> bytes:
    position = Position(
        symbol="600519.SH",
        qty=seq,
        available_qty=0,
        avg_cost=Decimal("1500.01"),
        last_price=Decimal("1500.00"),
        market_value=Decimal(1500 * seq),
        unrealized_pnl=Decimal("-0.01"),
        currency="CNY",
    )
    event = AccountEvent(
        account=account, seq=seq, type=EventType.POSITION, data=msgspec.Raw(_encode(position))
    )
    return _encode(event)


def store(db: Engine, seqs: range, account: str = "paper") -> None:
    now = datetime.now(UTC)
    with db.begin() as conn:
        conn.execute(
            events.insert(),
            [
                {
                    "account": account,
                    "seq": s,
                    "type": "position",
                    "payload": payload(s, account),
                    "created_at": now,
                }
                for s in seqs
            ],
        )


class FakeSource:
    """The engine's event bus, fed by the test: drop what you like."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[tuple[str, bytes] | None] = asyncio.Queue()
        self.alive = True

    async def start(self) -> None:
        pass

    async def receive(self) -> tuple[str, bytes]:
        item = await self.queue.get()
        if item is None:
            raise RuntimeError("closed")
        return item

    async def close(self) -> None:
        self.queue.put_nowait(None)

    def publish(self, *seqs: int, account: str = "paper") -> None:
        for seq in seqs:
            self.queue.put_nowait((account_topic(account), payload(seq, account)))


class Recorder:
    """A listener that keeps what it is offered."""

    def __init__(self) -> None:
        self.last_heard = float("inf")
        self.seqs: list[int] = []
        self.messages: list[str] = []
        self.quotes: list[str] = []
        self.aborted: int | None = None

    def offer_event(self, event: EncodedEvent) -> None:
        self.seqs.append(event.seq)

    def offer_quote(self, symbol: str, text: str) -> None:
        self.quotes.append(text)

    def offer_message(self, text: str) -> None:
        self.messages.append(text)

    def may_read(self, account: str) -> bool:
        return account == "paper"

    def abort(self, code: int, reason: str, error: str | None = None) -> None:
        self.aborted = code


class Sink:
    """The socket side of a `Connection`: records what is sent; `gate` holds the sender."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.gate = asyncio.Event()
        self.gate.set()

    async def send(self, text: str) -> None:
        await self.gate.wait()
        self.sent.append(_decode_json(text))

    def events(self) -> list[dict[str, Any]]:
        return [m for m in self.sent if "seq" in m and m["type"] != "subscribed"]


@pytest.fixture
def db(tmp_path: Path) -> Engine:
    engine = create_db_engine(f"sqlite:///{tmp_path / 'hub.db'}")
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
async def stack() -> AsyncIterator[AsyncExitStack]:
    async with AsyncExitStack() as s:
        yield s


async def started_hub(
    stack: AsyncExitStack,
    source: Any,
    db: Engine,
    limits: StreamLimits | None = None,
    hub_class: type[StreamHub] = StreamHub,
) -> StreamHub:
    hub = hub_class(source, db, ["paper", "other"], limits, check_interval_s=0.05)
    await hub.start()
    stack.push_async_callback(hub.stop)
    return hub


async def eventually(check: Callable[[], bool], within: float = 3) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


def connect(hub: StreamHub, sink: Sink, stack: AsyncExitStack) -> Connection:
    connection = Connection(hub, ADMIN, sink.send)
    hub.register(connection)
    writer = asyncio.create_task(connection.write_loop())

    def stop() -> None:
        writer.cancel()
        connection.stop()

    stack.callback(stop)
    return connection


# --------------------------------------------------------------------------- gap repair


async def test_events_dropped_by_the_bus_are_repaired_from_the_database(
    db: Engine, stack: AsyncExitStack, caplog: pytest.LogCaptureFixture
) -> None:
    source = FakeSource()
    hub = await started_hub(stack, source, db)
    recorder = Recorder()
    hub.watch_account(recorder, "paper")
    store(db, range(1, 11))  # committed first, then published: 4 and 7 get lost on the way
    with caplog.at_level(logging.INFO):
        source.publish(1, 2, 3, 5, 6, 8, 9, 10)
        await eventually(lambda: len(recorder.seqs) == 10)
    assert recorder.seqs == list(range(1, 11))
    assert "repaired events 4-4 of account paper" in caplog.text
    assert hub.last_seq("paper") == 10


async def test_duplicates_and_stale_events_are_dropped(db: Engine, stack: AsyncExitStack) -> None:
    store(db, range(1, 3))
    source = FakeSource()
    hub = await started_hub(stack, source, db)
    assert hub.last_seq("paper") == 2  # what was stored before the hub started is not sent
    recorder = Recorder()
    hub.watch_account(recorder, "paper")
    store(db, range(3, 5))
    source.publish(1, 2, 3, 3, 2, 4, 4)
    await eventually(lambda: hub.last_seq("paper") == 4)
    await asyncio.sleep(0.05)
    assert recorder.seqs == [3, 4]


async def test_a_lost_last_event_is_found_by_the_periodic_check(
    db: Engine, stack: AsyncExitStack
) -> None:
    source = FakeSource()
    hub = await started_hub(stack, source, db)
    recorder = Recorder()
    hub.watch_account(recorder, "paper")
    store(db, range(1, 4))
    source.publish(1, 2)  # 3 never comes, and nothing after it
    await eventually(lambda: recorder.seqs == [1, 2, 3], within=2)


async def test_a_gap_the_database_cannot_fill_makes_connections_resume(
    db: Engine, stack: AsyncExitStack
) -> None:
    source = FakeSource()
    hub = await started_hub(stack, source, db)
    sink = Sink()
    connection = connect(hub, sink, stack)
    connection.handle('{"op": "subscribe", "channels": ["positions"]}')
    store(db, range(1, 2))
    store(db, range(3, 4))  # 2 is gone (pruned, say)
    source.publish(1, 3)
    await eventually(lambda: connection.close_code is not None)
    assert connection.close_code == CloseCode.RESUME_REQUIRED
    assert connection.close_reason == "events of paper after seq 1 are missing; resume"
    assert [e["seq"] for e in sink.events()] == [1]


async def test_a_database_that_went_back_in_seq_makes_listeners_reload(
    db: Engine, stack: AsyncExitStack
) -> None:
    store(db, range(1, 6))
    source = FakeSource()
    hub = await started_hub(stack, source, db)
    recorder = Recorder()
    hub.watch_account(recorder, "paper")
    with db.begin() as conn:  # a new, empty database in its place
        conn.execute(events.delete())
    store(db, range(1, 3))
    await eventually(lambda: recorder.aborted is not None)
    assert recorder.aborted == CloseCode.RESUME_REQUIRED
    assert hub.last_seq("paper") == 2
    late = Recorder()
    hub.watch_account(late, "paper")
    store(db, range(3, 4))
    source.publish(3)
    await eventually(lambda: late.seqs == [3])


async def test_engine_link_and_broker_status_reach_the_listeners(
    db: Engine, stack: AsyncExitStack
) -> None:
    source = FakeSource()
    hub = await started_hub(stack, source, db)
    recorder = Recorder()
    hub.register(recorder)
    assert hub.status_messages(recorder) == ['{"type":"status","data":{"engine":"up"}}']
    source.alive = False
    await eventually(lambda: len(recorder.messages) == 1)
    source.alive = True
    await eventually(lambda: len(recorder.messages) == 2)
    for account in ("paper", "other"):  # the recorder may read only paper
        event = ConnectionEvent(account=account, state=ConnectionState.DISCONNECTED, message="x")
        source.queue.put_nowait((STATUS_TOPIC, _encode(event)))
    await eventually(lambda: len(recorder.messages) == 3)
    assert [_decode_json(m) for m in recorder.messages] == [
        {"type": "status", "data": {"engine": "down"}},
        {"type": "status", "data": {"engine": "up"}},
        {
            "type": "status",
            "account": "paper",
            "data": {"broker": "disconnected", "message": "x"},
        },
    ]
    assert len(hub.status_messages(recorder)) == 2


async def test_each_hub_receives_every_event_as_each_web_worker_does(
    db: Engine, stack: AsyncExitStack, tmp_path: Path
) -> None:
    """Two hubs, each with its own subscriber on the same publisher: two web workers."""
    address = "ipc://" + str(tmp_path / "events.sock")
    publisher = EventPublisher(address, heartbeat_ms=50)
    await publisher.start()
    stack.push_async_callback(publisher.close)
    recorders = []
    for _ in range(2):
        hub = await started_hub(stack, EventSubscriber(address, ["acct."], heartbeat_ms=50), db)
        recorder = Recorder()
        hub.watch_account(recorder, "paper")
        recorders.append(recorder)
    await asyncio.sleep(0.3)  # subscriptions in place
    store(db, range(1, 201))
    for seq in range(1, 201):
        publisher.publish(account_topic("paper"), payload(seq))
    await eventually(lambda: all(len(r.seqs) == 200 for r in recorders))
    assert [r.seqs for r in recorders] == [list(range(1, 201))] * 2


# --------------------------------------------------------------------------- connections


async def test_a_client_that_does_not_read_gets_the_latest_quote_per_symbol(
    db: Engine, stack: AsyncExitStack
) -> None:
    source = FakeSource()
    hub = await started_hub(stack, source, db)
    sink = Sink()
    connection = connect(hub, sink, stack)
    connection.handle('{"op": "subscribe", "channels": ["quotes:600519.SH", "quotes:00700.HK"]}')
    await eventually(lambda: len(sink.sent) == 1)
    sink.gate.clear()  # the client stops reading
    for i in range(100):
        for symbol in ("600519.SH", "00700.HK"):
            quote = Quote(
                symbol=symbol,
                last=Decimal(100 + i),
                bid=None,
                ask=None,
                bid_size=0,
                ask_size=0,
                pre_close=None,
                time=datetime.now(UTC),
            )
            source.queue.put_nowait((quote_topic("paper", symbol), _encode(quote)))
    await eventually(lambda: source.queue.empty())
    await asyncio.sleep(0.05)
    sink.gate.set()  # reading again
    await eventually(lambda: len(sink.sent) >= 4)
    await asyncio.sleep(0.05)
    quotes = [(m["data"]["symbol"], m["data"]["last"]) for m in sink.sent[1:]]
    # The one being sent when it stalled, then only the newest of each symbol.
    stalled, *rest = quotes
    assert stalled[0] == "600519.SH"
    assert stalled[1] < 199
    assert rest == [("00700.HK", 199), ("600519.SH", 199)]


async def test_a_slow_client_is_closed_with_4409_and_never_delays_the_others(
    db: Engine, stack: AsyncExitStack
) -> None:
    source = FakeSource()
    hub = await started_hub(stack, source, db, StreamLimits(backlog=50))
    slow, fast = Sink(), Sink()
    slow_connection = connect(hub, slow, stack)
    fast_connection = connect(hub, fast, stack)
    for connection in (slow_connection, fast_connection):
        connection.handle('{"op": "subscribe", "channels": ["positions"]}')
    await eventually(lambda: len(slow.sent) == len(fast.sent) == 1)
    slow.gate.clear()  # stuck: its send never returns
    store(db, range(1, 101))
    source.publish(*range(1, 101))
    await eventually(lambda: len(fast.events()) == 100)
    assert [e["seq"] for e in fast.events()] == list(range(1, 101))
    assert fast_connection.close_code is None
    assert slow_connection.close_code == CloseCode.RESUME_REQUIRED
    assert slow_connection.close_error is not None
    assert _decode_json(slow_connection.close_error)["data"]["code"] == "backlog_exceeded"


class RacingHub(StreamHub):
    """The first read of stored events races with live events 81-100: they are committed and
    published just before the read (`live_first`), or just after it."""

    live_first = True
    raced = False
    fake: FakeSource

    async def read_events(self, account: str, after: int, limit: int) -> list[AccountEvent]:
        if self.raced:
            return await super().read_events(account, after, limit)
        self.raced = True
        if self.live_first:
            await self._live_events()
        rows = await super().read_events(account, after, limit)
        if not self.live_first:
            await self._live_events()
        return rows

    async def _live_events(self) -> None:
        store(self._db, range(81, 101))
        self.fake.publish(*range(81, 101))
        await eventually(lambda: self.last_seq("paper") == 100)


@pytest.mark.parametrize("live_first", [True, False])
async def test_resume_merges_replay_and_live_events_without_gap_or_duplicate(
    db: Engine, stack: AsyncExitStack, live_first: bool
) -> None:
    store(db, range(1, 81))
    source = FakeSource()
    hub = await started_hub(stack, source, db, StreamLimits(backlog=1000), RacingHub)
    assert isinstance(hub, RacingHub)
    hub.fake, hub.live_first = source, live_first
    sink = Sink()
    connection = connect(hub, sink, stack)
    connection.handle('{"op": "resume", "since_seq": 10, "channels": ["positions"]}')
    await eventually(lambda: len(sink.events()) == 90)
    store(db, range(101, 103))
    source.publish(101, 102)
    await eventually(lambda: len(sink.events()) == 92)
    await asyncio.sleep(0.05)
    assert [e["seq"] for e in sink.events()] == list(range(11, 103))
    assert [e["prev_seq"] for e in sink.events()] == list(range(10, 102))
    assert sink.sent[0] == {
        "type": "subscribed",
        "account": "paper",
        "data": {"channels": ["positions"], "since_seq": 10},
    }


# --------------------------------------------------------------------------- tokens in logs


def test_query_tokens_are_taken_out_of_the_scope_and_redacted_in_logs() -> None:
    scope: dict[str, Any] = {"query_string": b"a=1&token=secret.jwt.value&b=2"}
    assert take_query_token(scope) == "secret.jwt.value"
    assert scope["query_string"] == b"a=1&b=2"
    assert take_query_token({"query_string": b"a=1"}) is None
    record = logging.LogRecord(
        "uvicorn.error",
        logging.INFO,
        __file__,
        1,
        '%s - "WebSocket %s" 403',
        ("127.0.0.1:5", "/api/v1/stream/x?token=abc.def&x=1"),
        None,
    )
    assert RedactTokens().filter(record)
    redacted = '127.0.0.1:5 - "WebSocket /api/v1/stream/x?token=[redacted]&x=1" 403'
    assert record.getMessage() == redacted
