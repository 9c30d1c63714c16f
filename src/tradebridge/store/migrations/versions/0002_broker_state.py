"""broker state

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21

Adapter-private state kept by the engine with the journal (the paper broker's clock offset,
trading day, market and last reset), so a restarted engine can rebuild the adapter.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "broker_state",
        sa.Column("account", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.String(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("account", "key", name=op.f("pk_broker_state")),
    )


def downgrade() -> None:
    op.drop_table("broker_state")
