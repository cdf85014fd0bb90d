"""Order confirmations per second: one hot product, and 1,000 products, with 8 concurrent workers.

Each confirmation is its own `Database.transact` (lock the order, lock the product's lots, reserve
FEFO, record reservations and audit). Draft orders are created before the clock starts. After each
run the script checks that nothing was oversold: reserved = Σ reservations = units of confirmed
orders, reserved <= on hand in every lot, and the ledger agrees with the lots.

    python bench/orders.py --backend sqlite|postgres [--runs 3] [--orders 2000] [--processes 1|2|4|8]

`--processes 2` splits the 8 workers over two processes, each with its own engine and pool, as two
instances of `psibot serve` sharing one database would run; the default is one process.

Also printed: Python CPU time per confirmation (all benchmark processes); on PostgreSQL the CPU time of
the server processes serving the workers, and a reference measured in the same run: one `SELECT 1`
round trip, and bare asyncpg transactions of the shape of the portable confirmation (BEGIN, 5
statements, COMMIT) with 8 connections: the machine's speed in the same minutes. (On PostgreSQL a
confirmation itself is BEGIN, one call of `psibot_confirm_sales_order`, COMMIT.)
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, make_url, select, text  # noqa: E402
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
STATEMENTS = 5  # of a one-line confirmation on the portable path, between BEGIN and COMMIT (core.sales)


@dataclass(frozen=True)
class RunResult:
    scenario: str
    orders: int
    confirmed: int
    refused: int
    seconds: float
    cpu_seconds: float
    server_cpu_seconds: float  # of the PostgreSQL backends serving the workers; 0 on SQLite

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


@dataclass(frozen=True)
class Share:
    """What one process did: its confirmations and refusals, when, and the CPU it and its servers used."""

    confirmed: int
    refused: int
    started: float  # time.perf_counter(): CLOCK_MONOTONIC, comparable between processes on Linux
    finished: float
    cpu_seconds: float
    server_cpu_seconds: float


async def confirm_share(
    database: Database, seller: User, order_ids: list[int], workers: int, ready: Callable[[], object] = lambda: None
) -> Share:
    """Confirm the orders with `workers` concurrent transactions; `ready` is called once the pool is open."""
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

    backends = await server_processes(database, workers) if database.url.get_backend_name() == "postgresql" else []
    ready()
    server_started, cpu_started, started = server_cpu(backends), time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(workers)))
    finished = time.perf_counter()
    return Share(
        confirmed, refused, started, finished, time.process_time() - cpu_started, server_cpu(backends) - server_started
    )


def confirm_in_child(
    url: str, schema: str | None, seller_id: int, order_ids: list[int], workers: int, start: Barrier, results: Queue
) -> None:
    """One process of a multi-process run: its own engine and pool, as one instance of `psibot serve`."""

    async def main() -> Share:
        database = Database(make_url(url), pg_schema=schema)
        try:
            async with database.session() as s:
                seller = await s.get(User, seller_id)
            assert seller is not None
            return await confirm_share(database, seller, order_ids, workers, start.wait)
        finally:
            await database.close()

    results.put(asyncio.run(main()))


async def confirm_all(
    database: Database, schema: str | None, seller: User, order_ids: list[int], processes: int
) -> list[Share]:
    """The 8 workers in this process, or split over `processes` processes (the orders dealt round-robin)."""
    if processes == 1:
        return [await confirm_share(database, seller, order_ids, WORKERS)]
    context = multiprocessing.get_context("spawn")
    start, results = context.Barrier(processes), context.Queue()
    url = database.url.render_as_string(hide_password=False)
    children = [
        context.Process(
            target=confirm_in_child,
            args=(url, schema, seller.id, order_ids[n::processes], WORKERS // processes, start, results),
        )
        for n in range(processes)
    ]
    for child in children:
        child.start()
    shares = [await asyncio.to_thread(results.get) for _ in children]
    for child in children:
        child.join()
        assert child.exitcode == 0, child.exitcode
    return shares


async def server_processes(database: Database, connections: int) -> list[int]:
    """The PostgreSQL backend pids of the pool's connections, all opened (as the workers will use them)."""

    async def backend_pid() -> int:
        async with database.write_engine.connect() as connection:
            pid = await connection.scalar(text("SELECT pg_backend_pid()"))
            await asyncio.sleep(0.05)  # hold the connection so that every call opens its own
            return int(pid or 0)

    return sorted(set(await asyncio.gather(*(backend_pid() for _ in range(connections)))))


def server_cpu(pids: list[int]) -> float:
    """CPU seconds used so far by these server processes (PostgreSQL on this machine; 0 if not readable)."""
    ticks = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        ticks += int(fields[11]) + int(fields[12])  # utime + stime
    return ticks / os.sysconf("SC_CLK_TCK")


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


