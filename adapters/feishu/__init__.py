"""Feishu (飞书) custom app with a bot: event and card callbacks in, messages and interactive cards out.

Turned on by FEISHU_APP_ID, FEISHU_APP_SECRET and FEISHU_VERIFICATION_TOKEN (FEISHU_ENCRYPT_KEY is
optional but recommended: with it every callback is encrypted and signed). FEISHU_MODE=websocket
receives events over the long connection instead (ws), which needs no public address and no token or
key: the App ID and App Secret authenticate it. FEISHU_API_BASE overrides https://open.feishu.cn
(https://open.larksuite.com for Lark). Deadline, retry and signature rules are in each module's
docstring: crypto (signatures, AES), parse (dedupe ids), routes (3 s ack), ws (acks, reconnect),
client (errors).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import aiohttp
from aiohttp import web

from adapters.http import request
from bot.adapter import DeliveryError, EventSink
from bot.kv import KeyValueStore
from bot.model import Card, CardAction, ChatKind, Image, Markdown, Reply, Sent, Target, Text

from . import crypto, render
from .client import FeishuClient, judge
from .routes import CallbackRoutes
from .ws import CONNECT_TIMEOUT, ClientConfig, EndpointError, LongConnection, discover

__all__ = ["FeishuAdapter", "Settings", "receive_id_type", "send_webhook"]

log = logging.getLogger("psibot.feishu")

_VARIABLES = (
    "FEISHU_APP_ID",
    "FEISHU_APP_SECRET",
    "FEISHU_VERIFICATION_TOKEN",
    "FEISHU_ENCRYPT_KEY",
    "FEISHU_MODE",
)
DEFAULT_API_BASE = "https://open.feishu.cn"


@dataclass(frozen=True, slots=True)
class Settings:
    app_id: str
    app_secret: str = field(repr=False)
    verification_token: str = field(default="", repr=False)
    encrypt_key: str = field(default="", repr=False)
    api_base: str = DEFAULT_API_BASE
    mode: Literal["webhook", "websocket"] = "webhook"

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings | None:
        """None when Feishu is not configured; ValueError naming the variable when it is half-configured."""
        values = {name: env.get(name, "").strip() for name in _VARIABLES}
        if not any(values.values()):
            return None
        mode = values["FEISHU_MODE"].lower() or "webhook"
        if mode not in ("webhook", "websocket"):
            raise ValueError(f"FEISHU_MODE must be webhook or websocket, not {values['FEISHU_MODE']!r}")
        # The long connection is authenticated by the App ID and Secret alone.
        required = _VARIABLES[:2] if mode == "websocket" else _VARIABLES[:3]
        missing = [name for name in required if not values[name]]
        if missing:
            raise ValueError(f"Feishu is partly configured: set {', '.join(missing)}")
        if not values["FEISHU_APP_ID"].startswith("cli_"):
            raise ValueError("FEISHU_APP_ID must be the app's App ID, which starts with cli_")
        api_base = env.get("FEISHU_API_BASE", "").strip() or DEFAULT_API_BASE
        if not api_base.startswith(("https://", "http://")):
            raise ValueError("FEISHU_API_BASE must be an http(s) URL")
        return cls(
            app_id=values["FEISHU_APP_ID"],
            app_secret=values["FEISHU_APP_SECRET"],
            verification_token=values["FEISHU_VERIFICATION_TOKEN"],
            encrypt_key=values["FEISHU_ENCRYPT_KEY"],
            api_base=api_base,
            mode="websocket" if mode == "websocket" else "webhook",
        )


class FeishuAdapter:
    """The `bot.adapter.Adapter` for one Feishu app."""

    platform = "feishu"

    def __init__(self, settings: Settings, store: KeyValueStore) -> None:
        self.settings = settings
        self.client = FeishuClient(
            app_id=settings.app_id, app_secret=settings.app_secret, store=store, api_base=settings.api_base
        )
        self._bot_open_id: str | None = None
        self.connection: LongConnection | None = None
        self._connection_task: asyncio.Task[None] | None = None

    def routes(self, app: web.Application, sink: EventSink) -> None:
        """Webhook mode: mount the callback routes. Websocket mode: run the long connection with the app."""
        s = self.settings
        app.on_startup.append(self._learn_bot_open_id)
        if s.mode == "websocket":
            self.connection = LongConnection(
                s.api_base, s.app_id, s.app_secret, sink, bot_open_id=lambda: self._bot_open_id
            )
            app.on_startup.append(self._start_connection)
            app.on_cleanup.append(self._stop_connection)
            return
        CallbackRoutes(
            verification_token=s.verification_token,
            encrypt_key=s.encrypt_key,
            sink=sink,
            bot_open_id=lambda: self._bot_open_id,
        ).mount(app)

    async def _start_connection(self, _app: web.Application) -> None:
        assert self.connection is not None
        self._connection_task = asyncio.create_task(self.connection.run(), name="feishu-long-connection")

    async def _stop_connection(self, _app: web.Application) -> None:
        if self._connection_task is not None:
            self._connection_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._connection_task
            self._connection_task = None

    async def _learn_bot_open_id(self, _app: web.Application) -> None:
        """Knowing the bot's open_id tells its @-mention from other people's; without it, a guess is made."""
        try:
            self._bot_open_id = await self.client.bot_open_id() or None
        except DeliveryError as exc:
            log.warning("feishu: could not read the bot's open_id (%s); mentions are guessed", exc)

    async def send(self, target: Target, reply: Reply) -> Sent:
        id_type = receive_id_type(target)
        chat_kind: ChatKind = "direct" if target.kind == "user" else "group"
        message_id = ""
        for msg_type, content in await self._contents(reply, chat_kind):
            message_id = await self.client.send(id_type, target.id, msg_type, content)
        return Sent(message_id)

    async def _contents(self, reply: Reply, chat_kind: ChatKind) -> list[tuple[str, str]]:
        match reply:
            case Text():
                return render.text_contents(reply)
            case Markdown():
                return [("interactive", render.dumps(card)) for card in render.markdown_cards(reply)]
            case Card():
                return [("interactive", render.dumps(render.interactive(reply, chat_kind)))]
            case Image():
                image_key = await self.client.upload_image(reply.data, reply.mime_type)
                return [("image", render.dumps({"image_key": image_key}))]

    async def update_card(self, action: CardAction | None, platform_card_ref: str, card: Card) -> None:
        """PATCH the message that holds the card (cards are sent with update_multi, so all viewers see it)."""
        message_id = (action.platform_card_ref if action else "") or platform_card_ref
        if not message_id:
            raise DeliveryError("feishu: no message id to update the card with", transient=False)
        chat_kind = action.origin.chat_kind if action else None
        await self.client.patch_card(message_id, render.dumps(render.interactive(card, chat_kind)))

    async def download_image(self, media_handle: str) -> bytes:
        message_id, _, image_key = media_handle.partition(":")
        if not message_id or not image_key:
            raise DeliveryError(f"feishu: bad image handle {media_handle!r}", transient=False)
        return await self.client.download_image(message_id, image_key)

    async def check(self) -> str:
        """Fetch a tenant token now and say in plain words whether the app's credentials work."""
        try:
            token = await self.client.fetch_token()
        except DeliveryError as exc:
            hint = "（网络或飞书暂时不可用 / network or Feishu unavailable）" if exc.transient else ""
            return (
                f"飞书：无法获取 tenant_access_token，请检查 FEISHU_APP_ID 与 FEISHU_APP_SECRET。{hint}\n"
                f"Feishu: could not get a tenant access token; check FEISHU_APP_ID and FEISHU_APP_SECRET. ({exc})"
            )
        minutes = int(token.expires_in // 60)
        report = (
            f"飞书：连接正常，应用 {self.settings.app_id} 的 tenant_access_token 有效期 {minutes} 分钟。\n"
            f"Feishu: OK, app {self.settings.app_id} got a tenant access token valid for {minutes} minutes."
        )
        if self.settings.mode == "websocket":
            report += "\n" + await self._check_long_connection()
        return report

    async def _check_long_connection(self) -> str:
        """Ask for a long-connection endpoint: where refused credentials or a refused app show up."""
        s = self.settings
        try:
            async with aiohttp.ClientSession(timeout=CONNECT_TIMEOUT) as session:
                await discover(session, s.api_base, s.app_id, s.app_secret, ClientConfig())
        except (EndpointError, DeliveryError) as exc:
            return f"飞书长连接：不可用。\nFeishu long connection: not available: {exc}"
        return (
            "飞书长连接：可以建立。\nFeishu long connection: the endpoint answered; psibot connects at start."
        )

    async def close(self) -> None:
        await self.client.close()


def receive_id_type(target: Target) -> str:
    """How Feishu should read the target's id. People are bound by open_id (ou_…) or by the user_id an
    admin sees in the admin console; a push to someone (an approval card) uses whichever was bound."""
    if target.kind == "chat":
        return "chat_id"
    for prefix, id_type in (("ou_", "open_id"), ("on_", "union_id")):
        if target.id.startswith(prefix):
            return id_type
    return "email" if "@" in target.id else "user_id"


async def send_webhook(url: str, secret: str | None, reply: Reply) -> None:
    """Post an alert to a Feishu custom bot, signed when the bot has a secret (100/min, 5/s per bot)."""
    match reply:
        case Text():
            bodies: list[dict[str, Any]] = [
                {"msg_type": "text", "content": {"text": part}}
                for part in render.split(reply.text, render.TEXT_CHARS)
            ]
        case Markdown():
            bodies = [{"msg_type": "interactive", "card": card} for card in render.markdown_cards(reply)]
        case Card():
            bodies = [{"msg_type": "interactive", "card": render.interactive(reply, buttons=False)}]
        case Image():
            raise DeliveryError("feishu custom bots cannot post uploaded images", transient=False)
    async with aiohttp.ClientSession() as session:
        for body in bodies:
            if secret:
                timestamp = int(time.time())
                body = {"timestamp": str(timestamp), "sign": crypto.webhook_sign(secret, timestamp), **body}
            resp = await request(session, "POST", url, json=body, what="feishu custom bot webhook")
            judge(resp, "feishu custom bot webhook", None)
