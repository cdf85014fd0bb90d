import asyncio
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import event, func, select

from core import ledger
from core.accounts import customer_balance
from core.catalog import save_customer
from core.documents import (
    OrderLineInput,
    Reservation,
    SalesOrder,
    SalesOrderLine,
    SalesOrderStatus,
    ShipmentLine,
)
from core.errors import (
    AlreadyDecided,
    CreditLimitExceeded,
    Forbidden,
    InsufficientStock,
    InvalidInput,
    InvalidState,
)
from core.models import AuditEntry, Movement, MovementKind, Product, User
from core.sales import (
    allow_over_credit,
    awaiting_credit,
    cancel_sales_order,
    confirm_sales_order,
    create_sales_order,
    credit_approvers,
    order_margin,
    over_credit_reason,
    refuse_over_credit,
    return_sale,
    ship_sales_order,
)
from tests.unit.core.workflows import CLOCK, add_milk_lot, draft_order, lot_of, make_shop, reserved_total

D = Decimal


async def test_create_converts_units_and_prices_at_sale_price(db):
    shop = await make_shop(db)
    order_id = await draft_order(
        db, shop, OrderLineInput(shop.cola.id, D(2), "箱"), OrderLineInput(shop.milk.id, D(3), None, D("3.33"))
    )
    async with db.session() as s:
        order = await s.get(SalesOrder, order_id)
        lines = (await s.scalars(select(SalesOrderLine).order_by(SalesOrderLine.line_no))).all()
        assert order.number == "SO-20261122-0001"
        assert order.status == SalesOrderStatus.DRAFT
        assert (lines[0].quantity, lines[0].unit_price, lines[0].amount) == (D(48), D("84.00"), D("168.00"))
        assert (lines[1].quantity, lines[1].unit_price, lines[1].amount) == (D(3), D("3.33"), D("9.99"))
        assert order.total == D("177.99")


async def test_order_numbers_count_per_company_day(db):
    shop = await make_shop(db)
    first = await draft_order(db, shop, OrderLineInput(shop.cola.id, D(1)))
    second = await draft_order(db, shop, OrderLineInput(shop.cola.id, D(1)))
    async with db.session() as s:
        numbers = [(await s.get(SalesOrder, i)).number for i in (first, second)]
    assert numbers == ["SO-20261122-0001", "SO-20261122-0002"]


async def test_create_refuses_bad_lines_and_roles(db):
    shop = await make_shop(db)
    w = shop.world
    async with db.session() as s:
        with pytest.raises(Forbidden):
            await create_sales_order(s, w.warehouse_user, customer_id=shop.customer.id, warehouse_id=w.main.id,
                                     lines=[OrderLineInput(shop.cola.id, D(1))])
        with pytest.raises(InvalidInput, match="没有单位"):
            await create_sales_order(s, w.sales, customer_id=shop.customer.id, warehouse_id=w.main.id,
                                     lines=[OrderLineInput(shop.cola.id, D(1), "桶")])
        with pytest.raises(InvalidInput, match="数量不能为 0"):
            await create_sales_order(s, w.sales, customer_id=shop.customer.id, warehouse_id=w.main.id,
                                     lines=[OrderLineInput(shop.cola.id, D(0))])


async def test_confirm_reserves_fefo_skipping_expired_lots(db):
    shop = await make_shop(db)
    await add_milk_lot(db, shop, "OLD", date(2026, 11, 21), "50")  # expired yesterday
    await add_milk_lot(db, shop, "LATE", date(2027, 3, 1), "30")
    await add_milk_lot(db, shop, "SOON", date(2026, 12, 1), "10")
    order_id = await draft_order(db, shop, OrderLineInput(shop.milk.id, D(2), "箱"))  # 24 盒
    await db.transact(lambda s: confirm_sales_order(s, shop.world.sales, order_id, clock=CLOCK))
    async with db.session() as s:
        assert (await lot_of(s, shop.milk.id, "OLD")).reserved == 0
        assert (await lot_of(s, shop.milk.id, "SOON")).reserved == 10
        assert (await lot_of(s, shop.milk.id, "LATE")).reserved == 14
        assert (await s.get(SalesOrder, order_id)).status == SalesOrderStatus.CONFIRMED
    too_much = await draft_order(db, shop, OrderLineInput(shop.milk.id, D(17)))
    with pytest.raises(InsufficientStock) as short:
        await db.transact(lambda s: confirm_sales_order(s, shop.world.sales, too_much, clock=CLOCK))
    assert short.value.message == "纯牛奶 250ml 库存不足: 可用 1箱4盒（16盒），需要 1箱5盒（17盒）"
    async with db.session() as s:
        assert (await s.get(SalesOrder, too_much)).status == SalesOrderStatus.DRAFT
        assert await reserved_total(s) == 24


