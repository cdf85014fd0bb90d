"""Reports for chat commands and the daily digest: sales and margin, turnover, stock aging, today.

Days are the company's local days. Revenue is booked when goods ship (less returns), at the amounts
on the shipment lines, and cost at the moving average recorded on the ledger at that moment. Costs,
margins and purchase values (goods received, money paid to suppliers) are only given to roles that
may see costs; for others they are None.
Orders waiting for approval, and who they wait for: `core.approval.pending_approvals`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from core.columns import money
from core.documents import Payment, Receipt, SalesOrder, SalesReturn, Shipment, ShipmentLine, WriteOff
from core.errors import InvalidInput
from core.models import ZERO, Lot, Movement, MovementKind, Product, User
from core.numbering import DEFAULT_CLOCK, Clock
from core.users import can_see_costs


class SalesGrouping(StrEnum):
    DAY = "day"
    PRODUCT = "product"
    SALESPERSON = "salesperson"


@dataclass(frozen=True, slots=True)
class SalesRow:
    key: str  # ISO day, product id or user id, as text
    label: str  # the day, product name or salesperson's name
    quantity: Decimal  # base units, net of returns (0 when grouped by salesperson: units do not add up)
    revenue: Decimal
    cost: Decimal | None
    margin: Decimal | None


def _day_start(day: date, clock: Clock) -> datetime:
    return datetime.combine(day, time(), tzinfo=clock.tz)


@dataclass(frozen=True, slots=True)
class _Sold:
    at: datetime
    product_id: int
    salesperson_id: int
    quantity: Decimal
    amount: Decimal
    cost: Decimal


async def _sold(session: AsyncSession, start: datetime, end: datetime) -> list[_Sold]:
    shipped = await session.execute(
        select(
            col(Shipment.shipped_at),
            col(ShipmentLine.product_id),
            col(Shipment.salesperson_id),
            col(ShipmentLine.quantity),
            col(ShipmentLine.amount),
            col(ShipmentLine.cost),
        )
        .join(Shipment, col(Shipment.id) == ShipmentLine.shipment_id)
        .where(col(Shipment.shipped_at) >= start, col(Shipment.shipped_at) < end)
    )
    returned = await session.execute(
        select(
            col(SalesReturn.created_at),
            col(SalesReturn.product_id),
            col(SalesReturn.salesperson_id),
            col(SalesReturn.quantity),
            col(SalesReturn.amount),
            col(SalesReturn.cost),
        ).where(col(SalesReturn.created_at) >= start, col(SalesReturn.created_at) < end)
    )
    return [_Sold(*row) for row in shipped.all()] + [
        _Sold(at, product_id, person, -quantity, -amount, -cost)
        for at, product_id, person, quantity, amount, cost in returned.all()
    ]


async def sales_report(
    session: AsyncSession,
    actor: User,
    *,
    start: date,
    end: date,
    by: SalesGrouping,
    clock: Clock = DEFAULT_CLOCK,
) -> list[SalesRow]:
    """Sales from `start` to `end` (both included) by day, product or salesperson, with gross margin."""
    if end < start:
        raise InvalidInput(f"结束日期 {end} 早于开始日期 {start}")
    sold = await _sold(session, _day_start(start, clock), _day_start(end + timedelta(days=1), clock))
    keyed: dict[str, list[_Sold]] = defaultdict(list)
    for item in sold:
        if by == SalesGrouping.DAY:
            key = clock.local(item.at).date().isoformat()
        elif by == SalesGrouping.PRODUCT:
            key = str(item.product_id)
        else:
            key = str(item.salesperson_id)
        keyed[key].append(item)
    labels = await _labels(session, by, keyed)
    show_costs = can_see_costs(actor)
    rows = []
    for key, items in keyed.items():
        revenue = sum((i.amount for i in items), ZERO)
        cost = sum((i.cost for i in items), ZERO)
        quantity = ZERO if by == SalesGrouping.SALESPERSON else sum((i.quantity for i in items), ZERO)
        rows.append(
            SalesRow(
                key,
                labels.get(key, key),
                quantity,
                revenue,
                cost if show_costs else None,
                revenue - cost if show_costs else None,
            )
        )
    if by == SalesGrouping.DAY:
        return sorted(rows, key=lambda row: row.key)
    return sorted(rows, key=lambda row: (-row.revenue, row.key))


async def _labels(session: AsyncSession, by: SalesGrouping, keys: Iterable[str]) -> dict[str, str]:
    ids = [int(key) for key in keys] if by != SalesGrouping.DAY else []
    if by == SalesGrouping.PRODUCT:
        rows = await session.execute(select(col(Product.id), col(Product.name)).where(col(Product.id).in_(ids)))
    elif by == SalesGrouping.SALESPERSON:
        rows = await session.execute(select(col(User.id), col(User.name)).where(col(User.id).in_(ids)))
    else:
        return {}
    return {str(i): name for i, name in rows.all()}


@dataclass(frozen=True, slots=True)
class TurnoverRow:
    product_id: int
    sku: str
    name: str
    sold: Decimal  # base units shipped less returned in the period
    opening: Decimal
    closing: Decimal
    turnover: Decimal | None  # sold / average stock; None without stock
    days_of_stock: Decimal | None  # how many days the closing stock lasts at the period's pace


async def inventory_turnover(
    session: AsyncSession, *, start: date, end: date, clock: Clock = DEFAULT_CLOCK
) -> list[TurnoverRow]:
    """Quantity turnover per product: units sold over the average of opening and closing stock (ledger)."""
    since, until = _day_start(start, clock), _day_start(end + timedelta(days=1), clock)
    period_days = Decimal((end - start).days + 1)

    async def stock_before(moment: datetime) -> dict[int, Decimal]:
        rows = await session.execute(
            select(col(Movement.product_id), func.sum(Movement.quantity))
            .where(col(Movement.created_at) < moment)
            .group_by(col(Movement.product_id))
        )
        return dict(rows.all())

    opening, closing = await stock_before(since), await stock_before(until)
    sold = dict(
        (
            await session.execute(
                select(col(Movement.product_id), func.sum(Movement.quantity))
                .where(
                    col(Movement.kind).in_([MovementKind.SALES_SHIPMENT, MovementKind.SALES_RETURN]),
                    col(Movement.created_at) >= since,
                    col(Movement.created_at) < until,
                )
                .group_by(col(Movement.product_id))
            )
        ).all()
    )
    ids = set(opening) | set(closing) | set(sold)
    products = {p.id: p for p in (await session.scalars(select(Product).where(col(Product.id).in_(ids)))).all()}
    rows = []
    for product_id in sorted(ids, key=lambda i: products[i].sku):
        units = -sold.get(product_id, ZERO)
        first, last = opening.get(product_id, ZERO), closing.get(product_id, ZERO)
        average = (first + last) / 2
        turnover = (units / average).quantize(Decimal("0.01")) if average > 0 else None
        days = (last / units * period_days).quantize(Decimal("0.1")) if units > 0 else None
        product = products[product_id]
        rows.append(TurnoverRow(product_id, product.sku, product.name, units, first, last, turnover, days))
    return rows


AGING_BUCKETS = (30, 60, 90)  # 0–30, 31–60, 61–90, over 90 days in stock


@dataclass(frozen=True, slots=True)
class AgingRow:
    product_id: int
    sku: str
    name: str
    on_hand: Decimal
    buckets: tuple[Decimal, ...]  # quantities per age bucket, youngest first (len(AGING_BUCKETS) + 1)
    value: Decimal | None  # at moving average cost, for roles that may see costs


async def stock_aging(
    session: AsyncSession, actor: User, *, warehouse_id: int | None = None, clock: Clock = DEFAULT_CLOCK
) -> list[AgingRow]:
    """How long stock has been in: each lot's on-hand is the most recent stock that came in (FIFO)."""
    lots = select(Lot).where(col(Lot.on_hand) > 0)
    if warehouse_id is not None:
        lots = lots.where(col(Lot.warehouse_id) == warehouse_id)
    lots_in_stock = {lot.id: lot for lot in (await session.scalars(lots)).all()}
    inbound = await session.execute(
        select(col(Movement.lot_id), col(Movement.quantity), col(Movement.created_at))
        .where(col(Movement.lot_id).in_(list(lots_in_stock)), col(Movement.quantity) > 0)
        .order_by(col(Movement.lot_id), col(Movement.created_at).desc(), col(Movement.id).desc())
    )
    now = clock.now()
    per_product: dict[int, list[Decimal]] = defaultdict(lambda: [ZERO] * (len(AGING_BUCKETS) + 1))
    remaining = {lot_id: lot.on_hand for lot_id, lot in lots_in_stock.items()}
    for lot_id, quantity, at in inbound.all():
        take = min(quantity, remaining[lot_id])
        if take <= 0:
            continue
        remaining[lot_id] -= take
        age = (now - at).days
        bucket = next((n for n, limit in enumerate(AGING_BUCKETS) if age <= limit), len(AGING_BUCKETS))
        per_product[lots_in_stock[lot_id].product_id][bucket] += take
    products = {
        p.id: p for p in (await session.scalars(select(Product).where(col(Product.id).in_(list(per_product))))).all()
    }
    show_costs = can_see_costs(actor)
    rows = []
    for product_id, buckets in per_product.items():
        product = products[product_id]
        on_hand = sum(buckets, ZERO)
        value = money(on_hand * product.avg_cost) if show_costs else None
        rows.append(AgingRow(product_id, product.sku, product.name, on_hand, tuple(buckets), value))
    return sorted(rows, key=lambda row: (-row.buckets[-1], row.sku))


