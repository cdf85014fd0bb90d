"""退货 from chat: a customer's goods back into the lots they left, goods back to the supplier out of the lots
they came in as; a card first, only its maker's press books it, once."""

from __future__ import annotations

import re
from decimal import Decimal

from sqlmodel import col, select

from core import ledger
from core.accounts import customer_balance, supplier_balance
from core.approval import decide
from core.db import Database
from core.documents import OrderLineInput, PurchaseOrderLine, PurchaseReturn, SalesReturn
from core.models import Customer, Movement, MovementKind, Product, Supplier
from core.purchasing import (
    ReceiptLineInput,
    create_purchase_order,
    receive_purchase_order,
    submit_purchase_order,
)
from tests.scenario.conftest import Console, card, texts


async def _sold_and_shipped(console: Console, text: str = "下单 华联 可乐330 2箱，雪碧 6瓶") -> str:
    """An order of 小王's confirmed and shipped by 老李; its number."""
    confirmed = texts(await console.press("wang", card(await console.say("wang", text)), "确认"))
    number = re.search(r"已下单 (SO-\d{8}-\d{4})", confirmed).group(1)
    assert "已发货" in texts(await console.say("li", f"发货 {number}"))
    return number


async def _balance(db: Database) -> Decimal:
    async with db.session() as session:
        customer = await session.scalar(select(Customer))
        return await customer_balance(session, customer.id or 0)


async def test_a_customer_return_is_shown_then_booked_once_by_its_maker(console: Console, db: Database) -> None:
    number = await _sold_and_shipped(console)  # 48 × 3.50 + 6 × 4.00 = 192.00
    shown = card(await console.say("wang", f"退货 {number} 可乐 1箱 破损"))  # 可乐: the 330ml, the one on the order
    assert shown["title"] == "客户退货确认 · 华联超市"
    fields = dict(shown["fields"])
    assert fields["客户"] == "华联超市" and fields["原单"] == f"销售单 {number}" and fields["退回"] == "主仓（原批次）"
    assert fields["原因"] == "破损" and fields["冲减应收"] == "¥84.00" and fields["客户欠款"] == "¥192.00 → ¥108.00"
    assert "成本" not in fields  # a salesperson never sees costs
    [row] = shown["tables"][0]["rows"]
    assert row[0] == "可口可乐 330ml" and row[1].startswith("SH-") and row[2:] == ["主仓", "L1", "1箱", "¥84.00"]
    assert "不能再卖的，请再报损" in shown["note"]
    assert [b["label"] for b in shown["buttons"]] == ["确认退货", "取消"]
    assert await _balance(db) == Decimal("192.00")  # nothing booked yet

    assert "只有小王本人可以确认" in texts(await console.press("zhang", shown, "确认退货"))
    pressed = await console.press("wang", shown, "确认退货")
    done = texts(pressed)
    sr = re.search(r"已退货 (SR-\d{8}-\d{4})：", done).group(1)
    assert f"已退货 {sr}：可口可乐 330ml 1箱 退回原批次，冲减华联超市应收 ¥84.00；华联超市现欠 ¥108.00。" in done
    booked = next(r for r in pressed if r["type"] == "card")
    assert booked["card_id"] == shown["card_id"] and booked["buttons"] == []
    assert booked["title"] == f"退货单 {sr} · 华联超市" and booked["status"].startswith(f"已退货 {sr} · 小王")
    assert texts(await console.press("wang", shown, "确认退货")) == f"这张退货已确认为 {sr}。"  # a double press

    assert await _balance(db) == Decimal("108.00")
    owed = card(await console.say("wang", "欠款 华联"))  # the return is a credit among the open documents
    assert ["欠款合计", "¥108.00"] in owed["fields"]
    assert [row[0] for row in owed["tables"][0]["rows"]][-1] == sr and owed["tables"][0]["rows"][-1][2:5] == [
        "-¥84.00", "¥0.00", "-¥84.00"]
    async with db.session() as session:
        returns = (await session.scalars(select(SalesReturn))).all()
        assert [(r.number, r.quantity, r.amount, r.cost, r.reason) for r in returns] == [
            (sr, Decimal(24), Decimal("84.00"), Decimal("50.40"), "破损")]  # back at the 2.10 it left with
        moved = (await session.scalars(select(Movement).where(col(Movement.kind) == MovementKind.SALES_RETURN))).all()
        assert [(m.quantity, m.ref_no) for m in moved] == [(Decimal(24), sr)]
        assert await ledger.check_ledger(session) == []
    stock = texts(await console.say("li", "库存 可口可乐330"))
    assert re.search(r"主仓 \| L1 \| [\d-]+ \| 3箱4罐 \| 3箱4罐", stock)  # 100 − 48 + 24, back in L1


