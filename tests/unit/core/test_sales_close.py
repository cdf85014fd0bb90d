"""结单: a partly shipped sales order closed short, its remaining reservations released."""

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from core import ledger
from core.accounts import customer_balance
from core.documents import OrderLineInput, SalesOrder, SalesOrderLine, SalesOrderStatus
from core.errors import Forbidden, InvalidState
from core.models import AuditEntry
from core.sales import close_sales_order, confirm_sales_order, ship_sales_order
from core.stock import stock_of
from tests.unit.core.workflows import CLOCK, add_milk_lot, draft_order, lot_of, make_shop, reserved_total

D = Decimal


async def test_closing_a_partly_shipped_order_releases_the_rest_and_records_the_shortfall(db):
    shop = await make_shop(db)  # cola: 100 罐
    w = shop.world
    await add_milk_lot(db, shop, "L1", date(2027, 3, 1), "10")
    await add_milk_lot(db, shop, "L2", date(2027, 4, 1), "10")
    order_id = await draft_order(db, shop, OrderLineInput(shop.cola.id, D(2), "箱"), OrderLineInput(shop.milk.id, D(15)))
    await db.transact(lambda s: confirm_sales_order(s, w.sales, order_id, clock=CLOCK))
    async with db.session() as s:
        cola_line, milk_line = (await s.scalars(select(SalesOrderLine).order_by(SalesOrderLine.line_no))).all()
    await db.transact(lambda s: ship_sales_order(
        s, w.warehouse_user, order_id, quantities={cola_line.id: D(30), milk_line.id: D(12)}, clock=CLOCK
    ))

    with pytest.raises(Forbidden, match="仓管没有权限结单"):
        await db.transact(lambda s: close_sales_order(s, w.warehouse_user, order_id, clock=CLOCK))
    closed = await db.transact(lambda s: close_sales_order(s, w.sales, order_id, reason="客户只要这些", clock=CLOCK))
    assert (closed.status, closed.closed_at) == (SalesOrderStatus.COMPLETED, CLOCK.now())
    async with db.session() as s:
        assert (await lot_of(s, shop.cola.id)).reserved == 0
        assert ((await lot_of(s, shop.milk.id, "L1")).reserved, (await lot_of(s, shop.milk.id, "L2")).reserved) == (0, 0)
        assert await reserved_total(s) == 0
        assert (await stock_of(s, shop.cola.id)).available == D(70)  # 100 − 30 shipped; the 18 held are free again
        assert (await stock_of(s, shop.milk.id)).available == D(8)
        cola_line, milk_line = (await s.scalars(select(SalesOrderLine).order_by(SalesOrderLine.line_no))).all()
        assert [(line.quantity, line.shipped) for line in (cola_line, milk_line)] == [(D(48), D(30)), (D(15), D(12))]
        entry = await s.scalar(select(AuditEntry).where(AuditEntry.entity == "sales_order", AuditEntry.action == "short_close"))
        assert entry.user_id == w.sales.id
        assert entry.before == {"status": "partially_shipped"}
        assert entry.after == {"status": "completed", "shortfall": {"1": "18.000", "2": "3.000"}, "reason": "客户只要这些"}
        assert await customer_balance(s, shop.customer.id) == D("153.00")  # what was shipped: 30 × 3.50 + 12 × 4.00
        assert await ledger.check_ledger(s) == []

    with pytest.raises(InvalidState, match="已完成，不能结单"):
        await db.transact(lambda s: close_sales_order(s, w.manager, order_id, clock=CLOCK))
    with pytest.raises(InvalidState, match="已完成，不能发货"):
        await db.transact(lambda s: ship_sales_order(s, w.warehouse_user, order_id, clock=CLOCK))


async def test_only_a_partly_shipped_order_can_be_closed(db):
    shop = await make_shop(db)
    w = shop.world
    order_id = await draft_order(db, shop, OrderLineInput(shop.cola.id, D(10)))
    with pytest.raises(InvalidState, match="草稿，不能结单"):
        await db.transact(lambda s: close_sales_order(s, w.manager, order_id, clock=CLOCK))
    await db.transact(lambda s: confirm_sales_order(s, w.sales, order_id, clock=CLOCK))
    with pytest.raises(InvalidState, match="还没有发货，不能结单；不要了请取消") as refused:
        await db.transact(lambda s: close_sales_order(s, w.owner, order_id, clock=CLOCK))
    assert refused.value.code == "invalid_state"
    async with db.session() as s:
        assert (await s.get(SalesOrder, order_id)).status == SalesOrderStatus.CONFIRMED
        assert await reserved_total(s) == D(10)  # a refused close changes nothing
    await db.transact(lambda s: ship_sales_order(s, w.warehouse_user, order_id, quantities=None, clock=CLOCK))
    with pytest.raises(InvalidState, match="已完成，不能结单"):
        await db.transact(lambda s: close_sales_order(s, w.manager, order_id, clock=CLOCK))
