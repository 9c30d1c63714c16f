"""A journal transaction that fails: every caller waiting on it or after it is told the engine
is unavailable and why, nothing of it is stored or published, and the owner is told once."""

import asyncio
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from tradebridge.domain.errors import EngineUnavailable
from tradebridge.engine.journal import Journal, StagedEvent
from tradebridge.store.database import create_db_engine
from tradebridge.store.migrate import upgrade

pytestmark = pytest.mark.anyio

LOCKED_MESSAGE = (
    "the order journal could not be written (database is locked); "
    "the engine restarts and recovers from the database"
)


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Engine]:
    engine = create_db_engine(f"sqlite:///{tmp_path / 'journal.db'}", busy_timeout_ms=50)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def locked(tmp_path: Path, db: Engine) -> Iterator[None]:
    """Another connection holds the database's write lock."""
    holder = sqlite3.connect(tmp_path / "journal.db", isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    yield
    holder.rollback()
    holder.close()


def event(seq: int) -> StagedEvent:
    return StagedEvent("paper", seq, "order", b"payload")


def stored_events(db: Engine) -> int:
    with db.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM events")).scalar_one())


class Recorder:
    def __init__(self) -> None:
        self.published: list[StagedEvent] = []
        self.failures: list[BaseException] = []

    def journal(self, db: Engine, *, inline: bool) -> Journal:
        return Journal(
            db, on_committed=self.published.extend, on_failed=self.failures.append, inline=inline
        )


@pytest.mark.usefixtures("locked")
@pytest.mark.parametrize("inline", [False, True], ids=["threaded-journal", "inline-journal"])
async def test_a_failed_commit_refuses_every_caller_and_stores_nothing(
    db: Engine, inline: bool
) -> None:
    recorder = Recorder()
    journal = recorder.journal(db, inline=inline)
    journal.stage_event(event(1))
    with pytest.raises(EngineUnavailable) as first:
        await journal.commit()
    assert first.value.message == LOCKED_MESSAGE
    assert first.value.details == {
        "reason": "journal_failed",
        "database_error": "database is locked",
    }
    assert len(recorder.failures) == 1
    assert "database is locked" in str(recorder.failures[0])

    journal.stage_event(event(2))  # later changes are refused too, at once
    with pytest.raises(EngineUnavailable) as later:
        await journal.commit()
    assert later.value.message == LOCKED_MESSAGE
    await journal.drain()  # nothing more is attempted
    journal.close()
    assert recorder.published == []
    assert len(recorder.failures) == 1
    assert stored_events(db) == 0


@pytest.mark.usefixtures("locked")
async def test_callers_waiting_on_the_next_batch_are_refused_too(db: Engine) -> None:
    recorder = Recorder()
    journal = recorder.journal(db, inline=False)
    journal.stage_event(event(1))
    writing = asyncio.create_task(journal.commit())
    await asyncio.sleep(0)  # the first batch is now being written, on the writer thread
    journal.stage_event(event(2))  # gathers into the next batch
    waiting = asyncio.create_task(journal.commit())
    async with asyncio.timeout(30):  # before the fix, the second waited for ever
        results = await asyncio.gather(writing, waiting, return_exceptions=True)
    assert [type(r) for r in results] == [EngineUnavailable, EngineUnavailable]
    journal.close()
    assert recorder.published == []
    assert stored_events(db) == 0


async def test_without_a_failure_the_owner_hears_nothing(db: Engine) -> None:
    recorder = Recorder()
    journal = recorder.journal(db, inline=False)
    journal.stage_event(event(1))
    await journal.commit()
    journal.close()
    assert [e.seq for e in recorder.published] == [1]
    assert recorder.failures == []
    assert stored_events(db) == 1
