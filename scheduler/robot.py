"""Group robots (webhooks) as one more outbox platform, so their alerts get the same retries as any reply.

An outbox row names the robot, not its URL: the URL and secret stay in the config file, never in the
database, and a changed secret applies to messages still waiting.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from aiohttp import web

import adapters.dingtalk
import adapters.feishu
import adapters.wecom
from bot.adapter import DeliveryError, EventSink
from bot.model import Card, CardAction, Reply, Sent, Target
from scheduler.config import Robot
from scheduler.routing import ROBOT_PLATFORM

WebhookSender = Callable[[str, str | None, Reply], Awaitable[None]]

SENDERS: Mapping[str, WebhookSender] = {
    "wecom": adapters.wecom.send_webhook,
    "dingtalk": adapters.dingtalk.send_webhook,
    "feishu": adapters.feishu.send_webhook,
}


class RobotAdapter:
    """Sends only; robots have no callbacks, and what they posted cannot be updated."""

    platform = ROBOT_PLATFORM

    def __init__(self, robots: Mapping[str, Robot]) -> None:
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
