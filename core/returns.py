"""Returns named as people name them: an order (or one delivery of it), a product, a quantity.

`core.sales.return_sale` and `core.purchasing.return_purchase` take goods back through one delivered line (a
shipment line or a receipt line): its lot, its price and its cost. People name the document and the product,
not the line, so `plan_return` spreads the quantity over the lines the product was delivered on, the latest
delivery first (what came last is what is most likely sent back, and its lot is the freshest), and refuses
more than is still returnable, naming the document and the product. A person confirms the plan in between,
and `book_return` books exactly those lines, so what was shown is what is booked (core refuses a line that
was returned meanwhile).

A customer's goods come back into the lot they left; goods for the supplier leave the lot they came in as,
and only what that lot still has free (not sold, not reserved for an order) can leave.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from core.catalog import describe_quantity, get_product, product_label
from core.documents import (
    PURCHASE_STATUS_ZH,
    SALES_STATUS_ZH,
    PurchaseOrder,
    PurchaseOrderLine,
    PurchaseReturn,
    Receipt,
    ReceiptLine,
    SalesOrder,
    SalesOrderLine,
    SalesReturn,
    Shipment,
    ShipmentLine,
    cumulative_share,
)
from core.errors import InvalidInput, InvalidState, NotFound
from core.models import ZERO, Customer, Lot, Supplier, User
from core.numbering import DEFAULT_CLOCK, Clock
from core.purchasing import RECEIVING_ROLES, return_purchase
from core.quantity import check_quantity, check_whole
from core.sales import RETURN_ROLES, return_sale
from core.users import require_role

ReturnKind = Literal["sales", "purchase"]

_SALES_PREFIXES = ("SO-", "SH-")  # a sales order, or one shipment of it
_PURCHASE_PREFIXES = ("PO-", "GR-")  # a purchase order, or one receipt of it
DEFAULT_REASON: dict[ReturnKind, str] = {"sales": "客户退货", "purchase": "退回供应商"}
MAX_REASON_LENGTH = 256


def return_kind(number: str) -> ReturnKind:
    """Which way the goods go, from the document named: SO-/SH- from a customer, PO-/GR- to a supplier."""
    upper = number.upper()
    if upper.startswith(_SALES_PREFIXES):
        return "sales"
    if upper.startswith(_PURCHASE_PREFIXES):
        return "purchase"
    raise InvalidInput(f"{number} 不是销售单（SO-…）或采购单（PO-…）：退货请写明原来的单号")


def require_return_role(actor: User, kind: ReturnKind) -> None:
    """The role core's return of that kind asks for, checked before anything is shown."""
    if kind == "sales":
        require_role(actor, RETURN_ROLES, "办理销售退货")
    else:
        require_role(actor, RECEIVING_ROLES, "办理采购退货")


@dataclass(frozen=True, slots=True)
class Delivered:
    """One delivered line of the document, as a return sees it."""

    line_id: int
    product_id: int
    lot_id: int
    delivery_no: str  # the shipment's or receipt's number
    delivered_at: datetime
    quantity: Decimal  # base units
    returned: Decimal
    amount: Decimal  # what the line was worth to the partner (sale or purchase price)
    cost: Decimal  # at cost (a purchase line's cost is its amount)
    free: Decimal | None  # to a supplier: what the lot still has free; from a customer: no limit

    @property
    def returnable(self) -> Decimal:
        return self.quantity - self.returned


@dataclass(frozen=True, slots=True)
class ReturnSource:
    """The document a return is named by, and its delivered lines, latest first."""

    kind: ReturnKind
    number: str  # as named: the order's, or one delivery's
    label: str  # 销售单 / 出库单 / 采购单 / 入库单
    order_no: str
    partner_id: int
    partner: str
    products: frozenset[int]  # on the document, delivered or not
    delivered: tuple[Delivered, ...]


@dataclass(frozen=True, slots=True)
class ReturnTake:
    """How much of one delivered line a return takes back, and what that is worth."""

    line_id: int
    quantity: Decimal
    amount: Decimal  # credited to the partner's account
    cost: Decimal


