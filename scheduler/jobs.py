"""The three jobs: low stock, near expiry, the daily digest. Each run is one transaction that locks its
job row, checks its slot, updates the alert log and queues its cards, so a run is all or nothing and a
second run of the same slot (another instance, a catch-up, a retry) finds it served.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import func
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from bot.cards import EXPIRY_PAGE_SIZE
from bot.handlers.alerts import remember_expiry_list
from bot.kv import KeyValueStore
from bot.model import Card, Image, Reply
from core.alerts import (
    AlertJob,
    AlertKind,
    AlertState,
    Destination,
    Finding,
    lot_subject,
    open_states,
    plan,
    write_plan,
)
from core.approval import pending_approvals
from core.catalog import in_units, list_warehouses, product_label, units_by_product
from core.documents import SalesOrder, SalesOrderStatus
from core.models import ZERO, Lot, Product, Role, Supplier, User
from core.numbering import Clock
from core.purchasing import reorder_suggestions
from core.reports import SalesGrouping, SalesRow, sales_report, today_summary
from core.stock import ExpiringLot, LowStockRow, low_stock, near_expiry
from scheduler import cards, routing
from scheduler.chart import sales_chart
from scheduler.config import AlertConfig

LOW_STOCK, NEAR_EXPIRY, DIGEST = "low-stock", "near-expiry", "digest"
JOB_KINDS = {LOW_STOCK: AlertKind.LOW_STOCK, NEAR_EXPIRY: AlertKind.NEAR_EXPIRY, DIGEST: AlertKind.DIGEST}
CHART_DAYS = 14
TOP_SELLERS = 5
# The digest speaks to managers and owners: it sees margins as they do, without being a person.
DIGEST_VIEWER = User(name="psibot", role=Role.OWNER)


@dataclass(frozen=True, slots=True)
class RunRequest:
    """One run: `slot` is the scheduled time it serves (None: an admin's manual run); `force` repeats
    what was already said today."""

    job: str
    now: datetime
    tz: ZoneInfo
    config: AlertConfig
    slot: datetime | None = None
    force: bool = False

    @property
    def today(self) -> date:
        return self.now.astimezone(self.tz).date()

    @property
    def clock(self) -> Clock:
        return Clock(tz=self.tz, fixed_now=self.now)


@dataclass(frozen=True, slots=True)
class RunResult:
    job: str
    ran: bool
    alerted: int = 0
    recovered: int = 0
    quiet: int = 0
    messages: int = 0
    reason: str = ""

    def describe(self) -> str:
        if not self.ran:
            return f"{self.job}: 未运行（{self.reason}）"
        parts = [f"{self.job}: 发出 {self.messages} 条消息"]
        if self.job != DIGEST:
            parts.append(f"提醒 {self.alerted} 项，已恢复 {self.recovered} 项，今天已提醒或已处理 {self.quiet} 项")
        return "，".join(parts)


async def claim_slot(session: AsyncSession, request: RunRequest) -> bool:
    """Lock the job's row (runs on every instance queue here) and take the slot unless it was served."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    await session.execute(insert(AlertJob).values(name=request.job).on_conflict_do_nothing(index_elements=["name"]))
    job = (await session.scalars(select(AlertJob).where(AlertJob.name == request.job).with_for_update())).one()
    if request.slot is not None:
        if job.last_slot_at is not None and job.last_slot_at >= request.slot:
            return False
        job.last_slot_at = request.slot
    job.last_run_at = request.now
    return True


async def _finish(session: AsyncSession, request: RunRequest, result: RunResult) -> RunResult:
    job = await session.get(AlertJob, request.job)
    assert job is not None
    job.last_summary = result.describe()[:512]
    return result


# ---------------------------------------------------------------- what is wrong now


async def _categories(session: AsyncSession, product_ids: set[int]) -> dict[int, int | None]:
    rows = await session.execute(select(Product.id, Product.category_id).where(col(Product.id).in_(product_ids)))
    return {product_id: category_id for product_id, category_id in rows.all()}


async def low_stock_findings(session: AsyncSession, clock: Clock) -> list[Finding]:
    """Below safety stock in each warehouse that stocks the product, and in all warehouses together
    (expired stock is not available: `core.stock.low_stock` on the clock's day)."""
    stocked = set((await session.execute(select(Lot.product_id, Lot.warehouse_id).distinct())).all())
    found: list[tuple[LowStockRow, int | None, str]] = []
    for warehouse in await list_warehouses(session):
        found += [
            (row, warehouse.id, warehouse.name)
            for row in await low_stock(session, warehouse.id, clock=clock)
            if (row.product_id, warehouse.id) in stocked
        ]
    found += [(row, None, "全部仓库") for row in await low_stock(session, clock=clock)]
    categories = await _categories(session, {row.product_id for row, _, _ in found})
    return [
        Finding(
            subject=f"{AlertKind.LOW_STOCK.value}:{row.product_id}:{warehouse_id or 'all'}",
            kind=AlertKind.LOW_STOCK,
            state="low",
            label=f"{product_label(row)}（{warehouse_name}）",
            product_id=row.product_id,
            warehouse_id=warehouse_id,
            warehouse_name=warehouse_name,
            category_id=categories.get(row.product_id),
            row=row,
        )
        for row, warehouse_id, warehouse_name in found
    ]


async def near_expiry_findings(session: AsyncSession, today: date) -> list[Finding]:
    """Lots within their lead days (product → category → global), and lots already expired."""
    lots = await near_expiry(session, today)
    categories = await _categories(session, {lot.product_id for lot in lots})
    return [
        Finding(
            subject=lot_subject(lot.lot_id),
            kind=AlertKind.NEAR_EXPIRY,
            state="expired" if lot.expired else "near",
            label=f"{product_label(lot)} {lot.lot_no or ''}（{lot.warehouse_name}）".replace(" （", "（"),
            product_id=lot.product_id,
            warehouse_id=lot.warehouse_id,
            warehouse_name=lot.warehouse_name,
            category_id=categories.get(lot.product_id),
            row=lot,
        )
        for lot in lots
    ]


# ---------------------------------------------------------------- alert jobs


CardBuilder = Callable[[AsyncSession, Sequence[Finding], Destination], Awaitable[Reply]]


async def _alert_run(
    session: AsyncSession, request: RunRequest, kind: AlertKind, findings: Sequence[Finding], build: CardBuilder
) -> RunResult:
    opened = await open_states(session, kind)
    decided = plan(findings, opened, request.today, force=request.force)
    await write_plan(session, decided, opened, request.today, request.now)
    router = await routing.router(session, request.config)
    messages = 0
    grouped = routing.group_by_destination(
        decided.alert, lambda finding: router.destinations(kind, finding.warehouse_id, finding.category_id)
    )
    for destination, items in grouped.items():
        messages += await routing.send(session, request.config, destination, [await build(session, items, destination)])
    categories = await _categories(session, {state.product_id for state in decided.recovered if state.product_id})

    def receivers(state: AlertState) -> tuple[Destination, ...]:
        return router.destinations(kind, state.warehouse_id, categories.get(state.product_id or 0))

    for destination, states in routing.group_by_destination(decided.recovered, receivers).items():
        messages += await routing.send(session, request.config, destination, [cards.recovered_text(kind, states)])
    return RunResult(request.job, True, len(decided.alert), len(decided.recovered), decided.quiet, messages)


async def run_low_stock(session: AsyncSession, request: RunRequest) -> RunResult:
    if not await claim_slot(session, request):
        return RunResult(request.job, False, reason="这一时段已运行过")
    warehouses = await list_warehouses(session)
    default_warehouse = warehouses[0].id if warehouses else None
    suppliers = {s.id or 0: s.name for s in (await session.scalars(select(Supplier))).all()}
    suggested = {line.product_id: line for group in await reorder_suggestions(session, clock=request.clock) for line in group.lines}

    async def build(session: AsyncSession, items: Sequence[Finding], destination: Destination) -> Reply:
        units = await units_by_product(session, (finding.product_id for finding in items))
        return cards.low_stock_alert(items, destination, suppliers, default_warehouse, suggested, units)

    findings = await low_stock_findings(session, request.clock)
    return await _finish(session, request, await _alert_run(session, request, AlertKind.LOW_STOCK, findings, build))


async def run_near_expiry(session: AsyncSession, request: RunRequest, store: KeyValueStore) -> RunResult:
    """`store` keeps the lots of an alert longer than a card's page, for its 下一页."""
    if not await claim_slot(session, request):
        return RunResult(request.job, False, reason="这一时段已运行过")

    async def build(session: AsyncSession, items: Sequence[Finding], _destination: Destination) -> Reply:
        units = await units_by_product(session, (finding.product_id for finding in items[:EXPIRY_PAGE_SIZE]))
        card: Card = cards.near_expiry_alert(items, request.today, units)
        if len(items) > EXPIRY_PAGE_SIZE:  # a retried transaction leaves an unused list, which expires
            lots = [finding.row.lot_id for finding in items if isinstance(finding.row, ExpiringLot)]
            await remember_expiry_list(store, card.card_id, lots)
        return card

    findings = await near_expiry_findings(session, request.today)
    return await _finish(session, request, await _alert_run(session, request, AlertKind.NEAR_EXPIRY, findings, build))


# ---------------------------------------------------------------- the digest


async def _sold_in_packs(session: AsyncSession, rows: Sequence[SalesRow]) -> list[tuple[SalesRow, str]]:
    """Each top seller with its quantity as the stock card says it (10箱, not 240)."""
    ids = [int(row.key) for row in rows]
    products = {p.id: p for p in (await session.scalars(select(Product).where(col(Product.id).in_(ids)))).all()}
    units = await units_by_product(session, ids)
    return [
        (row, in_units(row.quantity, products[int(row.key)].base_unit, units.get(int(row.key), {})))
        for row in rows
    ]


async def gather_digest(
    session: AsyncSession, request: RunRequest
) -> tuple[dict[bool, Reply], list[tuple[date, Decimal]]]:
    """The day's figures (the card with costs and the one without, by `costs`) and the last days' sales,
    read before the run's transaction (the chart takes a while)."""
    clock, today = request.clock, request.today
    summary = await today_summary(session, DIGEST_VIEWER, clock=clock)
    open_orders = await session.scalar(
        select(func.count()).select_from(SalesOrder).where(
            col(SalesOrder.status).in_([SalesOrderStatus.CONFIRMED, SalesOrderStatus.PARTIALLY_SHIPPED])
        )
    )
    top = await sales_report(session, DIGEST_VIEWER, start=today, end=today, by=SalesGrouping.PRODUCT, clock=clock)
    start = today - timedelta(days=CHART_DAYS - 1)
    by_day = {
        row.key: row.revenue
        for row in await sales_report(session, DIGEST_VIEWER, start=start, end=today, by=SalesGrouping.DAY, clock=clock)
    }
    days = [start + timedelta(days=n) for n in range(CHART_DAYS)]
    sellers = await _sold_in_packs(session, top[:TOP_SELLERS])
    waiting, low = await pending_approvals(session), len(await low_stock(session, clock=clock))
    expiring = await near_expiry(session, today)
    digests: dict[bool, Reply] = {
        costs: cards.digest_card(summary, waiting, open_orders or 0, low, expiring, sellers, costs=costs)
        for costs in (True, False)
    }
    return digests, [(day, by_day.get(day.isoformat(), ZERO)) for day in days]


async def draw_chart(days: Sequence[tuple[date, Decimal]]) -> bytes:
    return await asyncio.to_thread(sales_chart, days)


async def run_digest(session: AsyncSession, request: RunRequest, digests: dict[bool, Reply], chart: bytes) -> RunResult:
    """Queue the digest gathered (and drawn) before this transaction, unless the slot was served meanwhile;
    margins and purchase amounts only to receivers who may see costs (never a group)."""
    if not await claim_slot(session, request):
        return RunResult(request.job, False, reason="这一时段已运行过")
    router = await routing.router(session, request.config)
    messages = 0
    image = Image(chart, alt="近14天销售额")
    for destination in router.destinations(AlertKind.DIGEST, None, None):
        card = digests[routing.shows_costs_to(destination)]
        replies: list[Reply] = [card, image] if routing.shows_images(request.config, destination) else [card]
        messages += await routing.send(session, request.config, destination, replies)
    return await _finish(session, request, RunResult(request.job, True, messages=messages))
