"""The stock ledger: the only way stock changes.

Every change is an immutable `Movement`; the lot's `on_hand` moves in step in the same transaction, and
`check_ledger` proves the two agree. Callers lock the lots they touch (`lock_lot`, `lots_for_update`)
before posting, so two transactions never both spend the same unit: on PostgreSQL by row locks, on
SQLite because a write transaction holds the database's write lock from its first statement.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Protocol, TypeVar

from sqlalchemy import ColumnElement, bindparam, case, func, literal_column, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel, col

from core.audit import record
from core.catalog import describe_quantity, product_label
from core.columns import COST_PLACES, QTY_PLACES, utcnow
from core.errors import InsufficientStock, InvalidInput, NotFound
from core.models import ZERO, Lot, Movement, MovementKind, Product, Role, User, Warehouse
from core.quantity import check_price, check_quantity, check_whole, format_quantity
from core.users import require_role

_COST_UNIT = Decimal(1).scaleb(-COST_PLACES)
_QTY_UNIT = Decimal(1).scaleb(-QTY_PLACES)

# Positive movements of these kinds bring stock in at their own cost and move the average
# (a sales return comes back at the cost it left with).
_COSTED_INBOUND = {MovementKind.OPENING, MovementKind.PURCHASE_RECEIPT, MovementKind.SALES_RETURN}


def expiry_from(product: Product, production_date: date | None, expiry_date: date | None) -> date | None:
    """The given expiry date, or production date + shelf life; refuses an expiry before production."""
    if expiry_date is None and production_date is not None and product.shelf_life_days:
        expiry_date = production_date + timedelta(days=product.shelf_life_days)
    if expiry_date is not None and production_date is not None and expiry_date < production_date:
        raise InvalidInput(f"到期日 {expiry_date} 早于生产日期 {production_date}")
    return expiry_date


class LotStock(Protocol):
    """What FEFO needs of a lot: a `Lot`, or a row read with the lot's column names."""

    @property
    def id(self) -> int | None: ...
    @property
    def on_hand(self) -> Decimal: ...
    @property
    def reserved(self) -> Decimal: ...
    @property
    def expiry_date(self) -> date | None: ...


AnyLot = TypeVar("AnyLot", bound=LotStock)


def fefo_key(lot: LotStock) -> tuple[bool, date | None, int]:
    """Earliest expiry first, lots without an expiry date last, older lots first."""
    return (lot.expiry_date is None, lot.expiry_date, lot.id or 0)


def expired(expiry_date: date | None, today: date) -> bool:
    """Stock sells up to and including its expiry date and not after: the one rule for confirming an
    order (also written in core/sql/confirm_sales_order_v1.sql), the stock card and low stock."""
    return expiry_date is not None and expiry_date < today


def sellable_quantity(today: date) -> ColumnElement[Decimal]:
    """A lot's stock that can be sold on `today`, as SQL to sum: unreserved and not `expired`."""
    lots = _LOTS.c
    unexpired = or_(lots.expiry_date.is_(None), lots.expiry_date >= today)
    return case((unexpired, lots.on_hand - lots.reserved), else_=literal_column("0"))


def usable_lots(lots: Iterable[AnyLot], today: date) -> list[AnyLot]:
    """The lots with unreserved stock that has not expired, in the order they should leave (FEFO)."""
    usable = (lot for lot in lots if lot.on_hand > lot.reserved and not expired(lot.expiry_date, today))
    return sorted(usable, key=fefo_key)


# The locking reads are built once: on the hot path of selling, building a statement costs as much
# Python time as running it.
_LOCK_PRODUCT = (
    select(Product).where(col(Product.id) == bindparam("id")).with_for_update().execution_options(populate_existing=True)
)
_LOCK_LOT = select(Lot).where(col(Lot.id) == bindparam("id")).with_for_update().execution_options(populate_existing=True)
_LOTS_FOR_UPDATE = (
    select(Lot)
    .where(col(Lot.product_id) == bindparam("product_id"), col(Lot.warehouse_id) == bindparam("warehouse_id"))
    .order_by(col(Lot.id))
    .with_for_update()
    .execution_options(populate_existing=True)
)


