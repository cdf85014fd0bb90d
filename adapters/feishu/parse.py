"""Feishu callback JSON → neutral events.

Rules (open.feishu.cn im.message.receive_v1, card.action.trigger, 卡片回传交互(旧)): v2 events carry
`header.event_id`, the id the engine dedupes on (Feishu retries an event not acknowledged within 3 s).
Message `content` is a JSON string inside the JSON. Mentions appear in text as `@_user_N` placeholders:
the bot's own is removed, other people's become "@name" and are listed. People are known by open_id
(Origin.sender_id) and, when the app may read it, user_id (sender_alt_ids). A button's `value` comes
back as sent: {"action", "value", "card_id"} plus the chat kind psibot adds.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from bot.model import CardAction, ChatKind, ImageMessage, InboundEvent, Origin, TextMessage


class PayloadError(ValueError):
    """The payload is not what Feishu sends."""


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _origin(tenant: str, chat_id: str, chat_kind: ChatKind, ids: Mapping[str, Any]) -> Origin:
    open_id, user_id = _str(ids.get("open_id")), _str(ids.get("user_id"))
    if not open_id:
        raise PayloadError("no open_id for the sender")
    return Origin(
        platform="feishu",
        tenant=tenant,
        chat_id=chat_id or open_id,
        chat_kind=chat_kind,
        sender_id=open_id,
        sender_alt_ids=(user_id,) if user_id else (),
    )


def parse_event(payload: Mapping[str, Any], bot_open_id: str | None) -> InboundEvent | None:
    """A decrypted, verified v2 event → a neutral event; None for event types psibot ignores."""
    header = _dict(payload.get("header"))
    event = _dict(payload.get("event"))
    event_id = _str(header.get("event_id"))
    if not event_id:
        raise PayloadError("no header.event_id")
    kind = header.get("event_type")
    tenant = _str(header.get("tenant_key"))
    if kind == "im.message.receive_v1":
        return _message(event, event_id, tenant, bot_open_id)
    if kind == "card.action.trigger":
        context = _dict(event.get("context"))
        return _card_action(
            _dict(event.get("action")),
            _dict(event.get("operator")),
            event_id,
            _str(event.get("tenant_key")) or tenant,
            _str(context.get("open_chat_id")),
            _str(context.get("open_message_id")),
        )
    return None


def parse_card_callback(payload: Mapping[str, Any]) -> CardAction:
    """The older card request-URL callback; its one-time `token` identifies the click."""
    token = _str(payload.get("token"))
    if not token:
        raise PayloadError("no token in card callback")
    return _card_action(
        _dict(payload.get("action")),
        payload,
        f"card:{token}",
        _str(payload.get("tenant_key")),
        _str(payload.get("open_chat_id")),
        _str(payload.get("open_message_id")),
    )


def _message(
    event: dict[str, Any], event_id: str, tenant: str, bot_open_id: str | None
) -> InboundEvent | None:
    sender = _dict(event.get("sender"))
    if sender.get("sender_type") not in (None, "user"):
        return None  # other bots and apps
    message = _dict(event.get("message"))
    chat_kind: ChatKind = "direct" if message.get("chat_type") == "p2p" else "group"
    origin = _origin(tenant, _str(message.get("chat_id")), chat_kind, _dict(sender.get("sender_id")))
    try:
        content = json.loads(_str(message.get("content")) or "{}")
    except ValueError as exc:
        raise PayloadError("message content is not JSON") from exc
    content = _dict(content)
    received_at = _millis(message.get("create_time"))
    kind = message.get("message_type")
    if kind == "post":
        text, image_key = _post(content)
        if not text and image_key:
            kind, content = "image", {"image_key": image_key}
        else:
            kind, content = "text", {"text": text}
    if kind == "text":
        text, mentioned, others = _mentions(_str(content.get("text")), event.get("message"), bot_open_id)
        return TextMessage(
            origin,
            event_id,
            text,
            mentioned or chat_kind == "direct",
            mentions=others,
            received_at=received_at,
        )
    if kind == "image":
        image_key = _str(content.get("image_key"))
        message_id = _str(message.get("message_id"))
        if not image_key or not message_id:
            raise PayloadError("image without image_key or message_id")
        return ImageMessage(origin, event_id, f"{message_id}:{image_key}", received_at=received_at)
    return None


def _mentions(text: str, message: Any, bot_open_id: str | None) -> tuple[str, bool, tuple[str, ...]]:
    """Strip the bot's @-placeholder, name the others; (text, bot mentioned, other open_ids)."""
    mentioned = False
    others: list[str] = []
    for mention in _dict(message).get("mentions") or ():
        mention = _dict(mention)
        placeholder = _str(mention.get("key"))
        ids = _dict(mention.get("id"))
        open_id = _str(ids.get("open_id"))
        # Without the bot's open_id, an app is recognised by having no user_id.
        is_bot = open_id == bot_open_id if bot_open_id else not ids.get("user_id")
        if is_bot:
            mentioned = True
            text = text.replace(placeholder, "") if placeholder else text
        else:
            others.append(open_id)
            if placeholder:
                text = text.replace(placeholder, f"@{_str(mention.get('name'))}")
    return " ".join(text.split()), mentioned, tuple(others)


def _post(content: dict[str, Any]) -> tuple[str, str]:
    """(text, first image key) of a rich-text post, which may come wrapped in a language key."""
    body = content if "content" in content else next((v for v in content.values() if isinstance(v, dict)), {})
    texts: list[str] = [_str(body.get("title"))]
    image_key = ""
    for line in body.get("content") or ():
        for item in line if isinstance(line, list) else ():
            item = _dict(item)
            if item.get("tag") in ("text", "a"):
                texts.append(_str(item.get("text")))
            elif item.get("tag") == "at":
                texts.append(_str(item.get("user_id")))  # the @_user_N placeholder
            elif item.get("tag") == "img" and not image_key:
                image_key = _str(item.get("image_key"))
    return " ".join(t for t in texts if t).strip(), image_key


def _card_action(
    action: dict[str, Any],
    operator: Mapping[str, Any],
    event_id: str,
    tenant: str,
    chat_id: str,
    message_id: str,
) -> CardAction:
    value = _dict(action.get("value"))
    chat_kind: ChatKind = "direct" if value.get("k") == "direct" else "group"
    raw = _dict(value.get("value"))
    form = _dict(action.get("form_value"))
    return CardAction(
        _origin(tenant, chat_id, chat_kind, operator),
        event_id,
        _str(value.get("action")),
        {str(k): str(v) for k, v in raw.items()},
        _str(value.get("card_id")),
        platform_card_ref=message_id,
        form={str(k): str(v) for k, v in form.items()},
    )


def _millis(value: Any) -> datetime | None:
    text = _str(value)
    return datetime.fromtimestamp(int(text) / 1000, tz=UTC) if text.isdigit() else None