async def test_confirm_refuses_the_whole_order_when_a_product_has_no_lot_here(db):
    """Milk has a lot, cola none in this warehouse: 可用 0, nothing reserved, the order stays a draft."""
    shop = await make_shop(db, cola_stock="0")
    await add_milk_lot(db, shop, "A", date(2026, 12, 1), "10")
    order_id = await draft_order(db, shop, OrderLineInput(shop.milk.id, D(2)), OrderLineInput(shop.cola.id, D(3)))
    with pytest.raises(InsufficientStock, match="可口可乐 330ml 库存不足: 可用 0罐，需要 3罐"):
        await db.transact(lambda s: confirm_sales_order(s, shop.world.sales, order_id, clock=CLOCK))
    async with db.session() as s:
        assert (await s.get(SalesOrder, order_id)).status == SalesOrderStatus.DRAFT
        assert (await lot_of(s, shop.milk.id, "A")).reserved == 0
        assert await reserved_total(s) == 0
        assert (await s.scalars(select(AuditEntry.action).where(AuditEntry.entity == "sales_order"))).all() == ["create"]


async def test_two_lines_of_one_product_reserve_no_more_than_is_available_together(db):
    """90 + 30 of 100 cans: each line fits alone, together they do not; 70 + 30 takes exactly the 100."""
    shop = await make_shop(db)
    too_much = await draft_order(db, shop, OrderLineInput(shop.cola.id, D(90)), OrderLineInput(shop.cola.id, D(30)))
    with pytest.raises(InsufficientStock) as refused:
        await db.transact(lambda s: confirm_sales_order(s, shop.world.sales, too_much, clock=CLOCK))
    assert refused.value.message == "可口可乐 330ml 库存不足: 可用 4箱4罐（100罐），需要 5箱（120罐）"
    assert (refused.value.details["available"], refused.value.details["needed"]) == (D(100), D(120))
    async with db.session() as s:
        assert (await s.get(SalesOrder, too_much)).status == SalesOrderStatus.DRAFT
        assert await reserved_total(s) == 0
    fits = await draft_order(db, shop, OrderLineInput(shop.cola.id, D(70)), OrderLineInput(shop.cola.id, D(30)))
    await db.transact(lambda s: confirm_sales_order(s, shop.world.sales, fits, clock=CLOCK))
    async with db.session() as s:
        assert await reserved_total(s) == D(100)
        held = (await s.scalars(select(Reservation.quantity).order_by(Reservation.order_line_id))).all()
        assert held == [D(70), D(30)]


async def test_confirm_writes_one_audit_entry(db):
    shop = await make_shop(db)
    order_id = await draft_order(db, shop, OrderLineInput(shop.cola.id, D(3)))
    await db.transact(lambda s: confirm_sales_order(s, shop.world.sales, order_id, clock=CLOCK))
    async with db.session() as s:
        entry = (await s.scalars(select(AuditEntry).where(AuditEntry.action == "confirm"))).one()
        assert (entry.entity, entry.entity_id, entry.user_id) == ("sales_order", order_id, shop.world.sales.id)
        assert (entry.before, entry.after) == ({"status": "draft"}, {"status": "confirmed", "credit_override_by": None})
        assert entry.at.tzinfo is not None


