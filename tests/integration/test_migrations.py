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


_FUNCTIONS = text(
    "SELECT p.proname, pg_get_function_identity_arguments(p.oid), p.prosrc FROM pg_proc p "
    "JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = :schema ORDER BY p.proname"
)


async def _functions(connection, schema):
    return (await connection.execute(_FUNCTIONS, {"schema": schema})).all()


async def _functions_of_the_models(schema):
    """The PostgreSQL functions a database made from the models has (create_all, as the tests use)."""
    models = schema + "_models"
    admin = Database(database_url(POSTGRES_URL))
    async with admin.write_engine.begin() as connection:
        await connection.execute(text(f'CREATE SCHEMA "{models}"'))
    try:
        database = Database(database_url(POSTGRES_URL), pg_schema=models)
        async with database.write_engine.begin() as connection:
            await connection.run_sync(metadata().create_all)
            found = await _functions(connection, models)
        await database.close()
    finally:
        async with admin.write_engine.begin() as connection:
            await connection.execute(text(f'DROP SCHEMA "{models}" CASCADE'))
        await admin.close()
    assert [name for name, *_ in found] == ["psibot_confirm_sales_order"]
    return found


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
            assert await _functions(connection, schema) == await _functions_of_the_models(schema)
        await database.close()
    finally:
        async with admin.write_engine.begin() as connection:
            await connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        await admin.close()
