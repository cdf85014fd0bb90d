import asyncio
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from core import ledger
from core.accounts import pay_supplier, supplier_balance
from core.approval import ApprovalRule, decide, pending_approvals, set_approval_rules, steps_of, waiting_for
from core.catalog import ProductInput, save_product
from core.documents import (
    Decision,
    OrderLineInput,
    Payable,
    PurchaseOrder,
    PurchaseOrderLine,
    PurchaseOrderStatus,
    ReceiptLine,
)
from core.errors import AlreadyDecided, Forbidden, InvalidInput, InvalidState, OverReceipt
from core.models import AuditEntry, Product, Role
from core.preferences import set_setting
from core.purchasing import (
    OVER_RECEIPT_TOLERANCE_KEY,
    ReceiptLineInput,
    StockAtHand,
    cancel_purchase_order,
    close_purchase_order,
    create_purchase_order,
    order_suggestion,
    receive_purchase_order,
    reorder_suggestions,
    return_purchase,
    stock_at_hand,
    submit_purchase_order,
)
from tests.unit.core.workflows import CLOCK, lot_of, make_shop

D = Decimal


async def _po(db, shop, *lines, submit=True):
    async def work(s):
        order = await create_purchase_order(
            s, shop.world.purchaser, supplier_id=shop.supplier.id, warehouse_id=shop.world.main.id,
            lines=list(lines), clock=CLOCK,
        )
        await s.flush()
        if submit:
            await submit_purchase_order(s, shop.world.purchaser, order.id, clock=CLOCK)
        return order.id

    return await db.transact(work)


def _decide(db, actor, order_id, approve=True, **kwargs):
    return db.transact(lambda s: decide(s, actor, order_id, approve=approve, clock=CLOCK, **kwargs))


async def _status(db, order_id):
    async with db.session() as s:
        return (await s.get(PurchaseOrder, order_id)).status


async def test_small_order_needs_one_manager(db):
    shop = await make_shop(db)
    order_id = await _po(db, shop, OrderLineInput(shop.cola.id, D(10), "箱"))  # 10 × 50.40 = 504.00
    async with db.session() as s:
        waiting = await waiting_for(s, order_id)
        assert (waiting.role, [u.name for u in waiting.users]) == (Role.MANAGER, ["张经理", "李经理"])
        assert "PO-20261122-0001 ¥504.00 等待第 1/1 步经理审批" in waiting.describe()
    await _decide(db, shop.world.manager, order_id, comment="可以")
    assert await _status(db, order_id) == PurchaseOrderStatus.APPROVED
    async with db.session() as s:
        [step] = await steps_of(s, order_id)
        assert (step.decision, step.approver_id, step.comment) == (Decision.APPROVED, shop.world.manager.id, "可以")
        assert step.decided_at == CLOCK.now()
        assert await waiting_for(s, order_id) is None


async def test_large_order_needs_manager_then_owner(db):
    shop = await make_shop(db)
    order_id = await _po(db, shop, OrderLineInput(shop.cola.id, D(100), "箱", D("60.00")))  # 6,000.00
    w = shop.world
    with pytest.raises(Forbidden, match="需要经理"):
        await _decide(db, w.warehouse_user, order_id)
    with pytest.raises(InvalidState, match="第 1 步"):
        await _decide(db, w.owner, order_id, step_no=2)
    await _decide(db, w.manager, order_id, step_no=1)
    assert await _status(db, order_id) == PurchaseOrderStatus.PENDING_APPROVAL
    async with db.session() as s:
        waiting = await waiting_for(s, order_id)
        assert (waiting.step_no, waiting.role, [u.name for u in waiting.users]) == (2, Role.OWNER, ["赵老板"])
        assert [w_.number for w_ in await pending_approvals(s)] == [waiting.number]
    with pytest.raises(Forbidden, match="需要老板"):
        await _decide(db, w.manager2, order_id)
    with pytest.raises(AlreadyDecided, match="已由 张经理 于 10:30 批准"):
        await _decide(db, w.manager, order_id)  # a double click on the first card
    await _decide(db, w.owner, order_id, step_no=2)
    assert await _status(db, order_id) == PurchaseOrderStatus.APPROVED