async def test_ship_partially_then_fully_consumes_reservations_at_average_cost(db):
    shop = await make_shop(db)
    order_id = await draft_order(db, shop, OrderLineInput(shop.cola.id, D(1), "箱"), OrderLineInput(shop.cola.id, D(10)))
    w = shop.world
    await db.transact(lambda s: confirm_sales_order(s, w.sales, order_id, clock=CLOCK))
    async with db.session() as s:
        line_ids = (await s.scalars(select(SalesOrderLine.id).order_by(SalesOrderLine.line_no))).all()
    first = await db.transact(lambda s: ship_sales_order(s, w.warehouse_user, order_id, quantities={line_ids[0]: D(5)}, clock=CLOCK))
    async with db.session() as s:
        assert (await s.get(SalesOrder, order_id)).status == SalesOrderStatus.PARTIALLY_SHIPPED
        lot = await lot_of(s, shop.cola.id)
        assert (lot.on_hand, lot.reserved) == (D(95), D(29))
        assert first.amount == D("17.50") and first.cost == D("10.00")
    with pytest.raises(InvalidInput, match="最多还能发 19"):
        await db.transact(lambda s: ship_sales_order(s, w.warehouse_user, order_id, quantities={line_ids[0]: D(20)}, clock=CLOCK))
    second = await db.transact(lambda s: ship_sales_order(s, w.warehouse_user, order_id, clock=CLOCK))
    async with db.session() as s:
        order = await s.get(SalesOrder, order_id)
        assert order.status == SalesOrderStatus.COMPLETED
        lot = await lot_of(s, shop.cola.id)
        assert (lot.on_hand, lot.reserved) == (D(66), D(0))
        assert await reserved_total(s) == 0
        assert first.amount + second.amount == order.total == D("119.00")
        movements = (await s.scalars(select(Movement).where(Movement.kind == MovementKind.SALES_SHIPMENT))).all()
        assert sum(m.quantity for m in movements) == D(-34)
        assert {m.unit_cost for m in movements} == {D("2.000000")}
        assert await customer_balance(s, shop.customer.id) == D("119.00")
        assert await ledger.check_ledger(s) == []
        margin = await order_margin(s, w.manager, order_id)
        assert (margin.revenue, margin.cost, margin.margin) == (D("119.00"), D("68.00"), D("51.00"))
        assert margin.lines[0].margin_rate == D("0.4286")
        with pytest.raises(Forbidden):
            await order_margin(s, w.sales, order_id)
    with pytest.raises(InvalidState, match="已完成"):
        await db.transact(lambda s: ship_sales_order(s, w.warehouse_user, order_id, clock=CLOCK))


async def test_shipping_refuses_wrong_role_and_draft(db):
    shop = await make_shop(db)
    order_id = await draft_order(db, shop, OrderLineInput(shop.cola.id, D(1)))
    with pytest.raises(InvalidState, match="草稿，不能发货"):
        await db.transact(lambda s: ship_sales_order(s, shop.world.warehouse_user, order_id, clock=CLOCK))
    await db.transact(lambda s: confirm_sales_order(s, shop.world.sales, order_id, clock=CLOCK))
    with pytest.raises(Forbidden):
        await db.transact(lambda s: ship_sales_order(s, shop.world.sales, order_id, clock=CLOCK))


async def test_cancel_releases_reservations_and_refuses_after_shipping(db):
    shop = await make_shop(db)
    w = shop.world
    draft = await draft_order(db, shop, OrderLineInput(shop.cola.id, D(3)))
    await db.transact(lambda s: cancel_sales_order(s, w.sales, draft, clock=CLOCK))
    confirmed = await draft_order(db, shop, OrderLineInput(shop.cola.id, D(30)))
    await db.transact(lambda s: confirm_sales_order(s, w.sales, confirmed, clock=CLOCK))
    await db.transact(lambda s: cancel_sales_order(s, w.sales, confirmed, reason="客户不要了", clock=CLOCK))
    async with db.session() as s:
        assert (await lot_of(s, shop.cola.id)).reserved == 0
        assert await reserved_total(s) == 0
        assert (await s.get(SalesOrder, confirmed)).status == SalesOrderStatus.CANCELLED
    with pytest.raises(InvalidState, match="已取消，不能确认"):
        await db.transact(lambda s: confirm_sales_order(s, w.sales, confirmed, clock=CLOCK))
    shipped = await draft_order(db, shop, OrderLineInput(shop.cola.id, D(3)))
    await db.transact(lambda s: confirm_sales_order(s, w.sales, shipped, clock=CLOCK))
    await db.transact(lambda s: ship_sales_order(s, w.warehouse_user, shipped, clock=CLOCK))
    with pytest.raises(InvalidState, match="已完成，不能取消"):
        await db.transact(lambda s: cancel_sales_order(s, w.sales, shipped, clock=CLOCK))


