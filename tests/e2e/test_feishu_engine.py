"""Feishu end to end: events encrypted and signed as Feishu does (lark-oapi agrees, see the adapter's
integration tests), the whole bot answering through a fake Feishu open API."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from itertools import count
from typing import Any

import aiohttp
import pytest

from adapters.feishu import crypto
from core.db import Database
from tests.e2e.helpers import COLA_BARCODE, RunningBot, ean13_photo, eventually, running_bot, seed_shop
from tests.fakes.feishu_server import FakeFeishu

VTOKEN, EKEY, TENANT = "vtoken-e2e", "encrypt-key-e2e", "tenant_e2e"
# The manager is bound by user_id (what an admin finds in the Feishu admin console), the others by open_id.
IDS = {"sales": "ou_wangxiao", "purchaser": "ou_chenxiao", "manager": "zhangjl"}
OPEN_IDS = {"ou_wangxiao": "ou_wangxiao", "ou_chenxiao": "ou_chenxiao", "zhangjl": "ou_zhangjl"}


@dataclass
class Feishu:
    """Feishu's side of the wire: the events it posts to psibot, and what psibot asked it to send."""

    fake: FakeFeishu
    bot: RunningBot
    http: aiohttp.ClientSession
    ids: count

    def seal(
        self, payload: dict[str, Any], nonce: str = "n1", key: str = EKEY
    ) -> tuple[bytes, dict[str, str]]:
        """Encrypted with the Encrypt Key and signed over the raw body, as Feishu sends events."""
        body = json.dumps({"encrypt": crypto.encrypt(key, json.dumps(payload, ensure_ascii=False))}).encode()
        timestamp = str(int(time.time()))
        signature = hashlib.sha256((timestamp + nonce + key).encode() + body).hexdigest()
        headers = {
            "X-Lark-Request-Timestamp": timestamp,
            "X-Lark-Request-Nonce": nonce,
            "X-Lark-Signature": signature,
        }
        return body, headers

    async def post(self, body: bytes, headers: dict[str, str]) -> int:
        headers = {"Content-Type": "application/json", **headers}
        async with self.http.post(f"{self.bot.url}/feishu/events", data=body, headers=headers) as resp:
            await resp.read()
            return resp.status

    def event(self, event_type: str, event: dict[str, Any]) -> dict[str, Any]:
        header = {
            "event_id": f"ev{next(self.ids):030d}",
            "event_type": event_type,
            "create_time": str(int(time.time() * 1000)),
            "token": VTOKEN,
            "app_id": self.fake.app_id,
            "tenant_key": TENANT,
        }
        return {"schema": "2.0", "header": header, "event": event}

    def message(self, person: str, message_type: str, content: dict[str, Any]) -> dict[str, Any]:
        """A direct message from the person bound as `person`, as im.message.receive_v1."""
        sender = _sender_ids(person)
        message = {
            "message_id": f"om_in{next(self.ids)}",
            "create_time": str(int(time.time() * 1000)),
            "chat_id": f"oc_p2p_{sender['open_id']}",
            "chat_type": "p2p",
            "message_type": message_type,
            "content": json.dumps(content, ensure_ascii=False),
        }
        return self.event(
            "im.message.receive_v1",
            {"sender": {"sender_id": sender, "sender_type": "user"}, "message": message},
        )

    async def say(self, person: str, text: str) -> int:
        return await self.post(*self.seal(self.message(person, "text", {"text": text})))

    async def send_photo(self, person: str, image: bytes) -> int:
        image_key = f"img_v2_{next(self.ids)}"
        self.fake.images[image_key] = image
        return await self.post(*self.seal(self.message(person, "image", {"image_key": image_key})))

    async def press(self, person: str, message: dict[str, Any], label: str) -> int:
        """Click a button of a card psibot sent, as card.action.trigger."""
        card = json.loads(message["content"])
        buttons = [a for e in card["elements"] if e["tag"] == "action" for a in e["actions"]]
        button = next(b for b in buttons if b["text"]["content"] == label)
        event = {
            "operator": {"tenant_key": TENANT, **_sender_ids(person)},
            "token": f"c-{next(self.ids)}",
            "action": {"value": button["value"], "tag": "button"},
            "host": "im_message",
            "context": {
                "open_message_id": message["message_id"],
                "open_chat_id": f"oc_p2p_{_sender_ids(person)['open_id']}",
            },
        }
        return await self.post(*self.seal(self.event("card.action.trigger", event)))

    def sent_to(self, person: str) -> list[dict[str, Any]]:
        """The messages Feishu accepted for this person, with the message id it gave each."""
        found = []
        for call in self.fake.delivered:
            if call.body["receive_id"] in (person, _sender_ids(person)["open_id"]):
                found.append({**call.body, **call.answer})
        return found

    async def replies(self, person: str, count: int = 1) -> list[dict[str, Any]]:
        await eventually(lambda: len(self.sent_to(person)) >= count, 10, f"{count} message(s) to {person}")
        await self.bot.settle()
        return self.sent_to(person)


