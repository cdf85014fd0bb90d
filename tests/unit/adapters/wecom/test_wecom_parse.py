from datetime import UTC, datetime
from pathlib import Path

import pytest

from adapters.wecom.parse import PayloadError, button_key_encode, parse_envelope, parse_message
from bot.model import CardAction, ImageMessage, TextMessage

FIXTURES = Path(__file__).parents[3] / "fixtures" / "wecom"
CORP = "ww_corp_test"


def load(name: str) -> str:
    return (FIXTURES / name).read_text()


def test_text_message() -> None:
    event = parse_message(load("text.xml"), CORP)
    assert isinstance(event, TextMessage)
    assert event.event_id == "7301234567890123456"
    assert event.text == "入库 6901234567892 x 12"
    assert event.mentioned
    assert event.origin.sender_id == event.origin.chat_id == "zhangsan"
    assert event.origin.chat_kind == "direct"
    assert event.origin.tenant == CORP
    assert event.received_at == datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)


def test_image_message() -> None:
    event = parse_message(load("image.xml"), CORP)
    assert isinstance(event, ImageMessage)
    assert event.media_handle == "media_abc123"
    assert event.event_id == "7301234567890123999"


def test_card_click() -> None:
    event = parse_message(load("card_click.xml"), CORP)
    assert isinstance(event, CardAction)
    assert (event.action, dict(event.value), event.card_id) == ("po.approve", {"po": "PO-42"}, "card-7")
    assert event.platform_card_ref == "resp_code_xyz"
    assert event.origin.sender_id == "lisi"
    assert event.event_id.startswith("lisi:1700000200:template_card_event:")


def test_foreign_button_key_is_a_bare_action() -> None:
    xml = load("card_click.xml").replace(
        button_key_encode("po.approve", {"po": "PO-42"}, "card-7"), "approve"
    )
    event = parse_message(xml, CORP)
    assert isinstance(event, CardAction)
    assert (event.action, event.card_id) == ("approve", "card-7@0a1b2c3d4e5f6a7b")


def test_other_events_are_ignored() -> None:
    assert parse_message(load("enter_agent.xml"), CORP) is None


@pytest.mark.parametrize(
    "xml",
    [
        "not xml",
        "<xml><MsgType>text</MsgType></xml>",
        '<!DOCTYPE x [<!ENTITY a "aaaa">]><xml><FromUserName>&a;</FromUserName></xml>',
    ],
)
def test_malformed_or_hostile_xml(xml: str) -> None:
    with pytest.raises(PayloadError):
        parse_message(xml, CORP)


def test_envelope() -> None:
    env = parse_envelope(
        b"<xml><ToUserName><![CDATA[c]]></ToUserName><Encrypt><![CDATA[abc]]></Encrypt></xml>"
    )
    assert env.encrypt == "abc"
    with pytest.raises(PayloadError):
        parse_envelope(b"<xml><ToUserName>c</ToUserName></xml>")