async def test_confirming_in_the_creating_transaction_updates_the_order_held_there(db):
    """The chat creates and confirms an order in one transaction: the session's order reads confirmed."""
    shop = await make_shop(db)
    w = shop.world
    async with db.session() as s:
        order = await create_sales_order(s, w.sales, customer_id=shop.customer.id, warehouse_id=w.main.id,
                                         lines=[OrderLineInput(shop.cola.id, D(2), "箱")], clock=CLOCK)
        await s.flush()
        confirmed = await confirm_sales_order(s, w.sales, order.id, clock=CLOCK)
        assert (confirmed.id, confirmed.number, confirmed.total) == (order.id, order.number, order.total)
        assert order.status == SalesOrderStatus.CONFIRMED
        assert order.confirmed_at == CLOCK.now()
    async with db.session() as s:
        assert (await s.get(SalesOrder, order.id)).status == SalesOrderStatus.CONFIRMED


async def test_on_postgresql_a_confirmation_is_one_statement(db):
    """The database function does the whole confirmation; SQLite keeps the statements of the Python path."""
    shop = await make_shop(db)
    order_id = await draft_order(db, shop, OrderLineInput(shop.cola.id, D(2), "箱"))
    statements: list[str] = []

    def seen(_conn, _cursor, statement, *_args):
        if not statement.startswith("BEGIN"):
            statements.append(statement)

    event.listen(db.write_engine.sync_engine, "before_cursor_execute", seen)
    try:
        await db.transact(lambda s: confirm_sales_order(s, shop.world.sales, order_id, clock=CLOCK))
    finally:
        event.remove(db.write_engine.sync_engine, "before_cursor_execute", seen)
    if db.is_sqlite:
        assert len(statements) == 5, statements
    else:
        assert len(statements) == 1 and "psibot_confirm_sales_order" in statements[0], statements
    async with db.session() as s:
        assert await reserved_total(s) == D(48)
        audit = (await s.scalars(select(AuditEntry).where(AuditEntry.action == "confirm"))).one()
        assert (audit.entity_id, audit.user_id) == (order_id, shop.world.sales.id)
        assert (audit.before, audit.after) == ({"status": "draft"}, {"status": "confirmed", "credit_override_by": None})


async def test_credit_limit_needs_a_managers_override(db):
    shop = await make_shop(db)
    w = shop.world
    async with db.session() as s:
        customer, _ = await save_customer(s, None, name="小卖部", credit_limit=D("100.00"))
    first = await draft_order(db, shop, OrderLineInput(shop.cola.id, D(20)), customer_id=customer.id)  # 70.00
    await db.transact(lambda s: confirm_sales_order(s, w.sales, first, clock=CLOCK))
    await db.transact(lambda s: ship_sales_order(s, w.warehouse_user, first, clock=CLOCK))
    second = await draft_order(db, shop, OrderLineInput(shop.cola.id, D(10)), customer_id=customer.id)  # 35.00
    with pytest.raises(CreditLimitExceeded, match="超出 ¥5.00") as refused:
        await db.transact(lambda s: confirm_sales_order(s, w.sales, second, clock=CLOCK))
    assert refused.value.code == "credit_limit_exceeded"
    with pytest.raises(Forbidden):
        await db.transact(lambda s: confirm_sales_order(s, w.sales, second, credit_override_by=w.sales, clock=CLOCK))
    await db.transact(lambda s: confirm_sales_order(s, w.sales, second, credit_override_by=w.manager, clock=CLOCK))
    async with db.session() as s:
        assert (await s.get(SalesOrder, second)).credit_override_by == w.manager.id