async def run(backend: str, scenario: str, orders: int, processes: int) -> RunResult:
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
        if backend == "postgres":
            # A database in use has planner statistics (autovacuum analyzes what changes); one seeded a
            # moment ago has none, and the planner would then read every lot of the warehouse to join
            # an order's lines to their lots.
            async with database.write_engine.begin() as connection:
                await connection.execute(text("ANALYZE"))
        shares = await confirm_all(database, schema, seller, order_ids, processes)
        seconds = max(share.finished for share in shares) - min(share.started for share in shares)
        confirmed = sum(share.confirmed for share in shares)
        refused = sum(share.refused for share in shares)
        cpu_seconds = sum(share.cpu_seconds for share in shares)
        server_seconds = sum(share.server_cpu_seconds for share in shares)
        await check_no_oversell(database, stock, products)
        if scenario == "hot":
            assert confirmed == int(stock), (confirmed, stock)
        return RunResult(scenario, orders, confirmed, refused, seconds, cpu_seconds, server_seconds)
    finally:
        await drop_database(database, schema)
        if directory is not None:
            directory.cleanup()


async def postgres_reference(transactions: int) -> tuple[float, float]:
    """(median SELECT 1 round trip in ms, bare asyncpg transactions/s of BEGIN + 5 UPDATEs + COMMIT, 8 connections)."""
    import asyncpg  # noqa: PLC0415 - only the PostgreSQL reference needs the driver itself

    dsn = POSTGRES_URL.replace("postgresql+asyncpg://", "postgresql://")
    connections = [await asyncpg.connect(dsn) for _ in range(WORKERS)]
    table = "bench_ref_" + uuid.uuid4().hex[:10]
    try:
        first = connections[0]
        latencies = []
        for _ in range(500):
            started = time.perf_counter()
            await first.fetchval("SELECT 1")
            latencies.append(time.perf_counter() - started)
        await first.execute(f"CREATE TABLE {table} (id int PRIMARY KEY, v bigint NOT NULL)")
        await first.execute(f"INSERT INTO {table} SELECT g, 0 FROM generate_series(1, 1000) g")
        rng = random.Random(7)

        async def worker(connection: asyncpg.Connection, count: int) -> None:
            for _ in range(count):
                async with connection.transaction():
                    for row in sorted(rng.sample(range(1, 1001), STATEMENTS)):  # in id order: no deadlocks
                        await connection.execute(f"UPDATE {table} SET v = v + 1 WHERE id = $1", row)

        started = time.perf_counter()
        await asyncio.gather(*(worker(c, transactions // WORKERS) for c in connections))
        rate = transactions // WORKERS * WORKERS / (time.perf_counter() - started)
        await first.execute(f"DROP TABLE {table}")
        return statistics.median(latencies) * 1000, rate
    finally:
        for connection in connections:
            await connection.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres"], required=True)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument(
        "--processes", type=int, choices=[1, 2, 4, 8], default=1,
        help="split the 8 workers over this many processes, as several instances of psibot serve would be",
    )
    args = parser.parse_args()
    for scenario in ("hot", "spread"):
        results = [await run(args.backend, scenario, args.orders, args.processes) for _ in range(args.runs)]
        rates = [r.per_second for r in results]
        label = "1 hot product" if scenario == "hot" else "1,000 products"
        cpu_ms = statistics.median(r.cpu_seconds / r.orders * 1000 for r in results)
        server_ms = statistics.median(r.server_cpu_seconds / r.orders * 1000 for r in results)
        server = f", PostgreSQL CPU {server_ms:.2f} ms" if args.backend == "postgres" else ""
        print(
            f"{args.backend:8} {label:15} {WORKERS} workers in {args.processes} process(es)  median {statistics.median(rates):7.1f} confirmations/s"
            f"  (runs: {', '.join(f'{rate:.1f}' for rate in rates)}; Python CPU {cpu_ms:.2f} ms{server} per confirmation;"
            f" last run confirmed {results[-1].confirmed}, refused {results[-1].refused}; no oversell;"
            f" load {os.getloadavg()[0]:.1f})"
        )
    if args.backend == "postgres":
        references = [await postgres_reference(args.orders) for _ in range(args.runs)]
        print(
            f"reference: SELECT 1 round trip median {statistics.median(r[0] for r in references):.3f} ms;"
            f" bare asyncpg BEGIN + {STATEMENTS} statements + COMMIT, {WORKERS} connections: median"
            f" {statistics.median(r[1] for r in references):.0f} transactions/s"
            f" (runs: {', '.join(f'{r[1]:.0f}' for r in references)})"
        )


if __name__ == "__main__":
    asyncio.run(main())
