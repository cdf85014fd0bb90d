"""Scheduled alerts: low stock, near expiry and the daily digest, pushed through the outbox.

Entry points for the CLI and the app:
- `describe_all_routes(settings)` for `psibot alerts routes` (the file's and those made in chat);
- `robot_adapter(config)` among build_app's adapters, then `install(app, config)` for serve and demo;
- `run_job(settings, name, force=...)` for `psibot alerts run low-stock|near-expiry|digest`;
- `run_standalone(settings)` for `psibot scheduler`.
"""

from __future__ import annotations

import asyncio
import logging

from bot.adapter import Adapter
from bot.kv import open_store
from bot.outbox import DeliveryWorker
from bot.platforms import configured_adapters
from bot.platforms import robot_adapter as robots_of
from core.alerts import stored_routes
from core.config import Settings
from core.db import Database
from scheduler.config import AlertConfig, describe_routes, load_config
from scheduler.jobs import JOB_KINDS
from scheduler.runner import AlertScheduler, install

__all__ = [
    "JOB_KINDS",
    "AlertConfig",
    "AlertScheduler",
    "describe_all_routes",
    "describe_routes",
    "install",
    "load_config",
    "robot_adapter",
    "run_job",
    "run_standalone",
]

log = logging.getLogger("psibot.scheduler")


def robot_adapter(config: AlertConfig) -> Adapter:
    """The outbox platform of the configured group robots (give it to build_app on every instance)."""
    return robots_of(config.robots)


async def describe_all_routes(settings: Settings) -> str:
    """The schedule and every route in force: psibot.toml's, and the numbered ones admins made in chat."""
    config = load_config(settings)
    database = Database(settings.database_url)
    try:
        made_in_chat = await database.read(stored_routes)
    finally:
        await database.close()
    return describe_routes(config, [route for route, _, _ in made_in_chat])


async def run_job(settings: Settings, name: str, *, force: bool = False) -> str:
    """Run one job now (an admin's `psibot alerts run`); a running server delivers what it queues.

    Without `force`, what was already said today stays unsaid: the answer then counts it as quiet.
    """
    if name not in JOB_KINDS:
        raise ValueError(f"没有这个任务: {name}（可选: {', '.join(JOB_KINDS)}）")
    config = load_config(settings)
    database = Database(settings.database_url)
    store = open_store(settings.redis_url)
    try:
        result = await AlertScheduler(settings, database, store, config).run(name, force=force)
    finally:
        await store.close()
        await database.close()
    return result.describe()


async def run_standalone(settings: Settings, *, stop: asyncio.Event | None = None) -> None:
    """`psibot scheduler`: the jobs and an outbox worker for the configured platforms and robots, no HTTP.

    Use it instead of the scheduler inside serve (not beside it: both would be safe, but one is enough).
    """
    config = load_config(settings)
    database = Database(settings.database_url)
    store = open_store(settings.redis_url)
    adapters = [*configured_adapters(settings.env, store), robot_adapter(config)]
    delivery = DeliveryWorker(database, {adapter.platform: adapter for adapter in adapters})
    scheduler = AlertScheduler(settings, database, store, config, wake_delivery=delivery.wake)
    delivery.start()
    try:
        await scheduler.start()
        log.info("scheduler running: %s", ", ".join(JOB_KINDS))
        await (stop or asyncio.Event()).wait()
    finally:
        await scheduler.stop()
        await delivery.stop()
        for adapter in adapters:
            await adapter.close()
        await store.close()
        await database.close()