async def test_requester_never_approves_own_order(db):
    shop = await make_shop(db)
    async def work(s):
        order = await create_purchase_order(
            s, shop.world.manager, supplier_id=shop.supplier.id, warehouse_id=shop.world.main.id,
            lines=[OrderLineInput(shop.cola.id, D(1))], clock=CLOCK,
        )
        await s.flush()
        await submit_purchase_order(s, shop.world.manager, order.id, clock=CLOCK)
        return order.id
    order_id = await db.transact(work)
    with pytest.raises(Forbidden, match="不能审批自己"):
        await _decide(db, shop.world.manager, order_id)
    async with db.session() as s:
        assert [u.name for u in (await waiting_for(s, order_id)).users] == ["李经理"]


async def test_rejection_is_final_and_reported_to_late_clicks(db):
    shop = await make_shop(db)
    order_id = await _po(db, shop, OrderLineInput(shop.cola.id, D(1)))
    await _decide(db, shop.world.manager, order_id, approve=False, comment="太贵")
    assert await _status(db, order_id) == PurchaseOrderStatus.REJECTED
    with pytest.raises(AlreadyDecided, match="已由 张经理 于 10:30 驳回") as late:
        await _decide(db, shop.world.manager2, order_id)
    assert late.value.code == "already_decided"


async def test_two_managers_deciding_at_once_make_one_decision(db):
    shop = await make_shop(db)
    order_id = await _po(db, shop, OrderLineInput(shop.cola.id, D(1)))
    w = shop.world
    attempts = [(w.manager, True), (w.manager2, False), (w.manager, True), (w.manager2, True)] * 3
    outcomes = await asyncio.gather(
        *(_decide(db, actor, order_id, approve=approve, step_no=1) for actor, approve in attempts),
        return_exceptions=True,
    )
    winners = [i for i, o in enumerate(outcomes) if not isinstance(o, Exception)]
    assert len(winners) == 1
    assert all(isinstance(o, AlreadyDecided) for i, o in enumerate(outcomes) if i != winners[0])
    winner_actor, winner_approve = attempts[winners[0]]
    async with db.session() as s:
        [step] = await steps_of(s, order_id)
        assert step.approver_id == winner_actor.id
        expected = PurchaseOrderStatus.APPROVED if winner_approve else PurchaseOrderStatus.REJECTED
        assert (await s.get(PurchaseOrder, order_id)).status == expected
    assert all(f"已由 {winner_actor.name} 于 10:30" in str(o) for i, o in enumerate(outcomes) if i != winners[0])


async def test_configured_rules_are_used(db):
    shop = await make_shop(db)
    with pytest.raises(Forbidden):
        await db.transact(lambda s: set_approval_rules(s, shop.world.manager, []))
    with pytest.raises(InvalidInput):
        await db.transact(lambda s: set_approval_rules(s, shop.world.owner, [ApprovalRule(D(100), (Role.MANAGER,))]))
    await db.transact(lambda s: set_approval_rules(s, shop.world.owner, [
        ApprovalRule(D("100"), (Role.MANAGER,)), ApprovalRule(None, (Role.OWNER,)),
    ]))
    order_id = await _po(db, shop, OrderLineInput(shop.cola.id, D(100)))  # 210.00
    async with db.session() as s:
        assert [st.role for st in await steps_of(s, order_id)] == ["owner"]