async def return_source(session: AsyncSession, number: str) -> ReturnSource:
    """The document and what was delivered of it; refused when nothing was (yet)."""
    number = number.upper()
    if return_kind(number) == "sales":
        return await _sales_source(session, number)
    return await _purchase_source(session, number)


async def _sales_source(session: AsyncSession, number: str) -> ReturnSource:
    statement = (
        select(ShipmentLine, Shipment)
        .join(Shipment, col(Shipment.id) == ShipmentLine.shipment_id)
        .order_by(col(Shipment.shipped_at).desc(), col(ShipmentLine.id).desc())
    )
    if number.startswith("SH-"):
        shipment = await session.scalar(select(Shipment).where(col(Shipment.number) == number))
        if shipment is None:
            raise NotFound(f"没有找到出库单 {number}")
        order = await session.get(SalesOrder, shipment.order_id)
        rows = (await session.execute(statement.where(col(Shipment.id) == shipment.id))).all()
        label, products = "出库单", {line.product_id for line, _ in rows}
    else:
        order = await session.scalar(select(SalesOrder).where(col(SalesOrder.number) == number))
        if order is None:
            raise NotFound(f"没有找到销售单 {number}")
        rows = (await session.execute(statement.where(col(Shipment.order_id) == order.id))).all()
        label = "销售单"
        products = set(
            (await session.scalars(select(SalesOrderLine.product_id).where(col(SalesOrderLine.order_id) == order.id))).all()
        )
    assert order is not None
    if not rows:
        raise InvalidState(
            f"销售单 {number} {SALES_STATUS_ZH[order.status]}，还没有发货，没有可退的货", status=order.status.value
        )
    customer = await session.get(Customer, order.customer_id)
    delivered = tuple(
        Delivered(
            line.id or 0, line.product_id, line.lot_id, shipment.number, shipment.shipped_at, line.quantity,
            line.returned, line.amount, line.cost, None,
        )
        for line, shipment in rows
    )
    return ReturnSource(
        "sales", number, label, order.number, order.customer_id, customer.name if customer else "",
        frozenset(products), delivered,
    )


async def _purchase_source(session: AsyncSession, number: str) -> ReturnSource:
    statement = (
        select(ReceiptLine, Receipt, Lot)
        .join(Receipt, col(Receipt.id) == ReceiptLine.receipt_id)
        .join(Lot, col(Lot.id) == ReceiptLine.lot_id)
        .order_by(col(Receipt.received_at).desc(), col(ReceiptLine.id).desc())
    )
    if number.startswith("GR-"):
        receipt = await session.scalar(select(Receipt).where(col(Receipt.number) == number))
        if receipt is None:
            raise NotFound(f"没有找到入库单 {number}")
        order = await session.get(PurchaseOrder, receipt.order_id)
        rows = (await session.execute(statement.where(col(Receipt.id) == receipt.id))).all()
        label, products = "入库单", {line.product_id for line, _, _ in rows}
    else:
        order = await session.scalar(select(PurchaseOrder).where(col(PurchaseOrder.number) == number))
        if order is None:
            raise NotFound(f"没有找到采购单 {number}")
        rows = (await session.execute(statement.where(col(Receipt.order_id) == order.id))).all()
        label = "采购单"
        products = set(
            (
                await session.scalars(
                    select(PurchaseOrderLine.product_id).where(col(PurchaseOrderLine.order_id) == order.id)
                )
            ).all()
        )
    assert order is not None
    if not rows:
        raise InvalidState(
            f"采购单 {number} {PURCHASE_STATUS_ZH[order.status]}，还没有入库，没有可退的货", status=order.status.value
        )
    supplier = await session.get(Supplier, order.supplier_id)
    delivered = tuple(
        Delivered(
            line.id or 0, line.product_id, line.lot_id, receipt.number, receipt.received_at, line.quantity,
            line.returned, line.amount, line.amount, lot.on_hand - lot.reserved,
        )
        for line, receipt, lot in rows
    )
    return ReturnSource(
        "purchase", number, label, order.number, order.supplier_id, supplier.name if supplier else "",
        frozenset(products), delivered,
    )


