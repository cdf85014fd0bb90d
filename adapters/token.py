"""One access-token provider per platform app, shared by every psibot instance.

Platforms rate-limit their token endpoints and invalidate an app's older token when too many are
minted, so the token lives in the KeyValueStore (Redis across instances, memory for one) and exactly
one caller fetches a new one: an asyncio lock inside the process, a short `set_if_absent` lock across
processes. The cached entry expires `margin` seconds before the platform's expiry, so it is renewed
early. A call the platform refuses for a bad token invalidates that token (only if it is still the
cached one) and is retried once with a fresh token.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from bot.adapter import DeliveryError
from bot.kv import KeyValueStore

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class AccessToken:
    value: str
    expires_in: float  # seconds, as the platform said


class TokenRejected(Exception):
    """Raised by a call when the platform says the token is invalid or expired (refresh and retry once)."""


TokenFetch = Callable[[], Awaitable[AccessToken]]


class TokenProvider:
    """Gives out a valid token for one app; fetches a new one single-flight when needed."""

    def __init__(
        self,
        store: KeyValueStore,
        key: str,
        fetch: TokenFetch,
        *,
        margin: float = 300.0,
        lock_ttl: float = 15.0,
        poll: float = 0.05,
    ) -> None:
        self._store = store
        self._key = f"token:{key}"
        self._lock_key = f"token-lock:{key}"
        self._fetch = fetch
        self._margin = margin
        self._lock_ttl = lock_ttl
        self._poll = poll
        self._local = asyncio.Lock()

    async def get(self) -> str:
        token = await self._store.get(self._key)
        if token:
            return token
        async with self._local:
            token = await self._store.get(self._key)
            if token:
                return token
            return await self._fetch_once_across_instances()

    async def invalidate(self, token: str) -> None:
        """Drop `token` from the cache unless another caller has already replaced it."""
        await self._store.delete_if_equals(self._key, token)

    async def call(self, call: Callable[[str], Awaitable[T]]) -> T:
        """Run `call(token)`; on TokenRejected, invalidate that token and retry once with a fresh one."""
        token = await self.get()
        try:
            return await call(token)
        except TokenRejected:
            await self.invalidate(token)
        try:
            return await call(await self.get())
        except TokenRejected as exc:
            raise DeliveryError(f"access token rejected twice: {exc}", transient=False) from exc

    async def _fetch_once_across_instances(self) -> str:
        owner = secrets.token_hex(8)
        while True:
            if await self._store.set_if_absent(self._lock_key, owner, self._lock_ttl):
                try:
                    token = await self._store.get(self._key)
                    if token:
                        return token
                    fresh = await self._fetch()
                    ttl = max(fresh.expires_in - self._margin, fresh.expires_in / 2, 0.01)
                    await self._store.set(self._key, fresh.value, ttl=ttl)
                    return fresh.value
                finally:
                    await self._store.delete_if_equals(self._lock_key, owner)
            # Another instance is fetching; its lock expires after lock_ttl even if it died.
            await asyncio.sleep(self._poll)
            token = await self._store.get(self._key)
            if token:
                return token
