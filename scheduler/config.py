"""What the scheduler runs when, and where each alert goes: `[alerts]` of psibot.toml (docs/alerts.md).

The file is found at PSIBOT_CONFIG, else ./psibot.toml; without one every default applies, so
`psibot demo` sends its alerts as direct messages to the roles that act on them (and so to the console).
"""

from __future__ import annotations

import tomllib
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import time, timedelta
from pathlib import Path
from typing import Any

from core.alerts import AlertKind, Destination, Route, describe_route_lines
from core.config import ConfigError, Settings
from core.models import Role

ROBOT_PLATFORMS = ("wecom", "dingtalk", "feishu")


@dataclass(frozen=True, slots=True)
class Robot:
    """A group robot reached by webhook: WeCom group robot, DingTalk custom robot, Feishu custom bot."""

    name: str
    platform: str
    url: str
    secret: str | None = None

    @property
    def shows_images(self) -> bool:
        return self.platform == "wecom"  # DingTalk and Feishu robots cannot post an uploaded image


@dataclass(frozen=True, slots=True)
class Schedule:
    """When each job runs, in PSIBOT_TIMEZONE; `misfire_grace` is how late a missed run may still go out."""

    low_stock_every_minutes: int = 30
    working_hours: tuple[int, int] = (8, 20)  # from the first hour up to (not including) the second
    start_of_day: time = time(8, 0)
    near_expiry_at: time = time(9, 0)
    digest_at: time = time(18, 0)
    misfire_grace: timedelta = timedelta(hours=6)


@dataclass(frozen=True, slots=True)
class AlertConfig:
    schedule: Schedule = field(default_factory=Schedule)
    routes: tuple[Route, ...] = ()
    robots: Mapping[str, Robot] = field(default_factory=dict)
    source: str = "默认配置"  # the file read, for `psibot alerts routes`

    # What the chat's `告警路由` asks of the configuration in force (bot.turn.AlertSetup), given to the app
    # by the composition root (bot/cli.py), so the bot never reads the file or imports the scheduler.

    def robot_names(self) -> Collection[str]:
        return self.robots.keys()

    def describe(self, made_in_chat: Sequence[Route] = ()) -> str:
        return describe_routes(self, made_in_chat)


def config_path(settings: Settings) -> Path:
    return Path(settings.env.get("PSIBOT_CONFIG") or "psibot.toml")


def load_config(settings: Settings) -> AlertConfig:
    """The `[alerts]` table of the config file; the defaults when there is no file."""
    path = config_path(settings)
    if not path.is_file():
        if settings.env.get("PSIBOT_CONFIG"):
            raise ConfigError(f"PSIBOT_CONFIG names a file that does not exist: {path}")
        return AlertConfig()
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    return parse_config(document.get("alerts", {}), source=str(path))


def parse_config(table: Mapping[str, Any], *, source: str = "psibot.toml") -> AlertConfig:
    """Check every value once, naming the key that is wrong."""
    robots = {name: _robot(name, value) for name, value in _table(table, "robots").items()}
    routes = tuple(_route(index, value, robots) for index, value in enumerate(_list(table, "routes"), start=1))
    return AlertConfig(_schedule(_table(table, "schedule")), routes, robots, source)


