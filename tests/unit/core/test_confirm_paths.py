"""Property: PostgreSQL's confirmation function and the portable Python path decide alike.

Sales confirmation has two implementations (core/sql/confirm_sales_order_v1.sql on PostgreSQL, Python
on SQLite). The same random sequence of lots (expired, expiring, without expiry) and orders (several
lines, the same product twice, cancellations, a customer with a credit limit) is played on a fresh
SQLite file and on a PostgreSQL schema emptied between examples: every step must end the same way
(confirmed, or refused with the same message) and leave the same reservations, lot by lot and line by
line, and the same audit rows.
"""

import asyncio
import os
import tempfile
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, text
from sqlmodel import SQLModel

from core.catalog import save_customer
from core.config import database_url
from core.db import Database
from core.documents import OrderLineInput, Reservation, SalesOrder
from core.errors import DomainError
from core.ledger import opening_stock
from core.models import AuditEntry, Lot
from core.sales import cancel_sales_order, confirm_sales_order
from tests.conftest import POSTGRES_URL, require_server
from tests.unit.core.workflows import CLOCK, TODAY, draft_order, make_shop

D = Decimal

lots = st.lists(
    st.tuples(st.sampled_from([None, -1, 0, 3, 40, 200]), st.integers(1, 30)),  # expiry in days from today
    min_size=0,
    max_size=5,
)
steps = st.lists(
    st.one_of(
        st.tuples(
            st.just("confirm"),
            st.lists(st.tuples(st.sampled_from(["cola", "milk"]), st.integers(1, 25)), min_size=1, max_size=3),
            st.booleans(),  # the customer with a credit limit
            st.booleans(),  # a manager's override
        ),
        st.tuples(st.just("cancel"), st.integers(0, 9)),
        st.tuples(st.just("confirm again"), st.integers(0, 9)),
    ),
    min_size=1,
    max_size=8,
)


async def _play(db: Database, milk_lots: list[tuple[int | None, int]], plan: list[tuple]) -> tuple[list, list]:
    shop = await make_shop(db, cola_stock="30")
    w = shop.world
    async with db.session() as s:
        tight, _ = await save_customer(s, None, name="小卖部", credit_limit=D("60.00"))
        for n, (days, quantity) in enumerate(milk_lots):
            await opening_stock(
                s, w.warehouse_user, product_id=shop.milk.id, warehouse_id=w.main.id, quantity=D(quantity),
                lot_no=f"M{n}", expiry_date=None if days is None else TODAY + timedelta(days=days),
                unit_cost=D("2.50"),
            )
    products = {"cola": shop.cola.id, "milk": shop.milk.id}
    outcomes: list[str] = []
    orders: list[int] = []
    for step in plan:
        try:
            if step[0] == "confirm":
                _, lines, limited, override = step
                order_id = await draft_order(
                    db, shop, *(OrderLineInput(products[name], D(quantity)) for name, quantity in lines),
                    customer_id=tight.id if limited else None,
                )
                orders.append(order_id)
                by = w.manager if override else None
                confirmed = await db.transact(
                    lambda s, i=order_id, by=by: confirm_sales_order(s, w.sales, i, credit_override_by=by, clock=CLOCK)
                )
                outcomes.append(f"confirmed {confirmed.number} {confirmed.total} {confirmed.credit_override_by}")
            elif orders:
                order_id = orders[step[1] % len(orders)]
                if step[0] == "cancel":
                    await db.transact(lambda s, i=order_id: cancel_sales_order(s, w.sales, i, clock=CLOCK))
                    outcomes.append("cancelled")
                else:
                    await db.transact(lambda s, i=order_id: confirm_sales_order(s, w.sales, i, clock=CLOCK))
                    outcomes.append("confirmed again")
        except DomainError as refused:
            outcomes.append(f"{refused.code}: {refused.message}")
    async with db.session() as s:
        books = [
            *(await s.execute(select(Reservation.order_line_id, Reservation.lot_id, Reservation.quantity)
                              .order_by(Reservation.order_line_id, Reservation.lot_id))).all(),
            *(await s.execute(select(Lot.id, Lot.on_hand, Lot.reserved).order_by(Lot.id))).all(),
            *(await s.execute(select(SalesOrder.id, SalesOrder.status, SalesOrder.credit_override_by)
                              .order_by(SalesOrder.id))).all(),
            *(await s.execute(select(AuditEntry.entity_id, AuditEntry.action, AuditEntry.user_id, AuditEntry.after)
                              .where(AuditEntry.entity == "sales_order").order_by(AuditEntry.id))).all(),
        ]
    return outcomes, books


