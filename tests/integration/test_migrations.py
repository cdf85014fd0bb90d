"""Migrations create exactly the schema the models describe, on SQLite and PostgreSQL."""

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlmodel import select

import core.catalog
from bot.schema import metadata, upgrade
from core.catalog import ProductInput, find_customer, save_customer, save_product, search_products
from core.config import database_url
from core.db import Database
from core.models import Product
from core.preferences import catalog_version
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


@asynccontextmanager
async def _empty_postgres_schema() -> AsyncIterator[str]:
    """A schema of its own for one migration test, dropped after it whatever happened."""
    require_server("PostgreSQL", POSTGRES_URL, 5432)
    schema = "m_" + uuid.uuid4().hex[:10]
    admin = Database(database_url(POSTGRES_URL))
    async with admin.write_engine.begin() as connection:
        await connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield schema
    finally:
        async with admin.write_engine.begin() as connection:
            await connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        await admin.close()


@pytest.mark.postgres
async def test_postgres_upgrade_matches_models():
    async with _empty_postgres_schema() as schema:
        await upgrade(database_url(POSTGRES_URL), pg_schema=schema)
        database = Database(database_url(POSTGRES_URL), pg_schema=schema)
        async with database.read_engine.connect() as connection:
            assert await connection.run_sync(_differences) == []
            assert await _functions(connection, schema) == await _functions_of_the_models(schema)
        await database.close()


async def _upgrade_rebuilds_search_keys(url, schema=None):
    """A catalog stored before 0006 (keys of names imported in traditional Chinese kept as typed) is
    found by simplified text and pinyin after the upgrade. (The search index checks the catalog version
    at every search here, as a running instance does within CATALOG_RECHECK_SECONDS.)"""
    await upgrade(url, "0005", pg_schema=schema)
    database = Database(url, pg_schema=schema)
    async with database.session() as session:
        await save_product(session, None, ProductInput(sku="K1", name="可口可樂", base_unit="罐"))
        await save_product(session, None, ProductInput(sku="X1", name="雪碧 檸檬味", base_unit="瓶", spec="330ml"))
        await save_product(session, None, ProductInput(sku="M1", name="纯牛奶", base_unit="盒"))
        await save_customer(session, None, name="華聯超市")
    old_keys = {  # what 0005's code stored: the name as typed, pinyin of the traditional characters
        "K1": ("可口可樂", "kekoukele", "kkkl"), "X1": ("雪碧檸檬味330ml", "xuebiningmengwei330ml", "xbnmw330ml")
    }
    async with database.write_engine.begin() as connection:
        for sku, (name_key, full, initials) in old_keys.items():
            await connection.execute(
                text("UPDATE products SET name_key = :k, pinyin_full = :f, pinyin_initials = :i WHERE sku = :s"),
                {"k": name_key, "f": full, "i": initials, "s": sku},
            )
        await connection.execute(text("UPDATE customers SET search_key = 'hualianchaoshi hlcs 華聯超市'"))
    async with database.session() as session:
        # the old key holds no 可乐: only its sound finds it (`SearchIndex.homophones`)
        assert [(m.product.sku, m.reason) for m in await search_products(session, "可乐")] == [("K1", "homophone")]
        before = await catalog_version(session)
    await upgrade(url, pg_schema=schema)
    async with database.session() as session:
        assert await catalog_version(session) != before  # every running index reloads
        assert [(m.product.sku, m.reason) for m in await search_products(session, "可乐")] == [("K1", "name")]
        assert [m.product.sku for m in await search_products(session, "柠檬")] == ["X1"]
        assert [m.product.sku for m in await search_products(session, "kkkl")] == ["K1"]
        assert (await find_customer(session, "华联")).name == "華聯超市"
        milk = await session.scalar(select(Product).where(Product.sku == "M1"))
        assert milk is not None and milk.name_key == "纯牛奶" and milk.version == 1
    await database.close()


async def test_sqlite_upgrade_rebuilds_search_keys(tmp_path, monkeypatch):
    monkeypatch.setattr(core.catalog, "CATALOG_RECHECK_SECONDS", 0)
    await _upgrade_rebuilds_search_keys(database_url(f"sqlite:///{tmp_path / 'k.db'}"))


@pytest.mark.postgres
async def test_postgres_upgrade_rebuilds_search_keys(monkeypatch):
    monkeypatch.setattr(core.catalog, "CATALOG_RECHECK_SECONDS", 0)
    async with _empty_postgres_schema() as schema:
        await _upgrade_rebuilds_search_keys(database_url(POSTGRES_URL), schema)
