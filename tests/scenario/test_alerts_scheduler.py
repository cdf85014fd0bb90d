"""Scheduled alerts as people see them in the console, with the company clock under the test's control."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlmodel import select

from bot.app import ENGINE_KEY, build_app
from bot.kv import MemoryStore
from core.alerts import mark_handled
from core.config import Settings
from core.db import Database
from core.documents import PurchaseOrder, PurchaseOrderStatus
from core.ledger import opening_stock
from core.models import Lot, Product, Supplier
from scheduler import AlertConfig, AlertScheduler
from tests.scenario.conftest import L1_EXPIRY, Console, add_cola_lot, card, seed, texts

SHANGHAI = ZoneInfo("Asia/Shanghai")


@dataclass
class Clock:
    moment: datetime

    def __call__(self) -> datetime:
        return self.moment

    def set(self, moment: datetime) -> None:
        self.moment = moment


def at(day: int, time: str) -> datetime:
    """`time` (HH:MM, Shanghai) on the test's day `day`; day 0 is 50 days before L1 expires."""
    first_day = L1_EXPIRY - timedelta(days=50)
    hour, minute = (int(part) for part in time.split(":"))
    return datetime.combine(first_day + timedelta(days=day), datetime.min.time(), SHANGHAI).replace(hour=hour, minute=minute)


@dataclass
class Shop:
    console: Console
    alerts: AlertScheduler
    clock: Clock
    db: Database


@pytest.fixture
async def shop(db: Database, settings: Settings) -> AsyncIterator[Shop]:
    world = await seed(db)  # cola: 100 in 主仓 (L1, expires L1_EXPIRY), 20 in 门店仓 (L2); safety stock 24
    app = build_app(settings, db, MemoryStore(), console=True)
    services = app[ENGINE_KEY].services
    clock = Clock(at(0, "08:00"))
    alerts = AlertScheduler(settings, db, services.store, AlertConfig(), wake_delivery=services.delivery.wake, now=clock)
    async with TestClient(TestServer(app)) as client:
        yield Shop(Console(client, world), alerts, clock, db)


async def test_the_morning_alert_fires_once_at_nine_and_not_again_that_day(shop: Shop) -> None:
    shop.clock.set(at(0, "09:00"))
    await shop.alerts.fire("near-expiry")
    await shop.alerts.fire("near-expiry")  # a second instance's scheduler, the same minute
    for person in ("li", "zhang"):  # warehouse and manager by default
        replies = await shop.console.replies(person)
        assert [r["title"] for r in replies] == [f"临期提醒 · {at(0, '09:00'):%m月%d日}"]
        assert f"可口可乐 330ml | 主仓 | L1 | {L1_EXPIRY} | 50天 | 4箱4罐" in texts(replies)
    shop.clock.set(at(0, "15:00"))
    assert all(not r.ran for r in await shop.alerts.catch_up() if r.job == "near-expiry")
    manual = await shop.alerts.run("near-expiry")
    assert manual.ran and manual.messages == 0 and manual.quiet == 1
    later = [record["reply"].get("title", "") for record in await shop.console.inbox("li", wait=1)]
    assert later == ["缺货提醒 · 1 个商品低于安全库存"]  # the catch-up served low stock's 14:30; no 临期 again

    shop.clock.set(at(1, "09:00"))
    await shop.alerts.fire("near-expiry")  # still unresolved the next day: said once more
    assert "49天" in texts(await shop.console.replies("li"))


async def test_low_stock_recovers_with_a_short_note(shop: Shop) -> None:
    shop.clock.set(at(0, "08:00"))
    await shop.alerts.fire("low-stock")
    alert = card(await shop.console.replies("chen"))
    assert alert["title"] == "缺货提醒 · 1 个商品低于安全库存"
    assert "可口可乐 330ml | 门店仓 | 20罐 | 1箱 | 4罐" in texts([alert])  # packs, as the stock card says them

    shop.clock.set(at(0, "08:30"))
    await shop.alerts.fire("low-stock")
    assert await shop.console.inbox("chen", wait=1) == []  # nothing new: quiet

    async with shop.db.session() as session:
        cola = await session.scalar(select(Product).where(Product.sku == "P001"))
        assert cola is not None
        await opening_stock(session, shop.console.world.warehouse_user, product_id=cola.id or 0,
                            warehouse_id=shop.console.world.store.id or 0, quantity=Decimal(10), lot_no="L3")
    shop.clock.set(at(0, "09:00"))
    await shop.alerts.fire("low-stock")
    replies = await shop.console.replies("chen")
    assert replies == [{"type": "text", "text": "已恢复 · 缺货: 可口可乐 330ml（门店仓） 已回到安全库存以上"}]


