"""Builders shared by the workflow tests: a world with stock, customers and suppliers, and a fixed clock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core import ledger
from core.catalog import save_customer, save_supplier
from core.db import Database
from core.documents import OrderLineInput, Reservation
from core.models import Customer, Lot, Product, Supplier
from core.numbering import Clock
from core.sales import create_sales_order
from tests.factories import World, make_product, make_world

# 10:30 on 22 November 2026 in Shanghai.
CLOCK = Clock(fixed_now=datetime(2026, 11, 22, 2, 30, tzinfo=UTC))
TODAY = date(2026, 11, 22)


@dataclass
class Shop:
    world: World
    cola: Product  # untracked, 24 罐 a 箱
    milk: Product  # lot tracked, shelf life
    customer: Customer
    supplier: Supplier


async def make_shop(db: Database, *, cola_stock: str = "100") -> Shop:
    async with db.session() as s:
        world = await make_world(s)
        supplier, _ = await save_supplier(s, None, name="华润饮料")
        customer, _ = await save_customer(s, None, name="华联超市")
        cola = await make_product(s)
        milk = await make_product(
            s, "M001", "纯牛奶 250ml", base_unit="盒", case=12, barcode=None, sale_price="4.00",
            purchase_price="2.50", shelf_life_days=180, category="乳品",
        )
        if Decimal(cola_stock) > 0:
            await ledger.opening_stock(
                s, world.warehouse_user, product_id=cola.id, warehouse_id=world.main.id,
                quantity=Decimal(cola_stock), unit_cost=Decimal("2.00"),
            )
    return Shop(world, cola, milk, customer, supplier)


async def add_milk_lot(db: Database, shop: Shop, lot_no: str, expiry: date, quantity: str, cost: str = "2.50") -> None:
    async with db.session() as s:
        await ledger.opening_stock(
            s, shop.world.warehouse_user, product_id=shop.milk.id, warehouse_id=shop.world.main.id,
            quantity=Decimal(quantity), lot_no=lot_no, expiry_date=expiry, unit_cost=Decimal(cost),
        )


async def draft_order(db: Database, shop: Shop, *lines: OrderLineInput, customer_id: int | None = None) -> int:
    async def work(s: AsyncSession) -> int:
        order = await create_sales_order(
            s, shop.world.sales, customer_id=customer_id or shop.customer.id, warehouse_id=shop.world.main.id,
            lines=list(lines), clock=CLOCK,
        )
        await s.flush()
        return order.id

    return await db.transact(work)


async def lot_of(s: AsyncSession, product_id: int, lot_no: str = "") -> Lot:
    lot = await s.scalar(select(Lot).where(Lot.product_id == product_id, Lot.lot_no == lot_no).execution_options(populate_existing=True))
    assert lot is not None
    return lot


async def reserved_total(s: AsyncSession) -> Decimal:
    total = await s.scalar(select(func.sum(Reservation.quantity)))
    return total if total is not None else Decimal(0)
