"""Write-offs (报损): stock that is gone — expired, broken, spoiled, lost — leaves the books with its reason.

Planning and booking are two steps because a person confirms in between: `plan_write_off` picks the lots
(a named lot; else expired stock first, then the earliest expiry) and `write_off` books exactly those, so
what was confirmed is what leaves. Reserved stock is never taken: an order is counting on it. Each lot
taken is one ADJUSTMENT movement at the product's average cost, referring to the write-off, so the loss
is valued and can be traced from the ledger. A manager may reverse (撤销) a write-off: the same quantities
go back into the same lots at the cost they left with, and the document says who did it and when.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from core.audit import record
from core.catalog import describe_quantity, product_label
from core.columns import money
from core.documents import WriteOff
from core.errors import AlreadyDecided, InsufficientStock, InvalidInput, NotFound
from core.ledger import expired, lock_lot, lock_product, post
from core.models import ZERO, Lot, Movement, MovementKind, Product, Role, User, Warehouse
from core.numbering import DEFAULT_CLOCK, Clock, next_number
from core.quantity import check_quantity, check_whole
from core.users import require_role

WRITE_OFF_ROLES = {Role.WAREHOUSE, Role.MANAGER}
REVERSE_ROLES = {Role.MANAGER}  # owners and admins pass every check; the person who booked it asks one of them
MAX_REASON_LENGTH = 128


@dataclass(frozen=True, slots=True)
class LotTake:
    lot_id: int
    quantity: Decimal  # base units


def same_lot(lot_no: str, typed: str) -> bool:
    """Lot numbers as people type them: `l0601` is L0601 (chat text is case-folded before it is read)."""
    return lot_no.casefold() == typed.strip().casefold()


def _free(lot: Lot) -> Decimal:
    return lot.on_hand - lot.reserved


async def plan_write_off(
    session: AsyncSession,
    product: Product,
    warehouse: Warehouse,
    *,
    quantity: Decimal | None,
    lot_no: str | None,
    today: date,
) -> list[LotTake]:
    """Which lots a write-off of `quantity` takes; without a quantity, all of the named lot, or every
    expired lot (what a shelf check of 过期 stock finds)."""
    lots = (
        await session.scalars(
            select(Lot).where(
                col(Lot.product_id) == product.id, col(Lot.warehouse_id) == warehouse.id, col(Lot.on_hand) > 0
            )
        )
    ).all()
    if lot_no is not None:
        lots = [lot for lot in lots if same_lot(lot.lot_no, lot_no)]
        if not lots:
            raise NotFound(f"{product_label(product)} 在{warehouse.name}没有批次 {lot_no.strip()} 的库存")
    elif quantity is None:
        lots = [lot for lot in lots if expired(lot.expiry_date, today)]
        if not lots:
            raise InvalidInput(f"{product_label(product)} 在{warehouse.name}没有过期批次，请写明报损数量，例如：报损 {product.name} 5")
    ordered = sorted(lots, key=lambda lot: (not expired(lot.expiry_date, today), lot.expiry_date or date.max, lot.id or 0))
    free = sum((_free(lot) for lot in ordered), ZERO)
    wanted = free if quantity is None else quantity
    check_quantity(wanted, f"{product_label(product)} 的报损数量", product.base_unit)
    check_whole(wanted, product.base_unit, product_label(product))
    if wanted > free:
        reserved = sum((lot.reserved for lot in ordered), ZERO)
        held = f"（另有 {await describe_quantity(session, product, reserved)} 已被订单预留，不能报损）" if reserved else ""
        raise InsufficientStock(
            f"{product_label(product)} 在{warehouse.name}可报损 {await describe_quantity(session, product, free)}，"
            f"要报损 {await describe_quantity(session, product, wanted)}{held}",
            product_id=product.id,
            available=free,
        )
    takes, missing = [], wanted
    for lot in ordered:
        take = min(missing, _free(lot))
        if take > 0:
            takes.append(LotTake(lot.id or 0, take))
            missing -= take
    return takes


async def write_off(
    session: AsyncSession,
    actor: User,
    *,
    product_id: int,
    warehouse_id: int,
    takes: Sequence[LotTake],
    reason: str,
    clock: Clock = DEFAULT_CLOCK,
) -> WriteOff:
    """Book the planned takes as one write-off; refused whole if any lot no longer has them free."""
    require_role(actor, WRITE_OFF_ROLES, "报损")
    reason = reason.strip()
    if not reason:
        raise InvalidInput("报损必须写明原因，例如：过期、破损、变质、丢失")
    if len(reason) > MAX_REASON_LENGTH:
        raise InvalidInput(f"报损原因太长：最多 {MAX_REASON_LENGTH} 个字")
    if not takes:
        raise InvalidInput("报损至少要有一个批次")
    product = await lock_product(session, product_id)
    document = WriteOff(
        number=await next_number(session, "BS", clock),
        product_id=product_id,
        warehouse_id=warehouse_id,
        quantity=sum((take.quantity for take in takes), ZERO),
        reason=reason,
        user_id=actor.id or 0,
        created_at=clock.now(),
    )
    session.add(document)
    await session.flush()
    value = ZERO
    for take in sorted(takes, key=lambda item: item.lot_id):  # a fixed lock order avoids deadlocks
        lot = await lock_lot(session, take.lot_id)
        if lot.product_id != product_id or lot.warehouse_id != warehouse_id:
            raise InvalidInput("批次与商品或仓库不符")
        if take.quantity > _free(lot):
            raise InsufficientStock(
                f"{product_label(product)} 批次 {lot.lot_no or '（无批次）'} 现在只有 "
                f"{await describe_quantity(session, product, max(_free(lot), ZERO))} 可报损，请重新发起",
                product_id=product_id,
                available=_free(lot),
            )
        movement = await post(
            session, kind=MovementKind.ADJUSTMENT, product=product, lot=lot, quantity=-take.quantity, actor=actor,
            ref_type="write_off", ref_id=document.id, ref_no=document.number, reason=f"报损：{reason}",
        )
        value += take.quantity * movement.unit_cost
    document.value = money(value)
    await record(session, actor, "write_off", document.id, "create", None,
                 {"number": document.number, "quantity": str(document.quantity), "reason": reason})
    return document


async def reverse_write_off(session: AsyncSession, actor: User, number: str, *, clock: Clock = DEFAULT_CLOCK) -> WriteOff:
    """Undo a booked write-off: every lot gets back what it gave, in one transaction; a second reversal
    (a double press, two managers at once) is refused naming who reversed it and when."""
    require_role(actor, REVERSE_ROLES, "撤销报损")
    document = await session.scalar(
        select(WriteOff).where(col(WriteOff.number) == number.strip().upper()).with_for_update()
        .execution_options(populate_existing=True)
    )
    if document is None:
        raise NotFound(f"没有报损单 {number.strip().upper()}")
    if document.reversed_at is not None:
        who = await session.get(User, document.reversed_by)
        local = clock.local(document.reversed_at)
        when = f"{local:%H:%M}" if local.date() == clock.today() else f"{local:%Y-%m-%d %H:%M}"
        raise AlreadyDecided(f"报损单 {document.number} 已由 {who.name if who else '他人'} 于 {when} 撤销")
    product = await lock_product(session, document.product_id)
    movements = (
        await session.scalars(
            select(Movement)
            .where(col(Movement.ref_type) == "write_off", col(Movement.ref_id) == document.id)
            .order_by(col(Movement.lot_id))  # the lock order every write uses
        )
    ).all()
    for movement in movements:
        lot = await lock_lot(session, movement.lot_id)
        await post(
            session, kind=MovementKind.ADJUSTMENT, product=product, lot=lot, quantity=-movement.quantity, actor=actor,
            unit_cost=movement.unit_cost, ref_type="write_off_reversal", ref_id=document.id, ref_no=document.number,
            reason=f"撤销报损：{document.reason}",
        )
    document.reversed_by, document.reversed_at = actor.id, clock.now()
    await record(session, actor, "write_off", document.id, "reverse", None,
                 {"number": document.number, "quantity": str(document.quantity)})
    return document
