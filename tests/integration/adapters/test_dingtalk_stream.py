"""Stream mode against the fake gateway over a real WebSocket, acks judged by dingtalk_stream itself."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from dingtalk_stream import AckMessage, CallbackHandler, CallbackMessage, ChatbotHandler

from adapters.dingtalk.stream import BOT_TOPIC, CARD_TOPIC, StreamClient
from bot.model import CardAction, ImageMessage, TextMessage
from tests.fakes.dingtalk_server import (
    APP_KEY,
    APP_SECRET,
    Bot,
    FakeDingTalk,
    RecordingSink,
    fixture,
    running_bot,
    settings_for,
)


class OkChatbot(ChatbotHandler):
    async def process(self, callback: CallbackMessage) -> tuple[int, Any]:
        return AckMessage.STATUS_OK, "OK"


class NoCardChange(CallbackHandler):
    async def process(self, callback: CallbackMessage) -> tuple[int, Any]:
        return AckMessage.STATUS_OK, {}


def frame(topic: str, data: dict[str, Any], message_id: str) -> dict[str, Any]:
    return {
        "specVersion": "1.0",
        "type": "CALLBACK",
        "headers": {
            "appId": APP_KEY,
            "connectionId": "conn-1",
            "contentType": "application/json",
            "messageId": message_id,
            "time": "1700000000000",
            "topic": topic,
        },
        "data": json.dumps(data, ensure_ascii=False),
    }


@pytest.fixture
async def fake() -> AsyncIterator[FakeDingTalk]:
    server = FakeDingTalk()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def bot(fake: FakeDingTalk) -> AsyncIterator[Bot]:
    async with running_bot(settings_for(fake, mode="stream")) as running:
        yield running


async def test_frames_become_events_and_acks_match_the_sdk(fake: FakeDingTalk, bot: Bot) -> None:
    frames = [
        frame(BOT_TOPIC, fixture("text_group.json"), "m-1"),
        frame(BOT_TOPIC, fixture("picture.json"), "m-2"),
        frame(CARD_TOPIC, fixture("card_callback.json"), "m-3"),
    ]
    for f in frames:
        await fake.push(f)
    async with asyncio.timeout(5):
        acks = await fake.wait_acks(3)
    assert [type(e) for e in bot.sink.events] == [TextMessage, ImageMessage, CardAction]
    expected = [
        (await OkChatbot().raw_process(CallbackMessage.from_dict(frames[0]))).to_dict(),
        (await OkChatbot().raw_process(CallbackMessage.from_dict(frames[1]))).to_dict(),
        (await NoCardChange().raw_process(CallbackMessage.from_dict(frames[2]))).to_dict(),
    ]
    assert acks == expected
    (opened,) = fake.calls("/v1.0/gateway/connections/open")
    assert opened.body["clientId"] == APP_KEY
    assert {s["topic"] for s in opened.body["subscriptions"]} == {BOT_TOPIC, CARD_TOPIC}
    assert bot.adapter.settings.mode == "stream"


async def test_no_http_routes_in_stream_mode(bot: Bot) -> None:
    assert (await bot.post("/dingtalk/callback", fixture("text_direct.json"))).status == 404


async def test_ping_is_echoed_and_disconnect_reconnects(fake: FakeDingTalk, bot: Bot) -> None:
    ping = fixture("stream_ping.json")
    await fake.push(ping)
    async with asyncio.timeout(5):
        (ack,) = await fake.wait_acks(1)
    assert (ack["headers"]["messageId"], json.loads(ack["data"])) == ("sys-ping-1", {"opaque": "8f3e"})
    await fake.push({**ping, "headers": {**ping["headers"], "topic": "disconnect", "messageId": "sys-2"}})
    async with asyncio.timeout(5):
        await fake.wait_connections(2)
    await fake.push(frame(BOT_TOPIC, fixture("text_direct.json"), "m-after"))
    async with asyncio.timeout(5):
        acks = await fake.wait_acks(3)
    assert acks[-1]["headers"]["messageId"] == "m-after"
    assert len(bot.sink.events) == 1


async def test_a_dropped_connection_and_a_failing_gateway_are_retried_with_backoff(
    fake: FakeDingTalk,
) -> None:
    sink = RecordingSink()
    task = asyncio.create_task(StreamClient(fake.base_url, APP_KEY, APP_SECRET, sink, base_delay=0.01).run())
    try:
        async with asyncio.timeout(5):
            await fake.wait_connections(1)
            fake.fail("/v1.0/gateway/connections/open", 503, {"code": "ServiceUnavailable"}, times=2)
            await fake.drop_connections()
            await fake.wait_connections(2)
        assert len(fake.calls("/v1.0/gateway/connections/open")) == 4  # 1 + 2 refused + 1
        await fake.push(frame(BOT_TOPIC, fixture("text_direct.json"), "m-1"))
        async with asyncio.timeout(5):
            await fake.wait_acks(1)
        assert [e.event_id for e in sink.events] == ["msgDIR0001"]
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_wrong_credentials_never_connect_and_keep_retrying(fake: FakeDingTalk) -> None:
    task = asyncio.create_task(
        StreamClient(fake.base_url, APP_KEY, "wrong", RecordingSink(), base_delay=0.01).run()
    )
    await asyncio.sleep(0.3)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert fake.connections == 0
    assert 2 <= len(fake.calls("/v1.0/gateway/connections/open")) <= 10  # backing off, not spinning


async def test_the_socket_outlives_the_api_timeout(
    fake: FakeDingTalk, monkeypatch: pytest.MonkeyPatch
) -> None:
    import adapters.dingtalk.client as client_module

    monkeypatch.setattr(client_module, "TIMEOUT", aiohttp.ClientTimeout(total=0.2))
    async with running_bot(settings_for(fake, mode="stream")) as bot:
        async with asyncio.timeout(5):
            await fake.wait_connections(1)
        await asyncio.sleep(0.5)
        await fake.push(frame(BOT_TOPIC, fixture("text_direct.json"), "m-late"))
        async with asyncio.timeout(5):
            await fake.wait_acks(1)
        assert fake.connections == 1 and len(bot.sink.events) == 1
