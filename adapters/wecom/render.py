"""Neutral replies → WeCom message payloads.

Rules (developer.work.weixin.qq.com/document/path/90236, 94888): text and markdown are capped at 2048
bytes (longer replies are split at line breaks into at most MAX_PARTS messages, the last one shortened
with a note); a card with buttons becomes a `button_interaction` template card (at most 6 buttons; the
title, field and button texts are cut to WeCom's recommended lengths; each button's `key`, echoed back
as EventKey, carries action + value + card id in at most 1024 bytes); a card without buttons, or
already decided (`status`), is sent as markdown, because WeCom's button-less template card needs a
URL. A template card shows at most 6 short fields and 112 characters of detail; a card with more
(an order with many lines) goes out as markdown first, in full, and the template card that follows
carries the buttons. An update replaces the card with `replace_text`, which greys the buttons and
shows the status.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import replace
from typing import Any

from bot.model import Button, ButtonStyle, Card, Markdown, Table, Text, Tone
from bot.model import Image as ImageReply

from .parse import button_key_encode

TEXT_BYTES = 2048
MARKDOWN_BYTES = 2048
ROBOT_MARKDOWN_BYTES = 4096
MAX_PARTS = 5
MAX_BUTTONS = 6
MAX_FIELDS = 6
KEY_BYTES = 1024
SUB_TITLE_CHARS = 112
FIELD_LABEL_CHARS = 5
FIELD_VALUE_CHARS = 26
DETAILS_ABOVE = "（完整明细见上一条消息）"
CUT_NOTE = "\n…（内容过长，已截断）"

_TONE_SOURCE = {  # source.desc_color: 0 grey, 1 black, 2 red, 3 green
    Tone.INFO: ("通知", 1),
    Tone.SUCCESS: ("完成", 3),
    Tone.WARNING: ("注意", 2),
    Tone.DANGER: ("紧急", 2),
    Tone.NEUTRAL: ("信息", 0),
}
_TONE_FONT = {Tone.SUCCESS: "info", Tone.WARNING: "warning", Tone.DANGER: "warning", Tone.NEUTRAL: "comment"}
_BUTTON_STYLE = {ButtonStyle.PRIMARY: 1, ButtonStyle.DEFAULT: 2, ButtonStyle.DANGER: 3}


class RenderError(ValueError):
    """The reply cannot be expressed on WeCom (e.g. a button value too large for its key)."""


def cut(text: str, chars: int) -> str:
    return text if len(text) <= chars else text[: chars - 1] + "…"


def _cut_bytes(text: str, limit: int) -> str:
    data = text.encode()
    return text if len(data) <= limit else data[:limit].decode(errors="ignore")


def split(text: str, limit: int) -> list[str]:
    """Parts of at most `limit` UTF-8 bytes, cut at line breaks where possible."""
    parts: list[str] = []
    rest = text
    while len(rest.encode()) > limit:
        if len(parts) == MAX_PARTS - 1:
            room = limit - len(CUT_NOTE.encode())
            parts.append(_cut_bytes(rest, room) + CUT_NOTE)
            return parts
        head = _cut_bytes(rest, limit)
        newline = head.rfind("\n")
        if newline > len(head) // 2:
            head = head[: newline + 1]
        parts.append(head.rstrip("\n"))
        rest = rest[len(head) :]
    if rest or not parts:
        parts.append(rest)
    return parts


def text_bodies(reply: Text) -> list[dict[str, Any]]:
    return [{"msgtype": "text", "text": {"content": part}} for part in split(reply.text, TEXT_BYTES)]


def markdown_content(reply: Markdown) -> str:
    return f"### {reply.title}\n{reply.markdown}" if reply.title else reply.markdown


def markdown_bodies(content: str, limit: int = MARKDOWN_BYTES) -> list[dict[str, Any]]:
    return [{"msgtype": "markdown", "markdown": {"content": part}} for part in split(content, limit)]


def _table_lines(table: Table) -> list[str]:
    return [" | ".join(table.columns), *(" | ".join(row) for row in table.rows)]


def card_markdown(card: Card) -> str:
    """The whole card as WeCom markdown, for cards without live buttons and for group robots."""
    font = _TONE_FONT.get(card.tone)
    title = f'<font color="{font}">{card.title}</font>' if font else card.title
    lines = [f"### {title}"]
    lines += [f"> {label}: {value}" for label, value in card.fields]
    for table in card.tables:
        lines.append("")
        lines += _table_lines(table)
    if card.note:
        lines += ["", f'<font color="comment">{card.note}</font>']
    if card.status:
        lines += ["", f"**{card.status}**"]
    elif card.buttons:
        lines += ["", "（请在应用消息中操作：" + " / ".join(b.label for b in card.buttons) + "）"]
    return "\n".join(lines)


def task_id(card_id: str) -> str:
    """Unique per send, as WeCom requires: the card id's safe characters plus a random suffix."""
    safe = re.sub(r"[^0-9A-Za-z_\-@]", "_", card_id)[:100]
    return f"{safe}@{secrets.token_hex(8)}"


