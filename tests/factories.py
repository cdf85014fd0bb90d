"""Small builders for test data: people with roles, warehouses, products with units and barcodes."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from core.catalog import ProductInput, save_product, save_warehouse
from core.models import Product, Role, User, Warehouse


@dataclass
class World:
    admin: User
    sales: User
    warehouse_user: User
    purchaser: User
    manager: User
    manager2: User
    owner: User
    main: Warehouse
    store: Warehouse


async def make_user(session: AsyncSession, name: str, role: Role) -> User:
    user = User(name=name, role=role)
    session.add(user)
    await session.flush()
    return user


async def make_world(session: AsyncSession) -> World:
    users = [
        await make_user(session, name, role)
        for name, role in [
            ("管理员", Role.ADMIN),
            ("小王", Role.SALES),
            ("老李", Role.WAREHOUSE),
            ("小陈", Role.PURCHASER),
            ("张经理", Role.MANAGER),
            ("李经理", Role.MANAGER),
            ("赵老板", Role.OWNER),
        ]
    ]
    main = await save_warehouse(session, None, "MAIN", "主仓")
    store = await save_warehouse(session, None, "STORE", "门店仓")
    return World(*users, main=main, store=store)


async def make_product(
    session: AsyncSession,
    sku: str = "P001",
    name: str = "可口可乐 330ml",
    *,
    spec: str = "",
    base_unit: str = "罐",
    case: int | None = 24,
    barcode: str | None = "6901234567892",
    sale_price: str = "3.50",
    purchase_price: str = "2.10",
    safety_stock: str = "0",
    max_stock: str | None = None,
    shelf_life_days: int | None = None,
    lot_tracked: bool | None = None,
    category: str = "饮料",
) -> Product:
    product, _ = await save_product(
        session,
        None,
        ProductInput(
            sku=sku,
            name=name,
            spec=spec,
            base_unit=base_unit,
            category=category,
            conversions={"箱": Decimal(case)} if case else {},
            barcodes=[barcode] if barcode else [],
            sale_price=Decimal(sale_price),
            purchase_price=Decimal(purchase_price),
            safety_stock=Decimal(safety_stock),
            max_stock=None if max_stock is None else Decimal(max_stock),
            shelf_life_days=shelf_life_days,
            lot_tracked=lot_tracked,
        ),
    )
    return product
