"""Alerts across instances and outages: shared PostgreSQL and Redis, a group robot that fails for a while,
and APScheduler itself driven by a controlled clock."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import apscheduler.executors.base
import apscheduler.schedulers.base
import pytest
from sqlalchemy import update
from sqlmodel import col, select

import bot.outbox  # noqa: F401 - registers the outbox table
from bot.kv import MemoryStore, RedisStore
from bot.outbox import DeliveryWorker, OutboxMessage, OutboxStatus
from core.config import Settings, database_url
from core.db import Database
from scheduler import AlertConfig, AlertScheduler, robot_adapter
from scheduler.config import parse_config
from tests.fakes.wecom_server import FakeWeCom
from tests.scenario.conftest import L1_EXPIRY, seed

SHANGHAI = ZoneInfo("Asia/Shanghai")
NINE = datetime.combine(L1_EXPIRY - timedelta(days=50), time(9, 0), SHANGHAI)  # cola's L1 is then near expiry
SETTINGS = Settings(database_url("sqlite:///unused.db"), None, SHANGHAI, None, {})


async def _cards_per_target(db: Database, prefix: str) -> dict[str, int]:
    async def read(session: object) -> list[OutboxMessage]:
        return list((await session.scalars(  # type: ignore[attr-defined]
            select(OutboxMessage).where(col(OutboxMessage.card_id).startswith(prefix))
        )).all())

    counts: dict[str, int] = {}
    for row in await db.read(read):  # type: ignore[arg-type]
        counts[row.target_id] = counts.get(row.target_id, 0) + 1
    return counts


@pytest.fixture
async def stores(redis_url: str) -> AsyncIterator[tuple[RedisStore, RedisStore]]:
    prefix = f"test:{uuid.uuid4().hex[:8]}:"
    first, second = RedisStore(redis_url, prefix), RedisStore(redis_url, prefix)
    yield first, second
    await first.close()
    await second.close()


@pytest.mark.redis
async def test_two_instances_send_one_card_per_receiver(db: Database, stores: tuple[RedisStore, RedisStore]) -> None:
    await seed(db)
    instances = [AlertScheduler(SETTINGS, db, store, AlertConfig(), now=lambda: NINE) for store in stores]
    await asyncio.gather(*(instance.fire(job) for instance in instances for job in ("near-expiry", "low-stock")))
    assert await _cards_per_target(db, "alert-expiry") == {"li": 1, "zhang": 1, "zhang2": 1}
    assert await _cards_per_target(db, "alert-low") == {"li": 1, "chen": 1}
    # A third instance starting later in the morning finds every slot served.
    late = AlertScheduler(SETTINGS, db, stores[0], AlertConfig(), now=lambda: NINE + timedelta(minutes=20))
    assert all(not result.ran or result.messages == 0 for result in await late.catch_up())
    assert await _cards_per_target(db, "alert-expiry") == {"li": 1, "zhang": 1, "zhang2": 1}


@pytest.fixture
async def wecom() -> AsyncIterator[FakeWeCom]:
    fake = FakeWeCom()
    fake.base = await fake.start()  # type: ignore[attr-defined]
    yield fake
    await fake.close()


async def test_a_robot_that_fails_for_a_while_gets_every_alert_once(db: Database, wecom: FakeWeCom) -> None:
    await seed(db)
    config = parse_config({
        "robots": {"ops": {"platform": "wecom", "url": f"{wecom.base}/webhook/send?key=robot-key"}},  # type: ignore[attr-defined]
        "routes": [{"alerts": ["near_expiry", "low_stock"], "robots": ["ops"]}],
    })
    instance = AlertScheduler(SETTINGS, db, MemoryStore(), config, now=lambda: NINE)
    await instance.fire("near-expiry")
    await instance.fire("low-stock")
    wecom.fail("limited", "limited", "limited")
    worker = DeliveryWorker(db, {"robot": robot_adapter(config)})
    for _ in range(6):
        await worker.deliver_due()
        async with db.session() as session:  # skip the backoff: the next attempt is due now
            await session.execute(update(OutboxMessage).values(next_attempt_at=datetime.now(UTC)))
    calls = [r.body["markdown"]["content"] for r in wecom.calls("/cgi-bin/webhook/send")]
    assert len(calls) == 2 + 3  # two cards, three refusals retried
    assert sorted("临期提醒" in body for body in calls[-2:]) == [False, True]  # the last two were accepted
    async with db.session() as session:
        rows = (await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))).all()
    assert [(row.status, row.attempts) for row in rows] == [(OutboxStatus.DELIVERED, 3), (OutboxStatus.DELIVERED, 2)]
    assert {"临期提醒" in row.payload["title"] for row in rows} == {True, False}


class FrozenClock:
    """Stands in for `datetime` inside APScheduler, so its own due-time and misfire checks see our time."""

    moment = NINE

    @classmethod
    def now(cls, tz: object = None) -> datetime:
        return cls.moment.astimezone(tz)  # type: ignore[arg-type]


async def test_apscheduler_fires_the_morning_job_once_and_catches_up_after_downtime(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    await seed(db)
    monkeypatch.setattr(apscheduler.schedulers.base, "datetime", FrozenClock)
    monkeypatch.setattr(apscheduler.executors.base, "datetime", FrozenClock)
    FrozenClock.moment = NINE - timedelta(minutes=1)
    instance = AlertScheduler(SETTINGS, db, MemoryStore(), AlertConfig(), now=lambda: FrozenClock.moment)
    await instance.start()
    try:
        assert await _cards_per_target(db, "alert-expiry") == {}
        FrozenClock.moment = NINE + timedelta(seconds=1)
        for _ in range(2):  # two wake-ups in the same minute: one run
            instance._scheduler.wakeup()  # type: ignore[union-attr]
            await asyncio.sleep(0.5)
        assert await _cards_per_target(db, "alert-expiry") == {"li": 1, "zhang": 1, "zhang2": 1}
    finally:
        await instance.stop()

    # Down over the next morning's 09:00, back at 11:00: the missed run goes out once.
    FrozenClock.moment = NINE + timedelta(days=1, hours=2)
    restarted = AlertScheduler(SETTINGS, db, MemoryStore(), AlertConfig(), now=lambda: FrozenClock.moment)
    await restarted.start()
    await restarted.stop()
    again = AlertScheduler(SETTINGS, db, MemoryStore(), AlertConfig(), now=lambda: FrozenClock.moment)
    await again.start()
    await again.stop()
    assert await _cards_per_target(db, "alert-expiry") == {"li": 2, "zhang": 2, "zhang2": 2}
