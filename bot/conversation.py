"""Multi-step flows (order draft, reject reason, count entry) remembered per user and chat.

State lives in the KeyValueStore (Redis shared by every instance, else memory) as JSON with a TTL, so
a draft left alone expires and its card's buttons answer that it has. `turn_lock` keeps two quick
messages of one person from racing on the same state.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from bot.kv import KeyValueStore
from bot.model import Origin

FLOW_TTL_SECONDS = 30 * 60
LOCK_TTL_SECONDS = 30.0
LOCK_WAIT_SECONDS = 10.0


def conversation_key(origin: Origin) -> str:
    return f"conv:{origin.platform}:{origin.tenant}:{origin.chat_id}:{origin.sender_id}"


class Conversations:
    """Per user+chat state: one flow at a time, e.g. {"flow": "order", "card_id": …, …}."""

    def __init__(self, store: KeyValueStore, ttl: float = FLOW_TTL_SECONDS) -> None:
        self._store = store
        self._ttl = ttl

    async def get(self, origin: Origin) -> dict[str, Any] | None:
        raw = await self._store.get(conversation_key(origin))
        return None if raw is None else json.loads(raw)

    async def set(self, origin: Origin, state: dict[str, Any]) -> None:
        await self._store.set(conversation_key(origin), json.dumps(state, ensure_ascii=False), self._ttl)

    async def clear(self, origin: Origin) -> None:
        await self._store.delete(conversation_key(origin))

    @asynccontextmanager
    async def turn_lock(self, origin: Origin) -> AsyncIterator[None]:
        """One event at a time per user and chat, across instances; gives up waiting after a while."""
        key, token = "lock:" + conversation_key(origin), uuid.uuid4().hex
        deadline = asyncio.get_running_loop().time() + LOCK_WAIT_SECONDS
        delay = 0.005
        while not await self._store.set_if_absent(key, token, LOCK_TTL_SECONDS):
            if asyncio.get_running_loop().time() > deadline:
                break  # a holder that died keeps the key until its TTL; better to go on than to hang
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.2)
        try:
            yield
        finally:
            await self._store.delete_if_equals(key, token)
