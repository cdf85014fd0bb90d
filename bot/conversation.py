"""Multi-step flows (order draft, reject reason, count entry) remembered per user and chat, and the draft
card each person last made or pressed there, so that a typed 确认 finds it.

State lives in the KeyValueStore (Redis shared by every instance, else memory) as JSON with a TTL, so
a draft left alone expires and its card's buttons answer that it has. `turn` drops a redelivered event
and keeps two quick messages of one person from racing on the same state.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from bot.kv import KeyValueStore
from bot.model import Card, Origin

FLOW_TTL_SECONDS = 30 * 60
LOCK_TTL_SECONDS = 30.0
LOCK_WAIT_SECONDS = 10.0


def conversation_key(origin: Origin) -> str:
    return f"conv:{origin.platform}:{origin.tenant}:{origin.chat_id}:{origin.sender_id}"


def _draft_card_key(origin: Origin) -> str:
    return "draft-card:" + conversation_key(origin)


def _pick_card_key(origin: Origin) -> str:
    return "pick-card:" + conversation_key(origin)


PICK_TTL_SECONDS = 30 * 60  # as long as the choices a pick card stands for (`bot.handlers.common`)


@dataclass(frozen=True, slots=True)
class Turned:
    """An event's turn under way: the conversation's state as the turn began."""

    state: dict[str, Any] | None


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

    async def remember_draft(self, origin: Origin, card_id: str, ttl: float) -> None:
        """The draft card a typed 确认 / 修改 / 取消 acts on, kept as long as the draft (`ttl`); apart from the
        flow, which may come and go while the draft waits."""
        await self._store.set(_draft_card_key(origin), card_id, ttl)

    async def latest_draft(self, origin: Origin) -> str | None:
        return await self._store.get(_draft_card_key(origin))

    async def forget_draft(self, origin: Origin) -> None:
        await self._store.delete(_draft_card_key(origin))

    async def remember_pick(self, origin: Origin, card: Card) -> None:
        """The pick card last shown to the person here, whose row a typed number presses."""
        buttons = [[button.action, dict(button.value)] for button in card.buttons]
        await self._store.set(_pick_card_key(origin), json.dumps([card.card_id, buttons]), PICK_TTL_SECONDS)

    async def latest_pick(self, origin: Origin) -> tuple[str, list[tuple[str, dict[str, str]]]] | None:
        """(card id, its buttons' (action, value) in order) of `remember_pick`'s card, while it lasts."""
        raw = await self._store.get(_pick_card_key(origin))
        if raw is None:
            return None
        card_id, buttons = json.loads(raw)
        return card_id, [(action, value) for action, value in buttons]

    @asynccontextmanager
    async def turn(self, origin: Origin, event_key: str, event_ttl: float) -> AsyncIterator[Turned | None]:
        """An event's turn: None for a redelivery (`event_key` seen before); else the conversation is
        locked across instances for the turn (one event at a time per user and chat; waiting gives up
        after a while) and its state read, in one round trip to the store when the lock is free."""
        state_key = conversation_key(origin)
        key, token = "lock:" + state_key, uuid.uuid4().hex
        opening = await self._store.open_turn(event_key, event_ttl, key, token, LOCK_TTL_SECONDS, state_key)
        if not opening.first:
            yield None
            return
        raw = opening.state
        if not opening.locked:
            deadline = asyncio.get_running_loop().time() + LOCK_WAIT_SECONDS
            delay = 0.005
            while not await self._store.set_if_absent(key, token, LOCK_TTL_SECONDS):
                if asyncio.get_running_loop().time() > deadline:
                    break  # a holder that died keeps the key until its TTL; better to go on than to hang
                await asyncio.sleep(delay)
                delay = min(delay * 2, 0.2)
            raw = await self._store.get(state_key)
        try:
            yield Turned(None if raw is None else json.loads(raw))
        finally:
            await self._store.delete_if_equals(key, token)
