"""Shared short-lived state: event dedupe, conversation state, token cache, locks.

Redis when `PSIBOT_REDIS_URL` is set (shared by every instance), else an in-process store that serves a
single instance. Both honour the same small protocol, so nothing above knows which one runs.
"""

from __future__ import annotations

import asyncio
import time
from typing import NamedTuple, Protocol

from redis.asyncio import BlockingConnectionPool, Redis


class Opening(NamedTuple):
    """What `open_turn` found: a first delivery? the lock taken? and, if both, the state's value."""

    first: bool
    locked: bool
    state: str | None


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

    async def open_turn(
        self, event_key: str, event_ttl: float, lock_key: str, lock_value: str, lock_ttl: float, state_key: str
    ) -> Opening:
        """The start of every event's turn in one step (one round trip to Redis, not three): mark the
        event seen, unless it was (a redelivery); then take the lock; then, holding it, read the state."""
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

    async def open_turn(
        self, event_key: str, event_ttl: float, lock_key: str, lock_value: str, lock_ttl: float, state_key: str
    ) -> Opening:
        if not await self.set_if_absent(event_key, "1", event_ttl):
            return Opening(first=False, locked=False, state=None)
        if not await self.set_if_absent(lock_key, lock_value, lock_ttl):
            return Opening(first=True, locked=False, state=None)
        return Opening(first=True, locked=True, state=self._live(state_key))

    async def close(self) -> None:
        self._data.clear()


_DELETE_IF_EQUALS = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end
"""

_OPEN_TURN = """
if not redis.call('set', KEYS[1], '1', 'NX', 'PX', ARGV[1]) then return {0, 0, false} end
if not redis.call('set', KEYS[2], ARGV[2], 'NX', 'PX', ARGV[3]) then return {1, 0, false} end
return {1, 1, redis.call('get', KEYS[3])}
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
        self._delete_if_equals = self._redis.register_script(_DELETE_IF_EQUALS)
        self._open_turn = self._redis.register_script(_OPEN_TURN)

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
        return bool(await self._delete_if_equals(keys=[self._prefix + key], args=[value]))

    async def open_turn(
        self, event_key: str, event_ttl: float, lock_key: str, lock_value: str, lock_ttl: float, state_key: str
    ) -> Opening:
        keys = [self._prefix + key for key in (event_key, lock_key, state_key)]
        first, locked, state = await self._open_turn(keys=keys, args=[int(event_ttl * 1000), lock_value, int(lock_ttl * 1000)])
        return Opening(bool(first), bool(locked), None if state is None else str(state))

    async def close(self) -> None:
        await self._redis.aclose()


def open_store(redis_url: str | None, prefix: str = "psibot:") -> KeyValueStore:
    return RedisStore(redis_url, prefix) if redis_url else MemoryStore()
