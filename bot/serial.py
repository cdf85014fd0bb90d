"""Neutral replies and events as JSON and back, for the outbox table and the console's wire format."""

from __future__ import annotations

import base64
from typing import Any

from bot.model import (
    Button,
    ButtonStyle,
    Card,
    CardAction,
    Image,
    Markdown,
    Origin,
    Reply,
    Table,
    Target,
    Text,
    Tone,
)


def reply_to_json(reply: Reply) -> dict[str, Any]:
    match reply:
        case Text(text):
            return {"type": "text", "text": text}
        case Markdown(title, markdown):
            return {"type": "markdown", "title": title, "markdown": markdown}
        case Image(data, mime_type, alt):
            return {"type": "image", "data": base64.b64encode(data).decode(), "mime_type": mime_type, "alt": alt}
        case Card():
            return card_to_json(reply)
    raise TypeError(f"not a reply: {reply!r}")


def card_to_json(card: Card) -> dict[str, Any]:
    return {
        "type": "card",
        "card_id": card.card_id,
        "title": card.title,
        "tone": card.tone.value,
        "fields": [list(pair) for pair in card.fields],
        "tables": [{"columns": list(t.columns), "rows": [list(r) for r in t.rows]} for t in card.tables],
        "note": card.note,
        "buttons": [
            {"label": b.label, "action": b.action, "value": dict(b.value), "style": b.style.value} for b in card.buttons
        ],
        "status": card.status,
    }


def reply_from_json(data: dict[str, Any]) -> Reply:
    match data["type"]:
        case "text":
            return Text(data["text"])
        case "markdown":
            return Markdown(data["title"], data["markdown"])
        case "image":
            return Image(base64.b64decode(data["data"]), data["mime_type"], data["alt"])
        case "card":
            return Card(
                card_id=data["card_id"],
                title=data["title"],
                tone=Tone(data["tone"]),
                fields=tuple((label, value) for label, value in data["fields"]),
                tables=tuple(
                    Table(tuple(t["columns"]), tuple(tuple(row) for row in t["rows"])) for t in data["tables"]
                ),
                note=data["note"],
                buttons=tuple(
                    Button(b["label"], b["action"], dict(b["value"]), ButtonStyle(b["style"])) for b in data["buttons"]
                ),
                status=data["status"],
            )
    raise ValueError(f"unknown reply type {data['type']!r}")


def target_to_json(target: Target) -> dict[str, str]:
    return {"platform": target.platform, "kind": target.kind, "id": target.id, "reply_handle": target.reply_handle}


def action_to_json(action: CardAction) -> dict[str, Any]:
    origin = action.origin
    return {
        "origin": {
            "platform": origin.platform,
            "tenant": origin.tenant,
            "chat_id": origin.chat_id,
            "chat_kind": origin.chat_kind,
            "sender_id": origin.sender_id,
            "sender_name": origin.sender_name,
            "sender_alt_ids": list(origin.sender_alt_ids),
        },
        "event_id": action.event_id,
        "action": action.action,
        "value": dict(action.value),
        "card_id": action.card_id,
        "platform_card_ref": action.platform_card_ref,
        "form": dict(action.form),
    }


def action_from_json(data: dict[str, Any]) -> CardAction:
    o = data["origin"]
    origin = Origin(
        o["platform"], o["tenant"], o["chat_id"], o["chat_kind"], o["sender_id"], o["sender_name"],
        tuple(o["sender_alt_ids"]),
    )
    return CardAction(
        origin, data["event_id"], data["action"], dict(data["value"]), data["card_id"], data["platform_card_ref"],
        dict(data["form"]),
    )
