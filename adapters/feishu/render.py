"""Neutral replies → Feishu message content.

Rules (open.feishu.cn im/v1/messages, 卡片 JSON 1.0): `content` is a JSON string. Text messages are
split at TEXT_CHARS into at most MAX_PARTS messages, the last one shortened with a note (Feishu caps a
text request at 150 KB, a card at 30 KB). Markdown goes out as a card with a markdown element. A Card is
an interactive card with `update_multi` so a PATCH updates it for everyone; header colour from the
tone; fields as short two-column fields; tables as column sets (at most MAX_ROWS rows); note; buttons
whose `value` carries action + value + card_id (+ chat kind); `status` replaces the buttons.
"""

from __future__ import annotations

import json
from typing import Any

from bot.model import ButtonStyle, Card, ChatKind, Markdown, Table, Text, Tone

TEXT_CHARS = 8000
MARKDOWN_CHARS = 8000
MAX_PARTS = 5
MAX_ROWS = 50
MAX_BUTTONS = 20
CUT_NOTE = "\n…（内容过长，已截断）"

_TEMPLATE = {
    Tone.INFO: "blue",
    Tone.SUCCESS: "green",
    Tone.WARNING: "orange",
    Tone.DANGER: "red",
    Tone.NEUTRAL: "grey",
}
_BUTTON = {ButtonStyle.PRIMARY: "primary", ButtonStyle.DEFAULT: "default", ButtonStyle.DANGER: "danger"}


def split(text: str, limit: int) -> list[str]:
    """Parts of at most `limit` characters, cut at line breaks where possible."""
    parts: list[str] = []
    rest = text
    while len(rest) > limit:
        if len(parts) == MAX_PARTS - 1:
            parts.append(rest[: limit - len(CUT_NOTE)] + CUT_NOTE)
            return parts
        head = rest[:limit]
        newline = head.rfind("\n")
        if newline > limit // 2:
            head = head[: newline + 1]
        parts.append(head.rstrip("\n"))
        rest = rest[len(head) :]
    if rest or not parts:
        parts.append(rest)
    return parts


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def text_contents(reply: Text) -> list[tuple[str, str]]:
    """(msg_type, content) pairs."""
    return [("text", dumps({"text": part})) for part in split(reply.text, TEXT_CHARS)]


def _plain(text: str) -> dict[str, str]:
    return {"tag": "plain_text", "content": text}


def _md(text: str) -> dict[str, Any]:
    return {"tag": "div", "text": {"tag": "lark_md", "content": text}}


def markdown_cards(reply: Markdown) -> list[dict[str, Any]]:
    parts = split(reply.markdown, MARKDOWN_CHARS)
    return [
        {
            "config": {"wide_screen_mode": True},
            "header": {"title": _plain(reply.title or " "), "template": "blue"},
            "elements": [{"tag": "markdown", "content": part}],
        }
        for part in parts
    ]


def _escape(text: str) -> str:
    """Keep user text literal inside lark_md."""
    for ch in "\\*_~`[]<>":
        text = text.replace(ch, "\\" + ch)
    return text


def _table(table: Table) -> list[dict[str, Any]]:
    def row(cells: tuple[str, ...], header: bool) -> dict[str, Any]:
        return {
            "tag": "column_set",
            "flex_mode": "none",
            "background_style": "grey" if header else "default",
            "columns": [
                {
                    "tag": "column",
                    "width": "weighted",
                    "weight": 1,
                    "elements": [_md(f"**{_escape(c)}**" if header else _escape(c))],
                }
                for c in cells
            ],
        }

    rows = [row(table.columns, True)] + [row(r, False) for r in table.rows[:MAX_ROWS]]
    if len(table.rows) > MAX_ROWS:
        rows.append(_md(f"…另有 {len(table.rows) - MAX_ROWS} 行未显示"))
    return rows


def interactive(card: Card, chat_kind: ChatKind | None = None, *, buttons: bool = True) -> dict[str, Any]:
    """The card JSON; `buttons=False` for custom bots, which cannot receive clicks."""
    elements: list[dict[str, Any]] = []
    if card.fields:
        elements.append(
            {
                "tag": "div",
                "fields": [
                    {
                        "is_short": True,
                        "text": {"tag": "lark_md", "content": f"**{_escape(k)}**\n{_escape(v)}"},
                    }
                    for k, v in card.fields
                ],
            }
        )
    for table in card.tables:
        elements += _table(table)
    if card.note:
        elements.append({"tag": "note", "elements": [_plain(card.note)]})
    if card.status:
        elements += [{"tag": "hr"}, _md(f"**{_escape(card.status)}**")]
    elif card.buttons and buttons:
        actions = []
        for button in card.buttons[:MAX_BUTTONS]:
            value: dict[str, Any] = {
                "action": button.action,
                "value": dict(button.value),
                "card_id": card.card_id,
            }
            if chat_kind:
                value["k"] = chat_kind
            actions.append(
                {"tag": "button", "text": _plain(button.label), "type": _BUTTON[button.style], "value": value}
            )
        elements.append({"tag": "action", "actions": actions})
    return {
        "config": {"wide_screen_mode": True, "update_multi": True},
        "header": {"title": _plain(card.title), "template": _TEMPLATE[card.tone]},
        "elements": elements,
    }
