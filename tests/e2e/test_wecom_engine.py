"""WeCom end to end: wechatpy seals the callbacks, the whole bot answers through a fake WeCom open API."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from itertools import count
from typing import Any

import aiohttp
import pytest
from wechatpy.enterprise.crypto import WeChatCrypto

from bot.outbox import OutboxStatus
from core.db import Database
from tests.e2e.helpers import COLA_BARCODE, RunningBot, ean13_photo, eventually, running_bot, seed_shop
from tests.fakes.wecom_server import FakeWeCom

CORP, AGENT, TOKEN, AES = "ww_corp_e2e", "1000002", "tok-e2e", "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR"
IDS = {"sales": "wangxiao", "purchaser": "chenxiao", "manager": "zhangjl"}


@dataclass
class WeCom:
    """WeCom's side of the wire: what its servers post to psibot, and what psibot asked them to send."""

    fake: FakeWeCom
    bot: RunningBot
    http: aiohttp.ClientSession
    ids: count

    def seal(self, inner_xml: str, nonce: str) -> tuple[str, dict[str, str]]:
        """A genuine callback as wechatpy builds it: (outer XML, query)."""
        timestamp = str(int(time.time()))
        sealed = WeChatCrypto(TOKEN, AES, CORP).encrypt_message(inner_xml, nonce, timestamp)
        encrypt = _cdata(sealed, "Encrypt")
        body = f"<xml><ToUserName><![CDATA[{CORP}]]></ToUserName><Encrypt><![CDATA[{encrypt}]]></Encrypt><AgentID>{AGENT}</AgentID></xml>"
        return body, {"msg_signature": _cdata(sealed, "MsgSignature"), "timestamp": timestamp, "nonce": nonce}

    async def post(self, body: str, query: dict[str, str]) -> int:
        async with self.http.post(f"{self.bot.url}/wecom/callback", params=query, data=body.encode()) as resp:
            await resp.read()
            return resp.status

    def text_xml(self, sender: str, text: str, msg_id: str) -> str:
        return _message(
            sender,
            f"<MsgType><![CDATA[text]]></MsgType><Content><![CDATA[{text}]]></Content><MsgId>{msg_id}</MsgId>",
        )

    async def say(self, sender: str, text: str) -> int:
        return await self.post(*self.seal(self.text_xml(sender, text, f"7300{next(self.ids)}"), "n1"))

    async def send_photo(self, sender: str, image: bytes) -> int:
        media_id = f"media_{next(self.ids)}"
        self.fake.media[media_id] = image
        inner = _message(
            sender,
            f"<MsgType><![CDATA[image]]></MsgType><PicUrl><![CDATA[http://wework.qpic.cn/x/0]]></PicUrl>"
            f"<MediaId><![CDATA[{media_id}]]></MediaId><MsgId>7301{next(self.ids)}</MsgId>",
        )
        return await self.post(*self.seal(inner, "n2"))

    async def press(self, sender: str, card: dict[str, Any], label: str) -> str:
        """Click a template card button; returns the ResponseCode WeCom gives that click."""
        button = next(b for b in card["button_list"] if b["text"] == label)
        response_code = f"click-rc-{next(self.ids)}"
        inner = _message(
            sender,
            "<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[template_card_event]]></Event>"
            f"<EventKey><![CDATA[{button['key']}]]></EventKey><TaskId><![CDATA[{card['task_id']}]]></TaskId>"
            f"<CardType><![CDATA[button_interaction]]></CardType><ResponseCode><![CDATA[{response_code}]]></ResponseCode>",
        )
        assert await self.post(*self.seal(inner, "n3")) == 200
        return response_code

    def sent_to(self, user: str) -> list[dict[str, Any]]:
        return [r.body for r in self.fake.delivered if r.body.get("touser") == user]

    async def replies(self, user: str, count: int = 1) -> list[dict[str, Any]]:
        await eventually(lambda: len(self.sent_to(user)) >= count, 10, f"{count} message(s) to {user}")
        await self.bot.settle()
        return self.sent_to(user)


def _message(sender: str, rest: str) -> str:
    return (
        f"<xml><ToUserName><![CDATA[{CORP}]]></ToUserName><FromUserName><![CDATA[{sender}]]></FromUserName>"
        f"<CreateTime>{int(time.time())}</CreateTime>{rest}<AgentID>{AGENT}</AgentID></xml>"
    )


def _cdata(xml: str, name: str) -> str:
    found = re.search(rf"<{name}><!\[CDATA\[(.*?)\]\]>", xml)
    assert found is not None
    return found.group(1)


def card_text(body: dict[str, Any]) -> str:
    """Everything a person reads on a message: text, markdown, or a template card's texts."""
    if body["msgtype"] == "text":
        return str(body["text"]["content"])
    if body["msgtype"] == "markdown":
        return str(body["markdown"]["content"])
    card = body["template_card"]
    parts = [card["main_title"]["title"], card.get("sub_title_text", "")]
    parts += [f"{item['keyname']}: {item['value']}" for item in card.get("horizontal_content_list", [])]
    parts += [button["text"] for button in card["button_list"]]
    return "\n".join(parts)


@pytest.fixture
async def wecom(db: Database) -> AsyncIterator[WeCom]:
    fake = FakeWeCom(corp_id=CORP)
    base = await fake.start()
    await seed_shop(db, "wecom", IDS)
    env = {
        "WECOM_CORP_ID": CORP,
        "WECOM_AGENT_ID": AGENT,
        "WECOM_SECRET": fake.secret,
        "WECOM_TOKEN": TOKEN,
        "WECOM_ENCODING_AES_KEY": AES,
        "WECOM_API_BASE": base,
    }
    try:
        async with running_bot(db, env) as bot, aiohttp.ClientSession() as http:
            yield WeCom(fake, bot, http, count(1))
    finally:
        await fake.close()


