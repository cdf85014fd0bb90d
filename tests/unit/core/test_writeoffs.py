"""Write-offs (报损): which lots a plan takes, what booking does to stock and cost, and what it refuses."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest
from sqlalchemy import select

from core import ledger
from core.documents import OrderLineInput, WriteOff
from core.errors import AlreadyDecided, Forbidden, InsufficientStock, InvalidInput, NotFound
from core.models import Movement, MovementKind
from core.reports import today_summary
from core.sales import confirm_sales_order
from core.writeoffs import LotTake, plan_write_off, reverse_write_off, write_off
from tests.unit.core.workflows import CLOCK, TODAY, add_milk_lot, draft_order, lot_of, make_shop


async def _plan(db, shop, quantity: D | None, lot_no: str | None = None) -> list[tuple[str, D]]:
    async def work(s):
        takes = await plan_write_off(s, shop.milk, shop.world.main, quantity=quantity, lot_no=lot_no, today=TODAY)
        return [((await s.get(ledger.Lot, take.lot_id)).lot_no, take.quantity) for take in takes]

    return await db.read(work)


async def test_plan_takes_expired_stock_first_then_earliest_expiry(db):
    shop = await make_shop(db)
    await add_milk_lot(db, shop, "LATE", date(2027, 3, 1), "10")
    await add_milk_lot(db, shop, "SOON", date(2026, 12, 1), "10")
    await add_milk_lot(db, shop, "OLD", date(2026, 11, 1), "4")  # expired on TODAY

    assert await _plan(db, shop, None) == [("OLD", D(4))]  # no quantity: every expired lot, whole
    assert await _plan(db, shop, D(12)) == [("OLD", D(4)), ("SOON", D(8))]
    assert await _plan(db, shop, None, "LATE") == [("LATE", D(10))]
    assert await _plan(db, shop, D(3), "late") == [("LATE", D(3))]  # as chat text arrives, case-folded
    with pytest.raises(NotFound, match="没有批次 NOPE"):
        await _plan(db, shop, D(1), "NOPE")
    with pytest.raises(InsufficientStock, match="可报损 2箱"):
        await _plan(db, shop, D(25))
    with pytest.raises(InvalidInput, match="报损数量不能为 0"):
        await _plan(db, shop, D(0))
    with pytest.raises(InvalidInput, match="纯牛奶 250ml 只能是整盒，不能是 1.5盒"):
        await _plan(db, shop, D("1.5"))


async def test_plan_without_quantity_needs_expired_stock_and_never_takes_reserved(db):
    shop = await make_shop(db)
    await add_milk_lot(db, shop, "A", date(2027, 1, 1), "12")
    with pytest.raises(InvalidInput, match="纯牛奶 250ml 在主仓没有过期批次，请写明报损数量"):
        await _plan(db, shop, None)
    order_id = await draft_order(db, shop, OrderLineInput(shop.milk.id, D(10)))
    await db.transact(lambda s: confirm_sales_order(s, shop.world.sales, order_id, clock=CLOCK))
    with pytest.raises(InsufficientStock, match=r"可报损 2盒，要报损 5盒（另有 10盒 已被订单预留，不能报损）"):
        await _plan(db, shop, D(5))


async def test_write_off_books_adjustments_at_average_cost_in_one_document(db):
    shop = await make_shop(db)
    await add_milk_lot(db, shop, "A", date(2026, 11, 1), "6", cost="2.00")
    await add_milk_lot(db, shop, "B", date(2026, 12, 1), "10", cost="3.00")  # average now 2.625
    w = shop.world
    async with db.session() as s:
        takes = await plan_write_off(s, shop.milk, w.main, quantity=D(8), lot_no=None, today=TODAY)
    done = await db.transact(lambda s: write_off(
        s, w.warehouse_user, product_id=shop.milk.id, warehouse_id=w.main.id, takes=takes, reason=" 过期 ", clock=CLOCK))
    assert (done.number, done.quantity, done.value, done.reason) == ("BS-20261122-0001", D(8), D("21.00"), "过期")
    async with db.session() as s:
        assert ((await lot_of(s, shop.milk.id, "A")).on_hand, (await lot_of(s, shop.milk.id, "B")).on_hand) == (D(0), D(8))
        moves = (await s.scalars(select(Movement).where(Movement.ref_type == "write_off"))).all()
        assert sorted((m.kind, m.quantity, m.ref_no, m.reason) for m in moves) == [
            (MovementKind.ADJUSTMENT, D(-6), "BS-20261122-0001", "报损：过期"),
            (MovementKind.ADJUSTMENT, D(-2), "BS-20261122-0001", "报损：过期"),
        ]
        assert await ledger.check_ledger(s) == []


async def test_write_off_refuses_whole_when_a_lot_changed_and_checks_role_and_reason(db):
    shop = await make_shop(db)
    await add_milk_lot(db, shop, "A", date(2027, 1, 1), "12")
    w = shop.world
    async with db.session() as s:
        lot = await lot_of(s, shop.milk.id, "A")

    def attempt(actor, quantity: str, reason: str = "破损"):
        return db.transact(lambda s: write_off(
            s, actor, product_id=shop.milk.id, warehouse_id=w.main.id, takes=[LotTake(lot.id, D(quantity))],
            reason=reason, clock=CLOCK))

    with pytest.raises(Forbidden):
        await attempt(w.sales, "1")
    with pytest.raises(InvalidInput, match="必须写明原因"):
        await attempt(w.warehouse_user, "1", "  ")
    with pytest.raises(InsufficientStock, match="现在只有 1箱 可报损"):
        await attempt(w.warehouse_user, "13")
    with pytest.raises(InvalidInput, match="批次与商品或仓库不符"):
        await db.transact(lambda s: write_off(
            s, w.manager, product_id=shop.cola.id, warehouse_id=w.main.id, takes=[LotTake(lot.id, D(1))],
            reason="破损", clock=CLOCK))
    async with db.session() as s:
        assert (await lot_of(s, shop.milk.id, "A")).on_hand == D(12)
        assert (await s.scalars(select(WriteOff))).all() == []
    await attempt(w.manager, "12")
    async with db.session() as s:
        assert (await lot_of(s, shop.milk.id, "A")).on_hand == D(0)


async def test_reversal_puts_each_lot_back_at_its_cost_once_and_only_for_managers(db):
    shop = await make_shop(db)
    await add_milk_lot(db, shop, "A", date(2026, 11, 1), "6", cost="2.00")
    await add_milk_lot(db, shop, "B", date(2026, 12, 1), "10", cost="3.00")
    w = shop.world
    async with db.session() as s:
        takes = await plan_write_off(s, shop.milk, w.main, quantity=D(8), lot_no=None, today=TODAY)
    done = await db.transact(lambda s: write_off(
        s, w.warehouse_user, product_id=shop.milk.id, warehouse_id=w.main.id, takes=takes, reason="破损", clock=CLOCK))
    assert (await db.read(lambda s: today_summary(s, w.manager, clock=CLOCK))).write_offs == 1

    with pytest.raises(Forbidden, match="没有权限撤销报损"):
        await db.transact(lambda s: reverse_write_off(s, w.warehouse_user, done.number, clock=CLOCK))
    with pytest.raises(NotFound, match="没有报损单 BS-20261122-0009"):
        await db.transact(lambda s: reverse_write_off(s, w.manager, "bs-20261122-0009", clock=CLOCK))
    reversed_ = await db.transact(lambda s: reverse_write_off(s, w.manager, done.number.lower(), clock=CLOCK))
    assert (reversed_.reversed_by, reversed_.reversed_at) == (w.manager.id, CLOCK.now())
    with pytest.raises(AlreadyDecided, match=rf"报损单 {done.number} 已由 {w.manager.name} 于 \d\d:\d\d 撤销"):
        await db.transact(lambda s: reverse_write_off(s, w.manager, done.number, clock=CLOCK))

    async with db.session() as s:
        assert ((await lot_of(s, shop.milk.id, "A")).on_hand, (await lot_of(s, shop.milk.id, "B")).on_hand) == (D(6), D(10))
        back = (await s.scalars(select(Movement).where(Movement.ref_type == "write_off_reversal"))).all()
        assert sorted((m.quantity, m.unit_cost, m.ref_no) for m in back) == [
            (D(2), D("2.625"), done.number), (D(6), D("2.625"), done.number)
        ]
        assert await ledger.check_ledger(s) == []
    summary = await db.read(lambda s: today_summary(s, w.manager, clock=CLOCK))
    assert (summary.write_offs, summary.write_off_value) == (0, D(0))  # a reversed write-off lost nothing
