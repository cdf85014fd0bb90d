"""Where alerts go: the kinds of alert, their receivers and routes, and the routes admins make in chat
(`告警路由 添加 / 删除`), one row each in `alert_routes`.

Every job run reads the stored routes in its own transaction, so a route made on one instance takes effect
on the next run of any instance, without a restart. psibot.toml's routes are read by the scheduler at start
(scheduler.config); they are never stored and cannot be changed from chat.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from core.alerts.models import AlertRoute
from core.audit import record
from core.catalog import fold
from core.errors import Duplicate, InvalidInput, NotFound
from core.models import Category, Role, User, Warehouse
from core.users import ROLE_NAMES_ZH


class AlertKind(StrEnum):
    LOW_STOCK = "low_stock"
    NEAR_EXPIRY = "near_expiry"
    DIGEST = "digest"


ALERT_NAMES_ZH = {AlertKind.LOW_STOCK: "缺货", AlertKind.NEAR_EXPIRY: "临期", AlertKind.DIGEST: "日报"}

DEFAULT_ROLES: Mapping[AlertKind, tuple[Role, ...]] = {
    AlertKind.LOW_STOCK: (Role.WAREHOUSE, Role.PURCHASER),
    AlertKind.NEAR_EXPIRY: (Role.WAREHOUSE, Role.MANAGER),
    AlertKind.DIGEST: (Role.MANAGER, Role.OWNER),
}


@dataclass(frozen=True, slots=True, order=True)
class Destination:
    """One receiver of alerts: the users of a role (direct messages), a group chat, or a group robot."""

    kind: str  # "role" | "chat" | "robot"
    id: str  # role value; "platform:chat id"; robot name

    def describe(self) -> str:
        if self.kind == "role":
            return f"{ROLE_NAMES_ZH[Role(self.id)]}（私聊）"
        if self.kind == "chat":
            return f"群聊 {self.id}"
        return f"群机器人 {self.id}"


@dataclass(frozen=True, slots=True)
class Route:
    """Alerts of `kinds` about `warehouse` (and `category`; None: any) go to `destinations`."""

    kinds: tuple[AlertKind, ...]
    destinations: tuple[Destination, ...]
    warehouse: str | None = None  # warehouse name or code
    category: str | None = None  # category name
    number: int | None = None  # of a route made in chat (`告警路由 删除 N`); None: from the file

    def describe(self) -> str:
        scope = " ".join(
            part for part in (self.warehouse and f"仓库={self.warehouse}", self.category and f"分类={self.category}")
            if part
        ) or "全部"
        kinds = "、".join(ALERT_NAMES_ZH[kind] for kind in self.kinds)
        return f"{kinds} [{scope}] → {'、'.join(d.describe() for d in self.destinations)}"

    @property
    def specificity(self) -> int:
        return (self.warehouse is not None) + (self.category is not None)


def describe_route_lines(from_file: Sequence[Route], made_in_chat: Sequence[Route]) -> list[str]:
    """The routes in force, one line each: the file's (read-only from chat), the numbered ones made in
    chat, which `告警路由 删除 N` removes, and where an alert no route matches goes."""
    lines = ["路由（[文件] 只能在配置文件里改；#N [聊天] 用“告警路由 删除 N”删除）:"]
    lines += [f"  [文件] {route.describe()}" for route in from_file]
    lines += [f"  #{route.number} [聊天] {route.describe()}" for route in made_in_chat]
    for kind, roles in DEFAULT_ROLES.items():
        receivers = "、".join(Destination("role", role.value).describe() for role in roles)
        lines.append(f"  {ALERT_NAMES_ZH[kind]} [未匹配任何路由时] → {receivers}")
    return lines


# ---------------------------------------------------------------- routes made in chat


StoredRoute = tuple[Route, int | None, int | None]  # the route, its warehouse id and category id


def _route(row: AlertRoute, warehouse: str | None, category: str | None) -> Route:
    kinds = tuple(AlertKind(kind) for kind in row.alerts.split(","))
    return Route(kinds, (Destination(row.destination_kind, row.destination),), warehouse, category, number=row.id)


async def stored_routes(session: AsyncSession) -> list[StoredRoute]:
    """The routes made in chat, oldest first, with their warehouse and category as named today."""
    rows = await session.execute(
        select(AlertRoute, Warehouse.name, Category.name)
        .outerjoin(Warehouse, col(Warehouse.id) == col(AlertRoute.warehouse_id))
        .outerjoin(Category, col(Category.id) == col(AlertRoute.category_id))
        .order_by(col(AlertRoute.id))
    )
    return [(_route(row, warehouse, category), row.warehouse_id, row.category_id) for row, warehouse, category in rows.all()]
async def resolve_scope(session: AsyncSession, words: Sequence[str]) -> tuple[Warehouse | None, Category | None]:
    """Each word is a warehouse (name or code) or else a category; at most one of each."""
    warehouses = (await session.scalars(select(Warehouse))).all()
    categories = (await session.scalars(select(Category))).all()
    warehouse: Warehouse | None = None
    category: Category | None = None
    for word in words:
        key = fold(word)
        found_warehouse = next((w for w in warehouses if key in (fold(w.name), fold(w.code))), None)
        found_category = next((c for c in categories if key == fold(c.name)), None)
        if found_warehouse is not None and warehouse is None:
            warehouse = found_warehouse
        elif found_category is not None and category is None:
            category = found_category
        elif found_warehouse is not None or found_category is not None:
            raise InvalidInput(f"一条路由只能限定一个仓库和一个分类，“{word}”多了")
        else:
            names = "、".join(w.name for w in warehouses) or "（无）"
            raise InvalidInput(f"没有叫“{word}”的仓库或分类。仓库有: {names}")
    return warehouse, category


async def add_route(
    session: AsyncSession,
    actor: User,
    kinds: Sequence[AlertKind],
    destination: Destination,
    warehouse: Warehouse | None = None,
    category: Category | None = None,
) -> Route:
    """Store a route and audit it; the same route twice is refused by its number."""
    if AlertKind.DIGEST in kinds and (warehouse or category):
        raise InvalidInput("日报覆盖全公司，不能按仓库或分类发送；请去掉仓库/分类，或把日报单独加一条路由")
    ordered = [kind for kind in AlertKind if kind in kinds]
    alerts = ",".join(kind.value for kind in ordered)
    row = AlertRoute(
        alerts=alerts,
        warehouse_id=warehouse.id if warehouse else None,
        category_id=category.id if category else None,
        destination_kind=destination.kind,
        destination=destination.id,
        created_by=actor.id,
    )
    same = await session.scalar(
        select(AlertRoute.id).where(
            AlertRoute.alerts == alerts,
            col(AlertRoute.warehouse_id).is_(None) if warehouse is None else AlertRoute.warehouse_id == warehouse.id,
            col(AlertRoute.category_id).is_(None) if category is None else AlertRoute.category_id == category.id,
            AlertRoute.destination_kind == destination.kind,
            AlertRoute.destination == destination.id,
        )
    )
    if same is not None:
        raise Duplicate(f"已有相同的告警路由 #{same}")
    session.add(row)
    await session.flush()
    await record(session, actor, "alert_route", row.id, "create", None, _audited(row))
    return _route(row, warehouse.name if warehouse else None, category.name if category else None)


async def remove_route(session: AsyncSession, actor: User, number: int) -> Route:
    """Delete route `number` made in chat, audited with what it was."""
    row = await session.get(AlertRoute, number, with_for_update=True)
    if row is None:
        raise NotFound(f"没有编号为 {number} 的聊天告警路由（发“告警路由”查看编号；文件里的路由请改 psibot.toml）")
    warehouse = await session.get(Warehouse, row.warehouse_id) if row.warehouse_id else None
    category = await session.get(Category, row.category_id) if row.category_id else None
    route = _route(row, warehouse.name if warehouse else None, category.name if category else None)
    await record(session, actor, "alert_route", row.id, "delete", _audited(row), None)
    await session.delete(row)
    return route


def _audited(row: AlertRoute) -> dict[str, object]:
    return {
        "alerts": row.alerts,
        "warehouse_id": row.warehouse_id,
        "category_id": row.category_id,
        "destination": f"{row.destination_kind}:{row.destination}",
    }
