"""Every outgoing message goes through this table, so a platform outage or a restart loses nothing.

A reply is written in the same transaction as the change it reports (`enqueue`), then delivered by
`DeliveryWorker` with retries: exponential backoff, `DeliveryError.retry_after` honoured, permanent
errors marked failed. Rows are claimed with a short lease, so several instances share the work and a
row whose instance died is picked up again. A card update (`enqueue_card_update`) rewrites the copies
still waiting and replaces the delivered ones through each platform's `update_card`.

Replies of turns that wrote nothing else are group-committed by `GroupWriter` already leased to this
instance and handed straight to the worker, which delivers them without claiming them again (one write
transaction fewer per round); if the instance dies first, the lease runs out and they are claimed as usual.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Index, bindparam, insert, or_
from sqlalchemy import select as select_columns
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel, col, select, update

from bot.adapter import Adapter, DeliveryError
from bot.model import Card, CardAction, Reply, Target
from bot.serial import action_from_json, action_to_json, card_to_json, reply_from_json, reply_to_json
from core.columns import AwareDateTime, utcnow
from core.db import Database
from core.models import Identity, Role
from core.users import users_with_roles

log = logging.getLogger("psibot.outbox")

MAX_ATTEMPTS = 10
LEASE = timedelta(seconds=60)  # a claimed row not settled within this is retried (its instance died)
MAX_BACKOFF_SECONDS = 600.0
STOP_WAIT_SECONDS = 10.0  # at shutdown, how long the round under way may take to finish


class OutboxKind(StrEnum):
    SEND = "send"
    UPDATE = "update"  # replace an earlier card (card_id) wherever it was delivered


class OutboxStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


class OutboxMessage(SQLModel, table=True):
    __tablename__ = "bot_outbox"
    __table_args__ = (
        Index("ix_bot_outbox_due", "status", "next_attempt_at"),
        Index("ix_bot_outbox_card", "card_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    kind: OutboxKind = Field(default=OutboxKind.SEND, max_length=8)
    platform: str = Field(max_length=16)
    target_kind: str = Field(default="user", max_length=8)
    target_id: str = Field(default="", max_length=128)
    reply_handle: str = Field(default="", max_length=1024)
    payload: dict[str, Any] = Field(sa_type=JSON)  # the rendered neutral reply (and, for updates, the action)
    card_id: str = Field(default="", max_length=128)
    status: OutboxStatus = Field(default=OutboxStatus.PENDING, max_length=12)
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_type=AwareDateTime)
    platform_message_ref: str = Field(default="", max_length=512)
    last_error: str = Field(default="", max_length=512)
    created_at: datetime = Field(default_factory=utcnow, sa_type=AwareDateTime)
    delivered_at: datetime | None = Field(default=None, sa_type=AwareDateTime)


def enqueue(session: AsyncSession, target: Target, reply: Reply) -> OutboxMessage:
    """Queue one reply for one target within the caller's transaction; delivered after it commits."""
    row = OutboxMessage(**_row_values(target, reply_to_json(reply), reply))
    session.add(row)
    return row


def _row_values(target: Target, payload: dict[str, Any], reply: Reply) -> dict[str, Any]:
    return {
        "platform": target.platform,
        "target_kind": target.kind,
        "target_id": target.id,
        "reply_handle": target.reply_handle,
        "payload": payload,
        "card_id": _card_id(reply),
    }


def _card_id(reply: Reply) -> str:
    return reply.card_id if isinstance(reply, Card) else ""


async def enqueue_for_users(session: AsyncSession, user_ids: Iterable[int], reply: Reply) -> int:
    """Queue a direct message to each user on every platform they are bound on; returns the count."""
    ids = list(user_ids)
    if not ids:
        return 0
    identities = (await session.scalars(select(Identity).where(col(Identity.user_id).in_(ids)))).all()
    for identity in identities:
        enqueue(session, Target(identity.platform, "user", identity.platform_user_id), reply)
    return len(identities)


async def enqueue_for_roles(session: AsyncSession, roles: Iterable[Role], reply: Reply) -> int:
    """Queue a direct message to every active user holding one of `roles` (alerts, digests)."""
    return await enqueue_for_users(session, [user.id or 0 for user in await users_with_roles(session, roles)], reply)


async def enqueue_card_update(session: AsyncSession, card: Card, action: CardAction | None = None) -> None:
    """Replace the card `card.card_id` everywhere: copies not yet sent are rewritten, sent ones updated."""
    await session.execute(
        update(OutboxMessage)
        .where(
            col(OutboxMessage.card_id) == card.card_id,
            col(OutboxMessage.kind) == OutboxKind.SEND,
            col(OutboxMessage.status) == OutboxStatus.PENDING,
        )
        .values(payload=card_to_json(card))
    )
    session.add(
        OutboxMessage(
            kind=OutboxKind.UPDATE,
            platform="",
            payload={"card": card_to_json(card), "action": None if action is None else action_to_json(action)},
            card_id=card.card_id,
        )
    )


