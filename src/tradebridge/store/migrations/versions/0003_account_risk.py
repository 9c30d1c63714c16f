"""account risk

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24

Risk limits and trading state changed at run time (`PUT /accounts/{id}/risk`), kept so that
they survive a restart; they win over the config file's `[accounts.risk]`.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "account_risk",
        sa.Column("account", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.String(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("account", "key", name=op.f("pk_account_risk")),
    )


def downgrade() -> None:
    op.drop_table("account_risk")
