"""WeCom callback XML → neutral events.

Rules (developer.work.weixin.qq.com/document/path/90239, 90240): the outer XML holds `Encrypt`; the
inner XML is a message (text, image, …, with `MsgId`) or an event (`MsgType=event`). WeCom retries a
callback not answered within 5 s, three times in all, so every event carries the id the engine
dedupes on: `MsgId` for messages, FromUserName + CreateTime + Event (+ EventKey) for events. A
self-built app only talks to one member at a time, so every chat is direct and the bot is always
addressed. Untrusted XML goes through defusedxml only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from xml.etree.ElementTree import Element

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError, fromstring

from bot.model import CardAction, ImageMessage, InboundEvent, Origin, TextMessage


class PayloadError(ValueError):
    """The payload is not the XML WeCom sends."""


@dataclass(frozen=True, slots=True)
class Envelope:
    encrypt: str
    to_user: str
    agent_id: str


def _xml(data: bytes | str) -> Element:
    try:
        return fromstring(data, forbid_dtd=True)
    except (ParseError, DefusedXmlException, ValueError) as exc:
        raise PayloadError("not well-formed XML") from exc


def _text(root: Element, name: str) -> str:
    return (root.findtext(name) or "").strip()


def parse_envelope(body: bytes) -> Envelope:
    root = _xml(body)
    encrypt = _text(root, "Encrypt")
    if not encrypt:
        raise PayloadError("no Encrypt element")
    return Envelope(encrypt, _text(root, "ToUserName"), _text(root, "AgentID"))


def parse_message(xml: str, corp_id: str) -> InboundEvent | None:
    """The neutral event for one decrypted callback; None for kinds psibot does not handle."""
    root = _xml(xml)
    sender = _text(root, "FromUserName")
    created = _text(root, "CreateTime")
    if not sender or not created.isdigit():
        raise PayloadError("FromUserName or CreateTime missing")
    origin = Origin(platform="wecom", tenant=corp_id, chat_id=sender, chat_kind="direct", sender_id=sender)
    received_at = datetime.fromtimestamp(int(created), tz=UTC)
    kind = _text(root, "MsgType")
    msg_id = _text(root, "MsgId")
    if kind == "text":
        return TextMessage(
            origin, msg_id or f"{sender}:{created}", _text(root, "Content"), True, received_at=received_at
        )
    if kind == "image":
        media_id = _text(root, "MediaId")
        if not media_id:
            raise PayloadError("image without MediaId")
        return ImageMessage(origin, msg_id or f"{sender}:{created}", media_id, received_at=received_at)
    if kind == "event" and _text(root, "Event") == "template_card_event":
        return _card_action(root, origin, created)
    return None


def _card_action(root: Element, origin: Origin, created: str) -> CardAction:
    key = _text(root, "EventKey")
    action, value, card_id = button_key_decode(key)
    return CardAction(
        origin,
        f"{origin.sender_id}:{created}:template_card_event:{_text(root, 'TaskId')}:{key}",
        action,
        value,
        card_id or _text(root, "TaskId"),
        platform_card_ref=_text(root, "ResponseCode"),
    )


def button_key_encode(action: str, value: dict[str, str], card_id: str) -> str:
    """A button's `key`: WeCom echoes it as EventKey, so it carries everything the click needs."""
    return json.dumps({"a": action, "v": value, "c": card_id}, ensure_ascii=False, separators=(",", ":"))


def button_key_decode(key: str) -> tuple[str, dict[str, str], str]:
    """(action, value, card_id); a key psibot did not write is taken as a bare action name."""
    try:
        data = json.loads(key)
    except ValueError:
        return key, {}, ""
    if not isinstance(data, dict) or not isinstance(data.get("a"), str):
        return key, {}, ""
    raw = data.get("v")
    value = {str(k): str(v) for k, v in raw.items()} if isinstance(raw, dict) else {}
    return data["a"], value, str(data.get("c", ""))
