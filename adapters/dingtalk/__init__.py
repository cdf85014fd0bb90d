"""DingTalk (钉钉) enterprise-internal app robot: HTTP callbacks or Stream mode, robot messages, cards.

Rules in one place (details in each module): inbound HTTP requests are signed with the app secret in
the `timestamp`/`sign` headers, 1-hour window, checked first (crypto, routes); DingTalk re-sends
anything not answered within a few seconds, so routes and Stream frames are acknowledged at once and
events carry msgId for dedupe (routes, stream); outbound calls use one shared token, refreshed and
retried once when rejected, and raise DeliveryError (transient or not) for the outbox (client).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urlsplit

from aiohttp import web

from bot.adapter import DeliveryError, EventSink
from bot.kv import KeyValueStore
from bot.model import Card, CardAction, Image, Reply, Sent, Target, Text

from .client import DingTalkClient, send_custom_webhook
from .parse import PLATFORM, split_reply_handle
from .render import Message, card_markdown, card_params, markdown_messages, text_messages
from .routes import CallbackRoutes
from .stream import StreamClient

__all__ = ["DingTalkAdapter", "Settings", "send_webhook"]

log = logging.getLogger("psibot.dingtalk")

API_BASE = "https://api.dingtalk.com"
OAPI_BASE = "https://oapi.dingtalk.com"
WEBHOOK_MARGIN_MS = 60_000  # a sessionWebhook this close to expiry is not worth the risk
_VARIABLES = (
    "DINGTALK_APP_KEY",
    "DINGTALK_APP_SECRET",
    "DINGTALK_ROBOT_CODE",
    "DINGTALK_MODE",
    "DINGTALK_API_BASE",
    "DINGTALK_OAPI_BASE",
    "DINGTALK_CARD_TEMPLATE_ID",
    "DINGTALK_CARD_CALLBACK_URL",
)


@dataclass(frozen=True, slots=True)
class Settings:
    app_key: str
    app_secret: str = field(repr=False)
    robot_code: str
    mode: Literal["http", "stream"] = "http"
    api_base: str = API_BASE
    oapi_base: str = OAPI_BASE
    card_template_id: str = ""  # the card platform template cards are rendered with; "" sends markdown
    card_callback_url: str = ""  # HTTP mode: the public URL of /dingtalk/card, registered at startup

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings | None:
        """None when no DingTalk variable is set; ValueError naming the variable that is missing or bad."""
        values = {name: env.get(name, "").strip() for name in _VARIABLES}
        if not any(values.values()):
            return None
        for required in ("DINGTALK_APP_KEY", "DINGTALK_APP_SECRET"):
            if not values[required]:
                raise ValueError(f"{required} is not set (other DINGTALK_* variables are)")
        mode = values["DINGTALK_MODE"].lower() or "http"
        if mode not in ("http", "stream"):
            raise ValueError(f"DINGTALK_MODE must be 'http' or 'stream', not {values['DINGTALK_MODE']!r}")
        for name in ("DINGTALK_API_BASE", "DINGTALK_OAPI_BASE", "DINGTALK_CARD_CALLBACK_URL"):
            if values[name] and not _is_url(values[name]):
                raise ValueError(f"{name} must be an http(s) URL")
        return cls(
            app_key=values["DINGTALK_APP_KEY"],
            app_secret=values["DINGTALK_APP_SECRET"],
            robot_code=values["DINGTALK_ROBOT_CODE"] or values["DINGTALK_APP_KEY"],
            mode="stream" if mode == "stream" else "http",
            api_base=(values["DINGTALK_API_BASE"] or API_BASE).rstrip("/"),
            oapi_base=(values["DINGTALK_OAPI_BASE"] or OAPI_BASE).rstrip("/"),
            card_template_id=values["DINGTALK_CARD_TEMPLATE_ID"],
            card_callback_url=values["DINGTALK_CARD_CALLBACK_URL"],
        )


class DingTalkAdapter:
    """The DingTalk side of bot.adapter.Adapter, plus custom-robot alerts and `psibot check`."""

    platform = PLATFORM

    def __init__(self, settings: Settings, store: KeyValueStore) -> None:
        self.settings = settings
        self.client = DingTalkClient(settings, store)
        self._stream: StreamClient | None = None
        self._stream_task: asyncio.Task[None] | None = None

    def routes(self, app: web.Application, sink: EventSink) -> None:
        """HTTP mode: mount the two callback routes. Stream mode: run the connection with the app."""
        if self.settings.mode == "stream":
            self._stream = StreamClient(
                self.settings.api_base,
                self.settings.app_key,
                self.settings.app_secret,
                sink,
            )
            app.on_startup.append(self._start_stream)
            app.on_cleanup.append(self._stop_stream)
            return
        CallbackRoutes(app_secret=self.settings.app_secret, sink=sink).mount(app)
        if self.settings.card_callback_url:
            app.on_startup.append(self._register_card_callback)

    async def send(self, target: Target, reply: Reply) -> Sent:
        if isinstance(reply, Card):
            if self.settings.card_template_id:
                out_track_id = f"psibot-{uuid.uuid4().hex}"
                await self.client.create_card(target.kind, target.id, out_track_id, card_params(reply))
                return Sent(out_track_id)
            # No template: a readable card without buttons beats no card (`psibot check` says why).
            reply = card_markdown(reply)
        if isinstance(reply, Image):
            media_id = await self.client.upload_image(reply.data, reply.mime_type)
            return Sent(await self._send_openapi(target, Message("image", media_id, reply.alt or "图片")))
        messages = text_messages(reply) if isinstance(reply, Text) else markdown_messages(reply)
        webhook = self._fresh_webhook(target.reply_handle)
        refs = []
        for message in messages:
            if webhook:
                await self.client.send_session_webhook(webhook, message, f"{target.kind}:{target.id}")
            else:
                refs.append(await self._send_openapi(target, message))
        return Sent(refs[0] if refs else "")

    async def update_card(self, action: CardAction | None, platform_card_ref: str, card: Card) -> None:
        if not platform_card_ref:
            raise DeliveryError(
                "this card was sent as markdown (no DINGTALK_CARD_TEMPLATE_ID) and cannot be updated",
                transient=False,
            )
        await self.client.update_card(platform_card_ref, card_params(card))

    async def download_image(self, media_handle: str) -> bytes:
        return await self.client.download_file(media_handle)

    async def check(self) -> str:
        """Ask DingTalk for a token and say, in plain words, what works and what to fix."""
        key = self.settings.app_key
        try:
            token = await self.client.fetch_token()
        except DeliveryError as exc:
            if exc.transient:
                return f"DingTalk: cannot reach {self.settings.api_base} ({exc}); check the network or DINGTALK_API_BASE."
            return (
                f"DingTalk: app key {key} was refused ({exc}). Copy the Client ID and Client Secret again from "
                "the app's 凭证与基础信息 page into DINGTALK_APP_KEY and DINGTALK_APP_SECRET."
            )
        lines = [f"DingTalk: app key {key} accepted (token valid {int(token.expires_in)} s)."]
        if self.settings.mode == "stream":
            lines.append("Stream mode: the bot connects out to DingTalk; no public address needed.")
        else:
            lines.append("HTTP mode: DingTalk must reach POST /dingtalk/callback (robot 消息接收地址).")
        if self.settings.card_template_id:
            lines.append(f"Cards use template {self.settings.card_template_id}.")
        else:
            lines.append("No DINGTALK_CARD_TEMPLATE_ID: cards arrive as plain markdown, without buttons.")
        if (
            self.settings.mode == "http"
            and self.settings.card_template_id
            and not self.settings.card_callback_url
        ):
            lines.append(
                "Card buttons need DINGTALK_CARD_CALLBACK_URL (public URL of /dingtalk/card) in HTTP mode."
            )
        return " ".join(lines)

    async def close(self) -> None:
        await self.client.close()

    async def _send_openapi(self, target: Target, message: Message) -> str:
        if target.kind == "chat":
            return await self.client.send_to_group(target.id, message)
        return await self.client.send_to_user(target.id, message)

    def _fresh_webhook(self, reply_handle: str) -> str:
        parsed = split_reply_handle(reply_handle) if reply_handle else None
        if parsed is None:
            return ""
        expires_ms, url = parsed
        return url if expires_ms - time.time() * 1000 > WEBHOOK_MARGIN_MS else ""

    async def _start_stream(self, app: web.Application) -> None:
        assert self._stream is not None
        self._stream_task = asyncio.create_task(self._stream.run(), name="dingtalk-stream")

    async def _stop_stream(self, app: web.Application) -> None:
        if self._stream_task is not None:
            self._stream_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._stream_task
            self._stream_task = None

    async def _register_card_callback(self, app: web.Application) -> None:
        try:
            await self.client.register_card_callback(self.settings.card_callback_url)
        except DeliveryError as exc:
            log.error("could not register the card callback URL with DingTalk: %s", exc)


def _is_url(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


async def send_webhook(url: str, secret: str | None, reply: Reply) -> None:
    """An alert through a custom group robot (its webhook URL and `SEC…` secret); needs no app."""
    if isinstance(reply, Image):
        raise DeliveryError("a DingTalk custom robot cannot post an uploaded image", transient=False)
    if isinstance(reply, Card):
        reply = card_markdown(reply)
    messages = text_messages(reply) if isinstance(reply, Text) else markdown_messages(reply)
    for message in messages:
        await send_custom_webhook(url, secret, message)
