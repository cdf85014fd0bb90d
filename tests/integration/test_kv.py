"""The shared store against a real Redis: what the engine and the adapters rely on."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from redis.asyncio import Redis

from bot.kv import POOL_SIZE, KeyValueStore, MemoryStore, Opening, RedisStore


@asynccontextmanager
async def fresh_redis_store(redis_url: str) -> AsyncIterator[RedisStore]:
    prefix = f"psibot-test-{uuid.uuid4().hex[:8]}:"
    shared = RedisStore(redis_url, prefix=prefix)
    try:
        yield shared
    finally:
        await shared.close()
        cleaner = Redis.from_url(redis_url)
        keys = [key async for key in cleaner.scan_iter(match=prefix + "*")]
        if keys:
            await cleaner.delete(*keys)
        await cleaner.aclose()


@pytest.fixture
async def store(redis_url: str) -> AsyncIterator[RedisStore]:
    async with fresh_redis_store(redis_url) as shared:
        yield shared


async def test_more_callers_at_once_than_connections_wait_their_turn(store: RedisStore) -> None:
    # A burst of console requests each touches Redis; redis-py's plain pool refused the 101st.
    callers = 3 * POOL_SIZE
    assert 100 < callers
    claimed = await asyncio.gather(*(store.set_if_absent(f"event:{n % 50}", str(n), 60) for n in range(callers)))
    assert sum(claimed) == 50
    assert await store.get("event:7") is not None


async def test_a_lock_is_released_only_by_its_owner(store: RedisStore) -> None:
    assert await store.set_if_absent("lock", "mine", 5)
    assert not await store.set_if_absent("lock", "theirs", 5)
    assert not await store.delete_if_equals("lock", "theirs")
    assert await store.delete_if_equals("lock", "mine")
    assert await store.get("lock") is None


@pytest.fixture(params=["memory", "redis"])
async def any_store(request: pytest.FixtureRequest) -> AsyncIterator[KeyValueStore]:
    if request.param == "memory":
        yield MemoryStore()
    else:
        async with fresh_redis_store(request.getfixturevalue("redis_url")) as shared:
            yield shared


async def test_a_turn_opens_once_per_event_and_reads_the_state_only_under_the_lock(any_store: KeyValueStore) -> None:
    await any_store.set("conv:a", '{"flow": "order"}', 60)
    assert await any_store.open_turn("event:1", 60, "lock:conv:a", "t1", 5, "conv:a") == Opening(
        first=True, locked=True, state='{"flow": "order"}'
    )
    # A redelivery of event 1: nothing taken, nothing read.
    assert await any_store.open_turn("event:1", 60, "lock:conv:a", "t9", 5, "conv:a") == Opening(False, False, None)
    # Another event while the lock is held: first, but it must wait for the lock (and read later).
    assert await any_store.open_turn("event:2", 60, "lock:conv:a", "t2", 5, "conv:a") == Opening(True, False, None)
    assert await any_store.get("lock:conv:a") == "t1"
    assert await any_store.delete_if_equals("lock:conv:a", "t1")
    assert await any_store.open_turn("event:3", 60, "lock:conv:a", "t3", 5, "conv:b") == Opening(True, True, None)
