"""Event retention: what the engine's prune task deletes, and what it always keeps."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from tradebridge.engine.main import prune_events
from tradebridge.store import queries
from tradebridge.store.database import create_db_engine
from tradebridge.store.migrate import upgrade
from tradebridge.store.schema import events

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


@pytest.fixture
def db(database_url: str) -> Iterator[Engine]:
    """On SQLite and on PostgreSQL."""
    engine = create_db_engine(database_url)
    upgrade(engine)
    yield engine
    engine.dispose()


def store(db: Engine, account: str, ages_in_days: list[float]) -> None:
    """Events 1..n of `account`, the i-th stored `ages_in_days[i]` days before NOW."""
    with db.begin() as conn:
        conn.execute(
            events.insert(),
            [
                {
                    "account": account,
                    "seq": seq,
                    "type": "order",
                    "payload": b"x",
                    "created_at": NOW - timedelta(days=age),
                }
                for seq, age in enumerate(ages_in_days, start=1)
            ],
        )


def test_last_seq_before_finds_the_boundary(db: Engine) -> None:
    store(db, "a", [30, 20, 10, 8, 7.5, 6, 1, 0])
    with db.connect() as conn:
        assert queries.last_seq_before(conn, "a", NOW - timedelta(days=7)) == 5
        assert queries.last_seq_before(conn, "a", NOW - timedelta(days=31)) is None
        assert queries.last_seq_before(conn, "a", NOW + timedelta(days=1)) == 8
        assert queries.last_seq_before(conn, "nobody", NOW) is None
        assert queries.seq_range(conn, "a") == (1, 8)
        assert queries.seq_range(conn, "nobody") is None


def test_old_events_go_in_batches_and_the_last_one_of_each_account_stays(db: Engine) -> None:
    store(db, "busy", [40 - i * 0.002 for i in range(12_000)] + [1, 0])  # 12,000 old, 2 recent
    store(db, "idle", [30, 20, 10])  # all old
    store(db, "fresh", [1, 0])
    removed = prune_events(db, ["busy", "idle", "fresh"], retention_days=7, now=NOW)
    assert removed == 12_000 + 2
    with db.connect() as conn:
        assert queries.seq_range(conn, "busy") == (12_001, 12_002)
        assert queries.seq_range(conn, "idle") == (3, 3)  # numbering goes on from it
        assert queries.seq_range(conn, "fresh") == (1, 2)
        assert queries.last_seq(conn, "idle") == 3
    assert prune_events(db, ["busy", "idle", "fresh"], retention_days=7, now=NOW) == 0


def test_prune_removes_at_most_the_limit_per_call(db: Engine) -> None:
    store(db, "a", [10] * 50 + [0])
    with db.begin() as conn:
        assert queries.prune_events(conn, "a", NOW - timedelta(days=7), limit=20) == 20
    with db.connect() as conn:
        assert queries.seq_range(conn, "a") == (21, 51)