class GroupWriter:
    """Replies of turns that changed nothing else, written together: whatever arrives while one
    transaction runs goes into the next, so a burst of questions costs a few commits, not one each.
    `write` returns once the rows are committed, so nothing said is ever only in memory. Rows for
    platforms the worker serves are written leased to it and handed over after the commit."""

    def __init__(self, db: Database, delivery: DeliveryWorker) -> None:
        self._db = db
        self._delivery = delivery
        self._queue: list[tuple[list[tuple[Target, Reply]], asyncio.Future[None]]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def write(self, replies: list[tuple[Target, Reply]]) -> None:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append((list(replies), done))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush(), name="psibot-outbox-writer")
        await done

    async def _flush(self) -> None:
        while self._queue:
            batch, self._queue = self._queue, []
            said = [(target, reply, reply_to_json(reply)) for replies, _ in batch for target, reply in replies]
            try:
                ids = await self._db.transact(functools.partial(self._insert, said=said))
            except Exception as error:  # each waiting turn logs it as its own failure
                for _, done in batch:
                    if not done.done():
                        done.set_exception(error)
                continue
            for _, done in batch:
                if not done.done():
                    done.set_result(None)
            leased = [
                _Claimed(row_id, OutboxKind.SEND, target, payload, _card_id(reply), 1, reply)
                for row_id, (target, reply, payload) in zip(ids, said, strict=True)
                if self._delivery.serves(target.platform)
            ]
            self._delivery.hand_over(leased, others_waiting=len(leased) < len(said))

    async def _insert(self, session: AsyncSession, *, said: list[tuple[Target, Reply, dict[str, Any]]]) -> list[int]:
        """One multi-row INSERT (no ORM unit of work); the new ids in the order of `said`."""
        now = utcnow()
        leased_until = now + LEASE
        values = []
        for target, reply, payload in said:
            leased = self._delivery.serves(target.platform)
            values.append({
                **_row_values(target, payload, reply),
                "kind": OutboxKind.SEND,
                "status": OutboxStatus.PENDING,
                "attempts": 1 if leased else 0,
                "next_attempt_at": leased_until if leased else now,
                "platform_message_ref": "",
                "last_error": "",
                "created_at": now,
                "delivered_at": None,
            })
        result = await session.execute(_INSERT_RETURNING_ID, values)
        return list(result.scalars())


_TABLE = OutboxMessage.__table__  # type: ignore[attr-defined]
_INSERT_RETURNING_ID = insert(_TABLE).returning(_TABLE.c.id, sort_by_parameter_order=True)


@dataclass(frozen=True, slots=True)
class _Claimed:
    id: int
    kind: OutboxKind
    target: Target
    payload: dict[str, Any]
    card_id: str
    attempts: int
    reply: Reply | None = None  # handed over by the GroupWriter: no need to read it back


@dataclass(frozen=True, slots=True)
class _Outcome:
    id: int
    delivered: bool
    ref: str = ""
    error: str = ""
    retry_at: datetime | None = None  # None with delivered False: failed for good
    sent_card: dict[str, Any] | None = None  # the card as it went out, to catch a rewrite during delivery
    card_id: str = ""


def backoff(attempts: int, retry_after: float | None = None) -> float:
    """Seconds before the next try: 1, 2, 4, … with jitter, capped; never sooner than `retry_after`."""
    delay = min(MAX_BACKOFF_SECONDS, 2.0 ** max(attempts - 1, 0)) * random.uniform(0.8, 1.2)  # noqa: S311
    return max(delay, retry_after or 0.0)


