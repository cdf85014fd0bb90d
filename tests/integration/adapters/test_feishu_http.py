"""Feishu over real HTTP: lark-oapi judges the same requests psibot does; the adapter talks to a fake Feishu."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import lark_oapi as lark
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from lark_oapi.card.action_handler import CardActionHandler
from lark_oapi.core.model import RawRequest
from lark_oapi.core.utils import AESCipher
from lark_oapi.event.callback.model.p2_card_action_trigger import P2CardActionTriggerResponse

from adapters.feishu import FeishuAdapter, Settings, crypto, send_webhook
from bot.adapter import DeliveryError
from bot.kv import MemoryStore
from bot.model import (
    Button,
    Card,
    CardAction,
    ImageMessage,
    InboundEvent,
    Markdown,
    Target,
    Text,
    TextMessage,
)
from tests.fakes.feishu_server import IMAGE_BYTES, FakeFeishu

FIXTURES = Path(__file__).parents[2] / "fixtures" / "feishu"
VTOKEN, EKEY = "vtoken", "encrypt-key-1"


def fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text())


@pytest.fixture
async def fake() -> AsyncIterator[FakeFeishu]:
    server = FakeFeishu()
    yield server
    await server.close()


async def make_adapter(fake: FakeFeishu, encrypt_key: str) -> FeishuAdapter:
    base = await fake.start()
    env = {
        "FEISHU_APP_ID": fake.app_id,
        "FEISHU_APP_SECRET": fake.app_secret,
        "FEISHU_VERIFICATION_TOKEN": VTOKEN,
        "FEISHU_ENCRYPT_KEY": encrypt_key,
        "FEISHU_API_BASE": base,
    }
    settings = Settings.from_env(env)
    assert settings is not None
    return FeishuAdapter(settings, MemoryStore())


@pytest.fixture
async def adapter(fake: FakeFeishu) -> AsyncIterator[FeishuAdapter]:
    feishu = await make_adapter(fake, EKEY)
    yield feishu
    await feishu.close()


class Edge:
    def __init__(self, client: TestClient, received: list[InboundEvent]) -> None:
        self.client, self.received = client, received

    async def post(self, path: str, body: bytes, headers: dict[str, str]) -> int:
        resp = await self.client.post(
            path, data=body, headers={"Content-Type": "application/json", **headers}
        )
        return resp.status


@pytest.fixture
async def edge(adapter: FeishuAdapter) -> AsyncIterator[Edge]:
    received: list[InboundEvent] = []

    async def sink(event: InboundEvent) -> None:
        received.append(event)

    app = web.Application()
    adapter.routes(app, sink)
    client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    yield Edge(client, received)
    await client.close()


def sealed(payload: dict[str, Any], *, key: str = EKEY, nonce: str = "n1") -> tuple[bytes, dict[str, str]]:
    """A genuine encrypted, signed event: (raw body, headers)."""
    body = json.dumps({"encrypt": crypto.encrypt(key, json.dumps(payload, ensure_ascii=False))}).encode()
    timestamp = str(int(time.time()))
    signature = hashlib.sha256((timestamp + nonce + key).encode() + body).hexdigest()
    return body, {
        "X-Lark-Request-Timestamp": timestamp,
        "X-Lark-Request-Nonce": nonce,
        "X-Lark-Signature": signature,
    }


def sdk_handler(encrypt_key: str) -> lark.EventDispatcherHandler:
    return (
        lark.EventDispatcherHandler.builder(encrypt_key, VTOKEN)
        .register_p2_im_message_receive_v1(lambda data: None)
        .register_p2_card_action_trigger(lambda data: P2CardActionTriggerResponse({}))
        .build()
    )


def sdk_accepts(handler: Any, body: bytes, headers: dict[str, str]) -> bool:
    request = RawRequest()
    request.uri = "/feishu/events"
    request.headers = headers
    request.body = body
    return handler.do(request).status_code == 200


@pytest.mark.parametrize(
    ("name", "kind"),
    [("text.json", TextMessage), ("image.json", ImageMessage), ("card_action.json", CardAction)],
)
async def test_genuine_events_become_neutral_events(edge: Edge, name: str, kind: type) -> None:
    body, headers = sealed(fixture(name))
    assert await edge.post("/feishu/events", body, headers) == 200
    [event] = edge.received
    assert isinstance(event, kind) and event.origin.platform == "feishu"


async def test_same_event_three_times_reaches_sink_three_times(edge: Edge) -> None:
    for nonce in ("a", "b", "c"):
        body, headers = sealed(fixture("text.json"), nonce=nonce)
        assert await edge.post("/feishu/events", body, headers) == 200
    assert [e.event_id for e in edge.received] == ["5e3702a84e847582be8db7fb73283c02"] * 3


def event_cases() -> list[tuple[str, bytes, dict[str, str]]]:
    genuine, headers = sealed(fixture("text.json"))
    challenge = {"challenge": "ch-1", "token": VTOKEN, "type": "url_verification"}
    wrong_token = fixture("text.json")
    wrong_token["header"]["token"] = "not-the-token"
    other_key, other_headers = sealed(fixture("text.json"), key="another-key")
    enc_challenge = json.dumps({"encrypt": crypto.encrypt(EKEY, json.dumps(challenge))}).encode()
    enc_bad_challenge = json.dumps(
        {"encrypt": crypto.encrypt(EKEY, json.dumps({**challenge, "token": "x"}))}
    ).encode()
    forged_token_body, forged_token_headers = sealed(wrong_token)
    return [
        ("genuine", genuine, headers),
        ("forged signature", genuine, {**headers, "X-Lark-Signature": "0" * 64}),
        ("unsigned", genuine, {}),
        ("tampered body", genuine.replace(b'"}', b'A"}'), headers),
        ("wrong key", other_key, other_headers),
        ("wrong token, signed", forged_token_body, forged_token_headers),
        ("encrypted challenge", enc_challenge, {}),
        ("challenge with wrong token", enc_bad_challenge, {}),
        ("plain body, not encrypted", json.dumps(fixture("text.json")).encode(), {}),
        ("not json", b"{oops", {}),
    ]


@pytest.mark.parametrize(("label", "body", "headers"), event_cases(), ids=[c[0] for c in event_cases()])
async def test_psibot_accepts_exactly_what_lark_oapi_accepts(
    edge: Edge, label: str, body: bytes, headers: dict[str, str]
) -> None:
    ours = await edge.post("/feishu/events", body, headers)
    assert ours == 200 or 400 <= ours < 500, label
    assert (ours == 200) == sdk_accepts(sdk_handler(EKEY), body, headers), label
    if ours != 200:
        assert edge.received == []


async def test_plain_mode_without_encrypt_key_matches_sdk(fake: FakeFeishu) -> None:
    adapter = await make_adapter(fake, "")
    received: list[InboundEvent] = []

    async def sink(event: InboundEvent) -> None:
        received.append(event)

    app = web.Application()
    adapter.routes(app, sink)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        good = json.dumps(fixture("card_action.json")).encode()
        wrong = fixture("card_action.json")
        wrong["header"]["token"] = "nope"
        no_token = fixture("card_action.json")
        del no_token["header"]["token"]
        for body in (good, json.dumps(wrong).encode(), json.dumps(no_token).encode()):
            resp = await client.post("/feishu/events", data=body)
            assert (resp.status == 200) == sdk_accepts(sdk_handler(""), body, {})
        challenge = await client.post(
            "/feishu/events", json={"challenge": "c9", "token": VTOKEN, "type": "url_verification"}
        )
        assert await challenge.json() == {"challenge": "c9"}
    assert len(received) == 1
    await adapter.close()


async def test_old_card_callback_matches_sdk(edge: Edge) -> None:
    body = json.dumps(fixture("card_callback_v1.json")).encode()
    timestamp = str(int(time.time()))
    sig = hashlib.sha1((timestamp + "n" + VTOKEN).encode() + body).hexdigest()
    good = {"X-Lark-Request-Timestamp": timestamp, "X-Lark-Request-Nonce": "n", "X-Lark-Signature": sig}
    sdk = CardActionHandler.builder(EKEY, VTOKEN).register(lambda card: {}).build()
    for headers in (good, {**good, "X-Lark-Signature": "f" * 40}):
        request = RawRequest()
        request.headers, request.body = headers, body
        sdk_ok = sdk.do(request).status_code == 200
        assert (await edge.post("/feishu/card", body, headers) == 200) == sdk_ok
    [event] = edge.received
    assert isinstance(event, CardAction) and event.event_id == "card:c-old-1"


def test_lark_oapi_decrypts_what_psibot_encrypts() -> None:
    text = json.dumps({"event": "入库", "n": 12}, ensure_ascii=False)
    assert AESCipher(EKEY).decrypt_str(crypto.encrypt(EKEY, text)) == text


async def test_send_patch_download(adapter: FeishuAdapter, fake: FakeFeishu) -> None:
    card = Card("card-7", "采购单", buttons=(Button("批准", "po.approve", {"po": "PO-42"}),))
    sent = await adapter.send(Target("feishu", "chat", "oc_group1"), card)
    [call] = fake.calls("/im/v1/messages")
    assert call.query == {"receive_id_type": "chat_id"}
    assert (
        call.body["msg_type"] == "interactive"
        and json.loads(call.body["content"])["header"]["title"]["content"] == "采购单"
    )
    await adapter.update_card(None, sent.platform_message_ref, Card("card-7", "采购单", status="已批准"))
    [patch] = fake.calls(f"/messages/{sent.platform_message_ref}")
    assert patch.method == "PATCH" and "已批准" in patch.body["content"]
    await adapter.send(Target("feishu", "user", "ou_sender"), Markdown("日报", "**12** 单"))
    assert fake.calls("/im/v1/messages")[-1].query == {"receive_id_type": "open_id"}
    assert await adapter.download_image("om_img1:img_v2_abc") == IMAGE_BYTES
    with pytest.raises(DeliveryError) as info:
        await adapter.download_image("om_img1:missing")
    assert not info.value.transient and "234003" in str(info.value)
    assert len(fake.calls("tenant_access_token")) == 1


async def test_token_expiring_mid_run_is_refreshed_once_and_send_retried_once(
    adapter: FeishuAdapter, fake: FakeFeishu
) -> None:
    target = Target("feishu", "user", "ou_sender")
    await adapter.send(target, Text("一"))
    fake.fail("expired")
    await adapter.send(target, Text("二"))
    assert len(fake.calls("tenant_access_token")) == 2
    assert [json.loads(c.body["content"])["text"] for c in fake.calls("/im/v1/messages")] == [
        "一",
        "二",
        "二",
    ]


async def test_rate_limit_and_server_errors(adapter: FeishuAdapter, fake: FakeFeishu) -> None:
    fake.fail("limited")
    with pytest.raises(DeliveryError) as info:
        await adapter.send(Target("feishu", "chat", "oc_1"), Text("x"))
    assert info.value.transient and info.value.retry_after == 7
    fake.fail("error")
    with pytest.raises(DeliveryError) as info:
        await adapter.send(Target("feishu", "chat", "oc_2"), Text("x"))
    assert info.value.transient
    fake.fail("denied")
    with pytest.raises(DeliveryError) as info:
        await adapter.send(Target("feishu", "chat", "oc_2"), Text("x"))
    assert not info.value.transient and "230002" in str(info.value)


async def test_check_bot_info_and_signed_webhook(adapter: FeishuAdapter, fake: FakeFeishu) -> None:
    assert "OK" in await adapter.check()
    assert await adapter.client.bot_open_id() == "ou_bot"
    base = adapter.settings.api_base
    await send_webhook(
        f"{base}/open-apis/bot/v2/hook/abc", "hook-secret", Card("c", "库存预警", buttons=(Button("x", "y"),))
    )
    [hook] = fake.calls("/bot/v2/hook/")
    assert hook.body["sign"] == crypto.webhook_sign("hook-secret", int(hook.body["timestamp"]))
    assert all(e["tag"] != "action" for e in hook.body["card"]["elements"])
    fake.app_secret = "changed"
    assert "FEISHU_APP_SECRET" in await adapter.check()
