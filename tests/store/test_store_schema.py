"""Schema migrations on SQLite and PostgreSQL, and exact conversions of stored values."""

import subprocess
import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Engine, inspect

from tradebridge.store.database import create_db_engine
from tradebridge.store.migrate import alembic_config, current_revision, upgrade
from tradebridge.store.schema import metadata
from tradebridge.store.types import DecimalText, EpochMicros


def head_revision(db: Engine) -> str:
    head = ScriptDirectory.from_config(alembic_config(db)).get_current_head()
    assert head is not None
    return head


def test_upgrade_creates_every_table_and_is_idempotent(database_url: str) -> None:
    db = create_db_engine(database_url)
    assert current_revision(db) is None
    upgrade(db)
    upgrade(db)
    assert current_revision(db) == head_revision(db)
    assert set(inspect(db).get_table_names()) >= set(metadata.tables)
    db.dispose()


def test_migrations_build_exactly_the_tables_of_the_schema(database_url: str) -> None:
    db = create_db_engine(database_url)
    upgrade(db)
    with db.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), metadata)
    db.dispose()
    assert differences == []


UPGRADE_WHEN_TOLD = """
import sys
from tradebridge.store.database import create_db_engine
from tradebridge.store.migrate import current_revision, upgrade

db = create_db_engine(sys.argv[1])
db.connect().close()
print("ready", flush=True)
sys.stdin.readline()
upgrade(db)
print(current_revision(db), flush=True)
"""


def test_processes_starting_at_once_on_a_new_database_upgrade_it_once(
    database_url: str,
) -> None:
    """An engine and its web workers may start together on an empty database: each must
    find the schema made, none may fail creating a table another one made first."""
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", UPGRADE_WHEN_TOLD, database_url],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    for process in processes:
        assert process.stdout is not None
        assert process.stdout.readline() == "ready\n"
    for process in processes:  # all at once, as closely as the pipes allow
        assert process.stdin is not None
        process.stdin.write("go\n")
        process.stdin.flush()
    outcomes = [(*process.communicate(timeout=120), process.returncode) for process in processes]
    db = create_db_engine(database_url)
    head = head_revision(db)
    db.dispose()
    for stdout, stderr, returncode in outcomes:
        assert returncode == 0, stderr
        assert stdout.split() == [head]


def test_sqlite_gets_its_directory_and_runs_in_wal_mode(tmp_path: Path) -> None:
    db = create_db_engine(f"sqlite:///{tmp_path / 'nested' / 'x.db'}", sqlite_synchronous="full")
    with db.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
    db.dispose()
    assert (tmp_path / "nested" / "x.db").is_file()


@given(
    st.decimals(
        allow_nan=False,
        allow_infinity=False,
        places=8,
        min_value=Decimal("-1e12"),
        max_value=Decimal("1e12"),
    )
)
def test_decimals_keep_every_digit(value: Decimal) -> None:
    column = DecimalText()
    assert column.process_result_value(column.process_bind_param(value, None), None) == value  # type: ignore[arg-type]


@given(
    st.datetimes(
        min_value=datetime(1971, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
    )
)
def test_times_keep_every_microsecond(value: datetime) -> None:
    column = EpochMicros()
    stored = column.process_bind_param(value, None)  # type: ignore[arg-type]
    assert column.process_result_value(stored, None) == value  # type: ignore[arg-type]


def test_a_plain_postgresql_url_uses_the_included_driver(postgres_url: str) -> None:
    plain = postgres_url.replace("postgresql+psycopg://", "postgresql://")
    assert plain != postgres_url
    db = create_db_engine(plain)
    with db.connect() as conn:
        assert conn.exec_driver_sql("SELECT 1").scalar() == 1
    assert db.dialect.driver == "psycopg"
    db.dispose()
