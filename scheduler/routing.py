"""Who receives an alert about a warehouse and category, and queueing a reply for each kind of receiver.

The most specific matching routes win (warehouse and category over either, over neither); an alert no
route matches goes to the default roles of its kind, so a partial configuration never drops alerts.
Every message is queued in the outbox: group robots too, under the platform name "robot".
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from bot.cards import shows_costs
from bot.model import Reply, Target
from bot.outbox import enqueue, enqueue_for_users
from bot.platforms import ROBOT_PLATFORM
from core.alerts import DEFAULT_ROLES, AlertKind, Destination, Route, StoredRoute, stored_routes
from core.catalog import fold
from core.models import Category, Role, User, Warehouse
from core.users import users_with_roles
from scheduler.config import AlertConfig

log = logging.getLogger("psibot.scheduler")

IMAGE_PLATFORMS = ("console", "wecom", "dingtalk", "feishu")

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Router:
    """The routes with their warehouse and category names resolved to ids (None: matches anything)."""

    routes: tuple[tuple[Route, int | None, int | None], ...]
    config: AlertConfig

    def destinations(self, kind: AlertKind, warehouse_id: int | None, category_id: int | None) -> tuple[Destination, ...]:
        matching = [
            route
            for route, route_warehouse, route_category in self.routes
            if kind in route.kinds
            and (route.warehouse is None or route_warehouse == warehouse_id)
            and (route.category is None or route_category == category_id)
        ]
        if not matching:
            return tuple(Destination("role", role.value) for role in DEFAULT_ROLES[kind])
        best = max(route.specificity for route in matching)
        found = {d: None for route in matching if route.specificity == best for d in route.destinations}
        return tuple(found)


def usable(config: AlertConfig, routes: Sequence[StoredRoute]) -> list[StoredRoute]:
    """Routes made in chat to a group robot that is no longer in the file are left out (their alerts fall
    back to the next matching routes or the defaults) rather than queued for a robot nobody can reach."""
    kept = []
    for stored in routes:
        destination = stored[0].destinations[0]
        if destination.kind == "robot" and destination.id not in config.robots:
            log.warning("alert route #%s names robot %r, which psibot.toml no longer defines", stored[0].number,
                        destination.id)
            continue
        kept.append(stored)
    return kept


async def router(session: AsyncSession, config: AlertConfig) -> Router:
    """The file's routes and those made in chat, read in the run's transaction (so a route made in chat on
    any instance counts from the next run). Names in the file are matched against the catalog now; an
    unknown name matches nothing, so renaming a warehouse sends its alerts to the defaults rather than
    nowhere. Routes made in chat hold their warehouse and category by id."""
    warehouses = (await session.scalars(select(Warehouse))).all()
    categories = (await session.scalars(select(Category))).all()
    by_warehouse = {fold(w.name): w.id for w in warehouses} | {fold(w.code): w.id for w in warehouses}
    by_category = {fold(c.name): c.id for c in categories}
    resolved = tuple(
        (
            route,
            None if route.warehouse is None else by_warehouse.get(fold(route.warehouse), -1),
            None if route.category is None else by_category.get(fold(route.category), -1),
        )
        for route in config.routes
    )
    return Router(resolved + tuple(usable(config, await stored_routes(session))), config)


async def send(session: AsyncSession, config: AlertConfig, destination: Destination, replies: Sequence[Reply]) -> int:
    """Queue `replies` for one receiver; returns how many messages were queued."""
    if destination.kind == "role":
        users = await users_with_roles(session, [Role(destination.id)])
        ids = [user.id or 0 for user in users if user.active]
        return sum([await enqueue_for_users(session, ids, reply) for reply in replies])
    if destination.kind == "chat":
        platform, _, chat_id = destination.id.partition(":")
        target = Target(platform, "chat", chat_id)
    else:
        target = Target(ROBOT_PLATFORM, "chat", destination.id)
    for reply in replies:
        enqueue(session, target, reply)
    return len(replies)


def shows_costs_to(destination: Destination) -> bool:
    """`bot.cards.shows_costs` for a receiver: a role gets direct messages, so its role decides; a chat or a
    robot is a group."""
    if destination.kind == "role":
        return shows_costs(User(name="psibot", role=Role(destination.id)), in_group=False)
    return shows_costs(User(name="psibot", role=Role.OWNER), in_group=True)


def shows_images(config: AlertConfig, destination: Destination) -> bool:
    """Robots of DingTalk and Feishu cannot post an uploaded image; everything else can."""
    if destination.kind == "robot":
        robot = config.robots.get(destination.id)
        return robot is not None and robot.shows_images
    if destination.kind == "chat":
        return destination.id.partition(":")[0] in IMAGE_PLATFORMS
    return True


def group_by_destination(
    items: Sequence[T], destinations_of: Callable[[T], tuple[Destination, ...]]
) -> dict[Destination, list[T]]:
    """Items per receiver, receivers in a stable order, so each gets one message however many items."""
    grouped: dict[Destination, list[T]] = {}
    for item in items:
        for destination in destinations_of(item):
            grouped.setdefault(destination, []).append(item)
    return dict(sorted(grouped.items()))
