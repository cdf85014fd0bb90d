import os

import pytest
import pytest_asyncio
import redis.asyncio

from bot.kv import MemoryStore, RedisStore

REDIS_URL = os.environ.get("PSIBOT_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


async def _redis_up() -> bool:
    client = redis.asyncio.Redis.from_url(REDIS_URL)
    try:
        return bool(await client.ping())
    except (OSError, redis.RedisError):
        return False
    finally:
        await client.aclose()


@pytest_asyncio.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def store(request: pytest.FixtureRequest):
    """Each token test runs on the in-process store and on a real Redis (skipped when absent, unless CI)."""
    if request.param == "memory":
        yield MemoryStore()
        return
    if not await _redis_up():
        if os.environ.get("CI") == "true":
            pytest.fail(f"Redis is required in CI and is not reachable at {REDIS_URL}")
        pytest.skip("Redis is not reachable")
    prefix = f"psibot-test:{os.getpid()}:{id(request)}:"
    redis_store = RedisStore(REDIS_URL, prefix=prefix)
    yield redis_store
    await redis_store.close()
