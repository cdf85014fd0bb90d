"""Shared short-lived state: event dedupe, conversation state, token cache, locks.

Redis when `PSIBOT_REDIS_URL` is set (shared by every instance), else an in-process store that serves a
single instance. Both honour the same small protocol, so nothing above knows which one runs.
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol

from redis.asyncio import BlockingConnectionPool, Redis


class KeyValueStore(Protocol):
    async def get(self, key: str) -> str | None: ...

    async def set(self, key: str, value: str, ttl: float | None = None) -> None: ...

    async def set_if_absent(self, key: str, value: str, ttl: float) -> bool:
        """Set only when the key is absent; True when this caller set it (dedupe, locks)."""
        ...

    async def delete(self, key: str) -> None: ...

    async def delete_if_equals(self, key: str, value: str) -> bool:
        """Delete only while the key still holds `value` (releasing a lock this caller owns)."""
        ...

    async def close(self) -> None: ...


class MemoryStore:
    """One process's store; expiry is checked on read."""

    def __init__(self) -> None:
        self._data: dict[str, tuple[str, float | None]] = {}
        self._lock = asyncio.Lock()

    def _live(self, key: str) -> str | None:
        item = self._data.get(key)
        if item is None:
            return None
        value, deadline = item
        if deadline is not None and deadline <= time.monotonic():
            del self._data[key]
            return None
        return value

    async def get(self, key: str) -> str | None:
        return self._live(key)

    async def set(self, key: str, value: str, ttl: float | None = None) -> None:
        self._data[key] = (value, None if ttl is None else time.monotonic() + ttl)

    async def set_if_absent(self, key: str, value: str, ttl: float) -> bool:
        async with self._lock:
            if self._live(key) is not None:
                return False
            self._data[key] = (value, time.monotonic() + ttl)
            return True

    async def delete(self, key: str) -> None:
        self._data.pop(key, None)

    async def delete_if_equals(self, key: str, value: str) -> bool:
        if self._live(key) == value:
            del self._data[key]
            return True
        return False

    async def close(self) -> None:
        self._data.clear()


_DELETE_IF_EQUALS = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end
"""


POOL_SIZE = 50
POOL_WAIT_SECONDS = 10.0


class RedisStore:
    """The store shared by all instances."""

    def __init__(self, url: str, prefix: str = "psibot:") -> None:
        # A caller waits for a free connection (up to POOL_WAIT_SECONDS) rather than fail: the plain
        # pool raised "Too many connections" past 100 at once, a burst of console requests.
        pool = BlockingConnectionPool.from_url(
            url, decode_responses=True, max_connections=POOL_SIZE, timeout=POOL_WAIT_SECONDS
        )
        self._redis = Redis.from_pool(pool)  # closes the pool when closed
        self._prefix = prefix

    @property
    def client(self) -> Redis:
        """The connection pool, for state that needs more than keys (the console's mailboxes)."""
        return self._redis

    @property
    def prefix(self) -> str:
        return self._prefix

    async def ping(self) -> bool:
        return bool(await self._redis.ping())

    async def get(self, key: str) -> str | None:
        value = await self._redis.get(self._prefix + key)
        return None if value is None else str(value)

    async def set(self, key: str, value: str, ttl: float | None = None) -> None:
        await self._redis.set(self._prefix + key, value, px=None if ttl is None else int(ttl * 1000))

    async def set_if_absent(self, key: str, value: str, ttl: float) -> bool:
        return bool(await self._redis.set(self._prefix + key, value, nx=True, px=int(ttl * 1000)))

    async def delete(self, key: str) -> None:
        await self._redis.delete(self._prefix + key)

    async def delete_if_equals(self, key: str, value: str) -> bool:
        return bool(await self._redis.eval(_DELETE_IF_EQUALS, 1, self._prefix + key, value))

    async def close(self) -> None:
        await self._redis.aclose()


def open_store(redis_url: str | None, prefix: str = "psibot:") -> KeyValueStore:
    return RedisStore(redis_url, prefix) if redis_url else MemoryStore()