def _button(button: Button, card_id: str) -> dict[str, Any]:
    key = button_key_encode(button.action, dict(button.value), card_id)
    if len(key.encode()) > KEY_BYTES:
        raise RenderError(f"button {button.action!r}: value exceeds WeCom's {KEY_BYTES}-byte key")
    return {"type": 0, "text": cut(button.label, 10), "style": _BUTTON_STYLE[button.style], "key": key}


def template_card(card: Card) -> dict[str, Any]:
    """A `button_interaction` template card; with `status`, its buttons greyed out showing the status."""
    desc, colour = _TONE_SOURCE[card.tone]
    body: dict[str, Any] = {
        "card_type": "button_interaction",
        "source": {"desc": desc, "desc_color": colour},
        "main_title": {"title": cut(card.title, 26)},
        "task_id": task_id(card.card_id),
    }
    fields = list(card.fields)
    if len(fields) > MAX_FIELDS:
        fields = fields[: MAX_FIELDS - 1] + [("…", f"另有 {len(fields) - MAX_FIELDS + 1} 项")]
    if fields:
        body["horizontal_content_list"] = [
            {"keyname": cut(label, FIELD_LABEL_CHARS), "value": cut(value, FIELD_VALUE_CHARS)}
            for label, value in fields
        ]
    sub = _details(card)
    if sub and shows_everything(card):
        body["sub_title_text"] = sub
    elif sub:
        body["sub_title_text"] = cut(sub, SUB_TITLE_CHARS - len(DETAILS_ABOVE) - 1) + "\n" + DETAILS_ABOVE
    buttons = card.buttons[:MAX_BUTTONS] or (Button(card.status or "—", "noop"),)
    body["button_list"] = [_button(b, card.card_id) for b in buttons]
    if card.status:
        body["replace_text"] = cut(card.status, 10)
    return body


def _details(card: Card) -> str:
    lines = [line for table in card.tables for line in _table_lines(table)]
    return "\n".join([*lines, card.note] if card.note else lines)


def shows_everything(card: Card) -> bool:
    """Whether a template card can show all of the card's fields, tables and note uncut."""
    return (
        len(card.fields) <= MAX_FIELDS
        and all(
            len(label) <= FIELD_LABEL_CHARS and len(value) <= FIELD_VALUE_CHARS
            for label, value in card.fields
        )
        and len(_details(card)) <= SUB_TITLE_CHARS
    )


def card_bodies(card: Card) -> list[dict[str, Any]]:
    """A card with live buttons is a template card, preceded by the full card as markdown when it
    would not show everything (an approver must see every line); any other card is markdown."""
    if card.buttons and not card.status:
        details = [] if shows_everything(card) else markdown_bodies(card_markdown(replace(card, buttons=())))
        return [*details, {"msgtype": "template_card", "template_card": template_card(card)}]
    return markdown_bodies(card_markdown(card))


def image_body(media_id: str) -> dict[str, Any]:
    return {"msgtype": "image", "image": {"media_id": media_id}}


def image_extension(reply: ImageReply) -> str:
    return {"image/jpeg": "jpg", "image/gif": "gif"}.get(reply.mime_type, "png")
