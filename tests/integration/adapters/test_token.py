import asyncio

import pytest

from adapters.token import AccessToken, TokenProvider, TokenRejected
from bot.adapter import DeliveryError
from bot.kv import KeyValueStore


class CountingFetch:
    def __init__(self, delay: float = 0.05) -> None:
        self.calls = 0
        self.delay = delay

    async def __call__(self) -> AccessToken:
        self.calls += 1
        await asyncio.sleep(self.delay)
        return AccessToken(f"tok-{self.calls}", 7200)


async def test_concurrent_callers_cause_one_fetch(store: KeyValueStore) -> None:
    fetch = CountingFetch()
    provider = TokenProvider(store, "test:app", fetch)
    tokens = await asyncio.gather(*(provider.get() for _ in range(20)))
    assert set(tokens) == {"tok-1"}
    assert fetch.calls == 1


async def test_two_instances_share_one_fetch(store: KeyValueStore) -> None:
    fetch_a, fetch_b = CountingFetch(0.2), CountingFetch(0.2)
    a = TokenProvider(store, "test:shared", fetch_a)
    b = TokenProvider(store, "test:shared", fetch_b)
    tokens = await asyncio.gather(*(p.get() for p in (a, b) * 5))
    assert len(set(tokens)) == 1
    assert fetch_a.calls + fetch_b.calls == 1


async def test_token_refreshed_before_expiry(store: KeyValueStore) -> None:
    fetch = CountingFetch(0)

    async def short() -> AccessToken:
        await fetch()
        return AccessToken(f"tok-{fetch.calls}", 0.4)

    provider = TokenProvider(store, "test:short", short, margin=0.2)
    assert await provider.get() == "tok-1"
    await asyncio.sleep(0.3)
    assert await provider.get() == "tok-2"


async def test_rejected_token_is_refreshed_and_call_retried_once(store: KeyValueStore) -> None:
    fetch = CountingFetch(0)
    provider = TokenProvider(store, "test:reject", fetch)
    seen: list[str] = []

    async def call(token: str) -> str:
        seen.append(token)
        if token == "tok-1":
            raise TokenRejected("42001 access_token expired")
        return "sent"

    assert await provider.call(call) == "sent"
    assert seen == ["tok-1", "tok-2"]

    async def always_rejected(token: str) -> str:
        raise TokenRejected("40001 invalid credential")

    with pytest.raises(DeliveryError) as info:
        await provider.call(always_rejected)
    assert not info.value.transient


async def test_invalidate_keeps_a_token_someone_else_refreshed(store: KeyValueStore) -> None:
    provider = TokenProvider(store, "test:inv", CountingFetch(0))
    first = await provider.get()
    await provider.invalidate(first)
    second = await provider.get()
    await provider.invalidate(first)  # stale: must not drop the fresh one
    assert await provider.get() == second != first
