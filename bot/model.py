"""The platform-neutral chat model: what adapters hand to the engine and what the engine hands back.

Adapters translate a platform's payload into one of the events below and render the replies below
into the platform's format. Nothing here knows any platform.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Literal

ChatKind = Literal["direct", "group"]


@dataclass(frozen=True, slots=True)
class Origin:
    """Where an event came from and who sent it."""

    platform: str  # "wecom" | "dingtalk" | "feishu" | "console"
    tenant: str  # corp id, app key, tenant key; "" for the console
    chat_id: str  # the conversation to answer in (for a direct chat: the sender's id)
    chat_kind: ChatKind
    sender_id: str  # the platform's user id, as bound by `psibot users add --id`
    sender_name: str = ""
    sender_alt_ids: tuple[str, ...] = ()  # other ids of the same person (Feishu user_id beside open_id)


@dataclass(frozen=True, slots=True)
class TextMessage:
    origin: Origin
    event_id: str  # the platform's id, used to drop redelivered events
    text: str  # with the bot's @-mention already stripped
    mentioned: bool  # the bot was @-mentioned (always True in a direct chat)
    mentions: tuple[str, ...] = ()  # platform ids of other people @-mentioned in the text
    received_at: datetime | None = None
    reply_handle: str = ""  # platform hint for answering in place (DingTalk sessionWebhook)


@dataclass(frozen=True, slots=True)
class ImageMessage:
    origin: Origin
    event_id: str
    media_handle: str  # what the adapter's download_image needs (media id, download code, image key)
    mentioned: bool = True
    received_at: datetime | None = None
    reply_handle: str = ""


@dataclass(frozen=True, slots=True)
class CardAction:
    """A button pressed on a card the bot sent."""

    origin: Origin
    event_id: str
    action: str  # the button's action name, e.g. "po.approve"
    value: Mapping[str, str]  # the button's value, as sent
    card_id: str  # the id the engine gave the card (see Card.card_id)
    platform_card_ref: str = ""  # the platform's handle to update that card (ResponseCode, message id…)
    form: Mapping[str, str] = field(default_factory=dict)  # text typed into a card input, if any


InboundEvent = TextMessage | ImageMessage | CardAction


class Tone(StrEnum):
    """The colour of a card's header; each platform maps it to its nearest colour."""

    INFO = "info"  # blue
    SUCCESS = "success"  # green
    WARNING = "warning"  # orange
    DANGER = "danger"  # red
    NEUTRAL = "neutral"  # grey


class ButtonStyle(StrEnum):
    PRIMARY = "primary"
    DEFAULT = "default"
    DANGER = "danger"


@dataclass(frozen=True, slots=True)
class Button:
    label: str
    action: str
    value: Mapping[str, str] = field(default_factory=dict)
    style: ButtonStyle = ButtonStyle.DEFAULT


@dataclass(frozen=True, slots=True)
class Table:
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True, slots=True)
class Card:
    """A message card. `card_id` is the engine's own id; an update replaces the card with that id."""

    card_id: str
    title: str
    tone: Tone = Tone.INFO
    fields: tuple[tuple[str, str], ...] = ()  # (label, value) pairs
    tables: tuple[Table, ...] = ()
    note: str = ""
    buttons: tuple[Button, ...] = ()
    status: str = ""  # shown instead of buttons once the card is decided, e.g. "已批准 · 李四 · 10:42"

    def as_text(self) -> str:
        """A plain-text rendering, for platforms or places that cannot show a card."""
        lines = [f"【{self.title}】"]
        lines += [f"{label}: {value}" for label, value in self.fields]
        for table in self.tables:
            lines.append(" | ".join(table.columns))
            lines += [" | ".join(row) for row in table.rows]
        if self.note:
            lines.append(self.note)
        if self.status:
            lines.append(self.status)
        return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class Text:
    text: str


@dataclass(frozen=True, slots=True)
class Markdown:
    """A small common subset: headings (#), **bold**, lists (-), links; adapters degrade the rest."""

    title: str
    markdown: str


@dataclass(frozen=True, slots=True)
class Image:
    data: bytes
    mime_type: str = "image/png"
    alt: str = ""


Reply = Text | Markdown | Image | Card


@dataclass(frozen=True, slots=True)
class Target:
    """Where to deliver a reply: a user (direct message) or a chat, on one platform."""

    platform: str
    kind: Literal["user", "chat"]
    id: str
    reply_handle: str = ""


@dataclass(frozen=True, slots=True)
class Sent:
    """What the platform gave back for a delivered message, so the card can be updated later."""

    platform_message_ref: str = ""
