"""Counts, transfers, customer payments and reports."""

from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from core import ledger
from core.accounts import customer_balance, customer_balances, open_receivables, receive_payment
from core.counts import cancel_count, count_lines, finish_count, record_count, start_count
from core.documents import CountStatus, OrderLineInput, Receivable, StockCount, TransferLine
from core.errors import Forbidden, InsufficientStock, InvalidInput, InvalidState
from core.models import Movement, MovementKind
from core.reports import SalesGrouping, inventory_turnover, sales_report, stock_aging, today_summary
from core.sales import confirm_sales_order, ship_sales_order
from core.transfers import TransferLineInput, transfer_stock
from tests.unit.core.workflows import CLOCK, TODAY, add_milk_lot, draft_order, lot_of, make_shop

D = Decimal


async def test_count_books_variances_only_when_finished(db):
    shop = await make_shop(db)
    await add_milk_lot(db, shop, "L1", date(2027, 1, 1), "12")
    w = shop.world
    count = await db.transact(lambda s: start_count(s, w.warehouse_user, warehouse_id=w.main.id, clock=CLOCK))
    with pytest.raises(InvalidState, match="已有进行中的盘点"):
        await db.transact(lambda s: start_count(s, w.manager, warehouse_id=w.main.id, clock=CLOCK))
    async with db.session() as s:
        assert sorted(line.expected for line in await count_lines(s, count.id)) == [D(12), D(100)]
    await db.transact(lambda s: record_count(s, w.warehouse_user, count.id, product_id=shop.cola.id, quantity=D(4), unit="箱", clock=CLOCK))
    await db.transact(lambda s: record_count(s, w.manager, count.id, product_id=shop.cola.id, quantity=D(97), clock=CLOCK))  # last wins
    await db.transact(lambda s: record_count(s, w.warehouse_user, count.id, product_id=shop.milk.id, lot_no="L1", quantity=D(12), clock=CLOCK))
    await db.transact(lambda s: record_count(
        s, w.warehouse_user, count.id, product_id=shop.milk.id, lot_no="FOUND", quantity=D(5), expiry_date=date(2027, 2, 1), clock=CLOCK))
    with pytest.raises(InvalidInput, match="批次号"):
        await db.transact(lambda s: record_count(s, w.warehouse_user, count.id, product_id=shop.milk.id, quantity=D(1), clock=CLOCK))
    with pytest.raises(Forbidden):
        await db.transact(lambda s: record_count(s, w.sales, count.id, product_id=shop.cola.id, quantity=D(1), clock=CLOCK))
    async with db.session() as s:
        assert (await lot_of(s, shop.cola.id)).on_hand == D(100)  # nothing changes before finishing
    variances = await db.transact(lambda s: finish_count(s, w.warehouse_user, count.id, clock=CLOCK))
    assert sorted((v.lot_no, v.difference) for v in variances) == [("", D(-3)), ("FOUND", D(5))]
    async with db.session() as s:
        assert (await lot_of(s, shop.cola.id)).on_hand == D(97)
        assert (await lot_of(s, shop.milk.id, "FOUND")).on_hand == D(5)
        moves = (await s.scalars(select(Movement).where(Movement.kind == MovementKind.COUNT))).all()
        assert {(m.quantity, m.ref_no) for m in moves} == {(D(-3), count.number), (D(5), count.number)}
        assert await ledger.check_ledger(s) == []
    with pytest.raises(InvalidState, match="已完成"):
        await db.transact(lambda s: finish_count(s, w.warehouse_user, count.id, clock=CLOCK))


