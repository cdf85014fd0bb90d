"""The database: async engines, one transaction per write, schema upgrades.

Writes run through `Database.transact`, which opens one transaction, commits it, and on PostgreSQL
retries the whole unit on a serialization failure or deadlock. On SQLite a write transaction starts
with BEGIN IMMEDIATE (writers queue on the file lock instead of failing mid-way), readers use WAL.
`Database.lookup` is the read of a few rows found by index that answers a chat message; on SQLite it
runs in the event loop's own thread (see `_SameThreadSqlite`).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite
from sqlalchemy import event
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool, PoolResetState
from sqlalchemy.util import await_only

log = logging.getLogger(__name__)

T = TypeVar("T")

_RETRY_SQLSTATES = {"40001", "40P01"}  # serialization_failure, deadlock_detected
_MAX_ATTEMPTS = 5


def _is_retryable(exc: DBAPIError) -> bool:
    orig = exc.orig
    code = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    if code in _RETRY_SQLSTATES:
        return True
    return isinstance(exc, OperationalError) and "database is locked" in str(exc)


_LOOKUP_BUSY_TIMEOUT_MS = 1000  # a WAL reader meets a lock only in recovery; the loop must not wait long


class _SameThreadSqlite(aiosqlite.Connection):
    """aiosqlite's interface, with every call run at once in the calling thread.

    aiosqlite sends each call (cursor, execute, fetch, close, BEGIN, COMMIT) to its own thread and
    wakes the event loop with the result: a stock card took some twenty such hops, each a thread
    switch, a GIL hand-over and a wake-up of the loop, far more than SQLite's own work on a few
    indexed rows (tens of microseconds). A WAL reader takes no lock, so it never waits for a writer;
    only a read that scans many rows would hold the loop, and such reads use the threaded engine."""

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if self._connection is None:
            raise ValueError("Connection closed")
        return fn(*args, **kwargs)

    def __await__(self) -> Any:
        return self._open().__await__()

    async def _open(self) -> _SameThreadSqlite:
        if self._connection is None:
            self._connection = self._connector()
        return self

    async def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def stop(self) -> None:
        """There is no thread to stop (SQLAlchemy calls this when it terminates a connection)."""


async def _open_same_thread(path: str) -> _SameThreadSqlite:
    # Autocommit mode from the start: SQLAlchemy's adapter would set it through aiosqlite's thread.
    connect = functools.partial(sqlite3.connect, path, check_same_thread=False, isolation_level=None)
    return await _SameThreadSqlite(connect, iter_chunk_size=64)


def _sqlite_engine(url: URL, *, immediate: bool, same_thread: bool = False) -> AsyncEngine:
    # Each connection sets its own pragmas; the driver's implicit transactions are turned off so
    # that the BEGIN we emit is the one that runs. The pool's rollback on return is replaced by
    # `_on_reset` below.
    extra: dict[str, Any] = {}
    if same_thread:
        extra["async_creator"] = functools.partial(_open_same_thread, url.database or ":memory:")
    engine = create_async_engine(
        url,
        poolclass=NullPool if url.database in (None, "", ":memory:") else None,
        pool_reset_on_return=None,
        **extra,
    )
    busy_timeout_ms = _LOOKUP_BUSY_TIMEOUT_MS if same_thread else 30000

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        if dbapi_connection.isolation_level is not None:
            dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        if same_thread:  # a write would wait for the file lock in the loop's thread: refused at once
            cursor.execute("PRAGMA query_only=ON")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        if immediate:  # through SQLAlchemy, so that a lock timeout arrives as the OperationalError retried
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            # A read's BEGIN takes no lock and cannot fail for want of one: sent by the driver in one
            # trip to aiosqlite's thread instead of three (cursor, execute, close) and SQLAlchemy's
            # statement machinery, a fifth of an empty read's cost.
            await_only(connection.connection.driver_connection.execute("BEGIN"))

    @event.listens_for(engine.sync_engine, "reset")
    def _on_reset(dbapi_connection: Any, _record: Any, state: PoolResetState) -> None:
        # A session's transaction has ended (COMMIT or ROLLBACK) before its connection returns, so
        # the pool's unconditional ROLLBACK was one more trip to aiosqlite's thread on every
        # transaction, for nothing. SQLite itself says whether a transaction is still open (an
        # error or a cancelled task between BEGIN and its end); only then is it rolled back.
        if state.asyncio_safe and dbapi_connection.driver_connection.in_transaction:
            dbapi_connection.rollback()

    return engine


class Database:
    """Owns the engines and hands out transactions."""

    def __init__(self, url: URL, *, pg_schema: str | None = None) -> None:
        """`pg_schema` puts every table in one PostgreSQL schema (tests run side by side in one database)."""
        self.url = url
        self.is_sqlite = url.get_backend_name() == "sqlite"
        if self.is_sqlite:
            if url.database and url.database != ":memory:":
                Path(url.database).parent.mkdir(parents=True, exist_ok=True)
            self.write_engine = _sqlite_engine(url, immediate=True)
            self.read_engine = _sqlite_engine(url, immediate=False)
            self.lookup_engine = _sqlite_engine(url, immediate=False, same_thread=True)
        else:
            connect_args = {"server_settings": {"search_path": pg_schema}} if pg_schema else {}
            # No pool_pre_ping: on asyncpg it costs three round trips (BEGIN, ping, ROLLBACK) per
            # transaction, a third of a sales confirmation. After a server restart the first statement
            # on a dead connection fails once and SQLAlchemy then replaces every pooled connection.
            self.write_engine = create_async_engine(url, pool_size=10, max_overflow=20, connect_args=connect_args)
            self.read_engine = self.lookup_engine = self.write_engine
        self._writer = async_sessionmaker(self.write_engine, expire_on_commit=False)
        self._reader = async_sessionmaker(self.read_engine, expire_on_commit=False)
        self._looker = async_sessionmaker(self.lookup_engine, expire_on_commit=False)

    async def transact(self, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
        """Run `work` in one write transaction; retried whole on PostgreSQL conflicts."""
        for attempt in range(1, _MAX_ATTEMPTS + 1):
            try:
                async with self._writer() as session, session.begin():
                    return await work(session)
            except DBAPIError as exc:
                if attempt == _MAX_ATTEMPTS or not _is_retryable(exc):
                    raise
                log.info("transaction conflict, retrying (attempt %d)", attempt)
                await asyncio.sleep(0.01 * attempt)
        raise AssertionError("unreachable")

    async def read(self, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
        """Run `work` in a read-only transaction (never blocks writers on SQLite)."""
        async with self._reader() as session, session.begin():
            return await work(session)

    async def lookup(self, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
        """Run `work`, a read of a few rows found by index (a stock card, a user, a draft's products),
        in a read-only transaction; on SQLite in the event loop's own thread, with no hop to a driver
        thread. A read that scans (reports, alert lists, ledger checks) uses `read`."""
        async with self._looker() as session, session.begin():
            return await work(session)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A write transaction as a context manager, for code that cannot be a callback (tests, CLI)."""
        async with self._writer() as session, session.begin():
            yield session

    async def ping(self) -> bool:
        try:
            async with self.read_engine.connect() as connection:
                await connection.exec_driver_sql("SELECT 1")
            return True
        except Exception:  # noqa: BLE001 - a health check reports, it does not raise
            log.warning("database ping failed", exc_info=True)
            return False

    async def close(self) -> None:
        await self.write_engine.dispose()
        if self.is_sqlite:
            await self.read_engine.dispose()
            await self.lookup_engine.dispose()