async def test_receiving_partially_then_fully_creates_lots_and_moves_average_cost(db):
    shop = await make_shop(db)  # 100 罐 at 2.00
    w = shop.world
    order_id = await _po(db, shop, OrderLineInput(shop.cola.id, D(5), "箱", D("60.00")), OrderLineInput(shop.milk.id, D(10), None, D("2.45")))
    with pytest.raises(InvalidState, match="待审批，不能入库"):
        await db.transact(lambda s: receive_purchase_order(s, w.warehouse_user, order_id, [], clock=CLOCK))
    await _decide(db, w.manager, order_id)
    async with db.session() as s:
        cola_line, milk_line = (await s.scalars(select(PurchaseOrderLine).order_by(PurchaseOrderLine.line_no))).all()
    await db.transact(lambda s: receive_purchase_order(s, w.warehouse_user, order_id, [
        ReceiptLineInput(cola_line.id, D(60)),
        ReceiptLineInput(milk_line.id, D(4), "L1", date(2026, 11, 1)),
    ], clock=CLOCK))
    assert await _status(db, order_id) == PurchaseOrderStatus.PARTIALLY_RECEIVED
    async with db.session() as s:
        cola = await s.get(Product, shop.cola.id)
        assert cola.avg_cost == D("2.187500")  # (100×2.00 + 60×2.50) / 160
        milk_lot = await lot_of(s, shop.milk.id, "L1")
        assert (milk_lot.on_hand, milk_lot.production_date, milk_lot.expiry_date) == (D(4), date(2026, 11, 1), date(2027, 4, 30))
    with pytest.raises(OverReceipt) as over:
        await db.transact(lambda s: receive_purchase_order(s, w.warehouse_user, order_id, [ReceiptLineInput(cola_line.id, D(61))], clock=CLOCK))
    assert over.value.message == "第 1 行 可口可乐 330ml 订了 5箱，已入库 2箱12罐，这次最多还能入库 2箱12罐（60罐）"
    with pytest.raises(InvalidState, match="部分入库，不能取消"):
        await db.transact(lambda s: cancel_purchase_order(s, w.purchaser, order_id, clock=CLOCK))
    await db.transact(lambda s: receive_purchase_order(s, w.warehouse_user, order_id, [
        ReceiptLineInput(cola_line.id, D(60)), ReceiptLineInput(milk_line.id, D(6), "L2", None, date(2027, 1, 1)),
    ], clock=CLOCK))
    async with db.session() as s:
        assert (await s.get(PurchaseOrder, order_id)).status == PurchaseOrderStatus.CLOSED
        payables = (await s.scalars(select(Payable).order_by(Payable.id))).all()
        assert sum(p.amount for p in payables) == D("324.50")  # 300.00 + 24.50
        assert await supplier_balance(s, shop.supplier.id) == D("324.50")
        assert await ledger.check_ledger(s) == []
    with pytest.raises(Forbidden):
        await db.transact(lambda s: pay_supplier(s, w.purchaser, payables[0].id, D(1)))
    await db.transact(lambda s: pay_supplier(s, w.manager, payables[0].id, payables[0].amount, clock=CLOCK))
    with pytest.raises(InvalidState):
        await db.transact(lambda s: pay_supplier(s, w.manager, payables[0].id, D(1), clock=CLOCK))
    async with db.session() as s:
        assert await supplier_balance(s, shop.supplier.id) == D("324.50") - payables[0].amount


async def test_over_receipt_tolerance(db):
    shop = await make_shop(db)
    order_id = await _po(db, shop, OrderLineInput(shop.cola.id, D(100)))
    await _decide(db, shop.world.manager, order_id)
    await db.transact(lambda s: set_setting(s, shop.world.owner, OVER_RECEIPT_TOLERANCE_KEY, 5.5))
    async with db.session() as s:
        line = await s.scalar(select(PurchaseOrderLine))
    with pytest.raises(OverReceipt) as over:
        await db.transact(lambda s: receive_purchase_order(s, shop.world.warehouse_user, order_id, [ReceiptLineInput(line.id, D(106))], clock=CLOCK))
    # 100罐 + 5.5% is 105.5罐: a can is whole, so 105 can still come in
    assert over.value.message.endswith("这次最多还能入库 4箱9罐（105罐）")
    receipt = await db.transact(lambda s: receive_purchase_order(s, shop.world.warehouse_user, order_id, [ReceiptLineInput(line.id, D(105))], clock=CLOCK))
    assert receipt.amount == D("220.50")
    assert await _status(db, order_id) == PurchaseOrderStatus.CLOSED


