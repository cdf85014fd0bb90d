"""Neutral replies → DingTalk payloads. Pure: no I/O.

Two wire shapes carry the same message: OpenAPI sends (`msgKey` + `msgParam`, a JSON *string*) and
webhooks (`msgtype` + body). Long text is split into several messages (at most MAX_PARTS, the last one
shortened with a note), never rejected. DingTalk markdown has headings, bold, lists, links and quotes
but no tables, so tables become lists.

Cards go through the card platform with one template the admin builds once (docs/platforms/dingtalk.md):
every variable is a string; `btnN_payload` is bound to the button's callback param `payload`, which
comes back in the click as JSON {"action", "value", "card_id"} (parse.parse_card_callback).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from bot.model import ButtonStyle, Card, Markdown, Table, Text, Tone

TEXT_LIMIT = 3000  # characters per message; DingTalk's own limits are higher and in bytes
CARD_TEXT_LIMIT = 4000  # characters per card variable
MAX_PARTS = 5
MAX_BUTTONS = 4  # button slots in the card template
TRUNCATED = "\n\n…（内容过长，已截断）"

TONE_COLORS: Mapping[Tone, str] = {
    Tone.INFO: "#0089FF",
    Tone.SUCCESS: "#00B853",
    Tone.WARNING: "#FF9200",
    Tone.DANGER: "#FF5219",
    Tone.NEUTRAL: "#8C8C8C",
}
BUTTON_COLORS: Mapping[ButtonStyle, str] = {
    ButtonStyle.PRIMARY: "blue",
    ButtonStyle.DEFAULT: "gray",
    ButtonStyle.DANGER: "red",
}


@dataclass(frozen=True, slots=True)
class Message:
    """One DingTalk message; `body` is the text, the markdown, or the photo URL / media id."""

    kind: Literal["text", "markdown", "image"]
    body: str
    title: str = ""

    def openapi(self) -> tuple[str, str]:
        """(msgKey, msgParam) for oToMessages/batchSend and groupMessages/send."""
        if self.kind == "text":
            return "sampleText", _json({"content": self.body})
        if self.kind == "markdown":
            return "sampleMarkdown", _json({"title": self.title, "text": self.body})
        return "sampleImageMsg", _json({"photoURL": self.body})

    def webhook(self) -> dict[str, object]:
        """The body for a sessionWebhook or a custom robot webhook (text and markdown only)."""
        if self.kind == "text":
            return {"msgtype": "text", "text": {"content": self.body}}
        if self.kind == "markdown":
            return {"msgtype": "markdown", "markdown": {"title": self.title, "text": self.body}}
        raise ValueError("webhooks cannot carry an uploaded image")


def text_messages(reply: Text) -> tuple[Message, ...]:
    return tuple(Message("text", part) for part in split(reply.text, TEXT_LIMIT))


def markdown_messages(reply: Markdown) -> tuple[Message, ...]:
    title = _title(reply.title or reply.markdown)
    return tuple(Message("markdown", part, title) for part in split(reply.markdown, TEXT_LIMIT))


def card_markdown(card: Card) -> Markdown:
    """The card as one markdown message, for where an interactive card cannot go (no template)."""
    blocks = [f"### {card.title}"]
    if body := card_body(card):
        blocks.append(body)
    if card.note:
        blocks.append(f"> {card.note}")
    if card.status:
        blocks.append(f"**{card.status}**")
    return Markdown(card.title, "\n\n".join(blocks))


def card_body(card: Card) -> str:
    """Fields and tables as DingTalk markdown."""
    blocks = []
    if card.fields:
        blocks.append("\n".join(f"- **{label}**：{value}" for label, value in card.fields))
    blocks += [_table(table) for table in card.tables]
    return "\n\n".join(blocks)


def card_params(card: Card) -> dict[str, str]:
    """The template's cardParamMap: all strings; buttons hidden once `status` is set."""
    body = card_body(card)
    if len(card.buttons) > MAX_BUTTONS:
        body += f"\n\n（另有 {len(card.buttons) - MAX_BUTTONS} 个按钮无法显示）"
    params = {
        "card_id": card.card_id,
        "title": shorten(card.title, 200),
        "tone": card.tone.value,
        "tone_color": TONE_COLORS[card.tone],
        "content": shorten(body, CARD_TEXT_LIMIT),
        "note": shorten(card.note, CARD_TEXT_LIMIT),
        "status": card.status,
        "has_status": _bool(bool(card.status)),
    }
    for slot in range(1, MAX_BUTTONS + 1):
        button = card.buttons[slot - 1] if slot <= len(card.buttons) else None
        visible = button is not None and not card.status
        params[f"btn{slot}_visible"] = _bool(visible)
        params[f"btn{slot}_text"] = button.label if button else ""
        params[f"btn{slot}_color"] = BUTTON_COLORS[button.style] if button else ""
        params[f"btn{slot}_payload"] = (
            _json({"action": button.action, "value": dict(button.value), "card_id": card.card_id})
            if button
            else ""
        )
    return params


def split(text: str, limit: int) -> list[str]:
    """Cut `text` at line ends into parts of at most `limit` characters; at most MAX_PARTS parts."""
    parts: list[str] = []
    current = ""
    for line in text.splitlines(keepends=True):
        while len(line) > limit:
            if current:
                parts.append(current)
                current = ""
            parts.append(line[:limit])
            line = line[limit:]
        if len(current) + len(line) > limit:
            parts.append(current)
            current = ""
        current += line
    if current or not parts:
        parts.append(current)
    parts = [p.rstrip("\n") for p in parts]
    if len(parts) > MAX_PARTS:
        parts = parts[: MAX_PARTS - 1] + [shorten("\n".join(parts[MAX_PARTS - 1 :]), limit)]
    return parts


def shorten(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[: limit - len(TRUNCATED)] + TRUNCATED


def _table(table: Table) -> str:
    """One list item per row, each cell labelled with its column (reads well on a phone)."""
    rows = []
    for row in table.rows:
        cells = [f"{col}: {val}" if col else val for col, val in zip(table.columns, row, strict=False)]
        rows.append("- " + " · ".join(cells))
    return "\n".join(rows)


def _title(text: str) -> str:
    """The notification preview line: the first non-empty line without markdown marks."""
    for line in text.splitlines():
        line = line.strip().lstrip("#>-* ").strip()
        if line:
            return line[:60]
    return "消息"


def _bool(value: bool) -> str:
    return "true" if value else "false"


def _json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
