"""The aiohttp application: health, the console when allowed, each platform's routes, and the workers."""

from __future__ import annotations

import functools
import gc
import logging
from collections.abc import Sequence
from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from adapters.console import PLATFORM as CONSOLE_PLATFORM
from adapters.console import ConsoleAdapter
from bot.adapter import Adapter
from bot.cards import help_lines
from bot.conversation import Conversations
from bot.engine import Engine
from bot.kv import KeyValueStore, RedisStore
from bot.outbox import DeliveryWorker, GroupWriter
from bot.turn import AlertSetup, Services
from core.config import Settings
from core.db import Database
from core.models import Identity, User
from core.users import ROLE_NAMES_ZH

log = logging.getLogger("psibot.app")

ENGINE_KEY = web.AppKey("engine", Engine)
CONSOLE_KEY = web.AppKey("console", ConsoleAdapter)


def build_app(
    settings: Settings,
    db: Database,
    store: KeyValueStore,
    *,
    console: bool,
    adapters: Sequence[Adapter] = (),
    alerts: AlertSetup | None = None,
) -> web.Application:
    """`console` turns the console on without a token (`psibot demo`); a configured
    PSIBOT_CONSOLE_TOKEN turns it on in any case, and then every console request must present it.
    `alerts`: the configuration the scheduler installed in this app runs with, for `告警路由`."""
    app = web.Application(client_max_size=12 * 1024 * 1024)
    registry: dict[str, Adapter] = {adapter.platform: adapter for adapter in adapters}
    console_adapter = None
    if console or settings.console_token:
        console_adapter = ConsoleAdapter(functools.partial(console_people, db), token=settings.console_token)
        registry[console_adapter.platform] = console_adapter
        app[CONSOLE_KEY] = console_adapter

    delivery = DeliveryWorker(db, registry)
    replies = GroupWriter(db, delivery)
    engine = Engine(Services(settings, db, store, Conversations(store), registry, delivery, replies, alerts))
    app[ENGINE_KEY] = engine
    for adapter in registry.values():
        adapter.routes(app, engine.sink)

    async def healthz(_request: web.Request) -> web.Response:
        database = "ok" if await db.ping() else "error"
        redis = "absent"
        if isinstance(store, RedisStore):
            try:
                redis = "ok" if await store.ping() else "error"
            except Exception:  # noqa: BLE001 - reported, not raised
                redis = "error"
        body = {"status": "ok" if database == "ok" else "error", "database": database, "redis": redis,
                "platforms": sorted(registry)}
        return web.json_response(body, status=200 if database == "ok" else 503)

    app.router.add_get("/healthz", healthz)

    async def start_workers(_app: web.Application) -> None:
        # What exists at start (modules, pypinyin's dictionaries, SQLAlchemy's mappings: ~340,000
        # objects) is put out of the garbage collector's reach: every full collection scanned it all,
        # 110-135 ms with the event loop stopped, the acknowledgements' p99. Thawed at shutdown.
        gc.freeze()
        delivery.start()  # picks up rows left pending by a previous run at once

    async def stop_workers(_app: web.Application) -> None:
        gc.unfreeze()
        await engine.drain()
        await delivery.stop()
        try:
            await delivery.deliver_due()  # the last replies go out now, or stay pending for the next start
        except Exception:
            log.exception("final outbox round failed; pending rows are delivered at the next start")
        for adapter in registry.values():
            await adapter.close()

    app.on_startup.append(start_workers)
    app.on_cleanup.append(stop_workers)
    return app


async def console_people(db: Database) -> list[dict[str, Any]]:
    """Whom the console may speak as: the active people bound to a console identity, each with their role
    and the help card's examples (docs/console.md, `GET /console/api/users`)."""

    async def load(session: AsyncSession) -> list[dict[str, Any]]:
        rows = await session.execute(
            select(User, Identity.platform_user_id)
            .join(Identity, col(Identity.user_id) == User.id)
            .where(Identity.platform == CONSOLE_PLATFORM, col(User.active).is_(True))
            .order_by(col(User.id))
        )
        return [
            {"id": uid, "name": user.name, "role": user.role.value, "role_name": ROLE_NAMES_ZH[user.role],
             "examples": [{"label": label, "text": example} for label, example in help_lines(user.role)]}
            for user, uid in rows.all()
        ]

    return await db.lookup(load)
