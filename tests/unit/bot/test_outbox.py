"""The outbox: retries with backoff and retry_after, permanent failures, restarts, card updates."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select, update

from bot.adapter import DeliveryError
from bot.model import Card, CardAction, Sent, Target, Text
from bot.outbox import DeliveryWorker, OutboxMessage, OutboxStatus, enqueue, enqueue_card_update
from core.columns import utcnow
from core.db import Database

TARGET = Target("fake", "user", "u1")


class FakeAdapter:
    platform = "fake"

    def __init__(self, failures: list[DeliveryError] | None = None) -> None:
        self.failures = list(failures or [])
        self.sent: list[tuple[Target, object]] = []
        self.updated: list[tuple[str, Card]] = []

    def routes(self, app: object, sink: object) -> None:
        pass

    async def send(self, target: Target, reply: object) -> Sent:
        if self.failures:
            raise self.failures.pop(0)
        self.sent.append((target, reply))
        return Sent(f"ref-{len(self.sent)}")

    async def update_card(self, action: CardAction | None, platform_card_ref: str, card: Card) -> None:
        self.updated.append((platform_card_ref, card))

    async def download_image(self, media_handle: str) -> bytes:
        return b""

    async def close(self) -> None:
        pass


async def rows(db: Database) -> list[OutboxMessage]:
    async def load(session: AsyncSession) -> list[OutboxMessage]:
        return list((await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))).all())  # type: ignore[arg-type]

    return await db.read(load)


async def make_due(db: Database) -> None:
    async with db.session() as session:
        await session.execute(update(OutboxMessage).values(next_attempt_at=utcnow()))


async def test_a_transient_failure_is_retried_later_and_then_delivered(db: Database) -> None:
    adapter = FakeAdapter([DeliveryError("busy", transient=True)])
    worker = DeliveryWorker(db, {"fake": adapter})
    async with db.session() as session:
        enqueue(session, TARGET, Text("你好"))
    await worker.deliver_due()
    [row] = await rows(db)
    assert row.status == OutboxStatus.PENDING and row.attempts == 1 and row.last_error == "busy"
    assert row.next_attempt_at > utcnow() + timedelta(seconds=0.5)
    assert not await worker.deliver_due()  # not due yet
    await make_due(db)
    await worker.deliver_due()
    [row] = await rows(db)
    assert row.status == OutboxStatus.DELIVERED and row.platform_message_ref == "ref-1"
    assert adapter.sent == [(TARGET, Text("你好"))]


async def test_retry_after_is_honoured(db: Database) -> None:
    worker = DeliveryWorker(db, {"fake": FakeAdapter([DeliveryError("slow down", transient=True, retry_after=30)])})
    async with db.session() as session:
        enqueue(session, TARGET, Text("你好"))
    await worker.deliver_due()
    [row] = await rows(db)
    assert row.next_attempt_at >= utcnow() + timedelta(seconds=29)


async def test_a_permanent_failure_is_marked_failed(db: Database) -> None:
    worker = DeliveryWorker(db, {"fake": FakeAdapter([DeliveryError("no such user", transient=False)])})
    async with db.session() as session:
        enqueue(session, TARGET, Text("你好"))
    await worker.deliver_due()
    [row] = await rows(db)
    assert row.status == OutboxStatus.FAILED and row.last_error == "no such user"


async def test_rows_left_by_a_previous_run_are_delivered_at_start(db: Database) -> None:
    async with db.session() as session:
        for n in range(3):
            enqueue(session, TARGET, Text(f"第{n}条"))
    adapter = FakeAdapter()
    worker = DeliveryWorker(db, {"fake": adapter})
    worker.start()
    try:
        for _ in range(100):
            if len(adapter.sent) == 3:
                break
            await asyncio.sleep(0.02)
    finally:
        await worker.stop()
    assert [reply for _, reply in adapter.sent] == [Text("第0条"), Text("第1条"), Text("第2条")]  # in order


async def test_a_card_update_replaces_sent_copies_and_rewrites_pending_ones(db: Database) -> None:
    adapter = FakeAdapter()
    worker = DeliveryWorker(db, {"fake": adapter})
    card = Card("po:1:step:1", "采购审批")
    async with db.session() as session:
        enqueue(session, TARGET, card)
    await worker.deliver_due()
    async with db.session() as session:
        enqueue(session, Target("fake", "user", "u2"), card)  # a copy still pending when the decision lands
        await enqueue_card_update(session, Card("po:1:step:1", "采购审批", status="已批准 · 张经理 · 10:42"))
    await worker.deliver_due()
    await worker.deliver_due()
    assert adapter.updated == [("ref-1", Card("po:1:step:1", "采购审批", status="已批准 · 张经理 · 10:42"))]
    assert adapter.sent[-1] == (Target("fake", "user", "u2"), Card("po:1:step:1", "采购审批", status="已批准 · 张经理 · 10:42"))


async def test_a_card_rewritten_while_its_copy_is_on_the_wire_is_updated_after(db: Database) -> None:
    decided = Card("po:2:step:1", "采购审批", status="已驳回 · 张经理 · 10:43")

    class DecidedDuringSend(FakeAdapter):
        decided = False

        async def send(self, target: Target, reply: object) -> Sent:
            if target == TARGET and not self.decided:
                # The decision commits while the approval card is being delivered, and another instance
                # applies the update at once: it finds that copy not delivered yet, so leaves it. (The
                # other target's card goes out meanwhile, in any order: targets are delivered side by side.)
                self.decided = True
                async with db.session() as session:
                    await enqueue_card_update(session, decided)
                await DeliveryWorker(db, {"fake": FakeAdapter()}).deliver_due()
            return await super().send(target, reply)

    adapter = DecidedDuringSend()
    worker = DeliveryWorker(db, {"fake": adapter})
    async with db.session() as session:
        enqueue(session, TARGET, Card("po:2:step:1", "采购审批"))
        enqueue(session, Target("fake", "user", "u2"), Card("other:1", "不相干"))  # never rewritten
    await worker.deliver_due()
    for _ in range(3):
        await worker.deliver_due()
    sent_ref = f"ref-{adapter.sent.index((TARGET, Card('po:2:step:1', '采购审批'))) + 1}"
    assert (sent_ref, decided) in adapter.updated
    assert all(ref == sent_ref and card == decided for ref, card in adapter.updated)


async def test_a_worker_without_the_platform_leaves_the_row_to_one_that_has_it(db: Database) -> None:
    """`psibot scheduler` beside `psibot demo` must not swallow the console's messages."""
    async with db.session() as session:
        enqueue(session, TARGET, Text("早上好"))
    await DeliveryWorker(db, {}).deliver_due()
    [row] = await rows(db)
    assert (row.status, row.attempts) == (OutboxStatus.PENDING, 0)
    adapter = FakeAdapter()
    await DeliveryWorker(db, {"fake": adapter}).deliver_due()
    [row] = await rows(db)
    assert row.status == OutboxStatus.DELIVERED and [reply for _, reply in adapter.sent] == [Text("早上好")]


