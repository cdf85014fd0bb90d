"""WeCom over real HTTP: wechatpy signs and encrypts the callbacks; the adapter talks to a fake WeCom."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from wechatpy.crypto import _get_signature
from wechatpy.enterprise.crypto import PrpCrypto, WeChatCrypto

from adapters.wecom import Settings, WeComAdapter, crypto, send_webhook
from bot.adapter import DeliveryError
from bot.kv import MemoryStore
from bot.model import Button, Card, CardAction, ImageMessage, InboundEvent, Target, Text, TextMessage
from tests.fakes.wecom_server import IMAGE_BYTES, FakeWeCom

FIXTURES = Path(__file__).parents[2] / "fixtures" / "wecom"
CORP, TOKEN, AES = "ww_corp_test", "tok123", "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR"


@pytest.fixture
async def fake() -> AsyncIterator[FakeWeCom]:
    server = FakeWeCom(corp_id=CORP)
    yield server
    await server.close()


@pytest.fixture
async def adapter(fake: FakeWeCom) -> AsyncIterator[WeComAdapter]:
    base = await fake.start()
    env = {
        "WECOM_CORP_ID": CORP,
        "WECOM_AGENT_ID": "1000002",
        "WECOM_SECRET": fake.secret,
        "WECOM_TOKEN": TOKEN,
        "WECOM_ENCODING_AES_KEY": AES,
        "WECOM_API_BASE": base,
    }
    settings = Settings.from_env(env)
    assert settings is not None
    wecom = WeComAdapter(settings, MemoryStore())
    yield wecom
    await wecom.close()


@pytest.fixture
async def edge(adapter: WeComAdapter) -> AsyncIterator[tuple[TestClient, list[InboundEvent]]]:
    received: list[InboundEvent] = []

    async def sink(event: InboundEvent) -> None:
        received.append(event)

    app = web.Application()
    adapter.routes(app, sink)
    client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    yield client, received
    await client.close()


def sealed(xml: str, nonce: str = "n0nce", timestamp: str = "1700000000") -> tuple[str, dict[str, str]]:
    """A genuine callback, made by wechatpy: (outer XML body, query)."""
    reply = WeChatCrypto(TOKEN, AES, CORP).encrypt_message(xml, nonce, timestamp)
    encrypt = re.search(r"<Encrypt><!\[CDATA\[(.*?)\]\]>", reply).group(1)
    signature = re.search(r"<MsgSignature><!\[CDATA\[(.*?)\]\]>", reply).group(1)
    body = f"<xml><ToUserName><![CDATA[{CORP}]]></ToUserName><Encrypt><![CDATA[{encrypt}]]></Encrypt><AgentID>1000002</AgentID></xml>"
    return body, {"msg_signature": signature, "timestamp": timestamp, "nonce": nonce}


async def test_url_verification_handshake(edge: tuple[TestClient, list[InboundEvent]]) -> None:
    client, _ = edge
    echostr = PrpCrypto(crypto.aes_key(AES)).encrypt("1616140317555161061", CORP).decode()
    query = {"timestamp": "1700000000", "nonce": "42", "echostr": echostr}
    query["msg_signature"] = _get_signature(TOKEN, query["timestamp"], query["nonce"], echostr)
    resp = await client.get("/wecom/callback", params=query)
    assert resp.status == 200
    assert await resp.read() == b"1616140317555161061"
    resp = await client.get("/wecom/callback", params={**query, "nonce": "43"})
    assert resp.status == 403


@pytest.mark.parametrize(
    ("fixture", "kind"),
    [("text.xml", TextMessage), ("image.xml", ImageMessage), ("card_click.xml", CardAction)],
)
async def test_genuine_callbacks_become_events(
    edge: tuple[TestClient, list[InboundEvent]], fixture: str, kind: type
) -> None:
    client, received = edge
    body, query = sealed((FIXTURES / fixture).read_text())
    resp = await client.post("/wecom/callback", params=query, data=body.encode())
    assert resp.status == 200 and await resp.text() == ""
    [event] = received
    assert isinstance(event, kind)
    assert event.origin.platform == "wecom" and event.origin.tenant == CORP


async def test_a_callback_that_arrives_in_pieces_is_read_whole(edge: tuple[TestClient, list[InboundEvent]]) -> None:
    """A body is read to its end, not as far as the first TCP segment: sent in three chunks with pauses."""
    client, received = edge
    body, query = sealed((FIXTURES / "text.xml").read_text())
    data = body.encode()

    async def pieces() -> AsyncIterator[bytes]:
        for start in range(0, len(data), len(data) // 3 + 1):
            yield data[start:start + len(data) // 3 + 1]
            await asyncio.sleep(0.05)

    assert (await client.post("/wecom/callback", params=query, data=pieces())).status == 200
    [event] = received
    assert isinstance(event, TextMessage)


async def test_redelivery_reaches_sink_with_same_event_id(
    edge: tuple[TestClient, list[InboundEvent]],
) -> None:
    client, received = edge
    for nonce in ("a", "b", "c"):  # WeCom's retries re-sign the same message
        body, query = sealed((FIXTURES / "text.xml").read_text(), nonce=nonce)
        assert (await client.post("/wecom/callback", params=query, data=body.encode())).status == 200
    assert [e.event_id for e in received] == ["7301234567890123456"] * 3


async def test_forged_and_broken_requests_are_4xx_without_side_effect(
    edge: tuple[TestClient, list[InboundEvent]],
) -> None:
    client, received = edge
    body, query = sealed((FIXTURES / "text.xml").read_text())
    cases = [
        ({**query, "msg_signature": "0" * 40}, body.encode(), 403),
        ({k: v for k, v in query.items() if k != "msg_signature"}, body.encode(), 403),
        (query, body.replace("<Encrypt><![CDATA[", "<Encrypt><![CDATA[AAAA").encode(), 403),
        (query, b"<xml><unclosed>", 400),
        (query, b"{}", 400),
        (query, b"<xml>" + b"x" * 300_000 + b"</xml>", 413),
    ]
    other = WeChatCrypto(TOKEN, AES, "ww_other_corp").encrypt_message("<xml/>", "n", "1700000000")
    enc = re.search(r"<Encrypt><!\[CDATA\[(.*?)\]\]>", other).group(1)
    sig = _get_signature(TOKEN, "1700000000", "n", enc)
    cases.append(
        (
            {"msg_signature": sig, "timestamp": "1700000000", "nonce": "n"},
            f"<xml><Encrypt>{enc}</Encrypt></xml>".encode(),
            400,
        )
    )
    for params, data, status in cases:
        resp = await client.post("/wecom/callback", params=params, data=data)
        assert resp.status == status, (params, data[:40])
    assert received == []


async def test_wechatpy_decrypts_what_psibot_encrypts() -> None:
    key = crypto.aes_key(AES)
    encrypted = crypto.encrypt(key, "<xml><Content>出库</Content></xml>", CORP)
    signature = crypto.signature(TOKEN, "1700000000", "n1", encrypted)
    xml = f"<xml><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"
    assert WeChatCrypto(TOKEN, AES, CORP).decrypt_message(xml, signature, "1700000000", "n1") == (
        "<xml><Content>出库</Content></xml>"
    )


async def test_send_card_then_update_with_the_click_response_code(
    adapter: WeComAdapter, fake: FakeWeCom
) -> None:
    card = Card("card-7", "采购单 PO-42", buttons=(Button("批准", "po.approve", {"po": "PO-42"}),))
    sent = await adapter.send(Target("wecom", "user", "zhangsan"), card)
    assert sent.platform_message_ref.startswith("rc-")
    [call] = fake.calls("message/send")
    assert call.body["touser"] == "zhangsan" and call.body["agentid"] == 1000002
    assert call.body["template_card"]["card_type"] == "button_interaction"
    click = CardAction(
        origin=None,  # type: ignore[arg-type]
        event_id="e",
        action="po.approve",
        value={},
        card_id="card-7",
        platform_card_ref="resp_code_xyz",
    )
    await adapter.update_card(
        click, sent.platform_message_ref, Card("card-7", "采购单 PO-42", status="已批准")
    )
    [update] = fake.calls("update_template_card")
    assert update.body["response_code"] == "resp_code_xyz" and update.body["atall"] == 1
    assert update.body["template_card"]["replace_text"] == "已批准"
    assert len(fake.calls("gettoken")) == 1


async def test_text_to_chat_and_images(adapter: WeComAdapter, fake: FakeWeCom) -> None:
    await adapter.send(Target("wecom", "chat", "chat-1"), Text("你好"))
    assert fake.calls("appchat/send")[0].body == {
        "chatid": "chat-1",
        "msgtype": "text",
        "text": {"content": "你好"},
    }
    assert await adapter.download_image("media_abc123") == IMAGE_BYTES
    with pytest.raises(DeliveryError) as info:
        await adapter.download_image("unknown")
    assert not info.value.transient and "40007" in str(info.value)


async def test_token_expiring_mid_run_is_refreshed_once_and_send_retried_once(
    adapter: WeComAdapter, fake: FakeWeCom
) -> None:
    target = Target("wecom", "user", "zhangsan")
    await adapter.send(target, Text("一"))
    fake.expire_tokens()
    await adapter.send(target, Text("二"))
    assert len(fake.calls("gettoken")) == 2
    assert [c.body["text"]["content"] for c in fake.calls("message/send")] == ["一", "二", "二"]


async def test_rate_limit_server_error_and_refusal(adapter: WeComAdapter, fake: FakeWeCom) -> None:
    target = Target("wecom", "user", "zhangsan")
    fake.fail("limited")
    with pytest.raises(DeliveryError) as info:
        await adapter.send(target, Text("x"))
    assert info.value.transient and info.value.retry_after == 60
    with pytest.raises(DeliveryError) as info:  # held locally, no request made
        await adapter.send(target, Text("x"))
    assert info.value.transient and info.value.retry_after is not None
    other = Target("wecom", "user", "lisi")
    fake.fail("error")
    with pytest.raises(DeliveryError) as info:
        await adapter.send(other, Text("x"))
    assert info.value.transient
    fake.fail("denied")
    with pytest.raises(DeliveryError) as info:
        await adapter.send(other, Text("x"))
    assert not info.value.transient and "81013" in str(info.value)


async def test_check_and_webhook(adapter: WeComAdapter, fake: FakeWeCom) -> None:
    assert "OK" in await adapter.check()
    fake.secret = "changed"
    assert "WECOM_SECRET" in await adapter.check()
    base = adapter.settings.api_base
    await send_webhook(
        f"{base}/webhook/send?key=robot-key", None, Card("c", "库存预警", note="可乐 低于安全库存")
    )
    [hook] = fake.calls("webhook/send")
    assert hook.body["msgtype"] == "markdown" and "库存预警" in hook.body["markdown"]["content"]
    fake.fail("limited")
    with pytest.raises(DeliveryError) as info:
        await send_webhook(f"{base}/webhook/send?key=robot-key", None, Text("x"))
    assert info.value.transient