class DeliveryWorker:
    """Delivers due outbox rows; woken at once after a commit that queued something, else polls."""

    def __init__(
        self, db: Database, adapters: Mapping[str, Adapter], *, batch: int = 100, poll_seconds: float = 2.0
    ) -> None:
        self._db = db
        self._adapters = adapters
        self._batch = batch
        self._poll_seconds = poll_seconds
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._handed: list[_Claimed] = []
        self._claim_needed = True  # rows may be due that this instance was not handed
        self._stopping = False

    def wake(self) -> None:
        """Rows were committed for delivery: claim what is due at once."""
        self._claim_needed = True
        self._wake.set()

    def serves(self, platform: str) -> bool:
        return platform in self._adapters

    def hand_over(self, rows: Iterable[_Claimed], *, others_waiting: bool) -> None:
        """Committed rows already leased to this worker: delivered next round without a claim.
        `others_waiting`: rows for platforms served elsewhere were committed too (a claim finds them)."""
        self._handed.extend(rows)
        if others_waiting:
            self._claim_needed = True
        self._wake.set()

    def start(self) -> None:
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name="psibot-outbox")

    async def stop(self) -> None:
        """Finish the round under way, then stop. Cancelling it could fall between a reply's delivery
        and its settle, or inside a transaction: the reply would go out again after its lease, and the
        connection stay checked out in its transaction. Cancelled only if the round overruns."""
        if self._task is None:
            return
        self._stopping = True
        self._wake.set()
        try:
            await asyncio.wait_for(asyncio.shield(self._task), STOP_WAIT_SECONDS)
        except TimeoutError:
            log.warning("outbox round still running after %.0fs at shutdown; cancelled", STOP_WAIT_SECONDS)
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._task = None

    async def _run(self) -> None:
        while not self._stopping:
            try:
                more_waiting = await self.deliver_due()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("outbox delivery round failed")
                more_waiting = False
            if more_waiting or self._stopping:
                continue
            try:
                await asyncio.wait_for(self._wake.wait(), self._poll_seconds)
            except TimeoutError:
                self._claim_needed = True  # retries and other instances' leftovers come due unannounced
            self._wake.clear()

    async def deliver_due(self) -> bool:
        """One round: claim due rows, deliver them with those handed over, record the outcomes. True
        when a full batch was claimed (more may be waiting); else the worker can sleep until woken."""
        self._wake.clear()
        rows, self._handed = self._handed, []
        claimed: list[_Claimed] = []
        if self._claim_needed or not rows:
            self._claim_needed = False
            try:
                claimed = await self._db.transact(self._claim)
            except BaseException:
                self._handed[:0] = rows  # delivered next round instead
                self._claim_needed = True
                raise
        rows.extend(claimed)
        if not rows:
            return False
        by_target: dict[tuple[str, str, str], list[_Claimed]] = {}
        for row in sorted(rows, key=lambda row: row.id):
            by_target.setdefault((row.target.platform, row.target.kind, row.target.id), []).append(row)
        results = await asyncio.gather(*(self._deliver_in_order(rows) for rows in by_target.values()))
        outcomes = [outcome for group in results for outcome in group]
        await self._db.transact(lambda session: self._settle(session, outcomes))
        return len(claimed) == self._batch or bool(self._handed)

    async def _claim(self, session: AsyncSession) -> list[_Claimed]:
        """Due rows, leased to this instance with one UPDATE (a few statements however many rows)."""
        now = utcnow()
        # Rows for a platform this instance does not serve are left to an instance that does.
        mine = or_(col(OutboxMessage.kind) == OutboxKind.UPDATE, col(OutboxMessage.platform).in_(list(self._adapters)))
        statement = (
            select(OutboxMessage)
            .where(col(OutboxMessage.status) == OutboxStatus.PENDING, col(OutboxMessage.next_attempt_at) <= now, mine)
            .order_by(col(OutboxMessage.id))
            .limit(self._batch)
        )
        if not self._db.is_sqlite:  # SQLite's write transaction already excludes other claimers
            statement = statement.with_for_update(skip_locked=True)
        rows = (await session.scalars(statement)).all()
        if not rows:
            return []
        await session.execute(
            update(OutboxMessage)
            .where(col(OutboxMessage.id).in_([row.id for row in rows]))
            .values(attempts=col(OutboxMessage.attempts) + 1, next_attempt_at=now + LEASE)
            .execution_options(synchronize_session=False)
        )
        return [
            _Claimed(
                row.id or 0,
                row.kind,
                Target(row.platform, "chat" if row.target_kind == "chat" else "user", row.target_id, row.reply_handle),
                row.payload,
                row.card_id,
                row.attempts + 1,
            )
            for row in rows
        ]

    async def _deliver_in_order(self, rows: list[_Claimed]) -> list[_Outcome]:
        return [await self._deliver(row) for row in rows]

    async def _deliver(self, row: _Claimed) -> _Outcome:
        try:
            if row.kind == OutboxKind.UPDATE:
                return await self._apply_update(row)
            adapter = self._adapters[row.target.platform]  # _claim takes only rows of served platforms
            sent = await adapter.send(row.target, row.reply if row.reply is not None else reply_from_json(row.payload))
            return _Outcome(
                row.id, True, ref=sent.platform_message_ref, sent_card=row.payload if row.card_id else None, card_id=row.card_id
            )
        except DeliveryError as exc:
            if not exc.transient or row.attempts >= MAX_ATTEMPTS:
                log.error("outbox row %s failed for good after %d attempts: %s", row.id, row.attempts, exc)
                return _Outcome(row.id, False, error=str(exc))
            delay = backoff(row.attempts, exc.retry_after)
            log.warning("outbox row %s: %s; retrying in %.1fs", row.id, exc, delay)
            return _Outcome(row.id, False, error=str(exc), retry_at=utcnow() + timedelta(seconds=delay))
        except Exception as exc:  # an adapter bug must not stop the others; retried like a transient error
            log.exception("outbox row %s: unexpected delivery error", row.id)
            if row.attempts >= MAX_ATTEMPTS:
                return _Outcome(row.id, False, error=repr(exc))
            return _Outcome(row.id, False, error=repr(exc), retry_at=utcnow() + timedelta(seconds=backoff(row.attempts)))

    async def _apply_update(self, row: _Claimed) -> _Outcome:
        card = reply_from_json(row.payload["card"])
        assert isinstance(card, Card)
        action = None if row.payload["action"] is None else action_from_json(row.payload["action"])

        async def copies(session: AsyncSession) -> list[OutboxMessage]:
            return list(
                (
                    await session.scalars(
                        select(OutboxMessage).where(
                            col(OutboxMessage.card_id) == row.card_id, col(OutboxMessage.kind) == OutboxKind.SEND
                        )
                    )
                ).all()
            )

        # Copies still pending were rewritten at enqueue; one in flight meanwhile is caught by _settle.
        for copy in await self._db.lookup(copies):
            adapter = self._adapters.get(copy.platform)
            if copy.status != OutboxStatus.DELIVERED or adapter is None:
                continue
            clicked_here = action is not None and action.origin.platform == copy.platform and copy.target_id in (
                action.origin.sender_id,
                action.origin.chat_id,
            )
            await adapter.update_card(action if clicked_here else None, copy.platform_message_ref, card)
        return _Outcome(row.id, True)

    @staticmethod
    async def _settle(session: AsyncSession, outcomes: list[_Outcome]) -> None:
        """Record every outcome of a round in one executemany."""
        now = utcnow()
        values: list[dict[str, Any]] = []
        for outcome in outcomes:
            if outcome.delivered:
                values.append({"id": outcome.id, "status": OutboxStatus.DELIVERED, "platform_message_ref": outcome.ref,
                               "delivered_at": now, "last_error": ""})
            elif outcome.retry_at is not None:
                values.append({"id": outcome.id, "status": OutboxStatus.PENDING, "platform_message_ref": "",
                               "delivered_at": None, "last_error": outcome.error[:500], "next_attempt_at": outcome.retry_at})
            else:
                values.append({"id": outcome.id, "status": OutboxStatus.FAILED, "platform_message_ref": "",
                               "delivered_at": None, "last_error": outcome.error[:500]})
        for keys in {tuple(sorted(v)) for v in values}:  # one executemany per shape of row
            await session.execute(update(OutboxMessage), [v for v in values if tuple(sorted(v)) == keys])
        await _catch_rewrites(
            session, {o.id: (o.card_id, o.sent_card) for o in outcomes if o.delivered and o.sent_card is not None}
        )


