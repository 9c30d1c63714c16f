"""Database engines: one place that knows SQLite's and PostgreSQL's connection settings."""

import contextlib
import os
import stat
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url


def create_db_engine(
    url: str, *, sqlite_synchronous: str = "normal", busy_timeout_ms: int = 2_000
) -> Engine:
    """An engine for `url`. SQLite gets WAL (readers never block the writer), a busy timeout
    and the chosen `synchronous` level; its parent directory is created if missing, and its
    files are private (`make_private`)."""
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        # SQLAlchemy's default PostgreSQL driver is psycopg2; tradebridge ships psycopg 3.
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() != "sqlite":
        return create_engine(parsed, pool_pre_ping=True, pool_size=5, max_overflow=5)
    if parsed.database and parsed.database != ":memory:":
        make_private(Path(parsed.database))
    engine = create_engine(
        url, connect_args={"check_same_thread": False, "timeout": busy_timeout_ms / 1000}
    )
    level = {"normal": "NORMAL", "full": "FULL"}[sqlite_synchronous]

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={level}")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    return engine


SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")
"""Files SQLite keeps beside a database; it creates them with the database file's mode."""


def make_private(database: Path) -> None:
    """Create the SQLite file `database` readable by its owner only (0600), before SQLite
    creates it with the umask's mode (0644 usually: readable by every local user, with
    password and key hashes inside, in a data dir that already existed and is not 0700).
    An existing file and its companions that others may read are narrowed to 0600 where this
    user may (the owner's)."""
    database.parent.mkdir(parents=True, exist_ok=True)
    os.close(os.open(database, os.O_RDONLY | os.O_CREAT, 0o600))
    for path in (database, *(Path(f"{database}{suffix}") for suffix in SQLITE_COMPANIONS)):
        with contextlib.suppress(OSError):
            if stat.S_IMODE(path.stat().st_mode) & 0o077:
                path.chmod(0o600)
