"""confirm_sales_order function: a sales confirmation in one round trip on PostgreSQL

`psibot_confirm_sales_order` (core/sql/confirm_sales_order_v1.sql) does on PostgreSQL what
core.sales.confirm_sales_order does elsewhere, in one statement instead of seven round trips. SQLite has
no stored functions and keeps the Python path; nothing changes there.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 18:40:00
"""

from collections.abc import Sequence

from alembic import op

from core.documents import postgres_function_sql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SIGNATURE = "psibot_confirm_sales_order(integer, integer, timestamptz, date, integer, timestamptz)"


def upgrade() -> None:
    connection = op.get_bind()
    if connection.dialect.name == "postgresql":
        # The frozen v1 file, run as it is (no bind-parameter parsing of its `:=` and `::`).
        connection.exec_driver_sql(postgres_function_sql("confirm_sales_order_v1.sql"))


def downgrade() -> None:
    connection = op.get_bind()
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(f"DROP FUNCTION IF EXISTS {SIGNATURE}")
