"""SQLite transactions: one snapshot per read, and a pooled connection never comes back mid-transaction."""

import threading
from pathlib import Path

import aiosqlite
import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

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


async def _thread_of_statements(session) -> int:
    """The thread SQLite runs this session's statements in (a function called by the statement)."""
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    await raw.driver_connection.create_function("thread_ident", 0, threading.get_ident)
    return (await session.execute(text("SELECT thread_ident()"))).scalar_one()


async def test_a_lookup_runs_in_the_loop_thread_and_a_read_in_the_drivers(sqlite_db: Database) -> None:
    here = threading.get_ident()
    assert await sqlite_db.lookup(_thread_of_statements) == here
    assert await sqlite_db.read(_thread_of_statements) != here


async def test_a_lookup_sees_what_was_committed_and_keeps_one_snapshot(sqlite_db: Database) -> None:
    async with sqlite_db.session() as session:
        await session.execute(text("UPDATE counter SET n = 7"))
    assert await sqlite_db.lookup(lambda s: _scalar(s, "SELECT n FROM counter")) == 7

    async def read_twice(session):
        first = await _scalar(session, "SELECT n FROM counter")
        async with sqlite_db.session() as writer:
            await writer.execute(text("UPDATE counter SET n = 8"))
        return first, await _scalar(session, "SELECT n FROM counter")

    assert await sqlite_db.lookup(read_twice) == (7, 7)
    assert await sqlite_db.lookup(lambda s: _scalar(s, "SELECT n FROM counter")) == 8


async def test_a_lookup_cannot_write(sqlite_db: Database) -> None:
    """A lookup that tried to write would wait for the file lock in the loop's thread: SQLite refuses it
    at once instead, because the lookup's connection is read-only."""
    with pytest.raises(OperationalError, match="readonly"):
        await sqlite_db.lookup(lambda s: s.execute(text("UPDATE counter SET n = 9")))
    assert await sqlite_db.read(lambda s: _scalar(s, "SELECT n FROM counter")) == 1


async def _scalar(session, sql: str):
    return (await session.execute(text(sql))).scalar_one()
