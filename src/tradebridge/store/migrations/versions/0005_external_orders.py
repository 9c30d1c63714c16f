"""orders placed outside tradebridge, fees reported later

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07

An order entered in the broker's own terminal has no `client_order_id` (orders and their
trades); a fill whose fee the broker reports afterwards (IB's commission report) is stored
with `fee` null until it arrives.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        batch.alter_column("client_order_id", existing_type=sa.String(length=64), nullable=True)
    with op.batch_alter_table("trades") as batch:
        batch.alter_column("client_order_id", existing_type=sa.String(length=64), nullable=True)
        batch.alter_column("fee", existing_type=sa.String(length=40), nullable=True)


def downgrade() -> None:
    with op.batch_alter_table("trades") as batch:
        batch.alter_column("fee", existing_type=sa.String(length=40), nullable=False)
        batch.alter_column("client_order_id", existing_type=sa.String(length=64), nullable=False)
    with op.batch_alter_table("orders") as batch:
        batch.alter_column("client_order_id", existing_type=sa.String(length=64), nullable=False)
