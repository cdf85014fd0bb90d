"""write_offs: 报损 documents (stock gone for a reason, valued at average cost)

The stock itself leaves through ADJUSTMENT movements that refer to the write-off (ref_type
"write_off"), so the ledger and its check need nothing new.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04 02:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "write_offs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("warehouse_id", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.String(length=128), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("quantity > 0", name="ck_write_offs_quantity"),
        sa.ForeignKeyConstraint(["product_id"], ["products.id"]),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"]),
        sa.ForeignKeyConstraint(["warehouse_id"], ["warehouses.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("number"),
    )
    with op.batch_alter_table("write_offs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_write_offs_product_id"), ["product_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_write_offs_created_at"), ["created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("write_offs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_write_offs_created_at"))
        batch_op.drop_index(batch_op.f("ix_write_offs_product_id"))
    op.drop_table("write_offs")