async def test_a_managers_decision_on_an_order_over_credit_is_applied_once(db):
    """特批 confirms with the manager's override, 驳回 cancels the draft; whatever comes later is told who
    decided first, and a 驳回 after a 特批 cancels nothing."""
    shop = await make_shop(db)
    w = shop.world
    async with db.session() as s:
        customer, _ = await save_customer(s, None, name="小卖部", credit_limit=D("10.00"))
    allowed = await draft_order(db, shop, OrderLineInput(shop.cola.id, D(20)), customer_id=customer.id)  # 70.00
    with pytest.raises(Forbidden):
        await db.transact(lambda s: allow_over_credit(s, w.sales, allowed, clock=CLOCK))
    confirmed = await db.transact(lambda s: allow_over_credit(s, w.manager, allowed, clock=CLOCK))
    assert confirmed.credit_override_by == w.manager.id
    for decide in (allow_over_credit, refuse_over_credit):
        with pytest.raises(AlreadyDecided, match=r"^已由 张经理 于 .+ 特批$"):
            await db.transact(lambda s, decide=decide: decide(s, w.manager2, allowed, clock=CLOCK))

    refused = await draft_order(db, shop, OrderLineInput(shop.cola.id, D(20)), customer_id=customer.id)
    order = await db.transact(lambda s: refuse_over_credit(s, w.manager2, refused, clock=CLOCK))
    assert order.status == SalesOrderStatus.CANCELLED
    with pytest.raises(AlreadyDecided, match=r"^已由 李经理 于 .+ 驳回$"):
        await db.transact(lambda s: allow_over_credit(s, w.manager, refused, clock=CLOCK))
    async with db.session() as s:
        assert (await s.get(SalesOrder, allowed)).status == SalesOrderStatus.CONFIRMED
        assert await reserved_total(s) == D(20)
        assert [u.name for u in await credit_approvers(s)] == ["张经理", "李经理"]
        for manager in (w.manager, w.manager2):
            (await s.get(User, manager.id)).active = False
    async with db.session() as s:
        assert [u.name for u in await credit_approvers(s)] == ["赵老板"]  # no manager: the owners are asked


async def test_what_waits_for_a_credit_decision_and_why_as_things_stand_now(db):
    """The drafts wait for a 特批; the reason is the refusal confirming gives, figured now, and "" once the
    order fits (another order of its customer was cancelled meanwhile)."""
    shop = await make_shop(db)
    w = shop.world
    async with db.session() as s:
        customer, _ = await save_customer(s, None, name="小卖部", credit_limit=D("100.00"))
    shipped = await draft_order(db, shop, OrderLineInput(shop.cola.id, D(20)), customer_id=customer.id)  # 70.00
    await db.transact(lambda s: confirm_sales_order(s, w.sales, shipped, clock=CLOCK))
    waiting = await draft_order(db, shop, OrderLineInput(shop.cola.id, D(10)), customer_id=customer.id)  # 35.00
    with pytest.raises(CreditLimitExceeded) as refused:
        await db.transact(lambda s: confirm_sales_order(s, w.sales, waiting, clock=CLOCK))
    other = await draft_order(db, shop, OrderLineInput(shop.cola.id, D(1)))  # 华联超市: no credit limit
    async with db.session() as s:
        assert [o.id for o in await awaiting_credit(s)] == [waiting, other]
        assert await over_credit_reason(s, await s.get(SalesOrder, waiting)) == refused.value.message
        assert await over_credit_reason(s, await s.get(SalesOrder, other)) == ""
    await db.transact(lambda s: cancel_sales_order(s, w.sales, shipped, clock=CLOCK))
    await db.transact(lambda s: refuse_over_credit(s, w.manager, other, clock=CLOCK))
    async with db.session() as s:
        assert [o.id for o in await awaiting_credit(s)] == [waiting]
        assert await over_credit_reason(s, await s.get(SalesOrder, waiting)) == ""  # 35.00 fits 100.00 alone


