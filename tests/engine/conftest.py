from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import msgspec
import pytest
from sqlalchemy import Engine

from tradebridge.brokers.base import Broker, BrokerSink
from tradebridge.brokers.registry import create_broker
from tradebridge.config import PaperAccount
from tradebridge.engine.account import AccountRuntime
from tradebridge.engine.journal import Journal, StagedEvent
from tradebridge.engine.protocol import AccountEvent
from tradebridge.ids import IdGenerator
from tradebridge.store.database import create_db_engine
from tradebridge.store.migrate import upgrade

BrokerFactory = Callable[[PaperAccount, BrokerSink], Broker]


@dataclass
class Harness:
    """A real account runtime over a real SQLite file and the real paper broker."""

    path: Path
    db: Engine
    journal: Journal
    account: AccountRuntime
    published: list[StagedEvent] = field(default_factory=list)
    commits: list[int] = field(default_factory=list)

    def published_events(self) -> list[AccountEvent]:
        return [msgspec.msgpack.decode(e.payload, type=AccountEvent) for e in self.published]


async def start_harness(
    path: Path,
    factory: BrokerFactory = create_broker,
    *,
    inline: bool = False,
    settings: PaperAccount | None = None,
) -> Harness:
    db = create_db_engine(f"sqlite:///{path}")
    upgrade(db)
    published: list[StagedEvent] = []
    commits: list[int] = []

    def committed(events: list[StagedEvent]) -> None:  # once per journal transaction
        published.extend(events)
        commits.append(1)

    journal = Journal(db, on_committed=committed, inline=inline)
    account = AccountRuntime(
        settings or PaperAccount(id="paper"),
        broker_factory=factory,
        journal=journal,
        db=db,
        ids=IdGenerator(),
        publish_quote=lambda account, quote: None,
        publish_connection=lambda account, state, message: None,
    )
    await account.start()
    return Harness(path, db, journal, account, published, commits)


async def stop_harness(harness: Harness) -> None:
    await harness.account.close()
    await harness.journal.drain()
    harness.journal.close()
    harness.db.dispose()


@pytest.fixture(params=[False, True], ids=["threaded-journal", "inline-journal"])
async def harness(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Harness]:
    running = await start_harness(tmp_path / "journal.db", inline=request.param)
    yield running
    await stop_harness(running)
