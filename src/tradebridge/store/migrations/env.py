"""Alembic environment: runs with the engine handed over by `tradebridge.store.migrate`."""

from alembic import context
from sqlalchemy import Engine

from tradebridge.store.schema import metadata

engine: Engine = context.config.attributes["engine"]
with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    context.run_migrations()