async def test_sales_return_goes_back_into_its_lot_and_credits_the_customer(db):
    shop = await make_shop(db)
    w = shop.world
    order_id = await draft_order(db, shop, OrderLineInput(shop.cola.id, D(3)))
    await db.transact(lambda s: confirm_sales_order(s, w.sales, order_id, clock=CLOCK))
    await db.transact(lambda s: ship_sales_order(s, w.warehouse_user, order_id, clock=CLOCK))
    async with db.session() as s:
        shipped_line = await s.scalar(select(ShipmentLine))
    with pytest.raises(InvalidInput) as too_many:
        await db.transact(lambda s: return_sale(s, w.warehouse_user, shipped_line.id, D(4), reason="破损", clock=CLOCK))
    assert too_many.value.message == "可口可乐 330ml 这一行最多还能退 3罐，不能退 4罐"
    await db.transact(lambda s: return_sale(s, w.warehouse_user, shipped_line.id, D(1), reason="破损", clock=CLOCK))
    async with db.session() as s:
        assert (await lot_of(s, shop.cola.id)).on_hand == D(98)
        assert await customer_balance(s, shop.customer.id) == D("7.00")
        assert await ledger.check_ledger(s) == []
        margin = await order_margin(s, w.manager, order_id)
        assert (margin.revenue, margin.cost, margin.lines[0].shipped) == (D("7.00"), D("4.00"), D(2))


async def _confirm_outcome(db, actor, order_id):
    try:
        await db.transact(lambda s: confirm_sales_order(s, actor, order_id, clock=CLOCK))
    except InsufficientStock as refused:
        return refused
    return None


async def test_fifty_concurrent_confirmations_never_oversell(db):
    """60 orders race for 37 units in three lots (one expired): exactly 37 units are confirmed."""
    shop = await make_shop(db, cola_stock="0")
    await add_milk_lot(db, shop, "EXPIRED", date(2026, 11, 1), "40")
    await add_milk_lot(db, shop, "A", date(2026, 12, 1), "20")
    await add_milk_lot(db, shop, "B", date(2027, 1, 1), "17")
    quantities = [D(1) if i % 3 else D(2) for i in range(60)]  # 40 ones and 20 twos: 80 units wanted
    order_ids = [await draft_order(db, shop, OrderLineInput(shop.milk.id, q)) for q in quantities]

    outcomes = await asyncio.gather(*(_confirm_outcome(db, shop.world.sales, i) for i in order_ids))

    refusals = [o for o in outcomes if o is not None]
    assert all("库存不足: 可用" in str(r) for r in refusals)
    async with db.session() as s:
        confirmed = (await s.scalars(select(SalesOrder).where(SalesOrder.status == SalesOrderStatus.CONFIRMED))).all()
        confirmed_units = sum(quantities[order_ids.index(o.id)] for o in confirmed)
        # Every refusal saw less than it needed; at the end at most one unit can be left (a 2 refused on 1).
        assert 36 <= confirmed_units <= 37
        assert len(confirmed) + len(refusals) == 60
        lots = {lot_no: await lot_of(s, shop.milk.id, lot_no) for lot_no in ("EXPIRED", "A", "B")}
        assert {k: (v.on_hand, v.reserved) for k, v in lots.items()} == {
            "EXPIRED": (D(40), D(0)),
            "A": (D(20), D(20)),
            "B": (D(17), D(confirmed_units - 20)),
        }
        assert await reserved_total(s) == confirmed_units
        per_order = dict((await s.execute(
            select(SalesOrderLine.order_id, func.sum(Reservation.quantity))
            .join(Reservation, Reservation.order_line_id == SalesOrderLine.id)
            .group_by(SalesOrderLine.order_id)
        )).all())
        assert per_order == {o.id: quantities[order_ids.index(o.id)] for o in confirmed}
        assert await ledger.check_ledger(s) == []
        assert await s.scalar(select(func.count()).select_from(Movement)) == 3  # confirming moves no stock

    # Shipping them all at once empties exactly the reserved stock.
    await asyncio.gather(*(
        db.transact(lambda s, i=o.id: ship_sales_order(s, shop.world.warehouse_user, i, clock=CLOCK)) for o in confirmed
    ))
    async with db.session() as s:
        assert (await lot_of(s, shop.milk.id, "A")).on_hand == 0
        assert (await lot_of(s, shop.milk.id, "B")).on_hand == 37 - confirmed_units
        assert await reserved_total(s) == 0
        assert await ledger.check_ledger(s) == []
        product = await s.get(Product, shop.milk.id)
        assert product.avg_cost == D("2.500000")