async def test_cancel_close_and_purchase_return(db):
    shop = await make_shop(db, cola_stock="0")
    w = shop.world
    draft = await _po(db, shop, OrderLineInput(shop.cola.id, D(10)), submit=False)
    with pytest.raises(Forbidden):
        await db.transact(lambda s: cancel_purchase_order(s, w.sales, draft, clock=CLOCK))
    await db.transact(lambda s: cancel_purchase_order(s, w.purchaser, draft, clock=CLOCK))
    with pytest.raises(InvalidState, match="已取消，不能提交"):
        await db.transact(lambda s: submit_purchase_order(s, w.purchaser, draft, clock=CLOCK))
    order_id = await _po(db, shop, OrderLineInput(shop.cola.id, D(10)))
    await _decide(db, w.manager, order_id)
    async with db.session() as s:
        line = await s.scalar(select(PurchaseOrderLine).where(PurchaseOrderLine.order_id == order_id))
    await db.transact(lambda s: receive_purchase_order(s, w.warehouse_user, order_id, [ReceiptLineInput(line.id, D(4))], clock=CLOCK))
    await db.transact(lambda s: close_purchase_order(s, w.purchaser, order_id, reason="缺货", clock=CLOCK))
    assert await _status(db, order_id) == PurchaseOrderStatus.CLOSED
    async with db.session() as s:
        receipt_line = await s.scalar(select(ReceiptLine))
    with pytest.raises(InvalidInput) as too_many:
        await db.transact(lambda s: return_purchase(s, w.warehouse_user, receipt_line.id, D(5), reason="质量问题", clock=CLOCK))
    assert too_many.value.message == "可口可乐 330ml 这一行最多还能退 4罐，不能退 5罐"
    await db.transact(lambda s: return_purchase(s, w.warehouse_user, receipt_line.id, D(3), reason="质量问题", clock=CLOCK))
    async with db.session() as s:
        assert (await lot_of(s, shop.cola.id)).on_hand == D(1)
        assert await supplier_balance(s, shop.supplier.id) == D("2.10")  # 8.40 − 6.30
        assert await ledger.check_ledger(s) == []


async def test_stock_at_hand_counts_what_other_open_orders_still_bring_into_the_warehouse(db):
    shop = await make_shop(db)  # 100 罐 cola in 主仓
    w = shop.world
    partly = await _po(db, shop, OrderLineInput(shop.cola.id, D(2), "箱"))  # 48 罐, 20 of them received below
    await _decide(db, w.manager, partly)
    async with db.session() as s:
        line = await s.scalar(select(PurchaseOrderLine).where(PurchaseOrderLine.order_id == partly))
    await db.transact(lambda s: receive_purchase_order(s, w.warehouse_user, partly, [ReceiptLineInput(line.id, D(20))], clock=CLOCK))
    await _po(db, shop, OrderLineInput(shop.cola.id, D(5)), submit=False)  # a draft is on order too
    cancelled = await _po(db, shop, OrderLineInput(shop.cola.id, D(7)))
    await db.transact(lambda s: cancel_purchase_order(s, w.purchaser, cancelled, clock=CLOCK))

    async def elsewhere(s):
        await create_purchase_order(
            s, w.purchaser, supplier_id=shop.supplier.id, warehouse_id=w.store.id,
            lines=[OrderLineInput(shop.cola.id, D(9))], clock=CLOCK,
        )

    await db.transact(elsewhere)
    order_id = await _po(db, shop, OrderLineInput(shop.cola.id, D(1), "箱"), OrderLineInput(shop.milk.id, D(6)))
    async with db.session() as s:
        at_hand = await stock_at_hand(s, await s.get(PurchaseOrder, order_id), clock=CLOCK)
    assert at_hand == {
        shop.cola.id: StockAtHand(D(120), D(120), D(0), D(33)),  # 28 still to come + the draft's 5
        shop.milk.id: StockAtHand(D(0), D(0), D(0), D(0)),
    }


