"""Returns named by document and product: spread over the delivered lines, latest delivery first."""

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from core import ledger
from core.accounts import customer_balance, supplier_balance
from core.approval import decide
from core.documents import OrderLineInput, PurchaseOrderLine, SalesOrderLine, SalesReturn, Shipment
from core.errors import Forbidden, InsufficientStock, InvalidInput, InvalidState, NotFound
from core.purchasing import (
    ReceiptLineInput,
    create_purchase_order,
    receive_purchase_order,
    submit_purchase_order,
)
from core.returns import book_return, plan_return, require_return_role, return_kind, return_source
from core.sales import confirm_sales_order, ship_sales_order
from tests.unit.core.workflows import CLOCK, add_milk_lot, draft_order, lot_of, make_shop

D = Decimal


async def _shipped_in_two(db, shop):
    """30 可乐 and 3 牛奶 ordered; 10 可乐 shipped first, the rest then. The order's number."""
    order_id = await draft_order(db, shop, OrderLineInput(shop.cola.id, D(30)), OrderLineInput(shop.milk.id, D(3)))
    w = shop.world
    await db.transact(lambda s: confirm_sales_order(s, w.sales, order_id, clock=CLOCK))
    async with db.session() as s:
        cola_line = await s.scalar(select(SalesOrderLine).where(SalesOrderLine.product_id == shop.cola.id))
    await db.transact(lambda s: ship_sales_order(s, w.warehouse_user, order_id, quantities={cola_line.id: D(10)}, clock=CLOCK))
    await db.transact(lambda s: ship_sales_order(s, w.warehouse_user, order_id, clock=CLOCK))
    return "SO-20261122-0001"


async def test_a_customer_return_takes_the_latest_shipment_first_and_credits_the_customer(db):
    shop = await make_shop(db)
    await add_milk_lot(db, shop, "L1", date(2027, 1, 1), "10")
    number = await _shipped_in_two(db, shop)
    async with db.session() as s:
        source = await return_source(s, number.lower())
        assert (source.kind, source.label, source.partner, source.order_no) == ("sales", "销售单", "华联超市", number)
        shipments = (await s.scalars(select(Shipment).order_by(Shipment.id))).all()
        assert [line.delivery_no for line in source.delivered if line.product_id == shop.cola.id] == [
            shipments[1].number, shipments[0].number]
        takes = await plan_return(s, source, shop.cola.id, D(25))  # 20 of the second shipment, 5 of the first
        assert [(t.quantity, t.amount, t.cost) for t in takes] == [(D(20), D("70.00"), D("40.00")), (D(5), D("17.50"), D("10.00"))]
        with pytest.raises(InvalidInput) as too_much:
            await plan_return(s, source, shop.cola.id, D(6), planned=takes)
        assert too_much.value.message == f"销售单 {number} 的 可口可乐 330ml 已发 1箱6罐，已退 1箱1罐，最多还能退 5罐，不能退 6罐"
        assert await customer_balance(s, shop.customer.id) == D("117.00")  # 30 × 3.50 + 3 × 4.00
    await db.transact(lambda s: book_return(s, shop.world.sales, "sales", takes, reason="", clock=CLOCK))
    async with db.session() as s:
        assert await customer_balance(s, shop.customer.id) == D("29.50")
        assert (await lot_of(s, shop.cola.id)).on_hand == D(95)
        returns = (await s.scalars(select(SalesReturn).order_by(SalesReturn.id))).all()
        assert [(r.quantity, r.amount, r.reason) for r in returns] == [(D(20), D("70.00"), "客户退货"), (D(5), D("17.50"), "客户退货")]
        assert await ledger.check_ledger(s) == []
        source = await return_source(s, number)
        with pytest.raises(InvalidInput, match="已发 1箱6罐，已退 1箱1罐，最多还能退 5罐，不能退 6罐"):
            await plan_return(s, source, shop.cola.id, D(6))
        assert len(await plan_return(s, source, shop.cola.id, D(5))) == 1


