"""DingTalk HTTP callbacks over real HTTP: genuine requests become events, anything else a 4xx."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator

import pytest

from bot.model import CardAction, ImageMessage, TextMessage
from tests.fakes.dingtalk_server import Bot, FakeDingTalk, fixture, running_bot, settings_for


@pytest.fixture
async def fake() -> AsyncIterator[FakeDingTalk]:
    server = FakeDingTalk()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def bot(fake: FakeDingTalk) -> AsyncIterator[Bot]:
    async with running_bot(settings_for(fake)) as running:
        yield running


async def test_genuine_text_image_and_click_become_events(bot: Bot) -> None:
    assert (await bot.post("/dingtalk/callback", fixture("text_group.json"))).status == 200
    assert (await bot.post("/dingtalk/callback", fixture("picture.json"))).status == 200
    assert (await bot.post("/dingtalk/card", fixture("card_callback.json"))).status == 200
    text, image, click = bot.sink.events
    assert isinstance(text, TextMessage) and text.text == "入库 6901234567892 10 箱"
    assert text.origin.sender_id == "zhangsan01"
    assert isinstance(image, ImageMessage) and image.media_handle == "dlcodePicture0001"
    assert isinstance(click, CardAction) and (click.action, click.card_id) == ("po.approve", "card-po-42")


async def test_the_same_delivery_three_times_carries_one_event_id(bot: Bot) -> None:
    for _ in range(3):
        assert (await bot.post("/dingtalk/callback", fixture("text_direct.json"))).status == 200
        assert (await bot.post("/dingtalk/card", fixture("card_callback.json"))).status == 200
    assert len(bot.sink.events) == 6
    assert len({e.event_id for e in bot.sink.events}) == 2


@pytest.mark.parametrize("path", ["/dingtalk/callback", "/dingtalk/card"])
async def test_forged_or_stale_requests_never_reach_the_sink(bot: Bot, path: str) -> None:
    body = fixture("text_group.json") if path.endswith("callback") else fixture("card_callback.json")
    forged = await bot.post(path, body, secret="guessed-secret")
    stale = await bot.post(path, body, timestamp=int(time.time() * 1000) - 2 * 3600 * 1000)
    async with bot.http.post(f"{bot.url}{path}", json=body) as unsigned:
        assert unsigned.status == 403
    assert (forged.status, stale.status) == (403, 403)
    assert bot.sink.events == []


async def test_malformed_or_oversized_bodies_get_a_4xx_not_a_500(bot: Bot) -> None:
    assert (await bot.post("/dingtalk/callback", b"{not json")).status == 400
    assert (await bot.post("/dingtalk/callback", b"[1, 2]")).status == 400
    assert (await bot.post("/dingtalk/callback", {"msgtype": "text"})).status == 400
    bad_click = dict(fixture("card_callback.json"), content=json.dumps({"cardPrivateData": {}}))
    assert (await bot.post("/dingtalk/card", bad_click)).status == 400
    big = json.dumps({"pad": "x" * 300_000}).encode()
    assert (await bot.post("/dingtalk/callback", big)).status == 413
    assert bot.sink.events == []


async def test_an_unsupported_message_is_acknowledged_and_ignored(bot: Bot) -> None:
    assert (await bot.post("/dingtalk/callback", fixture("audio.json"))).status == 200
    assert bot.sink.events == []


async def test_http_mode_registers_the_card_callback_url_at_startup(fake: FakeDingTalk) -> None:
    settings = settings_for(fake, card_callback_url="https://psibot.example/dingtalk/card")
    async with running_bot(settings):
        (register,) = fake.calls("/topapi/im/chat/scencegroup/interactivecard/callback/register")
    assert register.query["access_token"].startswith("tok-")
    assert register.body["callback_url"] == "https://psibot.example/dingtalk/card"
    assert (register.body["callbackRouteKey"], register.body["forceUpdate"]) == ("psibot", True)
