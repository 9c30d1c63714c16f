"""Alembic environment: runs with the engine handed over by `tradebridge.store.migrate`."""

from alembic import context
from sqlalchemy import Connection, Engine

from tradebridge.store.schema import metadata

MIGRATION_LOCK_KEY = 0x7472_6164_6562_7267
"""PostgreSQL advisory lock held while the schema is upgraded (any constant of our own)."""


def lock_for_migrations(connection: Connection) -> None:
    """Take a lock held until the transaction ends, before Alembic reads the schema's version.

    Processes that start at once on a new database (an engine and its web workers) would
    otherwise all see an empty database and all create the tables; with the lock they upgrade
    one after the other, and the later ones find the schema current.
    """
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK_KEY})")
    elif connection.dialect.name == "sqlite":
        connection.exec_driver_sql("BEGIN IMMEDIATE")  # the write lock, waiting busy_timeout


engine: Engine = context.config.attributes["engine"]
with engine.begin() as connection:
    lock_for_migrations(connection)
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    context.run_migrations()