async def test_stock_moving_during_a_count_is_not_a_variance_and_cancel_changes_nothing(db):
    shop = await make_shop(db)
    w = shop.world
    count = await db.transact(lambda s: start_count(s, w.warehouse_user, warehouse_id=w.main.id, clock=CLOCK))
    order_id = await draft_order(db, shop, OrderLineInput(shop.cola.id, D(10)))
    await db.transact(lambda s: confirm_sales_order(s, w.sales, order_id, clock=CLOCK))
    await db.transact(lambda s: ship_sales_order(s, w.warehouse_user, order_id, clock=CLOCK))
    await db.transact(lambda s: record_count(s, w.warehouse_user, count.id, product_id=shop.cola.id, quantity=D(90), clock=CLOCK))
    assert await db.transact(lambda s: finish_count(s, w.warehouse_user, count.id, clock=CLOCK)) == []
    second = await db.transact(lambda s: start_count(s, w.warehouse_user, warehouse_id=w.main.id, clock=CLOCK))
    await db.transact(lambda s: record_count(s, w.warehouse_user, second.id, product_id=shop.cola.id, quantity=D(1), clock=CLOCK))
    await db.transact(lambda s: cancel_count(s, w.warehouse_user, second.id, clock=CLOCK))
    async with db.session() as s:
        assert (await s.get(StockCount, second.id)).status == CountStatus.CANCELLED
        assert (await lot_of(s, shop.cola.id)).on_hand == D(90)


async def test_count_refuses_to_drop_below_reserved(db):
    shop = await make_shop(db)
    w = shop.world
    order_id = await draft_order(db, shop, OrderLineInput(shop.cola.id, D(50)))
    await db.transact(lambda s: confirm_sales_order(s, w.sales, order_id, clock=CLOCK))
    count = await db.transact(lambda s: start_count(s, w.warehouse_user, warehouse_id=w.main.id, clock=CLOCK))
    await db.transact(lambda s: record_count(s, w.warehouse_user, count.id, product_id=shop.cola.id, quantity=D(40), clock=CLOCK))
    with pytest.raises(InvalidState, match="少于销售单已预留的 2箱2罐"):
        await db.transact(lambda s: finish_count(s, w.warehouse_user, count.id, clock=CLOCK))


async def test_transfer_keeps_lots_fefo_across_source_lots(db):
    shop = await make_shop(db)
    await add_milk_lot(db, shop, "OLD", date(2026, 11, 1), "5")  # expired: not moved unless named
    await add_milk_lot(db, shop, "B", date(2027, 1, 1), "10")
    await add_milk_lot(db, shop, "A", date(2026, 12, 1), "10")
    w = shop.world
    transfer = await db.transact(lambda s: transfer_stock(
        s, w.warehouse_user, from_warehouse_id=w.main.id, to_warehouse_id=w.store.id,
        lines=[TransferLineInput(shop.milk.id, D(1), "箱"), TransferLineInput(shop.cola.id, D(30))], clock=CLOCK,
    ))
    assert transfer.number == "TR-20261122-0001"
    async with db.session() as s:
        moved = (await s.scalars(select(TransferLine).order_by(TransferLine.id))).all()
        assert len(moved) == 3
        store_lots = {lot.lot_no: lot for lot in (await s.scalars(select(ledger.Lot).where(ledger.Lot.warehouse_id == w.store.id))).all()}
        assert {k: (v.on_hand, v.expiry_date) for k, v in store_lots.items()} == {
            "": (D(30), None), "A": (D(10), date(2026, 12, 1)), "B": (D(2), date(2027, 1, 1)),
        }
        assert await ledger.check_ledger(s) == []
    with pytest.raises(InsufficientStock, match="可用 8盒"):
        await db.transact(lambda s: transfer_stock(
            s, w.warehouse_user, from_warehouse_id=w.main.id, to_warehouse_id=w.store.id,
            lines=[TransferLineInput(shop.milk.id, D(9))], clock=CLOCK))
    await db.transact(lambda s: transfer_stock(
        s, w.warehouse_user, from_warehouse_id=w.main.id, to_warehouse_id=w.store.id,
        lines=[TransferLineInput(shop.milk.id, D(5), lot_no="OLD")], clock=CLOCK))
    with pytest.raises(Forbidden):
        await db.transact(lambda s: transfer_stock(
            s, w.sales, from_warehouse_id=w.main.id, to_warehouse_id=w.store.id,
            lines=[TransferLineInput(shop.cola.id, D(1))], clock=CLOCK))