async def plan_return(
    session: AsyncSession,
    source: ReturnSource,
    product_id: int,
    quantity: Decimal,
    planned: Iterable[ReturnTake] = (),
) -> list[ReturnTake]:
    """Which delivered lines a return of `quantity` (base units) of the product takes, latest delivery first.

    `planned`: takes of other lines of the same return, already counted against the lines and their lots."""
    product = await get_product(session, product_id)
    label = product_label(product)
    check_quantity(quantity, f"{label} 的退货数量", product.base_unit)
    check_whole(quantity, product.base_unit, label)
    lines = [line for line in source.delivered if line.product_id == product_id]
    delivered_word = "发货" if source.kind == "sales" else "入库"
    if not lines:
        if product_id in source.products:
            raise InvalidState(f"{source.label} {source.number} 的 {label} 还没有{delivered_word}，没有可退的货")
        raise InvalidInput(f"{label} 不在{source.label} {source.number} 里")
    taken: dict[int, Decimal] = {}
    for earlier in planned:
        taken[earlier.line_id] = taken.get(earlier.line_id, ZERO) + earlier.quantity
    lot_taken: dict[int, Decimal] = {}
    for line in source.delivered:
        lot_taken[line.lot_id] = lot_taken.get(line.lot_id, ZERO) + taken.get(line.line_id, ZERO)
    takes: list[ReturnTake] = []
    left_total, wanted = ZERO, quantity
    for line in lines:
        left = line.returnable - taken.get(line.line_id, ZERO)
        if line.free is not None:
            left = min(left, line.free - lot_taken[line.lot_id])
        left = max(left, ZERO)
        left_total += left
        take = min(left, wanted)
        if take > 0:
            before = line.returned + taken.get(line.line_id, ZERO)
            takes.append(
                ReturnTake(
                    line.line_id, take,
                    cumulative_share(line.amount, line.quantity, before, before + take),
                    cumulative_share(line.cost, line.quantity, before, before + take),
                )
            )
            lot_taken[line.lot_id] += take
            wanted -= take
    if wanted > 0:
        raise InvalidInput(await _too_much(session, source, lines, taken, product_id, quantity, left_total))
    return takes


async def _too_much(
    session: AsyncSession,
    source: ReturnSource,
    lines: Sequence[Delivered],
    taken: Mapping[int, Decimal],
    product_id: int,
    asked: Decimal,
    left: Decimal,
) -> str:
    product = await get_product(session, product_id)

    async def amount(value: Decimal) -> str:
        return await describe_quantity(session, product, value)

    delivered = sum((line.quantity for line in lines), ZERO)
    returned = sum((line.returned + taken.get(line.line_id, ZERO) for line in lines), ZERO)
    word = "发" if source.kind == "sales" else "入库"
    head = f"{source.label} {source.number} 的 {product_label(product)} 已{word} {await amount(delivered)}"
    if returned >= delivered:
        return f"{head}，已经全部退过了，不能再退"
    said = f"{head}，已退 {await amount(returned)}，" if returned else f"{head}，"
    held = delivered - returned - left
    if held > 0:  # to a supplier: part of it is sold or reserved for orders
        said += f"其中 {await amount(held)} 已卖出或被订单预留，"
    return f"{said}最多还能退 {await amount(left)}，不能退 {await amount(asked)}"


async def book_return(
    session: AsyncSession,
    actor: User,
    kind: ReturnKind,
    takes: Sequence[ReturnTake],
    *,
    reason: str,
    clock: Clock = DEFAULT_CLOCK,
) -> list[SalesReturn] | list[PurchaseReturn]:
    """The planned takes booked, one return document per line, in one transaction (the caller's)."""
    reason = reason.strip() or DEFAULT_REASON[kind]
    if len(reason) > MAX_REASON_LENGTH:
        raise InvalidInput(f"退货原因太长：最多 {MAX_REASON_LENGTH} 个字")
    if not takes:
        raise InvalidInput("退货至少要有一行商品")
    if kind == "sales":
        return [await return_sale(session, actor, t.line_id, t.quantity, reason=reason, clock=clock) for t in takes]
    return [await return_purchase(session, actor, t.line_id, t.quantity, reason=reason, clock=clock) for t in takes]