async def test_what_cannot_be_returned_is_named(db):
    shop = await make_shop(db)
    w = shop.world
    async with db.session() as s:
        with pytest.raises(NotFound, match="没有找到销售单 SO-20261122-0009"):
            await return_source(s, "SO-20261122-0009")
        with pytest.raises(NotFound, match="没有找到出库单 SH-20261122-0009"):
            await return_source(s, "SH-20261122-0009")
        with pytest.raises(InvalidInput, match="BS-20261122-0001 不是销售单（SO-…）或采购单（PO-…）"):
            await return_source(s, "BS-20261122-0001")
    order_id = await draft_order(db, shop, OrderLineInput(shop.cola.id, D(10)))
    async with db.session() as s:
        with pytest.raises(InvalidState, match="销售单 SO-20261122-0001 草稿，还没有发货，没有可退的货"):
            await return_source(s, "SO-20261122-0001")
    await db.transact(lambda s: confirm_sales_order(s, w.sales, order_id, clock=CLOCK))
    await db.transact(lambda s: ship_sales_order(s, w.warehouse_user, order_id, clock=CLOCK))
    async with db.session() as s:
        source = await return_source(s, "SH-20261122-0001")
        assert source.label == "出库单" and source.order_no == "SO-20261122-0001"
        with pytest.raises(InvalidInput, match="纯牛奶 250ml 不在出库单 SH-20261122-0001 里"):
            await plan_return(s, source, shop.milk.id, D(1))
        with pytest.raises(InvalidInput, match="退货数量不能为 0"):
            await plan_return(s, source, shop.cola.id, D(0))
        with pytest.raises(InvalidInput, match="只能是整罐"):
            await plan_return(s, source, shop.cola.id, D("0.5"))
    with pytest.raises(Forbidden, match="采购没有权限办理销售退货"):
        require_return_role(w.purchaser, return_kind("SO-20261122-0001"))
    with pytest.raises(Forbidden, match="销售没有权限办理采购退货"):
        require_return_role(w.sales, return_kind("po-20261122-0001"))


async def test_a_return_to_the_supplier_takes_only_what_its_lot_has_free(db):
    shop = await make_shop(db, cola_stock="0")
    w = shop.world

    async def received(s):
        order = await create_purchase_order(
            s, w.purchaser, supplier_id=shop.supplier.id, warehouse_id=w.main.id,
            lines=[OrderLineInput(shop.cola.id, D(48))], clock=CLOCK,
        )
        await s.flush()
        await submit_purchase_order(s, w.purchaser, order.id, clock=CLOCK)
        await decide(s, w.manager, order.id, approve=True, clock=CLOCK)
        line = await s.scalar(select(PurchaseOrderLine).where(PurchaseOrderLine.order_id == order.id))
        await receive_purchase_order(s, w.warehouse_user, order.id, [ReceiptLineInput(line.id, D(48))], clock=CLOCK)
        return order.number

    number = await db.transact(received)  # 48 × 2.10 = 100.80
    order_id = await draft_order(db, shop, OrderLineInput(shop.cola.id, D(40)))
    await db.transact(lambda s: confirm_sales_order(s, w.sales, order_id, clock=CLOCK))  # 40 of the 48 reserved
    async with db.session() as s:
        source = await return_source(s, number)
        assert (source.kind, source.partner) == ("purchase", "华润饮料")
        with pytest.raises(InvalidInput) as held:
            await plan_return(s, source, shop.cola.id, D(10))
        assert held.value.message == f"采购单 {number} 的 可口可乐 330ml 已入库 2箱，其中 1箱16罐 已卖出或被订单预留，最多还能退 8罐，不能退 10罐"
        takes = await plan_return(s, source, shop.cola.id, D(8))
        assert [(t.quantity, t.amount) for t in takes] == [(D(8), D("16.80"))]
    await db.transact(lambda s: book_return(s, w.purchaser, "purchase", takes, reason="包装破损", clock=CLOCK))
    async with db.session() as s:
        assert await supplier_balance(s, shop.supplier.id) == D("84.00")
        lot = await lot_of(s, shop.cola.id)
        assert (lot.on_hand, lot.reserved) == (D(40), D(40))
        assert await ledger.check_ledger(s) == []
    with pytest.raises(InsufficientStock):  # a stale plan: the lot has nothing free now
        await db.transact(lambda s: book_return(s, w.purchaser, "purchase", takes, reason="包装破损", clock=CLOCK))