async def test_what_cannot_be_returned_is_named_and_nothing_moves(console: Console, db: Database) -> None:
    number = await _sold_and_shipped(console)
    too_many = texts(await console.say("wang", f"退货 {number} 可乐 3箱"))
    assert f"销售单 {number} 的 可口可乐 330ml 已发 2箱，最多还能退 2箱，不能退 3箱" in too_many
    assert "不在销售单" in texts(await console.say("wang", f"退货 {number} 可口可乐1.25L 1瓶"))
    assert "没有找到销售单 SO-20200101-0099" in texts(await console.say("wang", "退货 SO-20200101-0099 可乐 1箱"))
    waiting = texts(await console.press("wang", card(await console.say("wang", "下单 华联 雪碧 2瓶")), "确认"))
    unshipped = re.search(r"已下单 (SO-\d{8}-\d{4})", waiting).group(1)
    assert f"销售单 {unshipped} 已确认，还没有发货，没有可退的货" in texts(await console.say("wang", f"退货 {unshipped} 雪碧 1瓶"))
    assert "数量不能为 0" in texts(await console.say("wang", f"退货 {number} 雪碧 0瓶"))
    assert "BS-20200101-0001 不是销售单（SO-…）或采购单（PO-…）" in texts(await console.say("wang", "退货 BS-20200101-0001 雪碧 1瓶"))
    assert "退货请写明原来的单号和商品数量，例如：退货 SO-" in texts(await console.say("wang", "退货 华联 雪碧 1瓶"))
    assert "格式: 退货 SO-" in texts(await console.say("wang", f"退货 {number} 雪碧"))
    assert "采购没有权限办理销售退货" in texts(await console.say("chen", f"退货 {number} 雪碧 1瓶"))
    assert "销售没有权限办理采购退货" in texts(await console.say("wang", "退货 PO-20200101-0001 雪碧 1瓶"))
    assert await _balance(db) == Decimal("192.00")


async def test_two_lines_of_a_return_and_a_warehouse_person_s_return_told_to_the_salesperson(
    console: Console, db: Database
) -> None:
    number = await _sold_and_shipped(console)
    shown = card(await console.say("li", f"return {number} 可乐330 2, 雪碧 6瓶 reason 客户拒收"))
    fields = dict(shown["fields"])
    assert fields["冲减应收"] == "¥31.00" and fields["原因"] == "客户拒收"  # 2 × 3.50 + 6 × 4.00
    assert fields["成本"] == "¥19.20（按出库时成本）"  # 老李 may see costs, in a direct chat: 2 × 2.10 + 6 × 2.50
    assert "请再报损" not in shown["note"]
    assert [row[0] for row in shown["tables"][0]["rows"]] == ["可口可乐 330ml", "雪碧 500ml"]
    assert texts(await console.say("li", "修改")) == "您最近的退货卡片不能修改，可以发“确认退货”或“取消”。"
    done = texts(await console.say("li", "确认"))  # typed instead of pressed
    assert "可口可乐 330ml 2罐、雪碧 500ml 6瓶 退回原批次" in done and "华联超市现欠 ¥161.00" in done
    told = texts(await console.replies("wang"))
    assert "老李 办理了华联超市的退货" in told and f"（{number}）" in told and "冲减应收 ¥31.00" in told
    assert await _balance(db) == Decimal("161.00")
    again = texts(await console.say("li", f"退货 {number} 雪碧 1瓶"))
    assert again == f"销售单 {number} 的 雪碧 500ml 已发 6瓶，已经全部退过了，不能再退"


