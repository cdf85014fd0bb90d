"""Group robots (webhooks: a WeCom group robot, a DingTalk custom robot, a Feishu custom bot) as one more
outbox platform, so the alerts sent to them get the same retries as any reply.

An outbox row names the robot, not its URL: the URL and secret stay in the config file (psibot.toml's
`[alerts.robots]`, read by the scheduler), never in the database, and a changed secret applies to
messages still waiting. Robots have no callbacks, so nothing comes in and nothing is updated.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Protocol

from aiohttp import web

import adapters.dingtalk
import adapters.feishu
import adapters.wecom
from bot.adapter import DeliveryError, EventSink
from bot.model import Card, CardAction, Reply, Sent, Target

PLATFORM = "robot"  # the outbox platform of every group robot; a target's id is the robot's name

WebhookSender = Callable[[str, str | None, Reply], Awaitable[None]]

SENDERS: Mapping[str, WebhookSender] = {
    "wecom": adapters.wecom.send_webhook,
    "dingtalk": adapters.dingtalk.send_webhook,
    "feishu": adapters.feishu.send_webhook,
}


class Webhook(Protocol):
    """A robot as the config file names it (scheduler.config.Robot): its platform, URL and signing secret."""

    @property
    def platform(self) -> str: ...

    @property
    def url(self) -> str: ...

    @property
    def secret(self) -> str | None: ...


class RobotAdapter:
    """Sends only; robots have no callbacks, and what they posted cannot be updated."""

    platform = PLATFORM

    def __init__(self, robots: Mapping[str, Webhook]) -> None:
        self._robots = robots

    def routes(self, app: web.Application, sink: EventSink) -> None:
        return None

    async def send(self, target: Target, reply: Reply) -> Sent:
        robot = self._robots.get(target.id)
        if robot is None:
            raise DeliveryError(f"no [alerts.robots.{target.id}] in the config file", transient=False)
        await SENDERS[robot.platform](robot.url, robot.secret, reply)
        return Sent()

    async def update_card(self, action: CardAction | None, platform_card_ref: str, card: Card) -> None:
        return None

    async def download_image(self, media_handle: str) -> bytes:
        raise DeliveryError("group robots receive no images", transient=False)

    async def close(self) -> None:
        return None
