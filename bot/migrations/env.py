"""Alembic environment: runs migrations over psibot's async engine (aiosqlite or asyncpg)."""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from bot.schema import metadata
from core.columns import AwareDateTime, Fixed

target_metadata = metadata()


def _render_item(kind: str, obj: Any, _context: AutogenContext) -> str | Literal[False]:
    """Migrations name the storage types, so they never change when a Python-side type does."""
    if kind == "type" and isinstance(obj, Fixed):
        return "sa.BigInteger()"
    if kind == "type" and isinstance(obj, AwareDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying them
        compare_type=True,
        render_item=_render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_async() -> None:
    schema = context.config.attributes.get("pg_schema")
    connect_args = {"server_settings": {"search_path": schema}} if schema else {}
    engine = create_async_engine(context.config.attributes["database_url"], poolclass=NullPool, connect_args=connect_args)
    async with engine.connect() as connection:
        await connection.run_sync(_run)
    await engine.dispose()


asyncio.run(_run_async())
