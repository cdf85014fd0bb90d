"""write_offs.reversed_by / reversed_at: a manager can undo (撤销) a write-off

The stock goes back through ADJUSTMENT movements of ref_type "write_off_reversal" into the lots it left,
so the ledger and its check need nothing new.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 19:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("write_offs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reversed_by", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("reversed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_foreign_key("fk_write_offs_reversed_by_users", "users", ["reversed_by"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("write_offs", schema=None) as batch_op:
        batch_op.drop_constraint("fk_write_offs_reversed_by_users", type_="foreignkey")
        batch_op.drop_column("reversed_at")
        batch_op.drop_column("reversed_by")
