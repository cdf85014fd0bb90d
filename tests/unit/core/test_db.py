"""SQLite transactions: one snapshot per read, and a pooled connection never comes back mid-transaction."""

from pathlib import Path

import aiosqlite
import pytest
from sqlalchemy import text

from core.config import database_url
from core.db import Database


@pytest.fixture
async def sqlite_db(tmp_path: Path):
    database = Database(database_url(f"sqlite:///{tmp_path / 'db.sqlite'}"))
    async with database.session() as session:
        await session.execute(text("CREATE TABLE counter (n INTEGER)"))
        await session.execute(text("INSERT INTO counter VALUES (1)"))
    yield database
    await database.close()


async def test_a_read_sees_one_snapshot_while_a_writer_commits(sqlite_db: Database) -> None:
    async def read_twice(session):
        first = (await session.execute(text("SELECT n FROM counter"))).scalar_one()
        async with sqlite_db.session() as writer:
            await writer.execute(text("UPDATE counter SET n = 2"))
        return first, (await session.execute(text("SELECT n FROM counter"))).scalar_one()

    assert await sqlite_db.read(read_twice) == (1, 1)
    assert (await sqlite_db.read(lambda s: _scalar(s, "SELECT n FROM counter"))) == 2


async def test_a_connection_returned_mid_transaction_is_rolled_back(sqlite_db: Database) -> None:
    # An open transaction on a returned connection would pin an old snapshot (and, for a writer, the
    # file lock) for whoever checks it out next.
    async with sqlite_db.write_engine.connect() as connection:
        raw = await connection.get_raw_connection()
        await raw.driver_connection.execute("BEGIN IMMEDIATE")
        await raw.driver_connection.execute("UPDATE counter SET n = 5")
        assert raw.driver_connection.in_transaction
    async with sqlite_db.write_engine.connect() as connection:
        raw = await connection.get_raw_connection()
        assert not raw.driver_connection.in_transaction
    assert (await sqlite_db.read(lambda s: _scalar(s, "SELECT n FROM counter"))) == 1


async def test_a_finished_transaction_sends_no_second_rollback(sqlite_db: Database) -> None:
    assert await sqlite_db.read(lambda s: _scalar(s, "SELECT n FROM counter")) == 1  # connects: one rollback
    sent: list[str] = []
    driver = aiosqlite.Connection
    original = driver.rollback

    async def counting_rollback(self):
        sent.append("ROLLBACK")
        return await original(self)

    driver.rollback = counting_rollback
    try:
        assert await sqlite_db.read(lambda s: _scalar(s, "SELECT n FROM counter")) == 1
        async with sqlite_db.session() as session:
            await session.execute(text("UPDATE counter SET n = 3"))
    finally:
        driver.rollback = original
    assert sent == []
    assert await sqlite_db.read(lambda s: _scalar(s, "SELECT n FROM counter")) == 3


async def _scalar(session, sql: str):
    return (await session.execute(text(sql))).scalar_one()
