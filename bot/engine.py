"""The engine: every event from every platform goes dedupe → identity → dispatch → replies via outbox.

`Engine.sink` is the EventSink the adapters call: it only queues the event and returns, so each
platform is acknowledged within its deadline however slow the work. A few events are in work at a
time, one per conversation, in arrival order; their tasks are kept in a set (none is lost or
garbage-collected) and awaited on shutdown. Nothing a user sees is a stack trace: a
DomainError becomes its Chinese message, anything else a polite apology and a logged traceback.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from typing import Any

from bot.conversation import LOCK_WAIT_SECONDS, conversation_key
from bot.handlers import ACTIONS, ASIDES, COMMANDS, FLOWS, general, photo
from bot.model import CardAction, ImageMessage, InboundEvent, Origin, Text, TextMessage
from bot.parser import FREE_TEXT, CancelFlow, parse
from bot.turn import Services, Turn
from core.errors import DomainError
from core.models import User
from core.users import user_for_identity

log = logging.getLogger("psibot.engine")

DEDUPE_TTL_SECONDS = 24 * 3600  # platforms redeliver for hours (Feishu), WeCom and DingTalk for seconds
IDENTITY_TTL_SECONDS = 10.0  # a role changed elsewhere applies within this; strangers are never cached
MAX_EVENTS_IN_WORK = 4  # each loop turn runs a step of every event in work; more only delays the acknowledgements
APOLOGY = "抱歉，处理这条消息时出了点问题，我们已经记录下来，请稍后再试。"
EXPIRED_BUTTON = "这个按钮已失效，请重新发起。"


class Engine:
    def __init__(self, services: Services) -> None:
        self.services = services
        self._tasks: set[asyncio.Task[None]] = set()
        self._in_work = 0
        # conversation → its events not started yet; the key stays while one of them is in work
        self._queued: dict[str, deque[InboundEvent]] = {}
        self._ready: deque[str] = deque()  # conversations whose next event may start, in arrival order
        self._identities: dict[tuple[str, tuple[str, ...]], tuple[float, User]] = {}

    async def sink(self, event: InboundEvent) -> None:
        """Take an event and return at once; the work runs in the background.

        One person's events in one chat are handled one at a time, in the order they came: the turn
        lock alone (polled) let a third message overtake a second one waiting for the first. A backlog
        waits as the events themselves, not as a task each (coroutine, frame, context), which made every
        garbage collection of a burst walk tens of thousands of them: pauses of 100-300 ms."""
        key = conversation_key(event.origin)
        queued = self._queued.get(key)
        if queued is None:
            self._queued[key] = deque((event,))
            self._ready.append(key)
            self._start_ready()
        else:
            queued.append(event)

    def _start_ready(self) -> None:
        while self._in_work < MAX_EVENTS_IN_WORK and self._ready:
            key = self._ready.popleft()
            event = self._queued[key].popleft()
            self._in_work += 1
            task = asyncio.create_task(self._work(key, event), name=f"psibot-event-{event.event_id}")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        """Wait for every event in hand (shutdown, tests)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def _work(self, key: str, event: InboundEvent) -> None:
        """Handle one started event; its place in work is given on as soon as its replies are said, its
        conversation's next event starts once they are committed, or after LOCK_WAIT_SECONDS as the
        turn lock would (an event stuck on a slow database or platform must not silence that person)."""
        held = True
        conversation_held = True

        def release() -> None:
            nonlocal held
            if held:
                held = False
                self._in_work -= 1
                self._start_ready()

        def pass_conversation() -> None:
            nonlocal conversation_held
            if conversation_held:
                conversation_held = False
                if self._queued[key]:
                    self._ready.append(key)
                else:
                    del self._queued[key]
                self._start_ready()

        give_up = asyncio.get_running_loop().call_later(LOCK_WAIT_SECONDS, pass_conversation)
        try:
            await self._handle(event, release)
        finally:
            give_up.cancel()
            pass_conversation()
            release()

    async def _handle(self, event: InboundEvent, release: Callable[[], None]) -> None:
        origin = event.origin
        if isinstance(event, TextMessage | ImageMessage) and origin.chat_kind == "group" and not event.mentioned:
            return  # not for the bot: nothing is done, so nothing needs deduplicating
        try:
            event_key = f"event:{origin.platform}:{event.event_id}"
            async with self.services.conversations.turn(origin, event_key, DEDUPE_TTL_SECONDS) as turned:
                if turned is None:
                    log.info("dropped redelivered %s event %s", origin.platform, event.event_id)
                    return
                user = await self._user(origin)
                turn = Turn(self.services, event, user)
                await self._run(turn, user, turned.state)
                release()  # the next event may start while these replies wait for the group commit
                await turn.finish()
        except Exception:
            log.exception("event %s from %s could not be answered", event.event_id, origin.platform)

    async def _user(self, origin: Origin) -> User | None:
        """The psibot user behind the sender, remembered briefly: people send several messages in a row."""
        key = (origin.platform, (origin.sender_id, *origin.sender_alt_ids))
        now = asyncio.get_running_loop().time()
        cached = self._identities.get(key)
        if cached is not None and cached[0] > now:
            return cached[1]
        user = await self.services.db.lookup(lambda session: user_for_identity(session, key[0], list(key[1])))
        if user is None:
            self._identities.pop(key, None)
        else:
            if len(self._identities) > 10_000:
                self._identities.clear()
            self._identities[key] = (now + IDENTITY_TTL_SECONDS, user)
        return user

    async def _run(self, turn: Turn, user: User | None, state: dict[str, Any] | None) -> None:
        try:
            if user is None:
                await general.stranger(turn)
            else:
                await self._dispatch(turn, state)
        except DomainError as error:
            turn.say(Text(error.message))
        except Exception:
            log.exception("handler failed for event %s", turn.event.event_id)
            turn.say(Text(APOLOGY))

    async def _dispatch(self, turn: Turn, state: dict[str, Any] | None) -> None:
        """`state`: the conversation's flow as the turn began (read with the lock, in the same step)."""
        event = turn.event
        if isinstance(event, CardAction):
            on_press = ACTIONS.get(event.action)
            if on_press is None:
                turn.say(Text(EXPIRED_BUTTON))
                return
            await on_press(turn, event)
        elif isinstance(event, ImageMessage):
            await photo.photo(turn, event)
        else:
            command = parse(event.text)
            handler = COMMANDS.get(type(command), general.unknown)
            if state is not None and not isinstance(command, CancelFlow):
                # Free text is an answer to the flow (which may give way to it). A command typed meanwhile:
                # a question is answered on the side and the flow keeps waiting; anything else leaves it,
                # and the person is told which flow it left.
                flow = FLOWS.get(state.get("flow", ""))
                offered = flow is not None and (flow.any_text or isinstance(command, FREE_TEXT))
                if flow is not None and offered and await flow.answer(turn, state, event.text):
                    return
                if flow is not None and not offered:
                    if isinstance(command, ASIDES):
                        await handler(turn, command)
                        turn.say(Text(f"（{flow.name}还在等您回答；发“取消”放弃。）"))
                        return
                    turn.say(Text(f"已放弃未完成的{flow.name}。"))
                await self.services.conversations.clear(turn.origin)
            await handler(turn, command)