async def test_in_a_group_the_card_shows_no_cost_and_cancel_changes_nothing(console: Console, db: Database) -> None:
    number = await _sold_and_shipped(console)
    shown = card(await console.in_group("li", f"退货 {number} 雪碧 2瓶"))
    assert "成本" not in dict(shown["fields"])
    assert dict(shown["fields"])["原因"] == "客户退货"  # core's default when none is given
    mine = card(await console.say("wang", f"退货 {number} 雪碧 1瓶"))
    cancelled = await console.press("wang", mine, "取消")
    assert "已取消退货，库存和账款都没有变化。" in texts(cancelled)
    assert next(r for r in cancelled if r["type"] == "card")["status"].startswith("已取消 · 小王")
    assert texts(await console.press("wang", mine, "确认退货")) == "这张卡片已过期，请重新发起。"
    assert await _balance(db) == Decimal("192.00")


async def _received_sprite(db: Database, console: Console) -> str:
    """A purchase order of 2箱 雪碧 at ¥2.50 a bottle (¥60.00) from 太古, approved and received into 主仓."""
    w = console.world

    async def work(session):  # type: ignore[no-untyped-def]
        sprite = await session.scalar(select(Product).where(col(Product.sku) == "P002"))
        supplier = await session.scalar(select(Supplier))
        order = await create_purchase_order(
            session, w.purchaser, supplier_id=supplier.id, warehouse_id=w.main.id,
            lines=[OrderLineInput(sprite.id, Decimal(2), "箱")],
        )
        await session.flush()
        await submit_purchase_order(session, w.purchaser, order.id)
        await decide(session, w.manager, order.id, approve=True)
        line = await session.scalar(select(PurchaseOrderLine).where(col(PurchaseOrderLine.order_id) == order.id))
        await receive_purchase_order(session, w.warehouse_user, order.id, [ReceiptLineInput(line.id, Decimal(24))])
        return order.number

    return await db.transact(work)


async def _supplier_balance(db: Database) -> Decimal:
    async with db.session() as session:
        supplier = await session.scalar(select(Supplier))
        return await supplier_balance(session, supplier.id or 0)


async def test_a_return_to_the_supplier_leaves_its_lot_and_lowers_what_we_owe(console: Console, db: Database) -> None:
    number = await _received_sprite(db, console)
    assert "可用: 7箱" in texts(await console.say("li", "库存 雪碧"))  # 60 + 24
    shown = card(await console.say("li", f"采购退货 {number} 雪碧 1箱 质量问题"))
    assert shown["title"] == "采购退货确认 · 太古可口可乐"
    fields = dict(shown["fields"])
    assert fields["供应商"] == "太古可口可乐" and fields["出库"] == "主仓（原批次）" and fields["原因"] == "质量问题"
    assert fields["冲减应付"] == "¥30.00" and fields["应付货款"] == "¥60.00 → ¥30.00"
    assert shown["tables"][0]["columns"] == ["商品", "入库单", "仓库", "批次", "退货数量", "金额"]
    assert "销售没有权限办理采购退货" in texts(await console.say("wang", f"退货 {number} 雪碧 1箱"))
    done = texts(await console.press("li", shown, "确认退货"))
    pr = re.search(r"已退货 (PR-\d{8}-\d{4})：雪碧 500ml 1箱 从原批次出库退给太古可口可乐，冲减应付 ¥30.00；现欠太古可口可乐 ¥30.00。", done)
    assert pr is not None
    assert "可用: 6箱" in texts(await console.say("li", "库存 雪碧"))
    assert await _supplier_balance(db) == Decimal("30.00")
    async with db.session() as session:
        assert [(r.quantity, r.amount) for r in (await session.scalars(select(PurchaseReturn))).all()] == [
            (Decimal(12), Decimal("30.00"))]
        assert await ledger.check_ledger(session) == []
    assert "最多还能退 1箱，不能退 2箱" in texts(await console.say("li", f"退货 {number} 雪碧 2箱"))


async def test_a_return_to_the_supplier_asked_in_a_group_goes_to_the_direct_chat(console: Console, db: Database) -> None:
    """Its amounts are purchase prices: never in a group, where salespeople read."""
    number = await _received_sprite(db, console)
    in_group = await console.in_group("chen", f"退货 {number} 雪碧 6瓶")
    assert texts(in_group) == "采购退货按进价计，卡片已私信发给 小陈。"
    shown = card(await console.replies("chen"))
    assert dict(shown["fields"])["冲减应付"] == "¥15.00"
    assert "已退货 PR-" in texts(await console.say("chen", "确认退货"))  # typed in the direct chat the card is in
    assert await _supplier_balance(db) == Decimal("45.00")