async def lock_product(session: AsyncSession, product_id: int) -> Product:
    product = await session.scalar(_LOCK_PRODUCT, {"id": product_id})
    if product is None:
        raise NotFound(f"没有这个商品: {product_id}")
    return product


async def lock_lot(session: AsyncSession, lot_id: int) -> Lot:
    lot = await session.scalar(_LOCK_LOT, {"id": lot_id})
    if lot is None:
        raise NotFound(f"没有这个批次: {lot_id}")
    return lot


async def lots_for_update(session: AsyncSession, product_id: int, warehouse_id: int) -> list[Lot]:
    """All lots of a product in a warehouse, locked, in id order (a fixed order avoids deadlocks)."""
    lots = await session.scalars(_LOTS_FOR_UPDATE, {"product_id": product_id, "warehouse_id": warehouse_id})
    return list(lots.all())


_LOTS = SQLModel.metadata.tables["lots"]
_RESERVE = (
    update(_LOTS)
    .where(_LOTS.c.id == bindparam("lot_id"))
    .values(reserved=_LOTS.c.reserved + bindparam("take", type_=_LOTS.c.reserved.type))
)


async def reserve(session: AsyncSession, takes: Mapping[int, Decimal]) -> None:
    """Hold more of lots the caller locked, lot id → quantity (the lot's CHECK refuses more than on hand).

    One statement for all the lots, without the unit of work: a `Lot` of these ids loaded in this
    session keeps its old `reserved` until it is locked again (locking reads refresh it).
    """
    await session.execute(_RESERVE, [{"lot_id": lot_id, "take": quantity} for lot_id, quantity in takes.items()])