async def test_the_purchase_button_makes_one_draft_in_cases_which_goes_to_the_approver(shop: Shop) -> None:
    async with shop.db.session() as session:
        cola = await session.scalar(select(Product).where(Product.sku == "P001"))
        supplier = await session.scalar(select(Supplier).where(Supplier.name == "太古可口可乐"))
        assert cola is not None and supplier is not None
        cola.safety_stock, cola.preferred_supplier_id = Decimal(200), supplier.id
    shop.clock.set(at(0, "08:00"))
    await shop.alerts.fire("low-stock")
    alert = card(await shop.console.replies("chen"))
    # up to 2× safety stock: 400 − 120 = 280 cans, rounded up to whole cases of 24
    assert "可口可乐 330ml | 全部仓库 | 5箱 | 8箱8罐 | 3箱8罐 | 12箱 (288罐)" in texts([alert])
    assert [b["label"] for b in alert["buttons"]] == ["生成采购单"]
    warehouse_alert = card(await shop.console.replies("li"))
    assert warehouse_alert["buttons"] == [] and "建议采购" not in warehouse_alert["tables"][0]["columns"]
    assert "没有权限" in texts(await shop.console.press("li", alert, "生成采购单"))

    made = await shop.console.press("chen", alert, "生成采购单")
    assert "已按补货建议生成采购单草稿" in texts(made)
    draft = card(made)
    assert draft["title"].startswith("采购单草稿 · PO-")
    assert "可口可乐 330ml | 12箱 (288罐) | ¥50.40/箱 | ¥604.80" in texts([draft])
    assert [b["label"] for b in draft["buttons"]] == ["提交审批", "取消"]
    again = await shop.console.press("chen", alert, "生成采购单")
    assert "已由 小陈 生成采购单 PO-" in texts(again) and "草稿" in texts(again)
    assert card(again)["card_id"] == draft["card_id"]
    async with shop.db.session() as session:
        order = (await session.scalars(select(PurchaseOrder))).one()  # the second press made nothing
        assert (order.status, order.total, order.requester_id) == (
            PurchaseOrderStatus.DRAFT, Decimal("604.80"), shop.console.world.purchaser.id
        )

    submitted = texts(await shop.console.press("chen", draft, "提交审批"))
    assert f"已提交采购单 {order.number}" in submitted and "等待经理" in submitted
    assert "已提交审批 · 小陈" in submitted  # the draft card itself lost its buttons
    approval = card(await shop.console.replies("zhang"))
    assert approval["title"] == f"采购审批 · {order.number}"
    assert [b["label"] for b in approval["buttons"]] == ["批准", "驳回"]
    assert "待审批，不能提交审批" in texts(await shop.console.press("chen", draft, "提交审批"))
    async with shop.db.session() as session:
        assert (await session.get(PurchaseOrder, order.id)).status == PurchaseOrderStatus.PENDING_APPROVAL


async def test_a_lot_marked_handled_is_not_repeated(shop: Shop) -> None:
    shop.clock.set(at(0, "09:00"))
    await shop.alerts.fire("near-expiry")
    alert = card(await shop.console.replies("li"))
    lots = texts(await shop.console.press("li", alert, "查看批次"))
    assert "L1" in lots and "未处理" in lots
    asked = card(await shop.console.press("li", alert, "标记处理"))
    assert [b["label"] for b in asked["buttons"]] == ["促销", "退货", "报损"]
    done = texts(await shop.console.press("li", asked, "促销"))
    assert done.startswith("已标记 可口可乐 330ml L1：促销")
    await shop.console.replies("zhang")

    shop.clock.set(at(1, "09:00"))
    result = await shop.alerts.run("near-expiry")
    assert result.messages == 0 and result.quiet == 1


async def test_the_alert_s_write_off_button_books_the_lot_whole_after_confirmation(shop: Shop) -> None:
    shop.clock.set(at(0, "09:00"))
    await shop.alerts.fire("near-expiry")
    alert = card(await shop.console.replies("li"))
    noted = card(await shop.console.press("chen", alert, "标记处理"))  # a purchaser may note 报损, not book it
    assert next(b for b in noted["buttons"] if b["label"] == "报损")["action"] == "alert.mark"
    asked = card(await shop.console.press("li", alert, "标记处理"))
    assert next(b for b in asked["buttons"] if b["label"] == "报损")["action"] == "writeoff.lot"
    shown = card(await shop.console.press("li", asked, "报损"))
    assert shown["title"] == "报损确认 · 可口可乐 330ml" and shown["tables"][0]["rows"] == [["L1", str(L1_EXPIRY), "4箱4罐"]]
    assert "原因：变质" in texts(await shop.console.press("li", shown, "变质"))
    assert "L1" not in texts(await shop.console.say("li", "库存 可口可乐 330ml"))
    assert "已标记" not in texts(await shop.console.say("li", "好的"))  # the typed-note prompt gave way to the card


async def test_a_long_alert_pages_through_its_own_lots(shop: Shop) -> None:
    """下一页 of an alert shows the next of the lots it alerted about, not every near-expiry lot: N12, marked
    handled before the run, is not repeated by the alert, so its second page holds N11 alone."""
    today = datetime.now(SHANGHAI).date()
    for day in range(1, 13):
        await add_cola_lot(shop.db, shop.console.world, 24, f"N{day:02d}", today + timedelta(days=day))
    async with shop.db.session() as session:
        handled = await session.scalar(select(Lot).where(Lot.lot_no == "N12"))
        assert handled is not None
        await mark_handled(session, shop.console.world.warehouse_user, handled.id or 0, "促销", today, shop.clock())
    shop.clock.set(datetime.combine(today, datetime.min.time(), SHANGHAI).replace(hour=9))
    assert (await shop.alerts.run("near-expiry")).ran
    alert = card(await shop.console.replies("li"))
    assert [row[2] for row in alert["tables"][0]["rows"]] == [f"N{day:02d}" for day in range(1, 11)]
    assert [b["label"] for b in alert["buttons"]] == ["查看批次", "标记处理", "下一页"]
    second = card(await shop.console.press("li", alert, "下一页"))
    assert [row[2] for row in second["tables"][0]["rows"]] == ["N11"]
    assert second["note"].startswith("第 2/2 页，共 11 个批次") and "下一页" not in str(second["buttons"])
    asked = card(await shop.console.say("li", "临期"))  # the list asked for has them all
    assert [row[2] for row in card(await shop.console.press("li", asked, "下一页"))["tables"][0]["rows"]] == ["N11", "N12"]
