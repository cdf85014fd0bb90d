"""alert_routes: alert routes admins make in chat (告警路由 添加 / 删除)

psibot.toml's routes stay in the file; the routes made in chat are rows here, read by every job run,
so they take effect on the next run on every instance without a restart.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 07:16:50.472656
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
        "alert_routes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("alerts", sa.String(length=64), nullable=False),
        sa.Column("warehouse_id", sa.Integer(), nullable=True),
        sa.Column("category_id", sa.Integer(), nullable=True),
        sa.Column("destination_kind", sa.String(length=8), nullable=False),
        sa.Column("destination", sa.String(length=256), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["category_id"], ["categories.id"]),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"]),
        sa.ForeignKeyConstraint(["warehouse_id"], ["warehouses.id"]),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    op.drop_table("alert_routes")
