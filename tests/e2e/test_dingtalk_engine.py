"""DingTalk end to end (HTTP mode): callbacks signed as DingTalk signs them, the whole bot answering
through a fake DingTalk: session webhooks for replies, robot sends for news, template cards for cards."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from itertools import count
from typing import Any

import aiohttp
import pytest

from adapters.dingtalk.crypto import sign
from core.db import Database
from tests.e2e.helpers import COLA_BARCODE, RunningBot, ean13_photo, eventually, running_bot, seed_shop
from tests.fakes.dingtalk_server import APP_KEY, APP_SECRET, FakeDingTalk, Recorded

CORP = "dingcorp_e2e"
IDS = {"sales": "wangxiao01", "purchaser": "chenxiao01", "manager": "zhangjl01"}
TEMPLATE = "tpl-psibot.schema"


@dataclass
class DingTalk:
    """DingTalk's side of the wire: what it posts to psibot, and what psibot asked it to deliver."""

    fake: FakeDingTalk
    bot: RunningBot
    http: aiohttp.ClientSession
    ids: count

    async def post(
        self, path: str, payload: dict[str, Any], *, secret: str = APP_SECRET, timestamp: int | None = None
    ) -> int:
        """POST with the `timestamp` and `sign` headers DingTalk adds."""
        ts = str(int(time.time() * 1000) if timestamp is None else timestamp)
        headers = {"timestamp": ts, "sign": sign(ts, secret), "Content-Type": "application/json"}
        body = json.dumps(payload, ensure_ascii=False).encode()
        async with self.http.post(f"{self.bot.url}{path}", data=body, headers=headers) as resp:
            await resp.read()
            return resp.status

    def message(self, staff_id: str, msgtype: str, content: dict[str, Any]) -> dict[str, Any]:
        """A 1:1 robot message from a member, with the session webhook DingTalk gives each one."""
        now = int(time.time() * 1000)
        return {
            "conversationId": f"cid{staff_id}==",
            "chatbotCorpId": CORP,
            "chatbotUserId": "$:LWCP_v1:$bot",
            "msgId": f"msg{next(self.ids):08d}",
            "senderNick": staff_id,
            "isAdmin": False,
            "senderStaffId": staff_id,
            "sessionWebhookExpiredTime": now + 90 * 60 * 1000,
            "createAt": now,
            "senderCorpId": CORP,
            "conversationType": "1",
            "senderId": f"$:LWCP_v1:${staff_id}",
            "sessionWebhook": f"{self.fake.base_url}/robot/sendBySession?session={staff_id}",
            "robotCode": APP_KEY,
            "msgtype": msgtype,
            **content,
        }

    async def say(self, staff_id: str, text: str) -> int:
        return await self.post(
            "/dingtalk/callback", self.message(staff_id, "text", {"text": {"content": text}})
        )

    async def send_photo(self, staff_id: str, image: bytes) -> int:
        code = f"dlcode{next(self.ids)}"
        self.fake.files[code] = image
        return await self.post(
            "/dingtalk/callback", self.message(staff_id, "picture", {"content": {"downloadCode": code}})
        )

    async def press(self, staff_id: str, card: dict[str, Any], label: str) -> int:
        """Click a button of a template card: its `payload` callback param comes back, as the template binds it."""
        params = card["params"]
        slot = next(
            n for n in range(1, 5) if params[f"btn{n}_text"] == label and params[f"btn{n}_visible"] == "true"
        )
        content = {
            "cardPrivateData": {
                "actionIds": [f"btn{slot}"],
                "params": {"payload": params[f"btn{slot}_payload"]},
            }
        }
        click = {
            "extension": "{}",
            "corpId": CORP,
            "type": "actionCallback",
            "userId": staff_id,
            "userIdType": 1,
            "spaceType": "IM_ROBOT",
            "spaceId": staff_id,
            "outTrackId": card["outTrackId"],
            "content": json.dumps(content, ensure_ascii=False),
        }
        return await self.post("/dingtalk/card", click)

    def sent_to(self, staff_id: str) -> list[dict[str, Any]]:
        """Messages and cards delivered to one person, in order: {"kind", "text"} or {"kind": "card", …}."""
        return [
            message for call in self.fake.delivered if (message := _delivered_to(call, staff_id)) is not None
        ]

    async def replies(self, staff_id: str, count: int = 1) -> list[dict[str, Any]]:
        await eventually(
            lambda: len(self.sent_to(staff_id)) >= count, 10, f"{count} message(s) to {staff_id}"
        )
        await self.bot.settle()
        return self.sent_to(staff_id)


