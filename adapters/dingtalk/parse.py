"""DingTalk payload → neutral events. Pure: no I/O, no clock.

The same JSON arrives over HTTP (robot message body) and over Stream (the frame's `data` string), so
both paths call these functions. Redelivery rule: DingTalk re-sends a message it thinks was not
received, with the same `msgId`; events carry it (or, for card clicks, which have none, a hash of the
click) as `event_id`, so the engine drops repeats.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from bot.model import CardAction, ChatKind, ImageMessage, InboundEvent, Origin, TextMessage

PLATFORM = "dingtalk"
PAYLOAD_PARAM = "payload"  # the card template binds each button's callback param of this name


class MalformedPayload(ValueError):
    """The payload is not the JSON shape DingTalk sends."""


def parse_message(data: Mapping[str, Any]) -> tuple[InboundEvent, ...]:
    """A robot message → its events: text, images (one per picture), nothing for unsupported types."""
    msg_id = _str(data, "msgId")
    msgtype = _str(data, "msgtype")
    origin = _origin(data)
    direct = origin.chat_kind == "direct"
    mentioned = direct or bool(data.get("isInAtList", True))
    received_at = _ms_time(data.get("createAt"))
    reply_handle = _reply_handle(data)
    if msgtype == "text":
        content = _mapping(data, "text").get("content", "")
        if not isinstance(content, str):
            raise MalformedPayload("text.content is not a string")
        return (
            TextMessage(
                origin=origin,
                event_id=msg_id,
                text=_strip_mentions(content, len(_at_users(data))),
                mentioned=mentioned,
                mentions=_mentions(data),
                received_at=received_at,
                reply_handle=reply_handle,
            ),
        )
    if msgtype == "picture":
        code = _str(_mapping(data, "content"), "downloadCode")
        return (ImageMessage(origin, msg_id, code, mentioned, received_at, reply_handle),)
    if msgtype == "richText":
        items = _mapping(data, "content").get("richText")
        if not isinstance(items, list):
            raise MalformedPayload("content.richText is not a list")
        texts = [
            item["text"] for item in items if isinstance(item, dict) and isinstance(item.get("text"), str)
        ]
        codes = [
            item["downloadCode"]
            for item in items
            if isinstance(item, dict) and isinstance(item.get("downloadCode"), str)
        ]
        events: list[InboundEvent] = []
        text = _strip_mentions("\n".join(texts), len(_at_users(data))).strip()
        if text:
            events.append(
                TextMessage(origin, msg_id, text, mentioned, _mentions(data), received_at, reply_handle)
            )
        # A text part keeps the bare msgId; each picture gets a stable suffix so none is deduped away.
        events += [
            ImageMessage(origin, f"{msg_id}#img{i}", code, mentioned, received_at, reply_handle)
            for i, code in enumerate(codes, 1)
        ]
        return tuple(events)
    return ()


def parse_card_callback(data: Mapping[str, Any]) -> CardAction:
    """A card button click (`type: actionCallback`) → CardAction.

    The button's callback param `payload` holds `{"action", "value", "card_id"}` as JSON, put there by
    render.card_params; other params (card inputs) become `form`.
    """
    out_track_id = _str(data, "outTrackId")
    user_id = _str(data, "userId")
    raw_content = data.get("content")
    try:
        content: Any = json.loads(raw_content) if isinstance(raw_content, str) else raw_content
        params = content["cardPrivateData"]["params"]
        payload = json.loads(params[PAYLOAD_PARAM])
    except (TypeError, KeyError, ValueError) as exc:
        raise MalformedPayload(f"card callback without a usable {PAYLOAD_PARAM!r} param") from exc
    if not (
        isinstance(params, dict)
        and isinstance(payload, dict)
        and isinstance(payload.get("action"), str)
        and isinstance(payload.get("card_id"), str)
        and isinstance(payload.get("value", {}), dict)
    ):
        raise MalformedPayload("card payload has the wrong shape")
    action, card_id, value = payload["action"], payload["card_id"], payload.get("value", {})
    space_type = data.get("spaceType")
    space_id = data.get("spaceId")
    group = space_type == "IM_GROUP" and isinstance(space_id, str) and space_id
    origin = Origin(
        platform=PLATFORM,
        tenant=str(data.get("corpId", "")),
        chat_id=str(space_id) if group else user_id,
        chat_kind="group" if group else "direct",
        sender_id=user_id,
    )
    # No message id in a click: hash what identifies it, so a redelivery (or a double click) repeats it.
    digest = hashlib.sha256(f"{out_track_id}\n{user_id}\n{raw_content}".encode()).hexdigest()[:32]
    return CardAction(
        origin=origin,
        event_id=f"card:{digest}",
        action=action,
        value={str(k): str(v) for k, v in value.items()},
        card_id=card_id,
        platform_card_ref=out_track_id,
        form={
            str(k): str(v)
            for k, v in params.items()
            if k != PAYLOAD_PARAM and isinstance(v, str | int | float)
        },
    )


def make_reply_handle(session_webhook: str, expires_ms: int) -> str:
    """The opaque Target.reply_handle: the sessionWebhook and when it stops working."""
    return f"{expires_ms} {session_webhook}"


def split_reply_handle(handle: str) -> tuple[int, str] | None:
    expires, _, url = handle.partition(" ")
    if not expires.isdigit() or not url.startswith(("https://", "http://")):
        return None
    return int(expires), url


def _origin(data: Mapping[str, Any]) -> Origin:
    conversation_type = data.get("conversationType")
    if conversation_type not in ("1", "2"):
        raise MalformedPayload("conversationType is neither '1' nor '2'")
    kind: ChatKind = "direct" if conversation_type == "1" else "group"
    sender_dingtalk_id = _str(data, "senderId")
    # senderStaffId (the org's userId) is who the bot knows; it is absent for people of another org.
    staff_id = data.get("senderStaffId")
    sender_id = staff_id if isinstance(staff_id, str) and staff_id else sender_dingtalk_id
    return Origin(
        platform=PLATFORM,
        tenant=str(data.get("chatbotCorpId") or data.get("senderCorpId") or ""),
        chat_id=sender_id if kind == "direct" else _str(data, "conversationId"),
        chat_kind=kind,
        sender_id=sender_id,
        sender_name=str(data.get("senderNick", "")),
        sender_alt_ids=(sender_dingtalk_id,) if sender_dingtalk_id != sender_id else (),
    )


def _at_users(data: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    users = data.get("atUsers") or []
    return [u for u in users if isinstance(u, dict)] if isinstance(users, list) else []


def _mentions(data: Mapping[str, Any]) -> tuple[str, ...]:
    """Staff ids of the people @-mentioned, the bot itself left out."""
    bot = data.get("chatbotUserId")
    return tuple(
        u["staffId"]
        for u in _at_users(data)
        if u.get("dingtalkId") != bot and isinstance(u.get("staffId"), str)
    )


_LEADING_MENTION = re.compile(r"^\s*@[^\s\u2005]+[\s\u2005]*")


def _strip_mentions(text: str, count: int) -> str:
    """Drop up to `count` leading @-mentions (DingTalk usually removes the bot's own, not always)."""
    for _ in range(count):
        stripped = _LEADING_MENTION.sub("", text, count=1)
        if stripped == text:
            break
        text = stripped
    return text.replace("\u2005", " ").strip()


def _reply_handle(data: Mapping[str, Any]) -> str:
    url = data.get("sessionWebhook")
    expires = data.get("sessionWebhookExpiredTime")
    if (
        not isinstance(url, str)
        or not url
        or not isinstance(expires, int | str)
        or not str(expires).isdigit()
    ):
        return ""
    return make_reply_handle(url, int(expires))


def _ms_time(value: Any) -> datetime | None:
    if isinstance(value, int | str) and str(value).isdigit():
        return datetime.fromtimestamp(int(value) / 1000, tz=UTC)
    return None


def _str(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise MalformedPayload(f"{key} missing or not a string")
    return value


def _mapping(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = data.get(key)
    if not isinstance(value, dict):
        raise MalformedPayload(f"{key} missing or not an object")
    return value
