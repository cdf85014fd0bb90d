"""Receiving a purchase order from chat: lot-tracked lines get their lot number and dates, line by line."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from core.approval import decide
from core.db import Database
from core.documents import OrderLineInput, PurchaseOrder, PurchaseOrderStatus
from core.ledger import opening_stock
from core.models import Lot, Product, Supplier
from core.purchasing import (
    ReceiptLineInput,
    cancel_purchase_order,
    close_purchase_order,
    create_purchase_order,
    lines_of,
    receive_purchase_order,
    submit_purchase_order,
)
from tests.factories import make_product
from tests.scenario.conftest import TODAY, Console, days_from_today, texts


async def _approved(db: Database, console: Console, *lines: tuple[str, str, str | None]) -> str:
    """An approved purchase order of (sku, quantity, unit) lines from 太古; its number."""
    world = console.world

    async def work(session: AsyncSession) -> str:
        supplier = await session.scalar(select(Supplier))
        inputs = []
        for sku, quantity, unit in lines:
            product = await session.scalar(select(Product).where(Product.sku == sku))
            assert product is not None
            inputs.append(OrderLineInput(product.id or 0, Decimal(quantity), unit))
        order = await create_purchase_order(
            session, world.purchaser, supplier_id=supplier.id or 0, warehouse_id=world.main.id or 0, lines=inputs
        )
        await session.flush()
        await submit_purchase_order(session, world.purchaser, order.id or 0)
        await decide(session, world.manager, order.id or 0, approve=True)
        return order.number

    return await db.transact(work)


async def test_each_lot_tracked_line_is_asked_for_its_lot_and_bad_dates_are_named(console: Console, db: Database) -> None:
    async with db.session() as session:
        await make_product(session, "M001", "纯牛奶 250ml", base_unit="盒", case=12, barcode=None, shelf_life_days=180)
    number = await _approved(db, console, ("P001", "2", "箱"), ("P002", "1", "箱"), ("M001", "10", None))

    asked = texts(await console.say("li", f"入库 {number}"))
    assert f"采购单 {number} 有 2 个按批次管理的商品" in asked
    assert "第 1/2 个批次商品：可口可乐 330ml 2箱" in asked and "按保质期 365 天算到期" in asked

    made, milk_expiry = days_from_today(-30), days_from_today(200)
    assert "到期日“2027-02-30”不是有效日期" in texts(await console.say("li", "L9 到期 2027-02-30"))
    again = texts(await console.say("li", f"L9 {days_from_today(-9)} {days_from_today(150)} {days_from_today(160)}"))
    assert "是生产日期还是到期日" in again and "第 1/2 个批次商品" in again  # three dates: which is which?
    assert "第 2/2 个批次商品：纯牛奶 250ml 10盒" in texts(await console.say("li", f"批次 l9 生产 {made:%Y/%m/%d}"))

    assert "到期日 2020-01-01 已经过了" in texts(await console.say("li", "M7 到期 2020-01-01"))
    assert "到期日 2026-10-01 早于生产日期 2026-11-01" in texts(
        await console.say("li", "M7 生产 2026-11-01 到期 2026-10-01")
    )
    done = texts(await console.say("li", f"批次：M7 exp {milk_expiry.year}年{milk_expiry.month}月{milk_expiry.day}日"))
    assert f"已入库 {number}" in done and "共 3 行" in done
    assert f"可口可乐 330ml 2箱 批次 L9 到期 {made + timedelta(days=365)}" in done  # production + 365 days of shelf life
    assert "雪碧 500ml 1箱" in done and f"纯牛奶 250ml 10盒 批次 M7 到期 {milk_expiry}" in done

    async with db.session() as session:
        order = await session.scalar(select(PurchaseOrder).where(PurchaseOrder.number == number))
        assert order is not None and order.status == PurchaseOrderStatus.CLOSED
        lots = {
            (product.sku, lot.lot_no): (lot.production_date, lot.expiry_date, lot.on_hand)
            for lot, product in (await session.execute(
                select(Lot, Product).join(Product, Product.id == Lot.product_id).where(Lot.warehouse_id == console.world.main.id)
            )).all()
        }
    assert lots[("P001", "L9")] == (made, made + timedelta(days=365), Decimal(48))
    assert lots[("M001", "M7")] == (None, milk_expiry, Decimal(10))
    assert lots[("P002", "")][2] == Decimal(72)  # 60 + 12, no lot for an untracked product
    assert "采购单 " + number + " 已由 老李 入库" in texts(await console.replies("chen"))


async def test_dates_typed_without_a_word_are_read_as_a_label_prints_them(console: Console, db: Database) -> None:
    """A warehouse keeper copies the date off the case: one still to come is its expiry, one past its
    production date (expiry by shelf life), two are production and expiry whatever their order."""
    number = await _approved(db, console, ("P001", "1", "箱"))
    expiry = days_from_today(150)
    done = texts(await console.say("li", f"入库 {number} A-12 {expiry:%Y年%m月%d日}"))
    assert f"可口可乐 330ml 1箱 批次 A-12 到期 {expiry}" in done

    made = days_from_today(-20)
    second = await _approved(db, console, ("P001", "1", "箱"))
    done = texts(await console.say("li", f"入库 {second} A-13 {made}"))
    assert f"可口可乐 330ml 1箱 批次 A-13 到期 {made + timedelta(days=365)}" in done

    third = await _approved(db, console, ("P001", "1", "箱"))
    done = texts(await console.say("li", f"入库 {third} A-14 {expiry:%Y%m%d} {made:%Y%m%d}"))
    assert f"可口可乐 330ml 1箱 批次 A-14 到期 {expiry}" in done
    async with db.session() as session:
        lot = await session.scalar(select(Lot).where(Lot.lot_no == "A-14"))
        assert lot is not None and (lot.production_date, lot.expiry_date) == (made, expiry)


async def test_one_lot_typed_with_the_command_and_a_flow_left_for_another_command(console: Console, db: Database) -> None:
    number, expiry = await _approved(db, console, ("P001", "1", "箱")), days_from_today(150)
    done = texts(await console.say("li", f"入库 {number} 批次 A-12 到期 {expiry}"))
    assert f"已入库 {number}" in done and f"可口可乐 330ml 1箱 批次 A-12 到期 {expiry}" in done
    assert f"采购单 {number} 已全部入库（" in texts(await console.say("li", f"入库 {number}"))  # nothing open now

    second = await _approved(db, console, ("P001", "1", "箱"))
    assert "请写到期日或生产日期" in texts(await console.say("li", f"入库 {second} 批次 A-13"))
    assert "第 1/1 个批次商品" in texts(await console.say("li", f"入库 {second}"))
    aside = texts(await console.say("li", "库存 可口可乐330"))  # a question on the side: the flow keeps waiting
    assert "库存 · 可口可乐 330ml" in aside and "（入库登记还在等您回答；发“取消”放弃。）" in aside
    left = texts(await console.say("li", "调拨 雪碧 1瓶 主仓 到 门店"))  # a command leaves it, and says so
    assert left.startswith("已放弃未完成的入库登记。") and "已调拨" in left
    assert "已入库" not in texts(await console.say("li", f"A-14 到期 {expiry}"))
    async with db.session() as session:
        order = await session.scalar(select(PurchaseOrder).where(PurchaseOrder.number == second))
        assert order is not None and order.status == PurchaseOrderStatus.APPROVED  # nothing received by the stray answer
    assert "第 1/1 个批次商品" in texts(await console.say("li", f"入库 {second}"))
    assert "还在等您回答" in texts(await console.say("li", "临期"))
    assert f"已入库 {second}" in texts(await console.say("li", f"A-15 到期 {expiry}"))  # answered after the aside
    assert "没有权限采购入库" in texts(await console.say("wang", f"入库 {second}"))
    assert "没有找到采购单 PO-20990101-0001" in texts(await console.say("li", "入库 PO-20990101-0001"))


async def test_a_lot_number_holding_stock_with_another_expiry_is_named_when_typed(console: Console, db: Database) -> None:
    held, other, made = days_from_today(100), days_from_today(200), days_from_today(-2)
    async with db.session() as session:
        milk = await make_product(session, "M001", "纯牛奶 250ml", base_unit="盒", case=12, barcode=None, shelf_life_days=180)
        await opening_stock(
            session, console.world.warehouse_user, product_id=milk.id or 0, warehouse_id=console.world.main.id or 0,
            quantity=Decimal(5), lot_no="M7", expiry_date=held,
        )
    number = await _approved(db, console, ("M001", "10", None))
    assert "第 1/1 个批次商品：纯牛奶 250ml 10盒" in texts(await console.say("li", f"入库 {number}"))

    again = texts(await console.say("li", f"m7 到期 {other}"))
    assert f"批次 M7 已有到期日 {held}，与 {other} 不一致" in again and "第 1/1 个批次商品" in again
    done = texts(await console.say("li", f"M7 到期 {held}"))  # the same run: booked into the lot
    assert f"已入库 {number}" in done and f"纯牛奶 250ml 10盒 批次 M7 到期 {held}" in done

    second = await _approved(db, console, ("M001", "2", None))
    refused = texts(await console.say("li", f"入库 {second} 批次 M7 生产 {made}"))  # + 180 days of shelf life
    assert f"批次 M7 已有到期日 {held}，与 {made + timedelta(days=180)} 不一致" in refused
    async with db.session() as session:
        lot = await session.scalar(select(Lot).where(Lot.product_id == milk.id, Lot.lot_no == "M7"))
        assert lot is not None and lot.on_hand == Decimal(15)  # 5 + 10; nothing of the refused answer


async def _receive_one_case_of_each_line(db: Database, console: Console, number: str) -> None:
    """Part of the order received outside chat: one case of every line, into lot A1 where tracked."""

    async def work(session: AsyncSession) -> None:
        order = await session.scalar(select(PurchaseOrder).where(PurchaseOrder.number == number))
        assert order is not None
        received = []
        for line in await lines_of(session, order.id or 0):
            product = await session.get(Product, line.product_id)
            assert product is not None
            lot = ("A1", days_from_today(200)) if product.lot_tracked else ("", None)
            received.append(ReceiptLineInput(line.id or 0, line.quantity / line.unit_quantity, lot[0], None, lot[1]))
        await receive_purchase_order(session, console.world.warehouse_user, order.id or 0, received)

    await db.transact(work)


async def test_an_order_received_in_full_says_so_and_a_closed_or_cancelled_one_says_that(
    console: Console, db: Database
) -> None:
    """All three were once told “已关闭，不能入库”."""
    today = f"{TODAY:%m月%d日}"
    full = await _approved(db, console, ("P002", "1", "箱"))
    await console.say("li", f"入库 {full}")
    assert texts(await console.say("li", f"入库 {full}")) == f"采购单 {full} 已全部入库（{today}），没有要再入库的了。"

    closed = await _approved(db, console, ("P002", "2", "箱"))
    await _receive_one_case_of_each_line(db, console, closed)
    cancelled = await _approved(db, console, ("P002", "1", "箱"))

    async def give_up(session: AsyncSession) -> None:
        for number, end in ((closed, close_purchase_order), (cancelled, cancel_purchase_order)):
            order = await session.scalar(select(PurchaseOrder).where(PurchaseOrder.number == number))
            assert order is not None
            await end(session, console.world.purchaser, order.id or 0)

    await db.transact(give_up)
    assert texts(await console.say("li", f"入库 {closed}")) == f"采购单 {closed} 已关闭（{today}），没到的货不再入库。"
    assert texts(await console.say("li", f"入库 {cancelled}")) == f"采购单 {cancelled} 已取消（{today}），不能入库。"


async def test_the_rest_of_a_partly_received_order_is_named_as_the_rest(console: Console, db: Database) -> None:
    number = await _approved(db, console, ("P001", "2", "箱"), ("P002", "2", "箱"))
    await _receive_one_case_of_each_line(db, console, number)
    asked = texts(await console.say("li", f"入库 {number}"))
    assert f"采购单 {number} 有 1 个按批次管理的商品" in asked
    assert "第 1/1 个批次商品：可口可乐 330ml 还差 1箱（订 2箱，已收 1箱）" in asked
    done = texts(await console.say("li", f"A2 到期 {days_from_today(220)}"))
    assert f"已入库 {number} 剩余的货（入库单 GR-" in done and "共 2 行，采购单已全部入库：" in done
    assert "可口可乐 330ml 1箱 批次 A2" in done and "雪碧 500ml 1箱" in done
