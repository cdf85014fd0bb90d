"""The shared store against a real Redis: what the engine and the adapters rely on."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest

from bot.kv import POOL_SIZE, RedisStore


@pytest.fixture
async def store(redis_url: str) -> AsyncIterator[RedisStore]:
    shared = RedisStore(redis_url, prefix=f"psibot-test-{uuid.uuid4().hex[:8]}:")
    yield shared
    keys = [key async for key in shared.client.scan_iter(match=shared.prefix + "*")]
    if keys:
        await shared.client.delete(*keys)
    await shared.close()


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
