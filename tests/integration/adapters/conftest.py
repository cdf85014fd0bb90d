import os
from collections.abc import AsyncIterator

import pytest

from bot.kv import KeyValueStore, MemoryStore, RedisStore


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[KeyValueStore]:
    """Token tests run on the in-process store and on a real Redis (skipped when absent, unless CI=true)."""
    if request.param == "memory":
        yield MemoryStore()
        return
    url = request.getfixturevalue("redis_url")
    redis_store = RedisStore(url, prefix=f"psibot-test:{os.getpid()}:{id(request)}:")
    yield redis_store
    await redis_store.close()
