"""Paying an account as people pay it: the oldest open items first, never more than is owed."""

from decimal import Decimal

import pytest
from sqlalchemy import select

from core.accounts import (
    customer_balance,
    open_receivables,
    pay_supplier_account,
    plan_customer_payment,
    plan_supplier_payment,
    receive_customer_payment,
    supplier_balance,
)
from core.approval import decide
from core.documents import OrderLineInput, Payment, PurchaseOrderLine, ShipmentLine
from core.errors import Forbidden, InvalidInput, InvalidState
from core.purchasing import (
    ReceiptLineInput,
    create_purchase_order,
    receive_purchase_order,
    submit_purchase_order,
)
from core.sales import confirm_sales_order, return_sale, ship_sales_order
from tests.unit.core.workflows import CLOCK, draft_order, make_shop

D = Decimal


async def _shipped(db, shop, cans: int) -> None:
    """An order of `cans` 可乐 at ¥3.50 confirmed and shipped: a receivable of cans × 3.50."""
    order_id = await draft_order(db, shop, OrderLineInput(shop.cola.id, D(cans)))
    await db.transact(lambda s: confirm_sales_order(s, shop.world.sales, order_id, clock=CLOCK))
    await db.transact(lambda s: ship_sales_order(s, shop.world.warehouse_user, order_id, clock=CLOCK))


async def test_a_payment_settles_the_oldest_receivables_first(db):
    shop = await make_shop(db)
    w = shop.world
    await _shipped(db, shop, 10)  # 35.00
    await _shipped(db, shop, 20)  # 70.00
    async with db.session() as s:
        plan = await plan_customer_payment(s, shop.customer.id, D("50.00"))
    assert (plan.name, plan.before, plan.after) == ("华联超市", D("105.00"), D("55.00"))
    assert [(a.open_amount, a.amount) for a in plan.allocations] == [(D("35.00"), D("35.00")), (D("70.00"), D("15.00"))]
    done = await db.transact(
        lambda s: receive_customer_payment(s, w.sales, shop.customer.id, D("50.00"), method="转账", clock=CLOCK)
    )
    assert (done.before, done.after) == (D("105.00"), D("55.00"))
    async with db.session() as s:
        assert await customer_balance(s, shop.customer.id) == D("55.00")
        assert [(r.amount, r.paid) for r in await open_receivables(s, shop.customer.id)] == [(D("70.00"), D("15.00"))]
        payments = (await s.scalars(select(Payment).order_by(Payment.id))).all()
        assert [(p.amount, p.method, p.user_id) for p in payments] == [(D("35.00"), "转账", w.sales.id), (D("15.00"), "转账", w.sales.id)]
    await db.transact(lambda s: receive_customer_payment(s, w.owner, shop.customer.id, D("55.00"), clock=CLOCK))
    async with db.session() as s:
        assert await customer_balance(s, shop.customer.id) == D(0)
        assert await open_receivables(s, shop.customer.id) == []


async def test_no_payment_of_nothing_of_more_than_is_owed_or_by_a_warehouse_person(db):
    shop = await make_shop(db)
    w = shop.world
    async with db.session() as s:
        with pytest.raises(InvalidState, match="华联超市 目前没有欠款，不能收款（不支持预收款）"):
            await plan_customer_payment(s, shop.customer.id, D(1))
    await _shipped(db, shop, 10)
    async with db.session() as s:
        for amount, message in (
            (D(0), "收款金额必须大于 0"), (D(-5), "收款金额必须大于 0"), (D("1.005"), "最多两位小数（到分）：1.005"),
            (D("35.01"), "华联超市 目前欠款 ¥35.00，不能收 ¥35.01：收款不能超过欠款（不支持预收款）"),
            (D("1e12"), "不能收 ¥1,000,000,000,000.00"),
        ):
            with pytest.raises(InvalidInput, match=message.replace("(", r"\(").replace(")", r"\)")):
                await plan_customer_payment(s, shop.customer.id, amount)
    with pytest.raises(Forbidden):
        await db.transact(lambda s: receive_customer_payment(s, w.warehouse_user, shop.customer.id, D(1), clock=CLOCK))
    async with db.session() as s:
        assert (await s.scalars(select(Payment))).all() == []


async def test_a_balance_that_changed_since_it_was_shown_is_refused_and_nothing_is_booked(db):
    shop = await make_shop(db)
    w = shop.world
    await _shipped(db, shop, 10)
    await db.transact(lambda s: receive_customer_payment(s, w.sales, shop.customer.id, D(5), clock=CLOCK))
    with pytest.raises(InvalidState, match="华联超市 的欠款已经变了：原来 ¥35.00，现在 ¥30.00"):
        await db.transact(lambda s: receive_customer_payment(
            s, w.manager, shop.customer.id, D(5), expected_balance=D("35.00"), clock=CLOCK))
    async with db.session() as s:
        assert await customer_balance(s, shop.customer.id) == D(30)


async def test_a_return_credit_nets_the_balance_a_payment_may_reach(db):
    shop = await make_shop(db)
    w = shop.world
    await _shipped(db, shop, 10)  # 35.00
    async with db.session() as s:
        line = await s.scalar(select(ShipmentLine))
    await db.transact(lambda s: return_sale(s, w.sales, line.id, D(2), reason="破损", clock=CLOCK))  # −7.00
    async with db.session() as s:
        with pytest.raises(InvalidInput, match="目前欠款 ¥28.00"):
            await plan_customer_payment(s, shop.customer.id, D(35))
    await db.transact(lambda s: receive_customer_payment(s, w.sales, shop.customer.id, D(28), clock=CLOCK))
    async with db.session() as s:
        assert await customer_balance(s, shop.customer.id) == D(0)
        with pytest.raises(InvalidState, match="华联超市 目前没有欠款"):
            await plan_customer_payment(s, shop.customer.id, D(1))


async def test_paying_a_supplier_account_is_for_managers(db):
    shop = await make_shop(db, cola_stock="0")
    w = shop.world

    async def received(s):
        order = await create_purchase_order(
            s, w.purchaser, supplier_id=shop.supplier.id, warehouse_id=w.main.id,
            lines=[OrderLineInput(shop.cola.id, D(100))], clock=CLOCK,
        )
        await s.flush()
        await submit_purchase_order(s, w.purchaser, order.id, clock=CLOCK)
        await decide(s, w.manager, order.id, approve=True, clock=CLOCK)
        line = await s.scalar(select(PurchaseOrderLine).where(PurchaseOrderLine.order_id == order.id))
        await receive_purchase_order(s, w.warehouse_user, order.id, [ReceiptLineInput(line.id, D(100))], clock=CLOCK)

    await db.transact(received)  # 100 × 2.10
    async with db.session() as s:
        plan = await plan_supplier_payment(s, shop.supplier.id, D(100))
        assert (plan.before, plan.after) == (D("210.00"), D("110.00"))
        with pytest.raises(InvalidInput, match="目前欠 华润饮料 ¥210.00，不能付 ¥300.00：付款不能超过欠款（不支持预付款）"):
            await plan_supplier_payment(s, shop.supplier.id, D(300))
    with pytest.raises(Forbidden, match="采购没有权限登记付款"):
        await db.transact(lambda s: pay_supplier_account(s, w.purchaser, shop.supplier.id, D(100), clock=CLOCK))
    await db.transact(lambda s: pay_supplier_account(s, w.manager, shop.supplier.id, D(100), method="转账", clock=CLOCK))
    async with db.session() as s:
        assert await supplier_balance(s, shop.supplier.id) == D(110)
