"""What sales and purchase orders share: priced lines saved under an order, and returns of delivered lines.

Both kinds of order take lines in any unit of a product, price them (`documents.price_line`) and keep
them under the order; both take goods back from one delivered line (a shipment or a receipt line) into
or out of the lot it went through. The order-specific parts (roles, numbers, partners, movements) stay
in `core.sales` and `core.purchasing`.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy import Select, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel, col

from core.audit import record
from core.catalog import describe_quantity, product_label
from core.documents import (
    OrderLineInput,
    PricedLine,
    PurchaseOrder,
    PurchaseOrderLine,
    PurchaseReturn,
    ReceiptLine,
    SalesOrder,
    SalesOrderLine,
    SalesReturn,
    ShipmentLine,
    lock_document,
    price_line,
)
from core.errors import InvalidInput, NotFound
from core.ledger import lock_lot, lock_product, post
from core.models import ZERO, Customer, Lot, MovementKind, Product, Supplier, User, Warehouse

OrderLine = TypeVar("OrderLine", SalesOrderLine, PurchaseOrderLine)
DeliveredLine = TypeVar("DeliveredLine", ShipmentLine, ReceiptLine)

_PARTNER_LABEL = {Customer: "客户", Supplier: "供应商"}


async def price_order(
    session: AsyncSession,
    lines: Sequence[OrderLineInput],
    list_price: str,
    *,
    document: str,
    partner: type[Customer] | type[Supplier],
    partner_id: int,
    warehouse_id: int,
) -> list[PricedLine]:
    """The lines of a new order priced (at `list_price` unless given), once the partner and warehouse exist."""
    if not lines:
        raise InvalidInput(f"{document}至少要有一行商品")
    if await session.get(partner, partner_id) is None:
        raise NotFound(f"没有这个{_PARTNER_LABEL[partner]}: {partner_id}")
    warehouse = await session.get(Warehouse, warehouse_id)
    if warehouse is None or not warehouse.active:
        raise NotFound(f"没有这个仓库: {warehouse_id}")
    return [await price_line(session, line, list_price) for line in lines]


async def save_order(
    session: AsyncSession,
    actor: User,
    order: SalesOrder | PurchaseOrder,
    line_model: type[SalesOrderLine] | type[PurchaseOrderLine],
    priced: Sequence[PricedLine],
    entity: str,
) -> None:
    """Store a new order with its lines numbered from 1; its total is the sum of the rounded lines."""
    order.total = sum((p.amount for p in priced), ZERO)
    session.add(order)
    await session.flush()
    session.add_all(
        line_model(
            order_id=order.id or 0,
            line_no=number,
            product_id=p.product.id or 0,
            unit=p.unit,
            unit_quantity=p.unit_quantity,
            quantity=p.quantity,
            unit_price=p.unit_price,
            amount=p.amount,
        )
        for number, p in enumerate(priced, start=1)
    )
    await record(session, actor, entity, order.id, "create", None, {"number": order.number, "total": order.total})


# Built once per kind of line: confirming and shipping read the lines of every order.
_ORDER_LINES: dict[type[SQLModel], Select[Any]] = {
    model: select(model).where(col(model.order_id) == bindparam("order_id")).order_by(col(model.line_no))
    for model in (SalesOrderLine, PurchaseOrderLine)
}


async def order_lines(session: AsyncSession, line_model: type[OrderLine], order_id: int) -> list[OrderLine]:
    """The lines of one order in line number order."""
    return list((await session.scalars(_ORDER_LINES[line_model], {"order_id": order_id})).all())


async def start_return(
    session: AsyncSession, line_model: type[DeliveredLine], line_id: int, label: str, quantity: Decimal, reason: str
) -> tuple[DeliveredLine, Lot, Product]:
    """Lock a delivered line, its lot and product for a return of `quantity`, which must still be returnable."""
    if not reason.strip():
        raise InvalidInput("退货必须写明原因")
    line = await lock_document(session, line_model, line_id, label)
    lot, product = await lock_lot(session, line.lot_id), await lock_product(session, line.product_id)
    returnable = line.quantity - line.returned
    if quantity <= 0 or quantity > returnable:
        left, asked = [await describe_quantity(session, product, value, with_base=True) for value in (returnable, quantity)]
        raise InvalidInput(f"{product_label(product)} 这一行最多还能退 {left}，不能退 {asked}")
    return line, lot, product


async def book_return(
    session: AsyncSession,
    actor: User,
    document: SalesReturn | PurchaseReturn,
    line: ShipmentLine | ReceiptLine,
    lot: Lot,
    product: Product,
    kind: MovementKind,
) -> None:
    """Store a return and move its goods back through the line's lot at the line's cost.

    A customer's return comes into the lot, a return to the supplier leaves it.
    """
    session.add(document)
    await session.flush()
    await post(
        session,
        kind=kind,
        product=product,
        lot=lot,
        quantity=document.quantity if kind == MovementKind.SALES_RETURN else -document.quantity,
        actor=actor,
        unit_cost=line.unit_cost,
        ref_type=kind.value,
        ref_id=document.id,
        ref_no=document.number,
        reason=document.reason,
    )
    line.returned += document.quantity
