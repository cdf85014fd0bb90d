"""DingTalk outbound calls against the fake platform: token, sends, cards, images, webhooks, failures."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator

import pytest

from adapters.dingtalk import DingTalkAdapter, send_webhook
from adapters.dingtalk.parse import make_reply_handle, parse_card_callback
from bot.adapter import DeliveryError
from bot.kv import KeyValueStore, MemoryStore
from bot.model import Button, ButtonStyle, Card, Image, Markdown, Target, Text
from tests.fakes.dingtalk_server import APP_KEY, WEBHOOK_SECRET, WEBHOOK_TOKEN, FakeDingTalk, settings_for

USER = Target("dingtalk", "user", "zhangsan01")
GROUP = Target("dingtalk", "chat", "cidGroupAbc123==")
CARD = Card(
    card_id="card-po-42",
    title="采购单 PO-2026-0042 待审批",
    fields=(("金额", "¥1,200.00"),),
    buttons=(Button("批准", "po.approve", {"po": "PO-2026-0042"}, ButtonStyle.PRIMARY),),
)


@pytest.fixture
async def fake() -> AsyncIterator[FakeDingTalk]:
    server = FakeDingTalk()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def adapter(fake: FakeDingTalk) -> AsyncIterator[DingTalkAdapter]:
    dingtalk = DingTalkAdapter(settings_for(fake), MemoryStore())
    yield dingtalk
    await dingtalk.close()


async def test_text_to_a_user_and_markdown_to_a_group(fake: FakeDingTalk, adapter: DingTalkAdapter) -> None:
    sent = await adapter.send(USER, Text("库存：可乐 10 箱"))
    await adapter.send(GROUP, Markdown("日报", "# 日报\n- 可乐 10 箱"))
    (user_call,) = fake.calls("/v1.0/robot/oToMessages/batchSend")
    assert user_call.body["robotCode"] == APP_KEY and user_call.body["userIds"] == ["zhangsan01"]
    assert (user_call.body["msgKey"], json.loads(user_call.body["msgParam"])) == (
        "sampleText",
        {"content": "库存：可乐 10 箱"},
    )
    assert user_call.headers["x-acs-dingtalk-access-token"].startswith("tok-")
    assert sent.platform_message_ref.startswith("pqk-")
    (group_call,) = fake.calls("/v1.0/robot/groupMessages/send")
    assert group_call.body["openConversationId"] == "cidGroupAbc123=="
    assert json.loads(group_call.body["msgParam"])["title"] == "日报"
    assert len(fake.calls("/v1.0/oauth2/accessToken")) == 1  # one token for both


async def test_a_fresh_session_webhook_is_used_and_a_stale_one_is_not(
    fake: FakeDingTalk, adapter: DingTalkAdapter
) -> None:
    url = f"{fake.base_url}/robot/sendBySession?session=abc"
    fresh = make_reply_handle(url, int(time.time() * 1000) + 3_600_000)
    stale = make_reply_handle(url, int(time.time() * 1000) + 10_000)
    await adapter.send(Target("dingtalk", "chat", "cidGroupAbc123==", fresh), Text("好的"))
    await adapter.send(Target("dingtalk", "chat", "cidGroupAbc123==", stale), Text("好的"))
    (hook,) = fake.calls("/robot/sendBySession")
    assert hook.body == {"msgtype": "text", "text": {"content": "好的"}}
    assert "x-acs-dingtalk-access-token" not in hook.headers
    assert len(fake.calls("/v1.0/robot/groupMessages/send")) == 1


async def test_a_long_text_is_split_not_rejected(fake: FakeDingTalk, adapter: DingTalkAdapter) -> None:
    await adapter.send(USER, Text("\n".join(f"第 {i} 行 " + "x" * 90 for i in range(100))))
    assert len(fake.calls("/v1.0/robot/oToMessages/batchSend")) == 4


async def test_card_is_delivered_clicked_and_updated_for_everyone(
    fake: FakeDingTalk, adapter: DingTalkAdapter
) -> None:
    sent = await adapter.send(GROUP, CARD)
    (create,) = fake.calls("/v1.0/card/instances/createAndDeliver")
    assert create.body["cardTemplateId"] == "tpl-psibot.schema"
    assert create.body["openSpaceId"] == "dtv1.card//IM_GROUP.cidGroupAbc123=="
    assert create.body["imGroupOpenDeliverModel"] == {"robotCode": APP_KEY}
    assert (create.body["callbackType"], create.body["callbackRouteKey"]) == ("HTTP", "psibot")
    params = create.body["cardData"]["cardParamMap"]
    assert sent.platform_message_ref == create.body["outTrackId"]
    # The platform echoes the bound button param back on a click:
    click = parse_card_callback(
        {
            "outTrackId": sent.platform_message_ref,
            "userId": "manager03",
            "corpId": "dingcorp0001",
            "spaceType": "IM_GROUP",
            "spaceId": "cidGroupAbc123==",
            "content": json.dumps(
                {"cardPrivateData": {"actionIds": ["btn1"], "params": {"payload": params["btn1_payload"]}}}
            ),
        }
    )
    assert (click.action, dict(click.value), click.card_id) == (
        "po.approve",
        {"po": "PO-2026-0042"},
        "card-po-42",
    )
    decided = Card(
        **{**{n: getattr(CARD, n) for n in CARD.__dataclass_fields__}, "status": "已批准 · 李四 · 10:42"}
    )
    await adapter.update_card(click, click.platform_card_ref, decided)
    (update,) = fake.calls("/v1.0/card/instances")
    assert update.method == "PUT" and update.body["outTrackId"] == sent.platform_message_ref
    assert update.body["cardData"]["cardParamMap"]["status"] == "已批准 · 李四 · 10:42"
    assert update.body["cardData"]["cardParamMap"]["btn1_visible"] == "false"


async def test_card_to_a_user_goes_to_the_robot_chat(fake: FakeDingTalk, adapter: DingTalkAdapter) -> None:
    await adapter.send(USER, CARD)
    (create,) = fake.calls("/v1.0/card/instances/createAndDeliver")
    assert create.body["openSpaceId"] == "dtv1.card//IM_ROBOT.zhangsan01"
    assert create.body["imRobotOpenDeliverModel"]["spaceType"] == "IM_ROBOT"


async def test_without_a_template_a_card_is_markdown_and_cannot_be_updated(fake: FakeDingTalk) -> None:
    adapter = DingTalkAdapter(settings_for(fake, card_template_id=""), MemoryStore())
    try:
        sent = await adapter.send(USER, CARD)
        (call,) = fake.calls("/v1.0/robot/oToMessages/batchSend")
        assert call.body["msgKey"] == "sampleMarkdown"
        with pytest.raises(DeliveryError) as info:
            await adapter.update_card(None, "", CARD)
        assert not info.value.transient
        assert sent.platform_message_ref.startswith("pqk-")
    finally:
        await adapter.close()


async def test_image_download_and_upload(fake: FakeDingTalk, adapter: DingTalkAdapter) -> None:
    fake.files["dlcodePicture0001"] = b"\xff\xd8jpeg bytes"
    assert await adapter.download_image("dlcodePicture0001") == b"\xff\xd8jpeg bytes"
    (download,) = fake.calls("/v1.0/robot/messageFiles/download")
    assert download.body == {"downloadCode": "dlcodePicture0001", "robotCode": APP_KEY}
    await adapter.send(USER, Image(b"\x89PNG...", "image/png", "条码"))
    (upload,) = fake.calls("/media/upload")
    assert upload.query["type"] == "image" if "type" in upload.query else True
    (send,) = fake.calls("/v1.0/robot/oToMessages/batchSend")
    assert send.body["msgKey"] == "sampleImageMsg"
    assert json.loads(send.body["msgParam"])["photoURL"].startswith("@media-")


async def test_a_token_expiring_mid_run_is_refreshed_once(fake: FakeDingTalk, store: KeyValueStore) -> None:
    adapter = DingTalkAdapter(settings_for(fake), store)
    try:
        await adapter.send(USER, Text("一"))
        fake.expire_tokens()
        await adapter.send(USER, Text("二"))
        await adapter.send(GROUP, Text("三"))
    finally:
        await adapter.close()
    assert len(fake.calls("/v1.0/oauth2/accessToken")) == 2
    tokens = [
        c.headers["x-acs-dingtalk-access-token"] for c in fake.requests if c.path.startswith("/v1.0/robot/")
    ]
    assert tokens == ["tok-1", "tok-1", "tok-2", "tok-2"]  # one refused try, then the fresh token


async def test_throttling_is_transient_and_holds_further_sends(
    fake: FakeDingTalk, adapter: DingTalkAdapter
) -> None:
    path = "/v1.0/robot/oToMessages/batchSend"
    fake.fail(path, 429, {"code": "Throttling.Api", "message": "请求太频繁"}, headers={"Retry-After": "7"})
    with pytest.raises(DeliveryError) as throttled:
        await adapter.send(USER, Text("x"))
    assert throttled.value.transient and throttled.value.retry_after == 7
    with pytest.raises(DeliveryError) as held:
        await adapter.send(Target("dingtalk", "user", "other"), Text("x"))
    assert held.value.transient and held.value.retry_after and held.value.retry_after > 5
    assert len(fake.calls(path)) == 1  # held here, not sent


@pytest.mark.parametrize(
    ("status", "body", "transient"),
    [
        (503, {"code": "ServiceUnavailable", "message": "busy"}, True),
        (400, {"code": "invalidParameter.robotCode", "message": "robotCode不存在"}, False),
        (403, {"code": "Forbidden.AccessDenied", "message": "没有调用该接口的权限"}, False),
    ],
)
async def test_failures_are_transient_or_permanent_with_the_platforms_message(
    fake: FakeDingTalk, adapter: DingTalkAdapter, status: int, body: dict[str, str], transient: bool
) -> None:
    fake.fail("/v1.0/robot/groupMessages/send", status, body)
    with pytest.raises(DeliveryError) as info:
        await adapter.send(GROUP, Text("x"))
    assert info.value.transient is transient
    assert body["message"] in str(info.value)


async def test_a_slow_platform_is_a_transient_error(
    fake: FakeDingTalk, adapter: DingTalkAdapter, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aiohttp import ClientTimeout

    import adapters.dingtalk.client as client_module

    monkeypatch.setattr(client_module, "TIMEOUT", ClientTimeout(total=0.2))
    fake.slow("/v1.0/robot/groupMessages/send", 1.0)
    with pytest.raises(DeliveryError) as info:
        await adapter.send(GROUP, Text("x"))
    assert info.value.transient


async def test_custom_robot_webhook_is_signed_and_kept_under_20_a_minute(fake: FakeDingTalk) -> None:
    url = f"{fake.base_url}/robot/send?access_token={WEBHOOK_TOKEN}"
    for i in range(20):
        await send_webhook(url, WEBHOOK_SECRET, Text(f"告警 {i}"))
    with pytest.raises(DeliveryError) as info:
        await send_webhook(url, WEBHOOK_SECRET, Text("第 21 条"))
    assert info.value.transient and info.value.retry_after and info.value.retry_after > 30
    assert len(fake.calls("/robot/send")) == 20  # the 21st never left
    with pytest.raises(DeliveryError) as bad:
        await send_webhook(f"{fake.base_url}/robot/send?access_token=other", "SECwrong", Text("x"))
    assert not bad.value.transient


async def test_check_reports_in_plain_words(fake: FakeDingTalk, adapter: DingTalkAdapter) -> None:
    assert "accepted" in await adapter.check()
    wrong = DingTalkAdapter(settings_for(fake, app_secret="wrong"), MemoryStore())
    try:
        report = await wrong.check()
    finally:
        await wrong.close()
    assert (
        "refused" in report
        and "DINGTALK_APP_SECRET" in report
        and "wrong" not in report.split("refused")[1][:20]
    )
