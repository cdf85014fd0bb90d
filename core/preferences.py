"""Company-wide preferences kept in the database, so every instance and every chat sees the same."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Insert, event
from sqlalchemy import select as select_columns
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction
from sqlmodel import col

from core.audit import record
from core.models import Setting, User

DEFAULT_NEAR_EXPIRY_DAYS = 60


async def get_setting(session: AsyncSession, key: str, default: Any) -> Any:
    setting = await session.get(Setting, key)
    return default if setting is None else setting.value


async def set_setting(session: AsyncSession, actor: User | None, key: str, value: Any) -> None:
    setting = await session.get(Setting, key)
    before = None if setting is None else {"value": setting.value}
    if setting is None:
        session.add(Setting(key=key, value=value))
    else:
        setting.value = value
    await record(session, actor, "setting", None, key, before, {"value": value})
    await session.flush()


# ---------------------------------------------------------------- catalog version

CATALOG_VERSION = "catalog_version"
_CATALOG_VERSION_READ = select_columns(col(Setting.value)).where(col(Setting.key) == CATALOG_VERSION)
_BUMPED = "psibot_catalog_bumped"  # in Session.info while a transaction of this process holds a bump
_catalog_writes = 0


def catalog_writes() -> int:
    """How often this process bumped the catalog version or ended a transaction that did.

    The search index (core.catalog) trusts its version without reading it only while this count
    stands still: a catalog change made in this process is searchable as soon as it commits, and a
    rolled-back one is forgotten as soon as it rolls back.
    """
    return _catalog_writes


def bumped_in(session: AsyncSession) -> bool:
    """True when this transaction bumped the version itself (its view of the catalog is its own)."""
    return bool(session.info.get(_BUMPED))


async def catalog_version(session: AsyncSession) -> Any:
    """The token of the catalog's search columns as this transaction sees them (None: never bumped).

    One primary-key read, prebuilt; the in-process search index (core.catalog) compares it when
    it is not sure it is current.
    """
    return await session.scalar(_CATALOG_VERSION_READ)


async def bump_catalog_version(session: AsyncSession) -> None:
    """Mark the products' search columns (sku, name, spec, active) as changed, in the caller's transaction.

    The value is a fresh random token, not a counter: a rolled-back transaction may have shown its
    token to an index in this process, and a counter could later reach that same number with other data.
    An upsert, so two first writers cannot collide; not audited (it is bookkeeping, not a setting).
    """
    global _catalog_writes
    await session.execute(new_catalog_version(session.get_bind().dialect.name))
    session.info[_BUMPED] = True
    _catalog_writes += 1


def new_catalog_version(dialect: str) -> Insert:
    """The statement that stores a fresh version token: `bump_catalog_version`'s, and a migration's that
    rewrites search keys (0006), which has a plain connection and no session."""
    token = uuid.uuid4().hex
    insert = sqlite_insert if dialect == "sqlite" else postgresql_insert
    statement = insert(Setting).values(key=CATALOG_VERSION, value=token)
    return statement.on_conflict_do_update(index_elements=["key"], set_={"value": token})


@event.listens_for(Session, "after_transaction_end")
def _count_catalog_write_ended(session: Session, transaction: SessionTransaction) -> None:
    """A transaction that bumped the version committed or rolled back: every index checks again."""
    global _catalog_writes
    if transaction.parent is None and session.info.pop(_BUMPED, False):
        _catalog_writes += 1
