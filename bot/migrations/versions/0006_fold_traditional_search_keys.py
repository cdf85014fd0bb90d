"""search keys fold traditional Chinese: names imported as 可口可樂 are found by 可乐

The stored search keys (products' name_key, pinyin_full, pinyin_initials; customers' and suppliers'
search_key) are now built through `core.text.normalize`, as chat text is read: traditional characters
become simplified and emoji go. Keys stored before are rebuilt here, once, with the code's own
`search_fields` / `partner_search_key`, and the catalog version is bumped so every running search index
reloads. No table changes.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04 19:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from core.catalog import fold, partner_search_key, search_fields
from core.preferences import new_catalog_version

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PRODUCTS = sa.table(
    "products", sa.column("id"), sa.column("name"), sa.column("spec"), sa.column("name_key"),
    sa.column("pinyin_full"), sa.column("pinyin_initials"),
)
_PARTNERS = [sa.table(name, sa.column("id"), sa.column("name"), sa.column("search_key")) for name in ("customers", "suppliers")]


def upgrade() -> None:
    connection = op.get_bind()
    products = []
    for row in connection.execute(sa.select(_PRODUCTS.c.id, _PRODUCTS.c.name, _PRODUCTS.c.spec, _PRODUCTS.c.name_key)):
        # The pinyin keys are made from the folded name, so a row whose fold did not change keeps them
        # all: only names with traditional characters or emoji cost a pinyin conversion.
        if fold(row.name + row.spec) != row.name_key:
            products.append({"row_id": row.id, **search_fields(row.name, row.spec)})
    if products:
        connection.execute(
            _PRODUCTS.update().where(_PRODUCTS.c.id == sa.bindparam("row_id")),
            products,
        )
    for table in _PARTNERS:
        partners = [
            {"row_id": row.id, "search_key": key}
            for row in connection.execute(sa.select(table.c.id, table.c.name, table.c.search_key))
            if (key := partner_search_key(row.name)) != row.search_key
        ]
        if partners:
            connection.execute(table.update().where(table.c.id == sa.bindparam("row_id")), partners)
    if products:
        connection.execute(new_catalog_version(connection.dialect.name))


def downgrade() -> None:
    """Nothing to undo: the keys stay those of the newer fold, which older code reads as keys too."""
