"""near_expiry indexes: lots in stock by expiry (covering, partial), products' own lead days

The full near-expiry list read each lot of its expiry range from the table; the new index holds
every column the list needs of a lot, and only lots in stock (on_hand > 0), so it replaces
ix_lots_expiry. The index on products.near_expiry_days lets the list read the longest lead days
without scanning the products.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 06:31:17.411843
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_IN_STOCK = sa.text("on_hand > 0")


def upgrade() -> None:
    with op.batch_alter_table("lots", schema=None) as batch_op:
        batch_op.drop_index("ix_lots_expiry")
        batch_op.create_index(
            "ix_lots_in_stock_by_expiry",
            ["expiry_date", "product_id", "warehouse_id", "lot_no", "on_hand", "id"],
            unique=False,
            sqlite_where=_IN_STOCK,
            postgresql_where=_IN_STOCK,
        )
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.create_index("ix_products_near_expiry_days", ["near_expiry_days"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.drop_index("ix_products_near_expiry_days")
    with op.batch_alter_table("lots", schema=None) as batch_op:
        batch_op.drop_index("ix_lots_in_stock_by_expiry")
        batch_op.create_index("ix_lots_expiry", ["expiry_date"], unique=False)