async def test_a_salesperson_asks_for_stock_and_gets_the_stock_card(wecom: WeCom) -> None:
    assert await wecom.say(IDS["sales"], "库存 可乐") == 200
    [reply] = await wecom.replies(IDS["sales"])
    assert reply["msgtype"] == "template_card" and reply["agentid"] == int(AGENT)
    text = card_text(reply)
    assert "库存 · 可口可乐 330ml" in text
    assert "可用: 5箱" in text
    assert "主仓 | 4箱4罐" in text and "门店仓 | 20罐" in text
    assert "成本" not in text


async def test_a_purchase_request_is_approved_from_the_managers_card(wecom: WeCom) -> None:
    assert await wecom.say(IDS["purchaser"], "采购 可乐 10箱 供应商 太古") == 200
    [ack] = await wecom.replies(IDS["purchaser"])
    assert "已提交采购单 PO-" in card_text(ack) and "张经理" in card_text(ack)

    [approval] = await wecom.replies(IDS["manager"])
    assert approval["msgtype"] == "template_card"
    text = card_text(approval)
    assert "采购审批 · PO-" in text and "申请人: 小陈" in text and "可口可乐 330ml | 10箱" in text
    assert "在库/可用 | 安全/在途" in text and "| 4箱4罐/4箱4罐 | -/-" in text  # one line still fits the template card
    response_code = await wecom.press(IDS["manager"], approval["template_card"], "批准")

    await eventually(lambda: bool(wecom.fake.calls("update_template_card")), 10, "the card update")
    await wecom.bot.settle()
    [update] = wecom.fake.calls("update_template_card")
    assert update.body["response_code"] == response_code
    assert update.body["template_card"]["replace_text"].startswith("已批准")
    assert "已批准。" in [card_text(b) for b in wecom.sent_to(IDS["manager"])]
    news = [card_text(b) for b in wecom.sent_to(IDS["purchaser"])][1:]
    assert len(news) == 1 and "已由 张经理 批准" in news[0] and "采购单已批准" in news[0]


async def test_a_barcode_photo_gets_the_product(wecom: WeCom) -> None:
    assert await wecom.send_photo(IDS["sales"], ean13_photo(COLA_BARCODE)) == 200
    [reply] = await wecom.replies(IDS["sales"])
    assert "库存 · 可口可乐 330ml" in card_text(reply) and COLA_BARCODE in card_text(reply)
    [download] = wecom.fake.calls("media/get")
    assert download.query["media_id"].startswith("media_")


async def test_the_same_callback_three_times_is_answered_once(wecom: WeCom) -> None:
    body, query = wecom.seal(wecom.text_xml(IDS["sales"], "库存 雪碧", "7399000001"), "same")
    assert [await wecom.post(body, query) for _ in range(3)] == [200, 200, 200]
    await wecom.replies(IDS["sales"])
    assert len(wecom.sent_to(IDS["sales"])) == 1


async def test_a_token_expiring_mid_run_is_refreshed_once(wecom: WeCom) -> None:
    await wecom.say(IDS["sales"], "库存 可乐")
    await wecom.replies(IDS["sales"])
    wecom.fake.expire_tokens()
    await wecom.say(IDS["sales"], "库存 雪碧")
    replies = await wecom.replies(IDS["sales"], 2)
    assert len(wecom.fake.calls("gettoken")) == 2
    assert [card_text(r).splitlines()[0] for r in replies] == ["库存 · 可口可乐 330ml", "库存 · 雪碧 500ml"]
    assert await wecom.bot.outbox_count(OutboxStatus.DELIVERED) == 2


async def test_a_token_expiring_while_two_people_are_answered_is_refreshed_once(wecom: WeCom) -> None:
    await wecom.say(IDS["sales"], "库存 可乐")
    await wecom.replies(IDS["sales"])
    tokens_before = len(wecom.fake.calls("gettoken"))
    wecom.fake.expire_tokens()
    await wecom.say(
        IDS["purchaser"], "采购 可乐 10箱 供应商 太古"
    )  # the ack and the approval card go out together
    await wecom.replies(IDS["purchaser"])
    await wecom.replies(IDS["manager"])
    assert len(wecom.fake.calls("gettoken")) == tokens_before + 1


async def test_a_forged_signature_changes_nothing(wecom: WeCom) -> None:
    body, query = wecom.seal(wecom.text_xml(IDS["sales"], "库存 可乐", "7399000002"), "forged")
    assert await wecom.post(body, {**query, "msg_signature": "0" * 40}) == 403
    # Signed with the token but encrypted with another key: the signature holds, the body does not open.
    wrong_key = WeChatCrypto(TOKEN, "A" * 43, CORP).encrypt_message(
        wecom.text_xml(IDS["sales"], "库存 可乐", "7399000003"), query["nonce"], query["timestamp"]
    )
    outer = f"<xml><Encrypt><![CDATA[{_cdata(wrong_key, 'Encrypt')}]]></Encrypt></xml>"
    assert await wecom.post(outer, {**query, "msg_signature": _cdata(wrong_key, "MsgSignature")}) == 400
    await wecom.bot.settle()
    assert await wecom.bot.outbox_count() == 0
    assert wecom.fake.requests == []
    assert await wecom.post(body, query) == 200  # the genuine delivery of that message is still answered
    assert len(await wecom.replies(IDS["sales"])) == 1
