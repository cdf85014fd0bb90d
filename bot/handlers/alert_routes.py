"""`告警路由`: an admin lists, adds and deletes alert routes from chat (docs/alerts.md).

Routes made here are stored (core.alerts) and count from the next job run on every instance; the routes
of psibot.toml, as the scheduler read it at start (`Services.alerts`), are shown beside them and can only
be changed in the file.
"""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy.ext.asyncio import AsyncSession

from bot.model import Text
from bot.parser import AddAlertRoute, RemoveAlertRoute
from bot.turn import Turn
from core.alerts import (
    ALERT_NAMES_ZH,
    AlertKind,
    Destination,
    Route,
    add_route,
    describe_route_lines,
    remove_route,
    resolve_scope,
    stored_routes,
)
from core.errors import InvalidInput
from core.models import Role
from core.users import parse_role, require_role

NO_SCHEDULER = "定时提醒没有在这个服务里运行（未读取 psibot.toml），下面是聊天里添加的路由和默认接收人。"


def _robots(turn: Turn) -> Collection[str]:
    alerts = turn.services.alerts
    return () if alerts is None else alerts.robot_names()


async def show(turn: Turn, _command: object = None) -> None:
    require_role(turn.user, {Role.ADMIN}, "查看告警路由")

    async def made_in_chat(session: AsyncSession) -> list[Route]:
        return [route for route, _, _ in await stored_routes(session)]

    made = await turn.lookup(made_in_chat)
    alerts = turn.services.alerts
    turn.say(Text(alerts.describe(made) if alerts else "\n".join([NO_SCHEDULER, *describe_route_lines((), made)])))


def _kinds(words: tuple[str, ...]) -> tuple[AlertKind, ...]:
    try:
        return tuple(AlertKind(word) for word in words)
    except ValueError:
        unknown = next(word for word in words if word not in {kind.value for kind in AlertKind})
        raise InvalidInput(f"没有“{unknown}”这种告警。可选: {'、'.join(ALERT_NAMES_ZH.values())}") from None


def _destination(turn: Turn, command: AddAlertRoute) -> Destination:
    if command.receiver == "group":
        if turn.origin.chat_kind != "group":
            raise InvalidInput("“本群”要在群聊里说；私聊里可以发给角色，如“告警路由 添加 缺货 采购”")
        return Destination("chat", f"{turn.origin.platform}:{turn.origin.chat_id}")
    if command.receiver == "robot":
        robots = _robots(turn)
        if command.name not in robots:
            defined = "、".join(robots) or "（没有，在 psibot.toml 的 [alerts.robots.<名字>] 里定义）"
            raise InvalidInput(f"没有叫“{command.name}”的群机器人。已定义: {defined}")
        return Destination("robot", command.name)
    return Destination("role", parse_role(command.name).value)


async def add(turn: Turn, command: AddAlertRoute) -> None:
    """`告警路由 添加 缺货 主仓 本群`: checked in full before anything is stored, then one transaction."""
    require_role(turn.user, {Role.ADMIN}, "设置告警路由")
    kinds = _kinds(command.kinds)
    destination = _destination(turn, command)

    async def work(session: AsyncSession) -> None:
        warehouse, category = await resolve_scope(session, command.scope)
        route = await add_route(session, turn.user, kinds, destination, warehouse, category)
        turn.say(Text(
            f"已添加告警路由 #{route.number}: {route.describe()}\n"
            f"从下一次运行起生效；删除请发“告警路由 删除 {route.number}”。"
        ))

    await turn.transact(work)


async def remove(turn: Turn, command: RemoveAlertRoute) -> None:
    require_role(turn.user, {Role.ADMIN}, "删除告警路由")

    async def work(session: AsyncSession) -> None:
        route = await remove_route(session, turn.user, command.number)
        turn.say(Text(f"已删除告警路由 #{command.number}: {route.describe()}\n从下一次运行起不再按它发送。"))

    await turn.transact(work)