def _sender_ids(person: str) -> dict[str, str]:
    open_id = OPEN_IDS[person]
    user_id = person if not person.startswith("ou_") else f"u_{open_id[3:]}"
    return {"union_id": f"on_{open_id[3:]}", "user_id": user_id, "open_id": open_id}


def text_of(message: dict[str, Any]) -> str:
    """What a person reads: the text, or a card's title, fields, table cells, note, status and buttons."""
    content = json.loads(message["content"])
    if message["msg_type"] == "text":
        return str(content["text"])
    lines = [content["header"]["title"]["content"]]
    for element in content["elements"]:
        lines += _texts(element)
    return "\n".join(lines).replace("**", "").replace("\\", "")


def _texts(element: dict[str, Any]) -> list[str]:
    match element.get("tag"):
        case "div" if "fields" in element:
            return [field["text"]["content"].replace("\n", ": ") for field in element["fields"]]
        case "div":
            return [element["text"]["content"]]
        case "column_set":
            return [
                " | ".join(
                    line for column in element["columns"] for e in column["elements"] for line in _texts(e)
                )
            ]
        case "note":
            return [e["content"] for e in element["elements"]]
        case "action":
            return [a["text"]["content"] for a in element["actions"]]
        case "markdown":
            return [element["content"]]
    return []


@pytest.fixture
async def feishu(db: Database) -> AsyncIterator[Feishu]:
    fake = FakeFeishu(app_id="cli_e2e")
    base = await fake.start()
    await seed_shop(db, "feishu", IDS)
    env = {
        "FEISHU_APP_ID": fake.app_id,
        "FEISHU_APP_SECRET": fake.app_secret,
        "FEISHU_VERIFICATION_TOKEN": VTOKEN,
        "FEISHU_ENCRYPT_KEY": EKEY,
        "FEISHU_API_BASE": base,
    }
    try:
        async with running_bot(db, env) as bot, aiohttp.ClientSession() as http:
            yield Feishu(fake, bot, http, count(1))
    finally:
        await fake.close()


async def test_a_salesperson_asks_for_stock_and_gets_the_stock_card(feishu: Feishu) -> None:
    assert await feishu.say(IDS["sales"], "库存 可乐") == 200
    [reply] = await feishu.replies(IDS["sales"])
    assert reply["msg_type"] == "interactive"
    text = text_of(reply)
    assert "库存 · 可口可乐 330ml" in text and "可用: 5箱" in text
    assert "主仓 | 4箱4罐" in text and "门店仓 | 20罐" in text
    assert "成本" not in text


