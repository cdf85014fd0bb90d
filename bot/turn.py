"""One inbound event being handled: who speaks, where the answer goes, and the replies so far."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from bot.adapter import Adapter
from bot.cards import is_pick_card, shows_costs
from bot.conversation import Conversations
from bot.kv import KeyValueStore
from bot.model import Card, InboundEvent, Origin, Reply, Target, Text
from bot.outbox import DeliveryWorker, GroupWriter, enqueue
from core.alerts import Route
from core.columns import utcnow
from core.config import Settings
from core.db import Database
from core.errors import Forbidden
from core.models import User
from core.numbering import Clock
from core.users import ROLE_NAMES_ZH

T = TypeVar("T")


class AlertSetup(Protocol):
    """The alert configuration the scheduler runs with (psibot.toml's `[alerts]`, read once at start), as
    `告警路由` needs it: given to the app by the composition root, so the chat shows the routes in force and
    never reads the file or imports the scheduler itself."""

    def robot_names(self) -> Collection[str]:
        """The group robots routes may send to."""
        ...

    def describe(self, made_in_chat: Sequence[Route]) -> str:
        """The schedule and every route in force, those made in chat (numbered) among them."""
        ...


@dataclass(frozen=True, slots=True)
class Services:
    """What handlers may use; built once by the app."""

    settings: Settings
    db: Database
    store: KeyValueStore
    conversations: Conversations
    adapters: Mapping[str, Adapter]
    delivery: DeliveryWorker
    replies: GroupWriter  # for turns that wrote nothing else
    alerts: AlertSetup | None = None  # None: no scheduler runs with this app (tests, an embedding)


def reply_target(origin: Origin, reply_handle: str = "") -> Target:
    """Answer where the person spoke: their direct chat, or the group."""
    if origin.chat_kind == "group":
        return Target(origin.platform, "chat", origin.chat_id, reply_handle)
    return Target(origin.platform, "user", origin.sender_id, reply_handle)


class Turn:
    """Handlers `say` replies; they reach the outbox in the same transaction as the handler's writes
    (`transact`), or at the end of the turn (`finish`), committed before the turn is over."""

    def __init__(self, services: Services, event: InboundEvent, user: User | None) -> None:
        self.services = services
        self.event = event
        self._user = user
        self.target = reply_target(event.origin, getattr(event, "reply_handle", ""))
        self._pending: list[tuple[Target, Reply]] = []
        self._pick: Card | None = None  # the last pick card said, whose rows a typed number presses

    @property
    def user(self) -> User:
        assert self._user is not None, "strangers are answered before any handler runs"
        return self._user

    @property
    def origin(self) -> Origin:
        return self.event.origin

    def say(self, reply: Reply) -> None:
        self._pending.append((self.target, reply))
        if is_pick_card(reply):
            self._pick = reply

    def shows_costs(self) -> bool:
        """Whether the replies of this turn may show costs (`bot.cards.shows_costs`: never into a group)."""
        return shows_costs(self.user, in_group=self.target.kind == "chat")

    def say_with_costs(self, *replies: Reply, notice: str) -> None:
        """Replies the asker needs with their costs (a purchase order's prices): said here in a direct chat;
        asked in a group, sent to the asker's direct chat, with `notice` said in the group instead. Refused to
        someone who may not see costs anywhere."""
        if self.shows_costs():
            for reply in replies:
                self.say(reply)
            return
        if not shows_costs(self.user, in_group=False):
            raise Forbidden(f"{ROLE_NAMES_ZH[self.user.role]}没有权限查看进价和金额", role=self.user.role.value)
        direct = Target(self.origin.platform, "user", self.origin.sender_id)
        self._pending += [(direct, reply) for reply in replies]
        self.say(Text(notice))

    def clock(self) -> Clock:
        """The company clock documents are numbered and dated with."""
        return Clock(tz=self.services.settings.timezone)

    def now(self) -> datetime:
        return utcnow().astimezone(self.services.settings.timezone)

    async def lookup(self, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
        """A read of the few rows a reply needs, found by index (see `Database.lookup`)."""
        return await self.services.db.lookup(work)

    async def read(self, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
        """A read that scans (reports, alert lists): kept off the event loop's thread on SQLite."""
        return await self.services.db.read(work)

    async def transact(self, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
        """Run `work` in one write transaction that also queues every reply said so far."""
        said_before = len(self._pending)

        async def unit(session: AsyncSession) -> T:
            del self._pending[said_before:]  # a retried transaction says its replies again
            result = await work(session)
            for target, reply in self._pending:
                enqueue(session, target, reply)
            return result

        result = await self.services.db.transact(unit)
        self._pending.clear()
        self.services.delivery.wake()
        return result

    async def finish(self) -> None:
        """Queue what is still unsaid, together with the replies of other turns ending now; remember the
        pick card said last, for a row number typed next."""
        if self._pending:
            await self.services.replies.write(self._pending)
            self._pending.clear()
        if self._pick is not None:
            await self.services.conversations.remember_pick(self.origin, self._pick)
