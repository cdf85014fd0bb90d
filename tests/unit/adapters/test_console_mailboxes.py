"""The console's mailboxes, in memory and in Redis: the same records, numbers and waits."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from adapters.console import mailboxes as module
from adapters.console.mailboxes import Mailboxes, MemoryMailboxes, RedisMailboxes
from bot.kv import RedisStore


@pytest.fixture(params=["memory", "redis"])
async def boxes(request: pytest.FixtureRequest) -> AsyncIterator[Mailboxes]:
    if request.param == "memory":
        memory = MemoryMailboxes()
        yield memory
        await memory.close()
        return
    store = RedisStore(request.getfixturevalue("redis_url"), prefix=f"psibot-test-{uuid.uuid4().hex[:8]}:")
    shared = RedisMailboxes(store.client, store.prefix + "console:")
    yield shared
    await shared.close()
    client = store.client
    keys = [key async for key in client.scan_iter(match=store.prefix + "*")]
    if keys:
        await client.delete(*keys)
    await store.close()


def records(news: module.News) -> list[dict[str, Any]]:
    return [json.loads(body) for _, body in news.records]


async def test_records_are_numbered_in_order_and_read_after_a_number(boxes: Mailboxes) -> None:
    first = await boxes.append("user:wang", {"direction": "in", "user": "wang", "text": "库存 可乐"})
    second = await boxes.append("user:wang", {"direction": "out", "reply": {"type": "text", "text": "有 100 罐"}})
    await boxes.append("user:li", {"direction": "in", "user": "li", "text": "临期"})
    assert first[0] < second[0] and first[1] == f"m{first[0]}"
    news = await boxes.news("user:wang", 0, 0)
    assert news.last == second[0] + 1
    assert [(r["seq"], r["updated"], r["ref"], r["direction"]) for r in records(news)] == [
        (first[0], first[0], first[1], "in"),
        (second[0], second[0], second[1], "out"),
    ]
    assert records(news)[1]["reply"] == {"type": "text", "text": "有 100 罐"}
    assert [r["seq"] for r in records(await boxes.news("user:wang", first[0], 0))] == [second[0]]
    assert (await boxes.news("user:wang", second[0], 0)).records == []


async def test_a_replaced_reply_keeps_its_place_and_gets_a_new_number(boxes: Mailboxes) -> None:
    seq, ref = await boxes.append("user:zhang", {"direction": "out", "reply": {"type": "card", "title": "待审批"}})
    await boxes.replace_reply(ref, {"type": "card", "title": "已批准"})
    await boxes.replace_reply("m999999", {"type": "text", "text": "unknown ref: nothing happens"})
    [record] = records(await boxes.news("user:zhang", seq, 0))
    assert (record["seq"], record["ref"], record["reply"]["title"]) == (seq, ref, "已批准")
    assert record["updated"] > seq
    assert await boxes.last() == record["updated"]


async def test_a_mailbox_keeps_its_newest_records(boxes: Mailboxes, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(module, "MAILBOX_SIZE", 3)
    refs = [(await boxes.append("user:wang", {"direction": "in", "user": "wang", "text": str(n)}))[1] for n in range(5)]
    assert [r["text"] for r in records(await boxes.news("user:wang", 0, 0))] == ["2", "3", "4"]
    await boxes.replace_reply(refs[0], {"type": "text", "text": "fell off"})
    assert [r["text"] for r in records(await boxes.news("user:wang", 0, 0))] == ["2", "3", "4"]


async def test_a_waiting_reader_is_woken_by_news_for_its_mailbox(boxes: Mailboxes) -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    waiting = asyncio.create_task(boxes.news("user:wang", 0, 5))
    await asyncio.sleep(0.1)
    await boxes.append("user:li", {"direction": "in", "user": "li", "text": "someone else's"})
    await asyncio.sleep(0.1)
    assert not waiting.done()
    await boxes.append("user:wang", {"direction": "in", "user": "wang", "text": "mine"})
    assert [r["text"] for r in records(await waiting)] == ["mine"]
    assert loop.time() - started < 2
    timed = loop.time()
    assert (await boxes.news("user:wang", 10**9, 0.3)).records == []
    assert loop.time() - timed >= 0.25


async def test_closing_wakes_waiting_readers(boxes: Mailboxes) -> None:
    waiting = asyncio.create_task(boxes.news("user:wang", 0, 10))
    await asyncio.sleep(0.2)
    await boxes.close()
    assert (await asyncio.wait_for(waiting, 2)).records == []