async def test_reorder_suggestions_subtract_on_order_and_become_one_order(db):
    shop = await make_shop(db, cola_stock="10")
    w = shop.world
    async with db.session() as s:
        await save_product(s, None, ProductInput(
            sku="P001", name="可口可乐 330ml", base_unit="罐", category="饮料", conversions={"箱": D(24)},
            sale_price=D("3.50"), purchase_price=D("2.10"), safety_stock=D(48), max_stock=D(120),
            preferred_supplier="华润饮料",
        ))
        await save_product(s, None, ProductInput(
            sku="M001", name="纯牛奶 250ml", base_unit="盒", sale_price=D("4.00"), purchase_price=D("2.50"),
            safety_stock=D(10), shelf_life_days=180,
        ))
    open_po = await _po(db, shop, OrderLineInput(shop.cola.id, D(20)))
    async with db.session() as s:
        suggestions = await reorder_suggestions(s)
    assert [
        (g.supplier_name, [(line.sku, line.unit_quantity, line.unit, line.quantity) for line in g.lines])
        for g in suggestions
    ] == [
        ("华润饮料", [("P001", D(4), "箱", D(96))]),  # 120 − 10 available − 20 on order = 90 → 4 cases of 24
        ("未指定供应商", [("M001", D(2), "箱", D(24))]),  # 2 × 10 = 20 → 2 cases of 12
    ]
    made = await asyncio.gather(*(
        db.transact(lambda s: order_suggestion(s, w.purchaser, supplier_id=shop.supplier.id, warehouse_id=w.main.id, submit=True, clock=CLOCK))
        for _ in range(3)
    ), return_exceptions=True)
    orders = [m for m in made if isinstance(m, PurchaseOrder)]
    assert len(orders) == 1 and all(isinstance(m, InvalidState) for m in made if m is not orders[0])
    async with db.session() as s:
        order = await s.get(PurchaseOrder, orders[0].id)
        assert order.status == PurchaseOrderStatus.PENDING_APPROVAL
        line = await s.scalar(select(PurchaseOrderLine).where(PurchaseOrderLine.order_id == order.id))
        assert (line.unit, line.unit_quantity, line.quantity, line.amount) == ("箱", D(4), D(96), D("201.60"))
        assert [g.supplier_id for g in await reorder_suggestions(s)] == [None]
    await db.transact(lambda s: cancel_purchase_order(s, w.purchaser, open_po, clock=CLOCK))


async def test_reorder_suggestion_rounds_up_to_whole_cases_that_fit_the_maximum(db):
    shop = await make_shop(db, cola_stock="7")
    async with db.session() as s:
        await save_product(s, None, ProductInput(  # 1 板 = 40 箱 = 960 罐: more than the maximum, never used
            sku="P001", name="可口可乐 330ml", base_unit="罐", category="饮料", conversions={"箱": D(24), "板": D(960)},
            sale_price=D("3.50"), purchase_price=D("2.10"), safety_stock=D(24), max_stock=D(48),
            preferred_supplier="华润饮料",
        ))
        await save_product(s, None, ProductInput(  # sold by weight, no pack: the exact shortfall
            sku="R001", name="散装大米", base_unit="公斤", purchase_price=D("4.00"), safety_stock=D("10"),
            max_stock=D("12.5"), preferred_supplier="华润饮料",
        ))
    async with db.session() as s:
        [group] = await reorder_suggestions(s)
    cola, rice = group.lines
    # 48 − 7 = 41 cans short: 2 cases (48 cans), not 41 cans and not a pallet
    assert (cola.unit, cola.unit_quantity, cola.quantity, cola.target) == ("箱", D(2), D(48), D(48))
    assert (rice.unit, rice.unit_quantity, rice.quantity) == ("公斤", D("12.5"), D("12.5"))
    order = await db.transact(lambda s: order_suggestion(
        s, shop.world.purchaser, supplier_id=shop.supplier.id, warehouse_id=shop.world.main.id, clock=CLOCK
    ))
    async with db.session() as s:
        lines = (await s.scalars(select(PurchaseOrderLine).where(PurchaseOrderLine.order_id == order.id).order_by(PurchaseOrderLine.line_no))).all()
        assert [(line.unit, line.unit_quantity, line.quantity, line.unit_price, line.amount) for line in lines] == [
            ("箱", D(2), D(48), D("50.40"), D("100.80")),
            ("公斤", D("12.5"), D("12.5"), D("4.00"), D("50.00")),
        ]
        assert (await s.get(PurchaseOrder, order.id)).status == PurchaseOrderStatus.DRAFT
        assert await reorder_suggestions(s) == []  # the whole shortfall is on order now


def test_purchase_unit_is_the_biggest_whole_pack_within_the_target():
    from core.purchasing import purchase_unit, round_up_to

    units = [("箱", D(24)), ("提", D(6)), ("板", D(960)), ("半箱", D("12.5"))]
    assert purchase_unit(units, D(100)) == ("箱", D(24))
    assert purchase_unit(units, D(20)) == ("提", D(6))
    assert purchase_unit(units, D(5)) is None
    assert purchase_unit([], D(100)) is None
    assert [round_up_to(D(q), D(24)) for q in (1, 17, 24, 25, 48)] == [D(1), D(1), D(1), D(2), D(2)]


