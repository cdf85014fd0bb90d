"""Transfers between warehouses (调拨): lots keep their number and dates on the way.

Without a named lot the stock leaves earliest expiry first, skipping expired and reserved stock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import record
from core.catalog import describe_quantity, get_product, product_label, to_base
from core.documents import Transfer, TransferLine
from core.errors import InsufficientStock, InvalidInput, NotFound
from core.ledger import lots_for_update, transfer_lot, usable_lots
from core.models import ZERO, Lot, Role, User, Warehouse
from core.numbering import DEFAULT_CLOCK, Clock, next_number
from core.quantity import check_quantity, check_whole
from core.users import require_role

TRANSFER_ROLES = {Role.WAREHOUSE, Role.MANAGER}


@dataclass(frozen=True, slots=True)
class TransferLineInput:
    product_id: int
    quantity: Decimal
    unit: str | None = None
    lot_no: str | None = None  # None: earliest expiry first


def _sources(lots: list[Lot], lot_no: str | None, clock: Clock) -> list[Lot]:
    if lot_no is not None:
        return [lot for lot in lots if lot.lot_no == lot_no.strip()]
    return usable_lots(lots, clock.today())


async def transfer_stock(
    session: AsyncSession,
    actor: User,
    *,
    from_warehouse_id: int,
    to_warehouse_id: int,
    lines: Sequence[TransferLineInput],
    clock: Clock = DEFAULT_CLOCK,
) -> Transfer:
    """One transfer document; each lot moved is a TRANSFER_OUT and a TRANSFER_IN in the ledger."""
    require_role(actor, TRANSFER_ROLES, "调拨")
    if from_warehouse_id == to_warehouse_id:
        raise InvalidInput("调出和调入是同一个仓库")
    if not lines:
        raise InvalidInput("调拨单至少要有一行")
    source = await session.get(Warehouse, from_warehouse_id)
    if source is None or await session.get(Warehouse, to_warehouse_id) is None:
        raise NotFound(f"没有这个仓库: {from_warehouse_id if source is None else to_warehouse_id}")
    transfer = Transfer(
        number=await next_number(session, "TR", clock),
        from_warehouse_id=from_warehouse_id,
        to_warehouse_id=to_warehouse_id,
        user_id=actor.id or 0,
        created_at=clock.now(),
    )
    session.add(transfer)
    await session.flush()
    for line in sorted(lines, key=lambda item: item.product_id):
        product = await get_product(session, line.product_id)
        quantity = await to_base(session, product, line.quantity, line.unit)
        check_quantity(quantity, f"{product_label(product)} 的调拨数量", product.base_unit)
        check_whole(quantity, product.base_unit, product_label(product))
        sources = _sources(await lots_for_update(session, product.id or 0, from_warehouse_id), line.lot_no, clock)
        if line.lot_no is not None and not sources:
            raise NotFound(f"{product_label(product)} 在调出仓库没有批次 {line.lot_no}")
        available = sum((lot.on_hand - lot.reserved for lot in sources), ZERO)
        if quantity > available:
            has, wanted, short = [
                await describe_quantity(session, product, value, with_base=True)
                for value in (available, quantity, quantity - available)
            ]
            where = source.name + (f"批次 {line.lot_no} " if line.lot_no is not None else "")
            raise InsufficientStock(
                f"{product_label(product)} 库存不足：{where}可用 {has}，要调 {wanted}，缺 {short}",
                product_id=product.id,
                available=available,
            )
        missing = quantity
        for lot in sources:
            take = min(missing, lot.on_hand - lot.reserved)
            if take <= 0:
                continue
            _, into = await transfer_lot(
                session,
                actor,
                lot_id=lot.id or 0,
                to_warehouse_id=to_warehouse_id,
                quantity=take,
                ref_type="transfer",
                ref_id=transfer.id,
                ref_no=transfer.number,
            )
            session.add(
                TransferLine(
                    transfer_id=transfer.id or 0,
                    product_id=product.id or 0,
                    from_lot_id=lot.id or 0,
                    to_lot_id=into.lot_id,
                    quantity=take,
                )
            )
            missing -= take
            if missing == 0:
                break
    await record(session, actor, "transfer", transfer.id, "create", None, {"number": transfer.number})
    return transfer
