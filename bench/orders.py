"""Order confirmations per second: one hot product, and 1,000 products, with 8 concurrent workers.

Each confirmation is its own `Database.transact` (lock the order, lock the product's lots, reserve
FEFO, record reservations and audit). Draft orders are created before the clock starts. After each
run the script checks that nothing was oversold: reserved = Σ reservations = units of confirmed
orders, reserved <= on hand in every lot, and the ledger agrees with the lots.

    python bench/orders.py --backend sqlite|postgres [--runs 3] [--orders 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, select, text  # noqa: E402
from sqlmodel import SQLModel  # noqa: E402

import core.documents  # noqa: E402, F401 - registers the document tables
from core.config import database_url  # noqa: E402
from core.db import Database  # noqa: E402
from core.documents import Reservation, SalesOrder, SalesOrderLine, SalesOrderStatus  # noqa: E402
from core.errors import InsufficientStock  # noqa: E402
from core.ledger import check_ledger  # noqa: E402
from core.models import Customer, Lot, Movement, MovementKind, Product, Role, User, Warehouse  # noqa: E402
from core.sales import confirm_sales_order  # noqa: E402

POSTGRES_URL = os.environ.get("PSIBOT_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
WORKERS = 8


@dataclass(frozen=True)
class RunResult:
    scenario: str
    orders: int
    confirmed: int
    refused: int
    seconds: float

    @property
    def per_second(self) -> float:
        return self.orders / self.seconds


async def open_database(backend: str) -> tuple[Database, str | None, tempfile.TemporaryDirectory[str] | None]:
    if backend == "sqlite":
        directory = tempfile.TemporaryDirectory()
        database = Database(database_url(f"sqlite:///{directory.name}/bench.db"))
        schema = None
    else:
        directory = None
        schema = "bench_" + uuid.uuid4().hex[:10]
        admin = Database(database_url(POSTGRES_URL))
        async with admin.write_engine.begin() as connection:
            await connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        await admin.close()
        database = Database(database_url(POSTGRES_URL), pg_schema=schema)
    async with database.write_engine.begin() as connection:
        await connection.run_sync(SQLModel.metadata.create_all)
    return database, schema, directory


async def drop_database(database: Database, schema: str | None) -> None:
    await database.close()
    if schema:
        admin = Database(database_url(POSTGRES_URL))
        async with admin.write_engine.begin() as connection:
            await connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        await admin.close()


async def seed(database: Database, products: int, stock_per_product: Decimal, orders: list[int]) -> User:
    """Products with stock in two lots each, and one draft order of one unit per entry of `orders`."""
    async with database.session() as s:
        seller = User(name="销售", role=Role.SALES)
        warehouse = Warehouse(code="MAIN", name="主仓")
        customer = Customer(name="客户")
        s.add_all([seller, warehouse, customer])
        await s.flush()
        items = [
            Product(sku=f"SKU{i:05d}", name=f"商品{i}", base_unit="个", sale_price=Decimal("9.90"), avg_cost=Decimal(5))
            for i in range(products)
        ]
        s.add_all(items)
        await s.flush()
        half = stock_per_product / 2
        lots = [
            Lot(product_id=p.id or 0, warehouse_id=warehouse.id or 0, lot_no=lot_no, on_hand=half)
            for p in items
            for lot_no in ("A", "B")
        ]
        s.add_all(lots)
        await s.flush()
        s.add_all(
            Movement(kind=MovementKind.OPENING, product_id=lot.product_id, warehouse_id=lot.warehouse_id,
                     lot_id=lot.id or 0, quantity=half, unit_cost=Decimal(5))
            for lot in lots
        )
        drafts = [
            SalesOrder(number=f"BENCH-{n}", customer_id=customer.id or 0, warehouse_id=warehouse.id or 0,
                       salesperson_id=seller.id or 0, total=Decimal("9.90"))
            for n in range(len(orders))
        ]
        s.add_all(drafts)
        await s.flush()
        s.add_all(
            SalesOrderLine(order_id=order.id or 0, line_no=1, product_id=items[product].id or 0, unit="个",
                           unit_quantity=Decimal(1), quantity=Decimal(1), unit_price=Decimal("9.90"),
                           amount=Decimal("9.90"))
            for order, product in zip(drafts, orders, strict=True)
        )
    return seller


async def confirm_all(database: Database, seller: User, order_ids: list[int]) -> tuple[int, int, float]:
    queue: asyncio.Queue[int] = asyncio.Queue()
    for order_id in order_ids:
        queue.put_nowait(order_id)
    confirmed = refused = 0

    async def worker() -> None:
        nonlocal confirmed, refused
        while not queue.empty():
            order_id = queue.get_nowait()
            try:
                await database.transact(lambda s, i=order_id: confirm_sales_order(s, seller, i))
                confirmed += 1
            except InsufficientStock:
                refused += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(WORKERS)))
    return confirmed, refused, time.perf_counter() - started


async def check_no_oversell(database: Database, stock_per_product: Decimal, products: int) -> None:
    async with database.session() as s:
        reserved = await s.scalar(select(func.sum(Lot.reserved))) or 0
        reservations = await s.scalar(select(func.sum(Reservation.quantity))) or 0
        confirmed_units = await s.scalar(
            select(func.sum(SalesOrderLine.quantity))
            .join(SalesOrder, SalesOrder.id == SalesOrderLine.order_id)  # type: ignore[arg-type]
            .where(SalesOrder.status == SalesOrderStatus.CONFIRMED)
        ) or 0
        over = await s.scalar(select(func.count()).select_from(Lot).where(Lot.reserved > Lot.on_hand))
        per_product = (
            await s.execute(select(Lot.product_id, func.sum(Lot.reserved)).group_by(Lot.product_id))  # type: ignore[arg-type]
        ).all()
        assert reserved == reservations == confirmed_units, (reserved, reservations, confirmed_units)
        assert over == 0
        assert all(total <= stock_per_product for _, total in per_product)
        assert await check_ledger(s) == []


async def run(backend: str, scenario: str, orders: int) -> RunResult:
    products = 1 if scenario == "hot" else 1000
    # Hot: three quarters of the orders can be served, the rest must be refused. Spread: 4 units a product.
    stock = Decimal(orders * 3 // 4) if scenario == "hot" else Decimal(4)
    rng = random.Random(7)
    picks = [0 if products == 1 else rng.randrange(products) for _ in range(orders)]
    database, schema, directory = await open_database(backend)
    try:
        seller = await seed(database, products, stock, picks)
        async with database.session() as s:
            order_ids = list((await s.scalars(select(SalesOrder.id).order_by(SalesOrder.id))).all())  # type: ignore[arg-type]
        confirmed, refused, seconds = await confirm_all(database, seller, order_ids)
        await check_no_oversell(database, stock, products)
        if scenario == "hot":
            assert confirmed == int(stock), (confirmed, stock)
        return RunResult(scenario, orders, confirmed, refused, seconds)
    finally:
        await drop_database(database, schema)
        if directory is not None:
            directory.cleanup()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres"], required=True)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--orders", type=int, default=2000)
    args = parser.parse_args()
    for scenario in ("hot", "spread"):
        results = [await run(args.backend, scenario, args.orders) for _ in range(args.runs)]
        rates = [r.per_second for r in results]
        label = "1 hot product" if scenario == "hot" else "1,000 products"
        print(
            f"{args.backend:8} {label:15} {WORKERS} workers  median {statistics.median(rates):7.1f} confirmations/s"
            f"  (runs: {', '.join(f'{rate:.1f}' for rate in rates)}; last run confirmed {results[-1].confirmed},"
            f" refused {results[-1].refused}; no oversell)"
        )


if __name__ == "__main__":
    asyncio.run(main())
