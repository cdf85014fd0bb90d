"""Stock counts (盘点): start, count by lot (several people, the last entry wins), finish or cancel.

Starting snapshots the book quantity of every lot to count. Each entry stores the counted quantity
and refreshes the book quantity of that moment, so stock that moves while the count is open (a
shipment before the shelf was counted, a receipt after) is not mistaken for a variance. Only
finishing changes stock: each variance becomes one COUNT movement referring to the count.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from core.audit import record
from core.catalog import describe_quantity, product_label, to_base
from core.documents import CountLine, CountStatus, StockCount, lock_document
from core.errors import InvalidInput, InvalidState, NotFound
from core.ledger import lock_lot, lock_product, lot_for, post
from core.models import Lot, MovementKind, Product, Role, User, Warehouse
from core.numbering import DEFAULT_CLOCK, Clock, next_number
from core.quantity import check_quantity, check_whole
from core.users import require_role

COUNT_ROLES = {Role.WAREHOUSE, Role.MANAGER}
_STATUS_ZH = {CountStatus.OPEN: "进行中", CountStatus.FINISHED: "已完成", CountStatus.CANCELLED: "已取消"}


async def start_count(
    session: AsyncSession,
    actor: User,
    *,
    warehouse_id: int,
    category_id: int | None = None,
    clock: Clock = DEFAULT_CLOCK,
) -> StockCount:
    """Open a count of a warehouse (or one category in it), one at a time per warehouse."""
    require_role(actor, COUNT_ROLES, "盘点")
    warehouse = await lock_document(session, Warehouse, warehouse_id, "仓库")
    open_count = await session.scalar(
        select(StockCount).where(col(StockCount.warehouse_id) == warehouse_id, col(StockCount.status) == CountStatus.OPEN)
    )
    if open_count is not None:
        raise InvalidState(f"{warehouse.name} 已有进行中的盘点 {open_count.number}，请先完成或取消")
    count = StockCount(
        number=await next_number(session, "CC", clock),
        warehouse_id=warehouse_id,
        category_id=category_id,
        started_by=actor.id or 0,
        started_at=clock.now(),
    )
    session.add(count)
    await session.flush()
    lots = select(Lot).where(col(Lot.warehouse_id) == warehouse_id, col(Lot.on_hand) != 0).order_by(col(Lot.id))
    if category_id is not None:
        lots = lots.join(Product, col(Product.id) == Lot.product_id).where(col(Product.category_id) == category_id)
    session.add_all(
        CountLine(count_id=count.id or 0, product_id=lot.product_id, lot_id=lot.id or 0, expected=lot.on_hand)
        for lot in (await session.scalars(lots)).all()
    )
    await record(session, actor, "stock_count", count.id, "start", None, {"number": count.number})
    return count


async def _open_count(session: AsyncSession, count_id: int, action: str) -> StockCount:
    count = await lock_document(session, StockCount, count_id, "盘点单")
    if count.status != CountStatus.OPEN:
        raise InvalidState(f"盘点单 {count.number} {_STATUS_ZH[count.status]}，不能{action}", status=count.status.value)
    return count


async def record_count(
    session: AsyncSession,
    actor: User,
    count_id: int,
    *,
    product_id: int,
    quantity: Decimal,
    unit: str | None = None,
    lot_no: str = "",
    production_date: date | None = None,
    expiry_date: date | None = None,
    clock: Clock = DEFAULT_CLOCK,
) -> CountLine:
    """What someone counted of one lot; a lot found that the books do not know is added."""
    require_role(actor, COUNT_ROLES, "盘点")
    count = await _open_count(session, count_id, "录入")
    product = await session.get(Product, product_id)
    if product is None:
        raise NotFound(f"没有这个商品: {product_id}")
    if count.category_id is not None and product.category_id != count.category_id:
        raise InvalidInput(f"{product_label(product)} 不在这次盘点的分类里")
    counted = await to_base(session, product, quantity, unit)
    check_quantity(counted, f"{product_label(product)} 的盘点数量", product.base_unit, zero_allowed=True)
    check_whole(counted, product.base_unit, product_label(product))
    lot = await lot_for(session, product, count.warehouse_id, lot_no, production_date, expiry_date)
    line = await session.scalar(select(CountLine).where(col(CountLine.count_id) == count_id, col(CountLine.lot_id) == lot.id))
    if line is None:
        line = CountLine(count_id=count_id, product_id=product_id, lot_id=lot.id or 0, expected=lot.on_hand)
        session.add(line)
    line.expected = lot.on_hand
    line.counted = counted
    line.counted_by = actor.id
    line.counted_at = clock.now()
    await session.flush()
    return line


@dataclass(frozen=True, slots=True)
class Variance:
    product_id: int
    lot_id: int
    lot_no: str
    expected: Decimal
    counted: Decimal

    @property
    def difference(self) -> Decimal:
        return self.counted - self.expected


async def finish_count(
    session: AsyncSession, actor: User, count_id: int, *, clock: Clock = DEFAULT_CLOCK
) -> list[Variance]:
    """Book every variance as a COUNT movement; lots nobody counted stay as they are."""
    require_role(actor, COUNT_ROLES, "完成盘点")
    count = await _open_count(session, count_id, "完成")
    lines = (
        await session.scalars(
            select(CountLine)
            .where(col(CountLine.count_id) == count_id, col(CountLine.counted).is_not(None))
            .order_by(col(CountLine.lot_id))
        )
    ).all()
    variances = []
    for line in lines:
        assert line.counted is not None
        if line.counted == line.expected:
            continue
        lot = await lock_lot(session, line.lot_id)
        product = await lock_product(session, line.product_id)
        difference = line.counted - line.expected
        if lot.on_hand + difference < lot.reserved:
            where = f" 批次 {lot.lot_no}" if lot.lot_no else ""
            raise InvalidState(
                f"{product_label(product)}{where} 盘点后只剩 {await describe_quantity(session, product, lot.on_hand + difference)}，"
                f"少于销售单已预留的 {await describe_quantity(session, product, lot.reserved)}，请先取消或调整这些销售单"
            )
        await post(
            session,
            kind=MovementKind.COUNT,
            product=product,
            lot=lot,
            quantity=difference,
            actor=actor,
            ref_type="stock_count",
            ref_id=count.id,
            ref_no=count.number,
            reason="盘点差异",
        )
        variances.append(Variance(line.product_id, line.lot_id, lot.lot_no, line.expected, line.counted))
    count.status = CountStatus.FINISHED
    count.finished_by = actor.id
    count.finished_at = clock.now()
    await record(
        session, actor, "stock_count", count.id, "finish", None, {"number": count.number, "variances": len(variances)}
    )
    return variances


async def cancel_count(session: AsyncSession, actor: User, count_id: int, *, clock: Clock = DEFAULT_CLOCK) -> StockCount:
    """Drop an open count; nothing in stock changes."""
    require_role(actor, COUNT_ROLES, "取消盘点")
    count = await _open_count(session, count_id, "取消")
    count.status = CountStatus.CANCELLED
    count.finished_by = actor.id
    count.finished_at = clock.now()
    await record(session, actor, "stock_count", count.id, "cancel", None, {"number": count.number})
    return count


async def count_lines(session: AsyncSession, count_id: int) -> list[CountLine]:
    """The count sheet: every lot to count, with the last counted quantity so far."""
    return list(
        (await session.scalars(select(CountLine).where(col(CountLine.count_id) == count_id).order_by(col(CountLine.id)))).all()
    )
