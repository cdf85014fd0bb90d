"""WeCom (企业微信) self-built application: callbacks in, app messages and template cards out.

Turned on by WECOM_CORP_ID, WECOM_AGENT_ID, WECOM_SECRET, WECOM_TOKEN and WECOM_ENCODING_AES_KEY;
WECOM_API_BASE overrides https://qyapi.weixin.qq.com/cgi-bin. Deadline, retry and signature rules are in
each module's docstring: crypto (signature, AES), parse (dedupe ids), routes (5 s ack), client (errors).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field

from aiohttp import web

from bot.adapter import DeliveryError, EventSink
from bot.kv import KeyValueStore
from bot.model import Card, CardAction, Image, Markdown, Reply, Sent, Target, Text

from . import crypto, render
from .client import WeComClient
from .client import send_webhook as _post_webhook
from .routes import CallbackRoutes

__all__ = ["Settings", "WeComAdapter", "send_webhook"]

_REQUIRED = ("WECOM_CORP_ID", "WECOM_AGENT_ID", "WECOM_SECRET", "WECOM_TOKEN", "WECOM_ENCODING_AES_KEY")
DEFAULT_API_BASE = "https://qyapi.weixin.qq.com/cgi-bin"


@dataclass(frozen=True, slots=True)
class Settings:
    corp_id: str
    agent_id: int
    secret: str = field(repr=False)
    token: str = field(repr=False)
    encoding_aes_key: str = field(repr=False)
    api_base: str = DEFAULT_API_BASE

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings | None:
        """None when WeCom is not configured; ValueError naming the variable when it is half-configured."""
        values = {name: env.get(name, "").strip() for name in _REQUIRED}
        if not any(values.values()):
            return None
        missing = [name for name, value in values.items() if not value]
        if missing:
            raise ValueError(f"WeCom is partly configured: set {', '.join(missing)}")
        if not values["WECOM_AGENT_ID"].isdigit():
            raise ValueError("WECOM_AGENT_ID must be the app's numeric AgentId")
        try:
            crypto.aes_key(values["WECOM_ENCODING_AES_KEY"])
        except ValueError as exc:
            raise ValueError(f"WECOM_ENCODING_AES_KEY: {exc}") from None
        api_base = env.get("WECOM_API_BASE", "").strip() or DEFAULT_API_BASE
        if not api_base.startswith(("https://", "http://")):
            raise ValueError("WECOM_API_BASE must be an http(s) URL")
        return cls(
            corp_id=values["WECOM_CORP_ID"],
            agent_id=int(values["WECOM_AGENT_ID"]),
            secret=values["WECOM_SECRET"],
            token=values["WECOM_TOKEN"],
            encoding_aes_key=values["WECOM_ENCODING_AES_KEY"],
            api_base=api_base,
        )


class WeComAdapter:
    """The `bot.adapter.Adapter` for one WeCom self-built app."""

    platform = "wecom"

    def __init__(self, settings: Settings, store: KeyValueStore) -> None:
        self.settings = settings
        self.client = WeComClient(
            corp_id=settings.corp_id,
            agent_id=settings.agent_id,
            secret=settings.secret,
            store=store,
            api_base=settings.api_base,
        )

    def routes(self, app: web.Application, sink: EventSink) -> None:
        s = self.settings
        key = crypto.aes_key(s.encoding_aes_key)
        CallbackRoutes(token=s.token, key=key, corp_id=s.corp_id, sink=sink).mount(app)

    async def send(self, target: Target, reply: Reply) -> Sent:
        bodies = await self._bodies(target, reply)
        result: dict[str, object] = {}
        for body in bodies:
            if target.kind == "chat":
                result = await self.client.send_to_chat(body, chat_id=target.id)
            else:
                result = await self.client.send(body, to_user=target.id)
        return Sent(str(result.get("response_code") or result.get("msgid") or ""))

    async def _bodies(self, target: Target, reply: Reply) -> list[dict[str, object]]:
        match reply:
            case Text():
                return list(render.text_bodies(reply))
            case Markdown():
                return list(render.markdown_bodies(render.markdown_content(reply)))
            case Card():
                if target.kind == "chat":  # app group chats take no template cards
                    return list(render.markdown_bodies(render.card_markdown(reply)))
                try:
                    return list(render.card_bodies(reply))
                except render.RenderError as exc:
                    raise DeliveryError(str(exc), transient=False) from exc
            case Image():
                name = f"image.{render.image_extension(reply)}"
                media_id = await self.client.upload_image(reply.data, name, reply.mime_type)
                return [render.image_body(media_id)]

    async def update_card(self, action: CardAction | None, platform_card_ref: str, card: Card) -> None:
        """Replace the card for everyone who got it, with the response_code of the click (or of the send)."""
        code = (action.platform_card_ref if action else "") or platform_card_ref
        if not code:
            raise DeliveryError("wecom: no response_code to update the card with", transient=False)
        try:
            template_card = render.template_card(card)
        except render.RenderError as exc:
            raise DeliveryError(str(exc), transient=False) from exc
        await self.client.update_template_card(code, template_card)

    async def download_image(self, media_handle: str) -> bytes:
        return await self.client.download_media(media_handle)

    async def check(self) -> str:
        """Fetch a token now and say in plain words whether the app's credentials work."""
        try:
            token = await self.client.fetch_token()
        except DeliveryError as exc:
            hint = "（网络或企业微信暂时不可用 / network or WeCom unavailable）" if exc.transient else ""
            return (
                f"企业微信：无法获取 access_token，请检查 WECOM_CORP_ID 与 WECOM_SECRET。{hint}\n"
                f"WeCom: could not get an access token; check WECOM_CORP_ID and WECOM_SECRET. ({exc})"
            )
        minutes = int(token.expires_in // 60)
        return (
            f"企业微信：连接正常，应用 {self.settings.agent_id} 的 access_token 有效期 {minutes} 分钟。\n"
            f"WeCom: OK, app {self.settings.agent_id} got an access token valid for {minutes} minutes."
        )

    async def close(self) -> None:
        await self.client.close()


async def send_webhook(url: str, secret: str | None, reply: Reply) -> None:
    """Post an alert to a WeCom group robot (text, markdown, card as markdown, image)."""
    match reply:
        case Text():
            bodies = render.text_bodies(reply)
        case Markdown():
            bodies = render.markdown_bodies(render.markdown_content(reply), render.ROBOT_MARKDOWN_BYTES)
        case Card():
            bodies = render.markdown_bodies(render.card_markdown(reply), render.ROBOT_MARKDOWN_BYTES)
        case Image():
            image = {
                "base64": base64.b64encode(reply.data).decode(),
                "md5": hashlib.md5(reply.data).hexdigest(),
            }
            bodies = [{"msgtype": "image", "image": image}]
    for body in bodies:
        await _post_webhook(url, secret, body)
