"""APScheduler 3 inside the app (or alone), made safe for several instances and for restarts.

Why 3.x and not 4.x: 4.0 is still a pre-release whose API and data-store schema change between alphas;
its shared data store would replace our lock, but not our alert log, which exactly-once needs anyway.
So each instance runs an in-memory AsyncIOScheduler with jobs defined in code (stable ids,
`replace_existing`), and correctness lives in our own tables:

- a run takes a Redis lock per job (`scheduler:run:<job>`; the in-process store without Redis), so two
  instances do not compute the same run at once;
- the run's transaction locks the job's row and records the slot (scheduled time) it serves, so the
  second instance, a retry or a catch-up finds that slot served and does nothing;
- the alert log decides per product or lot whether to speak at all (see scheduler.log).

A missed run: `coalesce=True` folds every missed time into one run and `misfire_grace_time` bounds
how late it may be, while the process runs. A process that was down has no memory of the missed
time, so at start each job's last scheduled time is looked up: not served and within the grace, it
runs once now. A slot of an earlier day is never served late (no 09:00 alert at midnight).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from aiohttp import web
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.combining import OrTrigger
from apscheduler.triggers.cron import CronTrigger

from bot.app import ENGINE_KEY
from bot.kv import KeyValueStore
from core.columns import utcnow
from core.config import Settings
from core.db import Database
from scheduler import jobs
from scheduler.config import AlertConfig, Schedule
from scheduler.jobs import DIGEST, LOW_STOCK, NEAR_EXPIRY, RunRequest, RunResult
from scheduler.routing import ROBOT_PLATFORM

log = logging.getLogger("psibot.scheduler")

LOCK_SECONDS = 600.0  # longer than any run; a crashed holder's lock expires by itself
LOOKBACK = timedelta(days=2)  # every job fires at least daily

Now = Callable[[], datetime]


def triggers(schedule: Schedule, tz: object) -> dict[str, BaseTrigger]:
    """Each job's trigger, in the company's time zone."""
    first, last = schedule.working_hours
    every = schedule.low_stock_every_minutes
    if every < 60:
        during_work = CronTrigger(minute=f"*/{every}", hour=f"{first}-{last - 1}", timezone=tz)
    else:
        during_work = CronTrigger(minute=0, hour=f"{first}-{last - 1}/{every // 60}", timezone=tz)
    start_of_day = CronTrigger(hour=schedule.start_of_day.hour, minute=schedule.start_of_day.minute, timezone=tz)
    return {
        LOW_STOCK: OrTrigger([start_of_day, during_work]),
        NEAR_EXPIRY: CronTrigger(hour=schedule.near_expiry_at.hour, minute=schedule.near_expiry_at.minute, timezone=tz),
        DIGEST: CronTrigger(hour=schedule.digest_at.hour, minute=schedule.digest_at.minute, timezone=tz),
    }


def last_fire_time(trigger: BaseTrigger, now: datetime) -> datetime | None:
    """The latest time at or before `now` the trigger fired (APScheduler only looks forward)."""
    last = None
    moment = trigger.get_next_fire_time(None, now - LOOKBACK)
    while moment is not None and moment <= now:
        last = moment
        moment = trigger.get_next_fire_time(moment, moment + timedelta(microseconds=1))
    return last


class AlertScheduler:
    """The jobs on an AsyncIOScheduler, each run locked, slotted and logged."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        store: KeyValueStore,
        config: AlertConfig,
        *,
        wake_delivery: Callable[[], None] = lambda: None,
        now: Now = utcnow,
    ) -> None:
        self._settings = settings
        self._db = db
        self._store = store
        self._config = config
        self._wake_delivery = wake_delivery
        self._now = now
        self._triggers = triggers(config.schedule, settings.timezone)
        self._scheduler: AsyncIOScheduler | None = None

    @property
    def triggers(self) -> dict[str, BaseTrigger]:
        return dict(self._triggers)

    async def start(self) -> None:
        grace = int(self._config.schedule.misfire_grace.total_seconds())
        scheduler = AsyncIOScheduler(timezone=self._settings.timezone)
        for name, trigger in self._triggers.items():
            scheduler.add_job(
                self.fire, trigger, args=(name,), id=name, name=name, replace_existing=True,
                coalesce=True, max_instances=1, misfire_grace_time=grace,
            )
        scheduler.start()
        self._scheduler = scheduler
        await self.catch_up()

    async def stop(self) -> None:
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
            self._scheduler = None

    async def fire(self, name: str) -> None:
        """What APScheduler calls: serve the job's latest slot (the one it was due for)."""
        now = self._now()
        slot = last_fire_time(self._triggers[name], now)
        try:
            result = await self.run(name, slot=slot, now=now)
        except Exception:
            log.exception("scheduled job %s failed; its slot stays open for the next start", name)
            return
        log.info("%s", result.describe())

    async def catch_up(self) -> list[RunResult]:
        """At start: run once each job whose last slot today went unserved while no instance was up."""
        now = self._now()
        results = []
        for name, trigger in self._triggers.items():
            slot = last_fire_time(trigger, now)
            if slot is None or now - slot > self._config.schedule.misfire_grace:
                continue
            try:
                result = await self.run(name, slot=slot, now=now)
            except Exception:  # the server still starts; the slot stays open for the next start
                log.exception("catch-up of %s failed", name)
                continue
            log.info("catch-up %s", result.describe())
            results.append(result)
        return results

    async def run(self, name: str, *, slot: datetime | None = None, force: bool = False,
                  now: datetime | None = None) -> RunResult:
        """One run under the job's lock; slotted runs of an earlier local day are stale and skipped."""
        now = now or self._now()
        tz = self._settings.timezone
        if slot is not None and slot.astimezone(tz).date() != now.astimezone(tz).date():
            return RunResult(name, False, reason="错过的时段不是今天的")
        request = RunRequest(name, now, tz, self._config, slot, force)
        token = uuid.uuid4().hex
        lock = f"scheduler:run:{name}"
        if not await self._store.set_if_absent(lock, token, LOCK_SECONDS):
            return RunResult(name, False, reason="另一个实例正在运行")
        try:
            result = await self._execute(request)
        finally:
            await self._store.delete_if_equals(lock, token)
        if result.messages:
            self._wake_delivery()
        return result

    async def _execute(self, request: RunRequest) -> RunResult:
        if request.job == LOW_STOCK:
            return await self._db.transact(lambda session: jobs.run_low_stock(session, request))
        if request.job == NEAR_EXPIRY:
            return await self._db.transact(lambda session: jobs.run_near_expiry(session, request, self._store))
        if request.job == DIGEST:
            digests, days = await self._db.read(lambda session: jobs.gather_digest(session, request))
            chart = await jobs.draw_chart(days)
            return await self._db.transact(lambda session: jobs.run_digest(session, request, digests, chart))
        raise ValueError(f"no job {request.job!r}; jobs: {', '.join(jobs.JOB_KINDS)}")


# ---------------------------------------------------------------- entry points


def install(app: web.Application, config: AlertConfig) -> AlertScheduler:
    """Run the scheduler inside `app` (from `bot.app.build_app`): started with it, stopped before its workers.

    Group robots must be among the adapters given to build_app (`robot_adapter(config)`), so that every
    instance's delivery worker can send what any instance queued.
    """
    services = app[ENGINE_KEY].services
    if config.robots and ROBOT_PLATFORM not in services.adapters:
        raise ValueError("alerts.robots are configured: pass scheduler.robot_adapter(config) to build_app")
    scheduler = AlertScheduler(
        services.settings, services.db, services.store, config, wake_delivery=services.delivery.wake
    )

    async def start(_app: web.Application) -> None:
        await scheduler.start()

    async def stop(_app: web.Application) -> None:
        await scheduler.stop()

    app.on_startup.append(start)
    app.on_cleanup.insert(0, stop)  # no new run while the outbox is being drained
    return scheduler