async def _catch_rewrites(session: AsyncSession, sent_cards: dict[int, tuple[str, dict[str, Any]]]) -> None:
    """A card rewritten by an update while its copy was on the wire: update that copy too.

    `sent_cards`: row id → (card id, the card as it went out). Only `enqueue_card_update` rewrites a
    payload, and it always adds an update row of that card in the same transaction; so payloads (JSON
    to load) are read back only for cards that have one, and a round of fresh cards (stock cards,
    drafts) costs one look-up of their card ids in the card index."""
    if not sent_cards:
        return
    card_ids = list({card_id for card_id, _ in sent_cards.values()})
    updated = {card_id for (card_id,) in (await session.execute(_UPDATED_CARD_IDS, {"card_ids": card_ids})).all()}
    suspects = [row_id for row_id, (card_id, _) in sent_cards.items() if card_id in updated]
    if not suspects:
        return
    rows = await session.execute(
        select(OutboxMessage.id, OutboxMessage.card_id, OutboxMessage.payload).where(col(OutboxMessage.id).in_(suspects))
    )
    for row_id, card_id, payload in rows.all():
        if payload != sent_cards[row_id][1]:
            session.add(
                OutboxMessage(kind=OutboxKind.UPDATE, platform="", payload={"card": payload, "action": None}, card_id=card_id)
            )


_UPDATED_CARD_IDS = (
    select_columns(_TABLE.c.card_id)
    .where(_TABLE.c.kind == OutboxKind.UPDATE, _TABLE.c.card_id.in_(bindparam("card_ids", expanding=True)))
    .distinct()
)
