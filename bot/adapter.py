"""The door every platform adapter fits: one screen, five verbs."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

from aiohttp import web

from bot.model import Card, CardAction, InboundEvent, Reply, Sent, Target

EventSink = Callable[[InboundEvent], Awaitable[None]]


class Adapter(Protocol):
    """A platform seen from the engine.

    `routes` mounts the platform's callback endpoints on the app; each endpoint verifies the request,
    parses it into neutral events, hands them to the sink (which returns at once: the work runs in the
    background) and acknowledges the platform within its deadline.
    """

    platform: str

    def routes(self, app: web.Application, sink: EventSink) -> None:
        """Mount the callback endpoints (verify → parse → sink → acknowledge)."""

    async def send(self, target: Target, reply: Reply) -> Sent:
        """Deliver one reply; raise DeliveryError (transient or not) when the platform refuses."""

    async def update_card(self, action: CardAction | None, platform_card_ref: str, card: Card) -> None:
        """Replace a card already sent, for everyone who sees it."""

    async def download_image(self, media_handle: str) -> bytes:
        """The bytes of an image message."""

    async def close(self) -> None:
        """Release sessions and background connections."""


class DeliveryError(Exception):
    """A platform refused a delivery. `transient` errors are retried by the outbox."""

    def __init__(self, message: str, *, transient: bool, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.transient = transient
        self.retry_after = retry_after