async def _on_sqlite(milk_lots, plan) -> tuple[list, list]:
    with tempfile.TemporaryDirectory() as directory:
        db = Database(database_url(f"sqlite:///{directory}/p.db"))
        try:
            async with db.write_engine.begin() as connection:
                await connection.run_sync(SQLModel.metadata.create_all)
            return await _play(db, milk_lots, plan)
        finally:
            await db.close()


async def _on_postgres(schema: str, milk_lots, plan) -> tuple[list, list]:
    db = Database(database_url(POSTGRES_URL), pg_schema=schema)
    try:
        tables = ", ".join(f'"{table.name}"' for table in SQLModel.metadata.sorted_tables)
        async with db.write_engine.begin() as connection:
            await connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        return await _play(db, milk_lots, plan)
    finally:
        await db.close()


async def _ddl(statement: str, create_tables_in: str | None = None) -> None:
    admin = Database(database_url(POSTGRES_URL))
    async with admin.write_engine.begin() as connection:
        await connection.execute(text(statement))
    await admin.close()
    if create_tables_in:
        db = Database(database_url(POSTGRES_URL), pg_schema=create_tables_in)
        async with db.write_engine.begin() as connection:
            await connection.run_sync(SQLModel.metadata.create_all)
        await db.close()


@pytest.fixture(scope="module")
def postgres_schema():
    require_server("PostgreSQL", POSTGRES_URL, 5432)
    schema = "p_" + uuid.uuid4().hex[:12]
    asyncio.run(_ddl(f'CREATE SCHEMA "{schema}"', create_tables_in=schema))
    yield schema
    asyncio.run(_ddl(f'DROP SCHEMA "{schema}" CASCADE'))


@pytest.mark.postgres
@settings(
    max_examples=int(os.environ.get("PSIBOT_CONFIRM_EXAMPLES", "40")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(milk_lots=lots, plan=steps)
def test_postgres_function_and_python_path_confirm_alike(postgres_schema, milk_lots, plan):
    portable = asyncio.run(_on_sqlite(milk_lots, plan))
    in_database = asyncio.run(_on_postgres(postgres_schema, milk_lots, plan))
    assert in_database == portable


def test_the_plan_reaches_every_outcome():
    """The strategies above can produce each refusal the comparison must cover (a fixed example)."""
    plan = [
        ("confirm", [("milk", 5), ("milk", 4)], False, False),
        ("confirm", [("cola", 25)], True, False),
        ("confirm", [("cola", 25)], True, True),
        ("confirm", [("cola", 10)], False, False),
        ("confirm again", 0),
        ("cancel", 3),
    ]
    outcomes, books = asyncio.run(_on_sqlite([(-1, 9), (3, 4), (None, 6), (40, 2)], plan))
    assert outcomes[0].startswith("confirmed SO-20261122-0001")
    assert outcomes[1].startswith("credit_limit_exceeded: 小卖部 信用额度 ¥60.00")
    assert outcomes[2].startswith("confirmed") and not outcomes[2].endswith(" None")  # the manager allowed it
    assert outcomes[3].startswith("insufficient_stock: 可口可乐")
    assert outcomes[4].startswith("invalid_state:")
    assert outcomes[5] == "cancelled"
    # Lots: 1 cola, 2-5 milk M0-M3. Line 1 (5) takes M1 (3 days) then M3 (40 days); line 2 (4) the rest of
    # M3 then M2 (no expiry); M0 has expired.
    assert books[:4] == [(1, 3, D(4)), (1, 5, D(1)), (2, 4, D(3)), (2, 5, D(1))]
