"""integer order aliases and unsettled placements of the QMT dialects

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-08

The MiniQMT service and xtquant wrapper dialects name orders by integers (`order_aliases`),
and remember the placements whose outcome their caller was not told, so that a retry of the
same order is recognised (`unsettled_placements`).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "order_aliases",
        sa.Column("account", sa.String(length=32), nullable=False),
        sa.Column("alias", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("order_id", sa.String(length=26), nullable=False),
        sa.PrimaryKeyConstraint("account", "alias", name=op.f("pk_order_aliases")),
        sa.UniqueConstraint("account", "order_id", name="uq_order_aliases_account_order_id"),
    )
    op.create_table(
        "unsettled_placements",
        sa.Column("account", sa.String(length=32), nullable=False),
        sa.Column("request_key", sa.String(length=64), nullable=False),
        sa.Column("client_order_id", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("account", "request_key", name=op.f("pk_unsettled_placements")),
    )
    op.create_index(
        "ix_unsettled_placements_account_client_order_id",
        "unsettled_placements",
        ["account", "client_order_id"],
    )


def downgrade() -> None:
    op.drop_index(
        "ix_unsettled_placements_account_client_order_id", table_name="unsettled_placements"
    )
    op.drop_table("unsettled_placements")
    op.drop_table("order_aliases")