def _schedule(table: Mapping[str, Any]) -> Schedule:
    default = Schedule()
    every = table.get("low_stock_every_minutes", default.low_stock_every_minutes)
    if not isinstance(every, int) or every <= 0 or (60 % every and every % 60):
        raise ConfigError("alerts.schedule.low_stock_every_minutes must divide 60 (5, 10, 15, 30…) or be whole hours")
    hours = table.get("working_hours", "08:00-20:00")
    start_text, _, end_text = str(hours).partition("-")
    start, end = _clock_time("working_hours", start_text), _clock_time("working_hours", end_text)
    if start.minute or end.minute or not start < end:
        raise ConfigError('alerts.schedule.working_hours must be whole hours like "08:00-20:00"')
    grace = table.get("misfire_grace_minutes", int(default.misfire_grace.total_seconds() // 60))
    if not isinstance(grace, int) or grace < 1:
        raise ConfigError("alerts.schedule.misfire_grace_minutes must be a positive number of minutes")
    return Schedule(
        low_stock_every_minutes=every,
        working_hours=(start.hour, end.hour),
        start_of_day=_clock_time("start_of_day", table.get("start_of_day", "08:00")),
        near_expiry_at=_clock_time("near_expiry_at", table.get("near_expiry_at", "09:00")),
        digest_at=_clock_time("digest_at", table.get("digest_at", "18:00")),
        misfire_grace=timedelta(minutes=grace),
    )


def _clock_time(key: str, value: Any) -> time:
    try:
        return time.fromisoformat(str(value).strip())
    except ValueError:
        raise ConfigError(f'alerts.schedule.{key} must be a time like "09:00", got {value!r}') from None


def _robot(name: str, value: Any) -> Robot:
    if not isinstance(value, Mapping):
        raise ConfigError(f"alerts.robots.{name} must be a table")
    platform, url, secret = value.get("platform"), value.get("url"), value.get("secret")
    if platform not in ROBOT_PLATFORMS:
        raise ConfigError(f"alerts.robots.{name}.platform must be one of {', '.join(ROBOT_PLATFORMS)}")
    if not isinstance(url, str) or not url.startswith(("https://", "http://")):
        raise ConfigError(f"alerts.robots.{name}.url must be the robot's webhook URL")
    if secret is not None and not isinstance(secret, str):
        raise ConfigError(f"alerts.robots.{name}.secret must be text")
    return Robot(name, platform, url, secret or None)


def _route(index: int, value: Any, robots: Mapping[str, Robot]) -> Route:
    where = f"alerts.routes[{index}]"
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where} must be a table")
    try:
        kinds = tuple(AlertKind(kind) for kind in value.get("alerts", [k.value for k in AlertKind]))
    except ValueError:
        raise ConfigError(f"{where}.alerts: each must be one of {', '.join(k.value for k in AlertKind)}") from None
    destinations: list[Destination] = []
    for role in value.get("roles", []):
        try:
            destinations.append(Destination("role", Role(role).value))
        except ValueError:
            raise ConfigError(f"{where}.roles: no role {role!r} ({', '.join(r.value for r in Role)})") from None
    for chat in value.get("chats", []):
        platform, _, chat_id = str(chat).partition(":")
        if not platform or not chat_id:
            raise ConfigError(f'{where}.chats: write "platform:chat id", got {chat!r}')
        destinations.append(Destination("chat", str(chat)))
    for robot in value.get("robots", []):
        if robot not in robots:
            raise ConfigError(f"{where}.robots: no [alerts.robots.{robot}] is defined")
        destinations.append(Destination("robot", robot))
    if not destinations:
        raise ConfigError(f"{where} sends nowhere: give roles, chats or robots")
    warehouse, category = value.get("warehouse"), value.get("category")
    if AlertKind.DIGEST in kinds and (warehouse or category):
        raise ConfigError(f"{where}: the digest covers the whole company, it cannot be routed by warehouse")
    return Route(kinds, tuple(destinations), warehouse or None, category or None)


def _table(table: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = table.get(key, {})
    if not isinstance(value, Mapping):
        raise ConfigError(f"alerts.{key} must be a table")
    return value


def _list(table: Mapping[str, Any], key: str) -> list[Any]:
    value = table.get(key, [])
    if not isinstance(value, list):
        raise ConfigError(f"alerts.{key} must be an array of tables ([[alerts.{key}]])")
    return value


def describe_routes(config: AlertConfig, made_in_chat: Sequence[Route] = ()) -> str:
    """The schedule and routes in force, for `psibot alerts routes` and the admin's `告警路由`: the file's
    routes (read-only from chat) and the numbered ones made in chat, which `告警路由 删除 N` removes."""
    schedule = config.schedule
    first, last = schedule.working_hours
    lines = [
        f"配置来源: {config.source}",
        f"缺货: 每 {schedule.low_stock_every_minutes} 分钟（{first:02d}:00-{last:02d}:00），"
        f"每天 {schedule.start_of_day:%H:%M} 一次",
        f"临期: 每天 {schedule.near_expiry_at:%H:%M}",
        f"日报: 每天 {schedule.digest_at:%H:%M}",
        f"错过的运行在 {int(schedule.misfire_grace.total_seconds() // 60)} 分钟内补发一次（仅当天）",
        *describe_route_lines(config.routes, made_in_chat),
    ]
    for robot in config.robots.values():
        lines.append(f"群机器人 {robot.name}: {robot.platform} {_masked(robot.url)}{' (加签)' if robot.secret else ''}")
    return "\n".join(lines)


def _masked(url: str) -> str:
    """A webhook URL carries its key: show only enough to recognise it."""
    head, sep, key = url.rpartition("=")
    return f"{head}{sep}{key[:4]}…" if sep else url[:40] + "…"
