import json
from pathlib import Path

import pytest

from adapters.feishu.parse import PayloadError, parse_card_callback, parse_event
from bot.model import CardAction, ImageMessage, TextMessage

FIXTURES = Path(__file__).parents[3] / "fixtures" / "feishu"


def load(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


@pytest.mark.parametrize("bot_open_id", ["ou_bot", None])
def test_text_in_group_strips_bot_mention(bot_open_id: str | None) -> None:
    event = parse_event(load("text.json"), bot_open_id)
    assert isinstance(event, TextMessage)
    assert event.event_id == "5e3702a84e847582be8db7fb73283c02"
    assert event.text == "查库存 可乐 @李四"
    assert event.mentioned
    assert event.mentions == ("ou_lisi",)
    assert event.origin.sender_id == "ou_sender"
    assert event.origin.sender_alt_ids == ("zhangsan",)
    assert (event.origin.chat_id, event.origin.chat_kind, event.origin.tenant) == (
        "oc_group1",
        "group",
        "tenant_x",
    )


def test_group_text_without_bot_mention() -> None:
    payload = load("text.json")
    payload["event"]["message"]["mentions"] = payload["event"]["message"]["mentions"][1:]
    event = parse_event(payload, "ou_bot")
    assert isinstance(event, TextMessage)
    assert not event.mentioned


def test_image_in_direct_chat() -> None:
    event = parse_event(load("image.json"), None)
    assert isinstance(event, ImageMessage)
    assert event.media_handle == "om_img1:img_v2_abc"
    assert event.origin.chat_kind == "direct"


def test_post_with_text_and_image() -> None:
    payload = load("text.json")
    post = {
        "title": "",
        "content": [[{"tag": "at", "user_id": "@_user_1"}, {"tag": "text", "text": "盘点 A区"}]],
    }
    payload["event"]["message"].update(message_type="post", content=json.dumps(post, ensure_ascii=False))
    event = parse_event(payload, "ou_bot")
    assert isinstance(event, TextMessage) and event.text == "盘点 A区" and event.mentioned
    only_image = {"zh_cn": {"title": "", "content": [[{"tag": "img", "image_key": "img_k"}]]}}
    payload["event"]["message"]["content"] = json.dumps(only_image)
    image = parse_event(payload, "ou_bot")
    assert isinstance(image, ImageMessage) and image.media_handle == "om_text1:img_k"


def test_card_action_trigger() -> None:
    event = parse_event(load("card_action.json"), None)
    assert isinstance(event, CardAction)
    assert (event.action, dict(event.value), event.card_id) == ("po.approve", {"po": "PO-42"}, "card-7")
    assert event.platform_card_ref == "om_card1"
    assert event.origin.sender_id == "ou_lisi" and event.origin.sender_alt_ids == ("lisi",)
    assert event.event_id == "7a5924ca6a069704d0afd9fd95405e24"


def test_old_card_callback() -> None:
    event = parse_card_callback(load("card_callback_v1.json"))
    assert (event.action, event.card_id, event.platform_card_ref) == ("po.reject", "card-7", "om_card1")
    assert event.origin.chat_kind == "direct"
    assert event.event_id == "card:c-old-1"


def test_unknown_events_ignored_and_malformed_refused() -> None:
    payload = load("text.json")
    payload["header"]["event_type"] = "im.chat.member.bot.added_v1"
    assert parse_event(payload, None) is None
    for broken in ({}, {"header": {"event_id": "e", "event_type": "im.message.receive_v1"}, "event": {}}):
        with pytest.raises(PayloadError):
            parse_event(broken, None)
    bad_content = load("text.json")
    bad_content["event"]["message"]["content"] = "{not json"
    with pytest.raises(PayloadError):
        parse_event(bad_content, None)
