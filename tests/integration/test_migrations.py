"""Migrations create exactly the schema the models describe, on SQLite and PostgreSQL."""

import uuid

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

from bot.schema import metadata, upgrade
from core.config import database_url
from core.db import Database
from tests.conftest import POSTGRES_URL, require_server


def _differences(connection):
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return compare_metadata(context, metadata())


async def test_sqlite_upgrade_matches_models(tmp_path):
    url = database_url(f"sqlite:///{tmp_path / 'm.db'}")
    await upgrade(url)
    await upgrade(url)  # a second upgrade is a no-op
    database = Database(url)
    async with database.read_engine.connect() as connection:
        assert await connection.run_sync(_differences) == []
    await database.close()


@pytest.mark.postgres
async def test_postgres_upgrade_matches_models():
    require_server("PostgreSQL", POSTGRES_URL, 5432)
    schema = "m_" + uuid.uuid4().hex[:10]
    admin = Database(database_url(POSTGRES_URL))
    async with admin.write_engine.begin() as connection:
        await connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        await upgrade(database_url(POSTGRES_URL), pg_schema=schema)
        database = Database(database_url(POSTGRES_URL), pg_schema=schema)
        async with database.read_engine.connect() as connection:
            assert await connection.run_sync(_differences) == []
        await database.close()
    finally:
        async with admin.write_engine.begin() as connection:
            await connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        await admin.close()