async def test_a_purchase_request_is_approved_from_the_managers_card(feishu: Feishu) -> None:
    assert await feishu.say(IDS["purchaser"], "采购 可乐 10箱 供应商 太古") == 200
    [ack] = await feishu.replies(IDS["purchaser"])
    assert "已提交采购单 PO-" in text_of(ack) and "张经理" in text_of(ack)

    [approval] = await feishu.replies(IDS["manager"])
    text = text_of(approval)
    assert "采购审批 · PO-" in text and "申请人: 小陈" in text and "可口可乐 330ml | 10箱" in text
    assert "| 在库/可用 | 安全/在途" in text and "| 4箱4罐/4箱4罐 | -/-" in text
    assert await feishu.press(IDS["manager"], approval, "批准") == 200

    await eventually(
        lambda: bool(feishu.fake.calls(f"/messages/{approval['message_id']}")), 10, "the card update"
    )
    await feishu.bot.settle()
    [patch] = feishu.fake.calls(f"/messages/{approval['message_id']}")
    assert patch.method == "PATCH"
    updated = text_of({"msg_type": "interactive", "content": patch.body["content"]})
    assert "已批准 · 张经理" in updated and "批准\n" not in updated
    assert "已批准。" in [text_of(m) for m in feishu.sent_to(IDS["manager"])]
    news = [text_of(m) for m in feishu.sent_to(IDS["purchaser"])][1:]
    assert len(news) == 1 and "已由 张经理 批准" in news[0] and "采购单已批准" in news[0]


async def test_a_barcode_photo_gets_the_product(feishu: Feishu) -> None:
    assert await feishu.send_photo(IDS["sales"], ean13_photo(COLA_BARCODE)) == 200
    [reply] = await feishu.replies(IDS["sales"])
    assert "库存 · 可口可乐 330ml" in text_of(reply) and COLA_BARCODE in text_of(reply)
    [download] = feishu.fake.calls("/resources/")
    assert download.query == {"type": "image"}


async def test_the_same_event_three_times_is_answered_once(feishu: Feishu) -> None:
    payload = feishu.message(IDS["sales"], "text", {"text": "库存 雪碧"})
    for nonce in ("a", "b", "c"):  # Feishu's retries carry the same event_id
        assert await feishu.post(*feishu.seal(payload, nonce)) == 200
    await feishu.replies(IDS["sales"])
    assert len(feishu.sent_to(IDS["sales"])) == 1


async def test_a_token_expiring_mid_run_is_refreshed_once(feishu: Feishu) -> None:
    await feishu.say(IDS["sales"], "库存 可乐")
    await feishu.replies(IDS["sales"])
    tokens_before = len(feishu.fake.calls("tenant_access_token"))
    feishu.fake.expire_tokens()
    await feishu.say(IDS["sales"], "库存 雪碧")
    replies = await feishu.replies(IDS["sales"], 2)
    assert len(feishu.fake.calls("tenant_access_token")) == tokens_before + 1
    assert [text_of(r).splitlines()[0] for r in replies] == ["库存 · 可口可乐 330ml", "库存 · 雪碧 500ml"]


async def test_a_token_expiring_while_two_people_are_answered_is_refreshed_once(feishu: Feishu) -> None:
    await feishu.say(IDS["sales"], "库存 可乐")
    await feishu.replies(IDS["sales"])
    tokens_before = len(feishu.fake.calls("tenant_access_token"))
    feishu.fake.expire_tokens()
    await feishu.say(
        IDS["purchaser"], "采购 可乐 10箱 供应商 太古"
    )  # the ack and the approval card go out together
    await feishu.replies(IDS["purchaser"])
    await feishu.replies(IDS["manager"])
    assert len(feishu.fake.calls("tenant_access_token")) == tokens_before + 1


async def test_a_forged_signature_changes_nothing(feishu: Feishu) -> None:
    payload = feishu.message(IDS["sales"], "text", {"text": "库存 可乐"})
    body, headers = feishu.seal(payload)
    assert await feishu.post(body, {**headers, "X-Lark-Signature": "0" * 64}) == 403
    assert await feishu.post(*feishu.seal(payload, key="a-guessed-key")) == 403
    assert await feishu.post(json.dumps(payload).encode(), {}) == 403  # plain, unsigned
    await feishu.bot.settle()
    assert await feishu.bot.outbox_count() == 0
    assert feishu.fake.delivered == []
    assert await feishu.post(body, headers) == 200  # the genuine delivery of that event is still answered
    assert len(await feishu.replies(IDS["sales"])) == 1
