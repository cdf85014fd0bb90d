"""The same bot with Redis as the shared store: dedupe, conversations and the console across instances."""

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
    second.seen.update(first.seen)  # one console: the second instance shows the same conversation
    response = await second.client.post(
        "/console/api/messages", json={"user": "wang", "text": "库存 雪碧", "event_id": "same-event"}
    )
    assert response.status == 202
    assert await second.inbox("wang", wait=1) == []


async def test_a_draft_made_on_one_instance_is_confirmed_on_the_other(two_instances: tuple[Console, Console]) -> None:
    first, second = two_instances
    draft = card(await first.say("wang", "下单 华联 雪碧 1箱"))
    second.seen.update(first.seen)
    response = await second.client.post(
        "/console/api/actions",
        json={"user": "wang", "card_id": draft["card_id"], "action": "order.confirm", "value": {"card_id": draft["card_id"]}},
    )
    assert response.status == 202
    # Whichever instance delivers the answer, the person reading the other one sees it.
    assert "已下单 SO-" in texts(await second.replies("wang"))


async def test_a_reply_reaches_a_reader_waiting_on_the_other_instance(two_instances: tuple[Console, Console]) -> None:
    first, second = two_instances
    waiting = asyncio.create_task(second.inbox("wang", wait=10))
    await asyncio.sleep(0.2)  # the long poll waits on the second instance before the question is asked
    started = asyncio.get_running_loop().time()
    response = await first.client.post("/console/api/messages", json={"user": "wang", "text": "库存 雪碧"})
    assert response.status == 202
    arrived = await waiting
    assert asyncio.get_running_loop().time() - started < 5  # woken by the news, not by the poll's timeout
    if not arrived:  # the question itself woke the reader first; the answer follows
        arrived = await second.inbox("wang", wait=10)
    assert "雪碧 500ml" in texts([record["reply"] for record in arrived])


async def test_a_decision_on_one_instance_updates_the_card_seen_on_the_other(
    two_instances: tuple[Console, Console],
) -> None:
    first, second = two_instances
    await first.say("chen", "采购 雪碧 10箱 供应商 太古")
    approval = card(await second.replies("zhang"))
    assert [button["label"] for button in approval["buttons"]][:2] == ["批准", "驳回"]
    first.seen.update(second.seen)
    await first.press("zhang", approval, "批准")
    updated = [record["reply"] for record in await second.inbox("zhang", wait=5)]
    replaced = next(reply for reply in updated if reply.get("card_id") == approval["card_id"])
    assert replaced["buttons"] == [] and "已批准" in replaced["status"]