async def _received(db, shop, quantity, price):
    """An approved order of `quantity` cans at `price` a can, received whole; its receipt line."""
    order_id = await _po(db, shop, OrderLineInput(shop.cola.id, D(quantity), None, D(price)))
    await _decide(db, shop.world.manager, order_id)
    async with db.session() as s:
        line = await s.scalar(select(PurchaseOrderLine).where(PurchaseOrderLine.order_id == order_id))
    receipt = await db.transact(lambda s: receive_purchase_order(
        s, shop.world.warehouse_user, order_id, [ReceiptLineInput(line.id, D(quantity))], clock=CLOCK
    ))
    async with db.session() as s:
        return await s.scalar(select(ReceiptLine).where(ReceiptLine.receipt_id == receipt.id))


async def _average(db, product_id):
    async with db.session() as s:
        return (await s.get(Product, product_id)).avg_cost


async def test_a_purchase_return_at_its_receipt_cost_re_averages_what_stays(db):
    shop = await make_shop(db)  # 100 罐 at 2.00
    w = shop.world
    line = await _received(db, shop, 60, "2.50")
    assert await _average(db, shop.cola.id) == D("2.187500")  # (200.00 + 150.00) / 160
    await db.transact(lambda s: return_purchase(s, w.warehouse_user, line.id, D(20), reason="破损", clock=CLOCK))
    # value out 20 × 2.50 = 50.00; (350.00 − 50.00) / 140 = 2.142857…
    assert await _average(db, shop.cola.id) == D("2.142857")
    async with db.session() as s:
        movement = await s.scalar(select(ledger.Movement).where(ledger.Movement.kind == ledger.MovementKind.PURCHASE_RETURN))
        assert (movement.quantity, movement.unit_cost) == (D(-20), D("2.500000"))
        assert await supplier_balance(s, shop.supplier.id) == D("100.00")  # 150.00 − 50.00
        entry = await s.scalar(select(AuditEntry).where(AuditEntry.action == "reaverage"))
        assert (entry.before, entry.after["avg_cost"]) == ({"avg_cost": "2.187500"}, "2.142857")


async def test_a_purchase_return_never_leaves_a_negative_value_and_keeps_the_average_when_nothing_stays(db):
    shop = await make_shop(db, cola_stock="0")
    w = shop.world
    async with db.session() as s:  # 10 free samples
        await ledger.opening_stock(s, w.warehouse_user, product_id=shop.cola.id, warehouse_id=w.main.id, quantity=D(10), unit_cost=D(0))
    line = await _received(db, shop, 10, "5.00")
    assert await _average(db, shop.cola.id) == D("2.500000")  # 50.00 / 20
    async with db.session() as s:
        lot = await lot_of(s, shop.cola.id)
        await ledger.adjust(s, w.warehouse_user, lot_id=lot.id, quantity=D(-5), reason="试吃")
    # 15 left worth 37.50; 10 go back worth 50.00: the 5 that stay are worth nothing, not −12.50
    await db.transact(lambda s: return_purchase(s, w.warehouse_user, line.id, D(10), reason="退货", clock=CLOCK))
    assert await _average(db, shop.cola.id) == D("0.000000")

    second = await _received(db, shop, 6, "3.00")
    assert await _average(db, shop.cola.id) == D("1.636364")  # (5 × 0 + 6 × 3.00) / 11
    async with db.session() as s:
        lot = await lot_of(s, shop.cola.id)
        await ledger.adjust(s, w.warehouse_user, lot_id=lot.id, quantity=D(-5), reason="试吃")
    await db.transact(lambda s: return_purchase(s, w.warehouse_user, second.id, D(6), reason="退货", clock=CLOCK))
    async with db.session() as s:
        assert (await lot_of(s, shop.cola.id)).on_hand == 0
        assert await ledger.check_ledger(s) == []
    assert await _average(db, shop.cola.id) == D("1.636364")  # nothing stays: the last average is kept


def test_reaverage_after_return_figures():
    from core.purchasing import reaverage_after_return

    assert reaverage_after_return(D(160), D("2.1875"), D(20), D("2.50")) == D("2.142857")
    assert reaverage_after_return(D(100), D(2), D(40), D("1.50")) == D("2.333333")  # returned cheaper than average
    assert reaverage_after_return(D(15), D("2.5"), D(10), D(5)) == D(0)
    assert reaverage_after_return(D(10), D(3), D(10), D(3)) == D(3)