@dataclass(frozen=True, slots=True)
class DailySummary:
    day: date
    orders_created: int
    order_value: Decimal
    shipments: int
    revenue: Decimal  # shipped less returned
    cost: Decimal | None
    margin: Decimal | None
    receipts: int
    received_value: Decimal | None  # at purchase prices
    money_in: Decimal
    money_out: Decimal | None  # paid to suppliers
    write_offs: int
    write_off_value: Decimal | None  # at average cost


async def today_summary(session: AsyncSession, actor: User, *, clock: Clock = DEFAULT_CLOCK) -> DailySummary:
    """Today's business in one message: orders taken, goods shipped and received, money in and out, stock
    written off."""
    day = clock.today()
    start, end = _day_start(day, clock), _day_start(day + timedelta(days=1), clock)
    orders, order_value = (
        await session.execute(
            select(func.count(), func.sum(SalesOrder.total)).where(
                col(SalesOrder.created_at) >= start, col(SalesOrder.created_at) < end
            )
        )
    ).one()
    shipments = await session.scalar(
        select(func.count()).select_from(Shipment).where(col(Shipment.shipped_at) >= start, col(Shipment.shipped_at) < end)
    )
    sold = await _sold(session, start, end)
    revenue = sum((i.amount for i in sold), ZERO)
    cost = sum((i.cost for i in sold), ZERO)
    receipts, received_value = (
        await session.execute(
            select(func.count(), func.sum(Receipt.amount)).where(
                col(Receipt.received_at) >= start, col(Receipt.received_at) < end
            )
        )
    ).one()
    payments = (
        await session.execute(
            select(col(Payment.amount), col(Payment.receivable_id)).where(col(Payment.paid_at) >= start, col(Payment.paid_at) < end)
        )
    ).all()
    write_offs, write_off_value = (
        await session.execute(
            select(func.count(), func.sum(WriteOff.value)).where(
                col(WriteOff.created_at) >= start,
                col(WriteOff.created_at) < end,
                col(WriteOff.reversed_at).is_(None),  # an undone write-off lost nothing
            )
        )
    ).one()
    show_costs = can_see_costs(actor)
    return DailySummary(
        day,
        orders,
        order_value or ZERO,
        shipments or 0,
        revenue,
        cost if show_costs else None,
        revenue - cost if show_costs else None,
        receipts,
        (received_value or ZERO) if show_costs else None,
        sum((amount for amount, receivable in payments if receivable is not None), ZERO),
        sum((amount for amount, receivable in payments if receivable is None), ZERO) if show_costs else None,
        write_offs,
        (write_off_value or ZERO) if show_costs else None,
    )
