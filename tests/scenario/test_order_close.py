"""Shipping part of a sales order from chat, and 结单: the rest will not ship, its stock is free again."""

from __future__ import annotations

from decimal import Decimal

from sqlmodel import select

from core.db import Database
from core.documents import Reservation, SalesOrder, SalesOrderStatus
from core.models import AuditEntry
from tests.scenario.conftest import Console, card, texts


async def _confirmed(console: Console, text: str) -> str:
    draft = card(await console.say("wang", text))
    confirmed = texts(await console.press("wang", draft, "确认"))
    return confirmed.split("已下单 ")[1].split("，")[0]


async def test_a_partial_shipment_tells_the_salesperson_who_closes_the_order_from_the_card(
    console: Console, db: Database
) -> None:
    number = await _confirmed(console, "下单 华联 雪碧 3箱")
    shipped = await console.say("li", f"发货 {number} 雪碧 2箱")
    assert f"已发货 {number}" in texts(shipped) and "¥96.00" in texts(shipped) and "还有未发的货" in texts(shipped)
    warehouse_view = card(shipped)
    assert "雪碧 500ml | 3箱 | 2箱 | 1箱" in texts([warehouse_view])
    assert warehouse_view["buttons"] == []  # the warehouse ships; closing is the seller's call

    told = await console.replies("wang")
    assert f"销售单 {number} 已由 老李 部分发货" in texts(told)
    order_card = card(told)
    assert [b["label"] for b in order_card["buttons"]] == ["结单"]
    assert "没有权限结单" in texts(await console.press("li", order_card, "结单"))
    assert "可用: 2箱" in texts(await console.say("wang", "库存 雪碧"))  # 12 still held for the order

    closed = await console.press("wang", order_card, "结单")
    assert f"已结单 {number}，剩余不再发货，预留已释放：雪碧 500ml 少发 1箱。" in texts(closed)
    assert "已结单 · 小王 · " in texts(closed)  # the card's button gave way to the decision
    assert "可用: 3箱" in texts(await console.say("wang", "库存 雪碧"))  # 60 − 24 shipped; the 12 held are free
    async with db.session() as session:
        order = await session.scalar(select(SalesOrder).where(SalesOrder.number == number))
        assert order is not None and order.status == SalesOrderStatus.COMPLETED
        assert sum(r.quantity for r in (await session.scalars(select(Reservation))).all()) == Decimal(0)
        entry = await session.scalar(select(AuditEntry).where(AuditEntry.action == "short_close"))
        assert entry is not None and entry.after == {"status": "completed", "shortfall": {"1": "12.000"}, "reason": ""}
    assert "已完成，不能结单" in texts(await console.press("wang", order_card, "结单"))


async def test_close_command_in_chinese_and_english_refuses_wrong_states(console: Console) -> None:
    number = await _confirmed(console, "下单 华联 雪碧 2箱")
    assert "还没有发货，不能结单；不要了请取消" in texts(await console.say("wang", f"结单 {number}"))
    await console.say("li", f"发货 {number} 雪碧 5瓶")
    assert "不在销售单" in texts(await console.say("li", f"发货 {number} 可口可乐 5罐"))
    assert "没有权限结单" in texts(await console.say("li", f"结单 {number}"))
    closed = texts(await console.say("zhang", f"close {number} 客户改单"))
    assert f"已结单 {number}" in closed and "少发 1箱7瓶" in closed
    assert "已完成，不能结单" in texts(await console.say("wang", f"结单 {number}"))
    assert "没有找到销售单 SO-20990101-0001" in texts(await console.say("wang", "结单 SO-20990101-0001"))
    assert "结单 SO-" in texts(await console.say("wang", "结单"))  # the usage
