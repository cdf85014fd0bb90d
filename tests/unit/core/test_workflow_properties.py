"""Property: any interleaving of confirm / ship / cancel / receive / count keeps the books straight.

Runs on SQLite only (a fresh database file per example; PostgreSQL schema setup per example would make
30 examples take minutes). The concurrency of the same workflows on PostgreSQL is covered in test_sales.
"""

import asyncio
import tempfile
from datetime import date
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlmodel import SQLModel

from core import ledger
from core.approval import decide
from core.config import database_url
from core.counts import cancel_count, finish_count, record_count, start_count
from core.db import Database
from core.documents import OrderLineInput, PurchaseOrderLine, Reservation, SalesOrderLine
from core.errors import DomainError
from core.models import Lot
from core.purchasing import (
    ReceiptLineInput,
    create_purchase_order,
    receive_purchase_order,
    submit_purchase_order,
)
from core.sales import cancel_sales_order, confirm_sales_order, ship_sales_order
from tests.unit.core.workflows import CLOCK, add_milk_lot, draft_order, make_shop

D = Decimal

operations = st.lists(
    st.one_of(
        st.tuples(st.just("confirm"), st.sampled_from(["cola", "milk"]), st.integers(1, 30)),
        st.tuples(st.just("ship"), st.integers(0, 9), st.integers(0, 30)),
        st.tuples(st.just("cancel"), st.integers(0, 9)),
        st.tuples(st.just("receive"), st.sampled_from(["cola", "milk"]), st.integers(1, 40)),
        st.tuples(st.just("count"), st.sampled_from(["cola", "milk"]), st.integers(0, 60)),
    ),
    min_size=1,
    max_size=12,
)


async def _play(steps: list[tuple]) -> None:
    with tempfile.TemporaryDirectory() as directory:
        db = Database(database_url(f"sqlite:///{directory}/p.db"))
        async with db.write_engine.begin() as connection:
            await connection.run_sync(SQLModel.metadata.create_all)
        try:
            shop = await make_shop(db, cola_stock="20")
            await add_milk_lot(db, shop, "M1", date(2026, 12, 1), "10")
            await add_milk_lot(db, shop, "M2", date(2027, 2, 1), "10")
            w = shop.world
            products = {"cola": shop.cola, "milk": shop.milk}
            orders: list[int] = []
            lot_numbers = {"cola": "", "milk": "M1"}
            for step in steps:
                try:
                    await _apply(db, shop, w, products, orders, lot_numbers, step)
                except DomainError:
                    pass  # refusals are expected; they must change nothing
                await _check(db)
        finally:
            await db.close()


async def _apply(db, shop, w, products, orders, lot_numbers, step) -> None:
    kind = step[0]
    if kind == "confirm":
        order_id = await draft_order(db, shop, OrderLineInput(products[step[1]].id, D(step[2])))
        orders.append(order_id)
        await db.transact(lambda s: confirm_sales_order(s, w.sales, order_id, clock=CLOCK))
    elif kind in ("ship", "cancel") and orders:
        order_id = orders[step[1] % len(orders)]
        if kind == "cancel":
            await db.transact(lambda s: cancel_sales_order(s, w.sales, order_id, clock=CLOCK))
            return
        async with db.session() as s:
            line = await s.scalar(select(SalesOrderLine.id).where(SalesOrderLine.order_id == order_id).limit(1))
        quantities = None if step[2] == 0 or line is None else {line: D(step[2])}
        await db.transact(lambda s: ship_sales_order(s, w.warehouse_user, order_id, quantities=quantities, clock=CLOCK))
    elif kind == "receive":
        async def buy(s):
            order = await create_purchase_order(
                s, w.purchaser, supplier_id=shop.supplier.id, warehouse_id=w.main.id,
                lines=[OrderLineInput(products[step[1]].id, D(step[2]))], clock=CLOCK)
            await s.flush()
            await submit_purchase_order(s, w.purchaser, order.id, clock=CLOCK)
            await decide(s, w.manager, order.id, approve=True, clock=CLOCK)
            if order.status.value == "pending_approval":
                await decide(s, w.owner, order.id, approve=True, clock=CLOCK)
            line = await s.scalar(select(PurchaseOrderLine).where(PurchaseOrderLine.order_id == order.id))
            await receive_purchase_order(s, w.warehouse_user, order.id, [
                ReceiptLineInput(line.id, D(step[2]), "M3" if step[1] == "milk" else "", expiry_date=date(2027, 5, 1))
            ], clock=CLOCK)
        await db.transact(buy)
    elif kind == "count":
        count = await db.transact(lambda s: start_count(s, w.warehouse_user, warehouse_id=w.main.id, clock=CLOCK))
        try:
            await db.transact(lambda s: record_count(
                s, w.warehouse_user, count.id, product_id=products[step[1]].id, lot_no=lot_numbers[step[1]],
                quantity=D(step[2]), clock=CLOCK))
            await db.transact(lambda s: finish_count(s, w.warehouse_user, count.id, clock=CLOCK))
        finally:
            try:
                await db.transact(lambda s: cancel_count(s, w.warehouse_user, count.id, clock=CLOCK))
            except DomainError:
                pass


async def _check(db: Database) -> None:
    async with db.session() as s:
        assert await ledger.check_ledger(s) == []
        lots = (await s.scalars(select(Lot))).all()
        assert all(D(0) <= lot.reserved <= lot.on_hand for lot in lots)
        held = dict((await s.execute(select(Reservation.lot_id, func.sum(Reservation.quantity)).group_by(Reservation.lot_id))).all())
        assert {lot.id: lot.reserved for lot in lots if lot.reserved} == {k: v for k, v in held.items() if v}


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(operations)
def test_any_interleaving_keeps_ledger_reservations_and_stock_consistent(steps):
    asyncio.run(_play(steps))