async def lot_for(
    session: AsyncSession,
    product: Product,
    warehouse_id: int,
    lot_no: str = "",
    production_date: date | None = None,
    expiry_date: date | None = None,
) -> Lot:
    """The lot to book into, created when new, locked. Untracked products use the warehouse's default lot."""
    if await session.get(Warehouse, warehouse_id) is None:
        raise NotFound(f"没有这个仓库: {warehouse_id}")
    lot_no = lot_no.strip() if product.lot_tracked else ""
    if product.lot_tracked and not lot_no:
        raise InvalidInput(f"{product.name} 按批次管理，请填写批次号")
    expiry = expiry_from(product, production_date, expiry_date) if product.lot_tracked else None
    values = {
        "product_id": product.id,
        "warehouse_id": warehouse_id,
        "lot_no": lot_no,
        "production_date": production_date if product.lot_tracked else None,
        "expiry_date": expiry,
        "on_hand": ZERO,
        "reserved": ZERO,
    }
    dialect = session.bind.dialect.name if session.bind else "sqlite"
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    # Insert-or-nothing, so two transactions creating the same lot never fail on the unique key.
    statement = insert(Lot).values(**values, created_at=utcnow())
    await session.execute(statement.on_conflict_do_nothing(index_elements=["product_id", "warehouse_id", "lot_no"]))
    lot = await session.scalar(
        select(Lot)
        .where(col(Lot.product_id) == product.id, col(Lot.warehouse_id) == warehouse_id, col(Lot.lot_no) == lot_no)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert lot is not None
    if product.lot_tracked and expiry is not None and lot.expiry_date != expiry:
        conflict = _expiry_conflict(lot, expiry)
        if conflict:
            raise InvalidInput(conflict)
        lot.production_date, lot.expiry_date = production_date, expiry
    return lot


def _expiry_conflict(lot: Lot, expiry: date | None) -> str | None:
    """A lot holding stock keeps its expiry date: one lot number is one production run."""
    if expiry is not None and lot.expiry_date is not None and lot.expiry_date != expiry and lot.on_hand > 0:
        return f"批次 {lot.lot_no} 已有到期日 {lot.expiry_date}，与 {expiry} 不一致"
    return None


async def lot_expiry_conflict(
    session: AsyncSession, product_id: int, warehouse_id: int, lot_no: str, expiry: date | None
) -> str | None:
    """Why booking into this lot with this expiry would be refused (`lot_for`), asked before booking:
    the chat asks line by line, and a person should hear it for the line they just answered."""
    lot = await session.scalar(
        select(Lot).where(col(Lot.product_id) == product_id, col(Lot.warehouse_id) == warehouse_id, col(Lot.lot_no) == lot_no.strip())
    )
    return None if lot is None else _expiry_conflict(lot, expiry)


async def post(
    session: AsyncSession,
    *,
    kind: MovementKind,
    product: Product,
    lot: Lot,
    quantity: Decimal,
    actor: User | None,
    unit_cost: Decimal | None = None,
    consume_reserved: Decimal = ZERO,
    ref_type: str = "",
    ref_id: int | None = None,
    ref_no: str = "",
    reason: str = "",
) -> Movement:
    """Book one movement. `product` and `lot` must be locked by the caller in this transaction.

    Outgoing stock may only take what is available (on hand − reserved) plus the reservation it
    consumes (`consume_reserved`, for shipping a confirmed order). Inbound stock at a cost moves the
    product's moving weighted average cost.
    """
    check_quantity(abs(quantity), f"{product.name} 的数量", product.base_unit)
    if quantity != quantity.quantize(_QTY_UNIT) or consume_reserved != consume_reserved.quantize(_QTY_UNIT):
        raise InvalidInput(
            f"{product.name} 的数量最多 {QTY_PLACES} 位小数: {format_quantity(quantity)}{product.base_unit}"
        )
    if lot.product_id != product.id:
        raise InvalidInput("批次与商品不符")
    if consume_reserved < 0 or consume_reserved > lot.reserved:
        raise InvalidInput("要释放的预留数量不对")
    available = lot.on_hand - lot.reserved + consume_reserved
    if quantity < 0 and -quantity > available:
        raise InsufficientStock(
            f"库存不足: {product_label(product)} 可用 {await describe_quantity(session, product, available, with_base=True)}",
            product_id=product.id,
            available=available,
        )
    if kind in _COSTED_INBOUND and quantity > 0 and unit_cost is not None:
        total_on_hand = await on_hand_total(session, product.id or 0)
        new_total = total_on_hand + quantity
        product.avg_cost = ((total_on_hand * product.avg_cost + quantity * unit_cost) / new_total).quantize(_COST_UNIT)
        movement_cost = unit_cost
    else:
        movement_cost = product.avg_cost if unit_cost is None else unit_cost

    lot.on_hand += quantity
    lot.reserved -= consume_reserved
    movement = Movement(
        kind=kind,
        product_id=product.id or 0,
        warehouse_id=lot.warehouse_id,
        lot_id=lot.id or 0,
        quantity=quantity,
        unit_cost=movement_cost,
        ref_type=ref_type,
        ref_id=ref_id,
        ref_no=ref_no,
        reason=reason,
        user_id=actor.id if actor else None,
    )
    session.add(movement)
    await session.flush()
    await record(
        session,
        actor,
        "stock",
        lot.id,
        kind.value,
        {"on_hand": lot.on_hand - quantity},
        {"on_hand": lot.on_hand, "movement_id": movement.id, "ref": ref_no, "reason": reason},
    )
    return movement


async def on_hand_total(session: AsyncSession, product_id: int) -> Decimal:
    total = await session.scalar(select(func.sum(Lot.on_hand)).where(col(Lot.product_id) == product_id))
    return total if total is not None else ZERO


async def opening_stock(
    session: AsyncSession,
    actor: User,
    *,
    product_id: int,
    warehouse_id: int,
    quantity: Decimal,
    lot_no: str = "",
    production_date: date | None = None,
    expiry_date: date | None = None,
    unit_cost: Decimal | None = None,
) -> Movement:
    require_role(actor, {Role.WAREHOUSE, Role.MANAGER}, "录入期初库存")
    product = await lock_product(session, product_id)
    if quantity <= 0:
        raise InvalidInput(f"期初数量必须大于 0: {format_quantity(quantity)}{product.base_unit}")
    check_whole(quantity, product.base_unit, product.name)
    if unit_cost is not None:
        check_price(unit_cost, "成本", product.base_unit)
    lot = await lot_for(session, product, warehouse_id, lot_no, production_date, expiry_date)
    cost = product.purchase_price if unit_cost is None else unit_cost
    return await post(
        session, kind=MovementKind.OPENING, product=product, lot=lot, quantity=quantity, actor=actor, unit_cost=cost
    )


async def adjust(
    session: AsyncSession, actor: User, *, lot_id: int, quantity: Decimal, reason: str
) -> Movement:
    """A manual correction of one lot (signed quantity) with the reason why."""
    require_role(actor, {Role.WAREHOUSE, Role.MANAGER}, "调整库存")
    if not reason.strip():
        raise InvalidInput("调整库存必须写明原因")
    lot = await lock_lot(session, lot_id)
    product = await lock_product(session, lot.product_id)
    return await post(
        session, kind=MovementKind.ADJUSTMENT, product=product, lot=lot, quantity=quantity, actor=actor, reason=reason
    )


async def transfer_lot(
    session: AsyncSession,
    actor: User,
    *,
    lot_id: int,
    to_warehouse_id: int,
    quantity: Decimal,
    ref_type: str = "",
    ref_id: int | None = None,
    ref_no: str = "",
) -> tuple[Movement, Movement]:
    """Move part of a lot to another warehouse, keeping its lot number and dates."""
    require_role(actor, {Role.WAREHOUSE, Role.MANAGER}, "调拨")
    source = await lock_lot(session, lot_id)
    if source.warehouse_id == to_warehouse_id:
        raise InvalidInput("调出和调入是同一个仓库")
    product = await lock_product(session, source.product_id)
    if quantity <= 0:
        raise InvalidInput(f"调拨数量必须大于 0: {format_quantity(quantity)}{product.base_unit}")
    target = await lot_for(
        session, product, to_warehouse_id, source.lot_no, source.production_date, source.expiry_date
    )

    async def move(kind: MovementKind, lot: Lot, signed: Decimal) -> Movement:
        return await post(
            session,
            kind=kind,
            product=product,
            lot=lot,
            quantity=signed,
            actor=actor,
            ref_type=ref_type,
            ref_id=ref_id,
            ref_no=ref_no,
        )

    return await move(MovementKind.TRANSFER_OUT, source, -quantity), await move(MovementKind.TRANSFER_IN, target, quantity)


@dataclass(frozen=True, slots=True)
class LedgerDifference:
    lot_id: int
    product_id: int
    warehouse_id: int
    lot_no: str
    on_hand: Decimal
    ledger_sum: Decimal


async def check_ledger(session: AsyncSession) -> list[LedgerDifference]:
    """Every lot whose on-hand differs from the sum of its movements (empty when the books agree)."""
    sums = (
        select(col(Movement.lot_id), func.sum(Movement.quantity).label("total"))
        .group_by(col(Movement.lot_id))
        .subquery()
    )
    rows = await session.execute(
        select(Lot, sums.c.total).outerjoin(sums, sums.c.lot_id == Lot.id).order_by(col(Lot.id))
    )
    differences = []
    for lot, total in rows.all():
        ledger_sum = ZERO if total is None else total
        if ledger_sum != lot.on_hand or lot.on_hand < 0:
            differences.append(
                LedgerDifference(lot.id, lot.product_id, lot.warehouse_id, lot.lot_no, lot.on_hand, ledger_sum)
            )
    return differences
