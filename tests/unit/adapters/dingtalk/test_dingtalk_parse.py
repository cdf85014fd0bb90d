import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from dingtalk_stream import ChatbotMessage
from dingtalk_stream.card_callback import CardCallbackMessage

from adapters.dingtalk.parse import (
    MalformedPayload,
    make_reply_handle,
    parse_card_callback,
    parse_message,
    split_reply_handle,
)
from bot.model import CardAction, ImageMessage, TextMessage

FIXTURES = Path(__file__).parents[3] / "fixtures" / "dingtalk"


def load(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def test_group_text_strips_mentions_and_keeps_who_is_who() -> None:
    (event,) = parse_message(load("text_group.json"))
    assert isinstance(event, TextMessage)
    assert event.event_id == "msgGRP0001"
    assert event.text == "入库 6901234567892 10 箱"
    assert event.mentioned is True
    assert event.mentions == ("lisi02",)
    assert event.origin.platform == "dingtalk"
    assert event.origin.chat_kind == "group"
    assert event.origin.chat_id == "cidGroupAbc123=="
    assert event.origin.sender_id == "zhangsan01"
    assert event.origin.sender_alt_ids == ("$:LWCP_v1:$zhangsanDingId",)
    assert event.origin.sender_name == "张三"
    assert event.origin.tenant == "dingcorp0001"
    assert event.received_at == datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)
    assert split_reply_handle(event.reply_handle) == (
        1700005400000,
        "https://oapi.dingtalk.com/robot/sendBySession?session=abc123",
    )


def test_direct_text_is_addressed_to_the_bot() -> None:
    (event,) = parse_message(load("text_direct.json"))
    assert isinstance(event, TextMessage)
    assert (event.text, event.mentioned, event.origin.chat_kind) == ("库存 可乐", True, "direct")
    assert event.origin.chat_id == "zhangsan01"


def test_picture_carries_the_download_code() -> None:
    (event,) = parse_message(load("picture.json"))
    assert isinstance(event, ImageMessage)
    assert (event.event_id, event.media_handle) == ("msgPIC0001", "dlcodePicture0001")


def test_rich_text_gives_its_text_and_every_picture() -> None:
    events = parse_message(load("rich_text.json"))
    assert [type(e) for e in events] == [TextMessage, ImageMessage, ImageMessage]
    assert events[0].text == "入库这两箱"  # type: ignore[union-attr]
    assert [e.event_id for e in events] == ["msgRICH0001", "msgRICH0001#img1", "msgRICH0001#img2"]
    assert [e.media_handle for e in events[1:]] == ["dlcodeRichA", "dlcodeRichB"]  # type: ignore[union-attr]


def test_unsupported_types_give_no_event() -> None:
    assert parse_message(load("audio.json")) == ()


def test_fixtures_read_the_same_through_the_sdk() -> None:
    """Our fixtures are what the SDK understands: the same ids and download codes come out."""
    sdk = ChatbotMessage.from_dict(load("rich_text.json"))
    assert sdk.get_image_list() == ["dlcodeRichA", "dlcodeRichB"]
    assert ChatbotMessage.from_dict(load("text_group.json")).sender_staff_id == "zhangsan01"
    card = CardCallbackMessage.from_dict(load("card_callback.json"))
    assert card.content["cardPrivateData"]["actionIds"] == ["btn1"]


def test_card_click_becomes_card_action_with_a_stable_id() -> None:
    data = load("card_callback.json")
    event = parse_card_callback(data)
    assert isinstance(event, CardAction)
    assert (event.action, dict(event.value), event.card_id) == (
        "po.approve",
        {"po": "PO-2026-0042"},
        "card-po-42",
    )
    assert event.platform_card_ref == "psibot-0f1e2d3c4b5a69788796a5b4c3d2e1f0"
    assert dict(event.form) == {"remark": "请尽快发货"}
    assert (event.origin.sender_id, event.origin.chat_kind, event.origin.chat_id) == (
        "manager03",
        "group",
        "cidGroupAbc123==",
    )
    assert parse_card_callback(data).event_id == event.event_id
    other = dict(data, userId="someone-else")
    assert parse_card_callback(other).event_id != event.event_id


@pytest.mark.parametrize(
    "change",
    [
        {"msgId": None},
        {"conversationType": "3"},
        {"text": "not an object"},
        {"senderId": 5},
    ],
)
def test_malformed_message_is_refused(change: dict[str, Any]) -> None:
    data = {k: v for k, v in {**load("text_group.json"), **change}.items() if v is not None}
    with pytest.raises(MalformedPayload):
        parse_message(data)


@pytest.mark.parametrize(
    "content",
    [
        "not json",
        json.dumps({"cardPrivateData": {"params": {}}}),
        json.dumps({"cardPrivateData": {"params": {"payload": "[1]"}}}),
        json.dumps({"cardPrivateData": {"params": {"payload": json.dumps({"action": "a"})}}}),
        json.dumps({"cardPrivateData": {"params": ["payload"]}}),
    ],
)
def test_malformed_card_click_is_refused(content: str) -> None:
    with pytest.raises(MalformedPayload):
        parse_card_callback(dict(load("card_callback.json"), content=content))


def test_reply_handle_round_trip_and_garbage() -> None:
    assert split_reply_handle(make_reply_handle("https://x/y?session=1", 5)) == (5, "https://x/y?session=1")
    assert split_reply_handle("garbage") is None
    assert split_reply_handle("12 ftp://x") is None