def _delivered_to(call: Recorded, staff_id: str) -> dict[str, Any] | None:
    body = call.body
    if call.path == "/robot/sendBySession" and call.query.get("session") == staff_id:
        kind = body["msgtype"]
        return {"kind": kind, "via": "session", "text": body[kind].get("content") or body[kind].get("text")}
    if call.path == "/v1.0/robot/oToMessages/batchSend" and staff_id in body["userIds"]:
        param = json.loads(body["msgParam"])
        return {"kind": body["msgKey"], "via": "robot", "text": param.get("content") or param.get("text")}
    if (
        call.path == "/v1.0/card/instances/createAndDeliver"
        and body["openSpaceId"] == f"dtv1.card//IM_ROBOT.{staff_id}"
    ):
        return {"kind": "card", "outTrackId": body["outTrackId"], "params": body["cardData"]["cardParamMap"]}
    return None


def text_of(message: dict[str, Any]) -> str:
    if message["kind"] != "card":
        return str(message["text"])
    params = message["params"]
    buttons = [params[f"btn{n}_text"] for n in range(1, 5) if params[f"btn{n}_visible"] == "true"]
    return "\n".join([params["title"], params["content"], params["note"], params["status"], *buttons])


@pytest.fixture
async def dingtalk(db: Database) -> AsyncIterator[DingTalk]:
    fake = FakeDingTalk()
    base = await fake.start()
    await seed_shop(db, "dingtalk", IDS)
    env = {
        "DINGTALK_APP_KEY": APP_KEY,
        "DINGTALK_APP_SECRET": APP_SECRET,
        "DINGTALK_MODE": "http",
        "DINGTALK_API_BASE": base,
        "DINGTALK_OAPI_BASE": base,
        "DINGTALK_CARD_TEMPLATE_ID": TEMPLATE,
        "DINGTALK_CARD_CALLBACK_URL": "https://psibot.example/dingtalk/card",
    }
    try:
        async with running_bot(db, env) as bot, aiohttp.ClientSession() as http:
            yield DingTalk(fake, bot, http, count(1))
    finally:
        await fake.stop()


async def test_a_salesperson_asks_for_stock_and_gets_the_stock_card(dingtalk: DingTalk) -> None:
    assert await dingtalk.say(IDS["sales"], "库存 可乐") == 200
    [reply] = await dingtalk.replies(IDS["sales"])
    assert reply["kind"] == "card"
    text = text_of(reply)
    assert "库存 · 可口可乐 330ml" in text and "**可用**：5箱" in text
    assert "仓库: 主仓 · 可用: 4箱4罐" in text and "仓库: 门店仓 · 可用: 20罐" in text
    assert "成本" not in text


async def test_a_purchase_request_is_approved_from_the_managers_card(dingtalk: DingTalk) -> None:
    assert await dingtalk.say(IDS["purchaser"], "采购 可乐 10箱 供应商 太古") == 200
    [ack] = await dingtalk.replies(IDS["purchaser"])
    assert ack["via"] == "session" and "已提交采购单 PO-" in text_of(ack) and "张经理" in text_of(ack)

    [approval] = await dingtalk.replies(IDS["manager"])
    text = text_of(approval)
    assert (
        "采购审批 · PO-" in text
        and "**申请人**：小陈" in text
        and "商品: 可口可乐 330ml · 数量: 10箱" in text
        and "在库/可用: 4箱4罐/4箱4罐 · 安全/在途: -/-" in text
    )
    assert await dingtalk.press(IDS["manager"], approval, "批准") == 200

    await eventually(lambda: bool(dingtalk.fake.calls("/v1.0/card/instances")), 10, "the card update")
    await dingtalk.bot.settle()
    [update] = dingtalk.fake.calls("/v1.0/card/instances")
    assert update.method == "PUT" and update.body["outTrackId"] == approval["outTrackId"]
    params = update.body["cardData"]["cardParamMap"]
    assert params["status"].startswith("已批准 · 张经理") and params["has_status"] == "true"
    assert params["btn1_visible"] == params["btn2_visible"] == "false"
    assert "已批准。" in [text_of(m) for m in dingtalk.sent_to(IDS["manager"])]
    [news] = dingtalk.sent_to(IDS["purchaser"])[1:]
    assert news["via"] == "robot" and "已由 张经理 批准" in news["text"] and "采购单已批准" in news["text"]