async def test_a_reply_for_a_role_reaches_each_of_its_people_on_each_platform(db: Database) -> None:
    from bot.outbox import enqueue_for_roles
    from core.models import Identity, Role, User

    async with db.session() as session:
        keeper, seller = User(name="老李", role=Role.WAREHOUSE), User(name="小王", role=Role.SALES)
        session.add_all([keeper, seller])
        await session.flush()
        session.add_all([
            Identity(platform="wecom", platform_user_id="lili", user_id=keeper.id or 0),
            Identity(platform="console", platform_user_id="li", user_id=keeper.id or 0),
            Identity(platform="console", platform_user_id="wang", user_id=seller.id or 0),
        ])
        await session.flush()
        assert await enqueue_for_roles(session, [Role.WAREHOUSE], Text("临期提醒")) == 2
    assert sorted((row.platform, row.target_id) for row in await rows(db)) == [("console", "li"), ("wecom", "lili")]


async def test_group_written_replies_are_handed_over_leased_and_delivered_without_a_claim(db: Database) -> None:
    from bot.outbox import GroupWriter

    adapter = FakeAdapter()
    worker = DeliveryWorker(db, {"fake": adapter})
    await worker.deliver_due()  # the start-up claim: nothing waiting
    writer = GroupWriter(db, worker)
    await asyncio.gather(
        writer.write([(TARGET, Text("一"))]), writer.write([(Target("elsewhere", "user", "u9"), Text("二"))])
    )
    leased, unserved = await rows(db)
    assert (leased.status, leased.attempts) == (OutboxStatus.PENDING, 1)
    assert leased.next_attempt_at > utcnow() + timedelta(seconds=30)  # no other instance takes it meanwhile
    assert unserved.attempts == 0  # left for an instance serving that platform

    claims: list[object] = []
    original = worker._claim

    async def counted(session: AsyncSession) -> object:
        claims.append(session)
        return await original(session)

    worker._claim = counted  # type: ignore[method-assign,assignment]
    await worker.deliver_due()
    assert adapter.sent == [(TARGET, Text("一"))]
    assert len(claims) == 1  # the unserved row asked for a claim; a served one alone would not
    leased, _ = await rows(db)
    assert leased.status == OutboxStatus.DELIVERED and leased.platform_message_ref == "ref-1"

    await writer.write([(TARGET, Text("三"))])
    await worker.deliver_due()
    assert len(claims) == 1 and adapter.sent[-1] == (TARGET, Text("三"))


async def test_a_handed_over_row_whose_instance_died_is_claimed_after_its_lease(db: Database) -> None:
    from bot.outbox import GroupWriter

    dead = DeliveryWorker(db, {"fake": FakeAdapter()})
    await GroupWriter(db, dead).write([(TARGET, Text("还在吗"))])  # committed, never delivered
    adapter = FakeAdapter()
    survivor = DeliveryWorker(db, {"fake": adapter})
    assert not await survivor.deliver_due() and adapter.sent == []  # leased to the dead one
    await make_due(db)
    await survivor.deliver_due()
    assert adapter.sent == [(TARGET, Text("还在吗"))]


class HeldAdapter(FakeAdapter):
    """Sends only when let go, so a shutdown can be made to arrive mid-delivery."""

    def __init__(self) -> None:
        super().__init__()
        self.sending = asyncio.Event()
        self.let_go = asyncio.Event()

    async def send(self, target: Target, reply: object) -> Sent:
        self.sending.set()
        await self.let_go.wait()
        return await super().send(target, reply)


async def test_a_shutdown_during_a_delivery_lets_the_round_finish_and_record_it(db: Database) -> None:
    adapter = HeldAdapter()
    worker = DeliveryWorker(db, {"fake": adapter}, poll_seconds=0.05)
    async with db.session() as session:
        enqueue(session, TARGET, Text("你好"))
    worker.start()
    await asyncio.wait_for(adapter.sending.wait(), 5)
    stopping = asyncio.create_task(worker.stop())
    await asyncio.sleep(0.1)
    assert not stopping.done()  # waits for the reply on the wire
    adapter.let_go.set()
    await asyncio.wait_for(stopping, 5)
    [row] = await rows(db)
    # Cancelled between send and settle, the row stayed leased and went out again after its lease.
    assert row.status == OutboxStatus.DELIVERED and row.platform_message_ref == "ref-1"
    assert adapter.sent == [(TARGET, Text("你好"))]
