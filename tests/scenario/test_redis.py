"""The same bot with Redis as the shared store: dedupe and conversations across instances."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.app import build_app
from bot.kv import RedisStore
from core.config import Settings
from core.db import Database
from tests.scenario.conftest import Console, card, seed, texts

pytestmark = pytest.mark.redis


@pytest.fixture
async def two_instances(db: Database, settings: Settings, redis_url: str) -> AsyncIterator[tuple[Console, Console]]:
    """Two apps on one database and one Redis, as two instances behind a load balancer."""
    world = await seed(db)
    prefix = f"psibot-test-{uuid.uuid4().hex[:8]}:"
    stores = [RedisStore(redis_url, prefix), RedisStore(redis_url, prefix)]
    clients = [TestClient(TestServer(build_app(settings, db, store, console=True))) for store in stores]
    for client in clients:
        await client.start_server()
    try:
        yield Console(clients[0], world), Console(clients[1], world)
    finally:
        for client in clients:
            await client.close()


async def test_a_redelivery_to_another_instance_is_dropped(two_instances: tuple[Console, Console]) -> None:
    first, second = two_instances
    assert len(await first.say("wang", "库存 雪碧", event_id="same-event")) == 1
    response = await second.client.post(
        "/console/api/messages", json={"user": "wang", "text": "库存 雪碧", "event_id": "same-event"}
    )
    assert response.status == 202
    assert await second.inbox("wang", wait=1) == []


async def test_a_draft_made_on_one_instance_is_confirmed_on_the_other(two_instances: tuple[Console, Console]) -> None:
    first, second = two_instances
    draft = card(await first.say("wang", "下单 华联 雪碧 1箱"))
    # Either instance's delivery worker may deliver the answer (console mailboxes are per instance).
    answered = ""
    response = await second.client.post(
        "/console/api/actions",
        json={"user": "wang", "card_id": draft["card_id"], "action": "order.confirm", "value": {"card_id": draft["card_id"]}},
    )
    assert response.status == 202
    for _ in range(20):
        arrived = await first.inbox("wang") + await second.inbox("wang")
        answered += texts([record["reply"] for record in arrived])
        if "已下单 SO-" in answered:
            break
        await asyncio.sleep(0.2)
    assert "已下单 SO-" in answered


async def test_a_draft_made_on_one_instance_is_confirmed_by_typing_on_the_other(
    two_instances: tuple[Console, Console],
) -> None:
    """The draft card a typed 确认 acts on is remembered in Redis, not in the instance that showed it."""
    first, second = two_instances
    card(await first.say("wang", "下单 华联 雪碧 1箱"))
    response = await second.client.post("/console/api/messages", json={"user": "wang", "text": "确认"})
    assert response.status == 202
    answered = ""
    for _ in range(20):
        arrived = await first.inbox("wang") + await second.inbox("wang")
        answered += texts([record["reply"] for record in arrived])
        if "已下单 SO-" in answered:
            break
        await asyncio.sleep(0.2)
    assert "已下单 SO-" in answered