async def test_customer_payments_and_balances(db):
    shop = await make_shop(db)
    w = shop.world
    order_id = await draft_order(db, shop, OrderLineInput(shop.cola.id, D(3)))  # 10.50
    await db.transact(lambda s: confirm_sales_order(s, w.sales, order_id, clock=CLOCK))
    await db.transact(lambda s: ship_sales_order(s, w.warehouse_user, order_id, clock=CLOCK))
    async with db.session() as s:
        receivable = await s.scalar(select(Receivable))
    with pytest.raises(InvalidInput, match="未收金额只有 ¥10.50"):
        await db.transact(lambda s: receive_payment(s, w.sales, receivable.id, D("10.51"), clock=CLOCK))
    with pytest.raises(Forbidden):
        await db.transact(lambda s: receive_payment(s, w.warehouse_user, receivable.id, D(1), clock=CLOCK))
    await db.transact(lambda s: receive_payment(s, w.sales, receivable.id, D("4.00"), method="微信", clock=CLOCK))
    async with db.session() as s:
        assert await customer_balance(s, shop.customer.id) == D("6.50")
        assert [(b.name, b.balance) for b in await customer_balances(s)] == [("华联超市", D("6.50"))]
        assert [r.paid for r in await open_receivables(s, shop.customer.id)] == [D("4.00")]
        summary = await today_summary(s, w.manager, clock=CLOCK)
        assert (summary.orders_created, summary.shipments, summary.revenue, summary.margin, summary.money_in) == (
            1, 1, D("10.50"), D("4.50"), D("4.00"))
        assert (await today_summary(s, w.sales, clock=CLOCK)).margin is None


async def test_sales_report_turnover_and_aging(db):
    shop = await make_shop(db)
    w = shop.world
    for quantity, day_offset in ((D(10), 0), (D(6), 1)):
        clock = replace(CLOCK, fixed_now=CLOCK.now() + timedelta(days=day_offset))
        order_id = await draft_order(db, shop, OrderLineInput(shop.cola.id, quantity))
        await db.transact(lambda s, i=order_id, c=clock: confirm_sales_order(s, w.sales, i, clock=c))
        await db.transact(lambda s, i=order_id, c=clock: ship_sales_order(s, w.warehouse_user, i, clock=c))
    async with db.session() as s:
        by_day = await sales_report(s, w.manager, start=TODAY, end=TODAY + timedelta(days=1), by=SalesGrouping.DAY, clock=CLOCK)
        assert [(r.label, r.quantity, r.revenue, r.margin) for r in by_day] == [
            ("2026-11-22", D(10), D("35.00"), D("15.00")), ("2026-11-23", D(6), D("21.00"), D("9.00")),
        ]
        by_person = await sales_report(s, w.sales, start=TODAY, end=TODAY + timedelta(days=1), by=SalesGrouping.SALESPERSON, clock=CLOCK)
        assert [(r.label, r.revenue, r.cost) for r in by_person] == [("小王", D("56.00"), None)]
        by_product = await sales_report(s, w.manager, start=TODAY, end=TODAY, by=SalesGrouping.PRODUCT, clock=CLOCK)
        assert [(r.label, r.quantity) for r in by_product] == [("可口可乐 330ml", D(10))]
        real_today = CLOCK.local(ledger.utcnow()).date()
        [turnover] = await inventory_turnover(s, start=real_today, end=real_today, clock=CLOCK)
        assert (turnover.sold, turnover.opening, turnover.closing, turnover.turnover) == (D(16), D(0), D(84), D("0.38"))
        [aging] = await stock_aging(s, w.manager, clock=CLOCK)
        assert (aging.on_hand, aging.buckets, aging.value) == (D(84), (D(84), D(0), D(0), D(0)), D("168.00"))
