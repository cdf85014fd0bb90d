"""Shared fixtures: a database per test on SQLite and on PostgreSQL, Redis, and the CI rule for skips.

A test that needs PostgreSQL or Redis skips when the server is absent, except under CI=true where a
missing server is a failure: CI must prove the suite against the real servers.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import pytest
from sqlalchemy import text
from sqlmodel import SQLModel

import bot.schema  # noqa: F401 - registers every table (core, bot, scheduler)
from core.config import database_url
from core.db import Database

POSTGRES_URL = os.environ.get("PSIBOT_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("PSIBOT_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def _reachable(url: str, default_port: int) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or default_port), timeout=1):
            return True
    except OSError:
        return False


def require_server(name: str, url: str, default_port: int) -> None:
    if _reachable(url, default_port):
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{name} is not reachable at {url}, and CI=true requires it")
    pytest.skip(f"{name} is not reachable at {url}")


async def make_database(backend: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[Database, str | None]:
    if backend == "sqlite":
        path = tmp_path_factory.mktemp("db") / "psibot.db"
        database = Database(database_url(f"sqlite:///{path}"))
        schema = None
    else:
        require_server("PostgreSQL", POSTGRES_URL, 5432)
        schema = "t_" + uuid.uuid4().hex[:12]
        admin = Database(database_url(POSTGRES_URL))
        async with admin.write_engine.begin() as connection:
            await connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        await admin.close()
        database = Database(database_url(POSTGRES_URL), pg_schema=schema)
    async with database.write_engine.begin() as connection:
        await connection.run_sync(SQLModel.metadata.create_all)
    return database, schema


async def drop_database(database: Database, schema: str | None) -> None:
    await database.close()
    if schema:
        admin = Database(database_url(POSTGRES_URL))
        async with admin.write_engine.begin() as connection:
            await connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        await admin.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def db(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Database]:
    """An empty, migrated-to-current-model database; every test using it runs on SQLite and PostgreSQL."""
    database, schema = await make_database(request.param, tmp_path_factory)
    try:
        yield database
    finally:
        await drop_database(database, schema)


@pytest.fixture
def redis_url() -> str:
    require_server("Redis", REDIS_URL, 6379)
    return REDIS_URL