async def test_a_barcode_photo_gets_the_product(dingtalk: DingTalk) -> None:
    assert await dingtalk.send_photo(IDS["sales"], ean13_photo(COLA_BARCODE)) == 200
    [reply] = await dingtalk.replies(IDS["sales"])
    assert "库存 · 可口可乐 330ml" in text_of(reply) and COLA_BARCODE in text_of(reply)
    [download] = dingtalk.fake.calls("/v1.0/robot/messageFiles/download")
    assert download.body["robotCode"] == APP_KEY


async def test_the_same_callback_three_times_is_answered_once(dingtalk: DingTalk) -> None:
    payload = dingtalk.message(IDS["sales"], "text", {"text": {"content": "库存 雪碧"}})
    assert [await dingtalk.post("/dingtalk/callback", payload) for _ in range(3)] == [200, 200, 200]
    await dingtalk.replies(IDS["sales"])
    assert len(dingtalk.sent_to(IDS["sales"])) == 1


async def test_a_token_expiring_mid_run_is_refreshed_once(dingtalk: DingTalk) -> None:
    await dingtalk.say(IDS["sales"], "库存 可乐")
    await dingtalk.replies(IDS["sales"])
    tokens_before = len(dingtalk.fake.calls("/v1.0/oauth2/accessToken"))
    dingtalk.fake.expire_tokens()
    await dingtalk.say(IDS["sales"], "库存 雪碧")
    replies = await dingtalk.replies(IDS["sales"], 2)
    assert len(dingtalk.fake.calls("/v1.0/oauth2/accessToken")) == tokens_before + 1
    assert [text_of(r).splitlines()[0] for r in replies] == ["库存 · 可口可乐 330ml", "库存 · 雪碧 500ml"]


async def test_a_token_expiring_while_two_people_are_answered_is_refreshed_once(dingtalk: DingTalk) -> None:
    await dingtalk.say(IDS["sales"], "库存 可乐")
    await dingtalk.replies(IDS["sales"])
    tokens_before = len(dingtalk.fake.calls("/v1.0/oauth2/accessToken"))
    dingtalk.fake.expire_tokens()
    await dingtalk.say(
        IDS["purchaser"], "采购 可乐 10箱 供应商 太古"
    )  # the ack and the approval card go out together
    await dingtalk.replies(IDS["purchaser"])
    await dingtalk.replies(IDS["manager"])
    assert len(dingtalk.fake.calls("/v1.0/oauth2/accessToken")) == tokens_before + 1


async def test_a_forged_signature_changes_nothing(dingtalk: DingTalk) -> None:
    payload = dingtalk.message(IDS["sales"], "text", {"text": {"content": "库存 可乐"}})
    assert await dingtalk.post("/dingtalk/callback", payload, secret="a-guessed-secret") == 403
    two_hours_ago = int(time.time() * 1000) - 2 * 3600 * 1000
    assert await dingtalk.post("/dingtalk/callback", payload, timestamp=two_hours_ago) == 403
    await dingtalk.bot.settle()
    assert await dingtalk.bot.outbox_count() == 0
    assert dingtalk.fake.delivered == []
    assert await dingtalk.post("/dingtalk/callback", payload) == 200  # the genuine delivery is still answered
    assert len(await dingtalk.replies(IDS["sales"])) == 1
