"""Alert routes made by an admin in chat (`告警路由`), as people see them in the console."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlmodel import col, select

from bot.app import ENGINE_KEY, build_app
from bot.kv import MemoryStore
from core.alerts import AlertRoute
from core.config import Settings
from core.db import Database
from core.models import AuditEntry
from scheduler import AlertConfig, AlertScheduler
from scheduler.config import parse_config
from tests.scenario.conftest import Console, seed, texts

SHANGHAI = ZoneInfo("Asia/Shanghai")
GROUP = "门店群"


@dataclass
class Shop:
    console: Console
    alerts: AlertScheduler
    db: Database
    now: list[datetime]  # the scheduler's clock; the chat's is the real one

    async def in_group(self, user: str, text: str) -> list[dict[str, Any]]:
        return await self.console.in_group(user, text, GROUP)

    async def group_inbox(self, wait: int = 1) -> list[dict[str, Any]]:
        return await self.console.group_inbox(GROUP, wait)


@pytest.fixture
async def shop(db: Database, settings: Settings) -> AsyncIterator[Shop]:
    world = await seed(db)  # cola: 20 in 门店仓, below its safety stock of 24; 100 in 主仓
    config = AlertConfig()
    app = build_app(settings, db, MemoryStore(), console=True, alerts=config)  # as bot.cli gives it
    services = app[ENGINE_KEY].services
    now = [datetime(2027, 1, 10, 10, 0, tzinfo=SHANGHAI)]
    alerts = AlertScheduler(settings, db, services.store, config, wake_delivery=services.delivery.wake,
                            now=lambda: now[0])
    async with TestClient(TestServer(app)) as client:
        yield Shop(Console(client, world), alerts, db, now)


async def test_a_route_made_in_a_group_sends_the_next_run_there_once_until_it_is_deleted(shop: Shop) -> None:
    added = texts(await shop.in_group("admin", "@psibot 告警路由 添加 缺货 门店仓 本群"))
    assert "已添加告警路由 #" in added and "缺货 [仓库=门店仓] → 群聊 console:门店群" in added
    listed = texts(await shop.console.say("admin", "告警路由"))
    assert "[聊天] 缺货 [仓库=门店仓] → 群聊 console:门店群" in listed

    first = await shop.alerts.run("low-stock")
    assert first.ran and first.messages == 1
    cards = [r for r in await shop.group_inbox() if r["type"] == "card"]
    assert [c["title"] for c in cards] == ["缺货提醒 · 1 个商品低于安全库存"]
    assert "可口可乐 330ml | 门店仓 | 20罐 | 1箱 | 4罐" in texts(cards)
    for person in ("li", "chen"):  # the group's route is the most specific: the default roles hear nothing
        assert await shop.console.inbox(person, wait=0) == []

    again = await shop.alerts.run("low-stock")  # the same day: already said
    assert again.messages == 0 and await shop.group_inbox() == []

    number = await _only_route_number(shop.db)
    deleted = texts(await shop.in_group("admin", f"@psibot 告警路由 删除 {number}"))
    assert f"已删除告警路由 #{number}" in deleted
    forced = await shop.alerts.run("low-stock", force=True)  # an admin's `psibot alerts run low-stock --force`
    assert forced.messages == 2
    assert await shop.group_inbox() == []
    for person in ("li", "chen"):
        assert "可口可乐 330ml | 门店仓" in texts(await shop.console.replies(person))

    async with shop.db.session() as session:
        actions = (await session.scalars(
            select(AuditEntry.action).where(AuditEntry.entity == "alert_route").order_by(col(AuditEntry.id))
        )).all()
    assert actions == ["create", "delete"]


async def test_the_digest_in_a_group_shows_no_margin_or_purchase_amounts(shop: Shop) -> None:
    assert "待审批" not in texts(await shop.console.say("chen", "采购 雪碧 10箱 供应商 太古"))
    draft = next(r for r in await shop.console.say("wang", "下单 华联 雪碧 1箱6瓶") if r["type"] == "card")
    number = re.search(r"SO-\d{8}-\d{4}", texts(await shop.console.press("wang", draft, "确认"))).group(0)
    assert "已发货" in texts(await shop.console.say("li", f"发货 {number}"))
    shop.now[0] = datetime.now(SHANGHAI).replace(hour=18, minute=0)  # the digest of the day that sold it
    assert "日报 [全部] → 群聊 console:门店群" in texts(await shop.in_group("admin", "@psibot 告警路由 添加 日报 本群"))
    assert (await shop.alerts.run("digest")).ran
    digest = texts([r for r in await shop.group_inbox() if r["type"] == "card"])
    assert "待审批采购单: 1 张" in digest and "第1/1步 · 张经理、李经理" in digest
    assert "毛利" not in digest and "¥300.00" not in digest
    assert "雪碧 500ml | 1箱6瓶 | ¥72.00" in digest  # a top seller's quantity as the stock card says it


async def test_a_non_admin_is_refused_and_nothing_is_stored(shop: Shop) -> None:
    refused = texts(await shop.in_group("li", "@psibot 告警路由 添加 缺货 本群"))
    assert "没有权限设置告警路由" in refused
    assert "没有权限查看告警路由" in texts(await shop.console.say("zhang", "alert routes"))
    async with shop.db.session() as session:
        assert (await session.scalars(select(AlertRoute))).all() == []


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("告警路由 添加 库存 门店仓 采购", "没有“库存”这种告警。可选: 缺货、临期、日报"),
        ("告警路由 添加 缺货 火星仓 采购", "没有叫“火星仓”的仓库或分类。仓库有: 主仓、门店仓"),
        ("告警路由 添加 临期 门店仓 老总", "没有这个角色: 老总"),
        ("告警路由 添加 日报 机器人 ops", "没有叫“ops”的群机器人"),
        ("告警路由 添加 日报 门店仓 老板", "日报覆盖全公司，不能按仓库或分类发送"),
        ("告警路由 添加 缺货 本群", "“本群”要在群聊里说"),
        ("告警路由 删除 9", "没有编号为 9 的聊天告警路由"),
    ],
)
async def test_what_cannot_be_routed_is_named(shop: Shop, text: str, answer: str) -> None:
    assert answer in texts(await shop.console.say("admin", text))
    async with shop.db.session() as session:
        assert (await session.scalars(select(AlertRoute))).all() == []


async def test_a_route_to_a_role_by_direct_message_and_the_same_route_twice(shop: Shop) -> None:
    added = texts(await shop.console.say("admin", "alert routes add near-expiry 主仓 manager"))
    assert "临期 [仓库=主仓] → 经理（私聊）" in added
    number = await _only_route_number(shop.db)
    assert f"已有相同的告警路由 #{number}" in texts(await shop.console.say("admin", "告警路由 添加 临期 主仓 主管"))


async def _only_route_number(db: Database) -> int:
    async with db.session() as session:
        routes = (await session.scalars(select(AlertRoute))).all()
    assert len(routes) == 1
    return routes[0].id or 0


async def test_the_routes_shown_and_the_robots_allowed_are_those_the_scheduler_runs_with(
    db: Database, settings: Settings
) -> None:
    """The app is given the configuration the scheduler read at start (bot.cli), not the file as it is now."""
    config = parse_config(
        {"robots": {"ops": {"platform": "wecom", "url": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=abcdef"}},
         "routes": [{"alerts": ["digest"], "roles": ["owner"]}]},
        source="/etc/psibot/psibot.toml",
    )
    world = await seed(db)
    async with TestClient(TestServer(build_app(settings, db, MemoryStore(), console=True, alerts=config))) as client:
        console = Console(client, world)
        added = texts(await console.say("admin", "告警路由 添加 日报 机器人 ops"))
        assert "日报 [全部] → 群机器人 ops" in added
        listed = texts(await console.say("admin", "告警路由")).splitlines()
        number = await _only_route_number(db)
        assert listed[0] == "配置来源: /etc/psibot/psibot.toml"
        assert {"  [文件] 日报 [全部] → 老板（私聊）", f"  #{number} [聊天] 日报 [全部] → 群机器人 ops"} <= set(listed)
        assert "群机器人 ops: wecom https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=abcd…" in listed


async def test_without_a_scheduler_the_routes_made_in_chat_are_listed_and_no_robot_is_known(console: Console) -> None:
    listed = texts(await console.say("admin", "告警路由"))
    assert listed.startswith("定时提醒没有在这个服务里运行（未读取 psibot.toml），下面是聊天里添加的路由和默认接收人。\n路由（")
    assert "没有叫“ops”的群机器人。已定义: （没有" in texts(await console.say("admin", "告警路由 添加 日报 机器人 ops"))
