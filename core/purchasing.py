"""Purchase orders: draft → pending approval → approved / rejected → (partially) received → closed.

Receiving books new lots through the ledger at the order's price, which moves the product's moving
weighted average cost, and opens a payable. Reorder suggestions turn low stock into draft orders.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from sqlalchemy import func, select, type_coerce
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from core import accounts
from core.approval import start_approval
from core.audit import record
from core.catalog import describe_quantity, product_label
from core.columns import COST_PLACES, Quantity
from core.documents import (
    OPEN_PURCHASE_STATUSES,
    PURCHASE_STATUS_ZH,
    OrderLineInput,
    PurchaseOrder,
    PurchaseOrderLine,
    PurchaseOrderStatus,
    PurchaseReturn,
    Receipt,
    ReceiptLine,
    cumulative_share,
    lock_document,
)
from core.errors import InvalidInput, InvalidState, OverReceipt
from core.ledger import lock_product, lot_for, on_hand_total, post, sellable_quantity
from core.lines import book_return, order_lines, price_order, save_order, start_return
from core.models import ZERO, Lot, MovementKind, Product, ProductUnit, Role, Supplier, User
from core.numbering import DEFAULT_CLOCK, Clock, next_number
from core.preferences import get_setting
from core.quantity import is_measured
from core.stock import stock_of
from core.users import require_role

PURCHASING_ROLES = {Role.PURCHASER, Role.MANAGER}
RECEIVING_ROLES = {Role.WAREHOUSE, Role.PURCHASER, Role.MANAGER}
OVER_RECEIPT_TOLERANCE_KEY = "over_receipt_tolerance_percent"
_COST_UNIT = Decimal(1).scaleb(-COST_PLACES)

_RECEIVABLE_STATUSES = (PurchaseOrderStatus.APPROVED, PurchaseOrderStatus.PARTIALLY_RECEIVED)
_CANCELLABLE_STATUSES = (
    PurchaseOrderStatus.DRAFT,
    PurchaseOrderStatus.PENDING_APPROVAL,
    PurchaseOrderStatus.APPROVED,
)


def _refuse_state(order: PurchaseOrder, action: str) -> InvalidState:
    return InvalidState(
        f"采购单 {order.number} {PURCHASE_STATUS_ZH[order.status]}，不能{action}", status=order.status.value
    )


async def lines_of(session: AsyncSession, order_id: int) -> list[PurchaseOrderLine]:
    return await order_lines(session, PurchaseOrderLine, order_id)


async def create_purchase_order(
    session: AsyncSession,
    actor: User,
    *,
    supplier_id: int,
    warehouse_id: int,
    lines: Sequence[OrderLineInput],
    note: str = "",
    clock: Clock = DEFAULT_CLOCK,
) -> PurchaseOrder:
    """A draft order; lines in any unit of the product, priced at the purchase price unless given."""
    require_role(actor, PURCHASING_ROLES, "开采购单")
    priced = await price_order(
        session,
        lines,
        "purchase_price",
        document="采购单",
        partner=Supplier,
        partner_id=supplier_id,
        warehouse_id=warehouse_id,
    )
    order = PurchaseOrder(
        number=await next_number(session, "PO", clock),
        supplier_id=supplier_id,
        warehouse_id=warehouse_id,
        requester_id=actor.id or 0,
        note=note,
        created_at=clock.now(),
    )
    await save_order(session, actor, order, PurchaseOrderLine, priced, "purchase_order")
    return order


async def submit_purchase_order(
    session: AsyncSession, actor: User, order_id: int, *, clock: Clock = DEFAULT_CLOCK
) -> PurchaseOrder:
    """Send a draft for approval; the chain of approvers follows from its amount and the rules in force."""
    require_role(actor, PURCHASING_ROLES, "提交采购单")
    order = await lock_document(session, PurchaseOrder, order_id, "采购单")
    if order.status != PurchaseOrderStatus.DRAFT:
        raise _refuse_state(order, "提交审批")
    await start_approval(session, order)
    order.status = PurchaseOrderStatus.PENDING_APPROVAL
    order.submitted_at = clock.now()
    await record(
        session, actor, "purchase_order", order.id, "submit", {"status": PurchaseOrderStatus.DRAFT}, {"status": order.status}
    )
    return order


async def cancel_purchase_order(
    session: AsyncSession, actor: User, order_id: int, *, reason: str = "", clock: Clock = DEFAULT_CLOCK
) -> PurchaseOrder:
    """Cancel an order before anything was received."""
    require_role(actor, PURCHASING_ROLES, "取消采购单")
    order = await lock_document(session, PurchaseOrder, order_id, "采购单")
    if order.status not in _CANCELLABLE_STATUSES:
        raise _refuse_state(order, "取消")
    before = order.status
    order.status = PurchaseOrderStatus.CANCELLED
    order.closed_at = clock.now()
    await record(session, actor, "purchase_order", order.id, "cancel", {"status": before}, {"status": order.status, "reason": reason})
    return order


async def close_purchase_order(
    session: AsyncSession, actor: User, order_id: int, *, reason: str = "", clock: Clock = DEFAULT_CLOCK
) -> PurchaseOrder:
    """Close a partially received order: the rest will not come (no longer counts as on order)."""
    require_role(actor, PURCHASING_ROLES, "关闭采购单")
    order = await lock_document(session, PurchaseOrder, order_id, "采购单")
    if order.status != PurchaseOrderStatus.PARTIALLY_RECEIVED:
        raise _refuse_state(order, "关闭")
    order.status = PurchaseOrderStatus.CLOSED
    order.closed_at = clock.now()
    await record(
        session,
        actor,
        "purchase_order",
        order.id,
        "close",
        {"status": PurchaseOrderStatus.PARTIALLY_RECEIVED},
        {"status": order.status, "reason": reason},
    )
    return order


@dataclass(frozen=True, slots=True)
class ReceiptLineInput:
    """Goods received for one order line, in base units, into one lot."""

    order_line_id: int
    quantity: Decimal
    lot_no: str = ""
    production_date: date | None = None
    expiry_date: date | None = None


async def receive_purchase_order(
    session: AsyncSession,
    actor: User,
    order_id: int,
    lines: Sequence[ReceiptLineInput],
    *,
    clock: Clock = DEFAULT_CLOCK,
) -> Receipt:
    """Receive goods of an approved order, partly or fully, into lots; more than ordered is OverReceipt
    unless the tolerance setting (percent) allows it. Fully received orders close.
    """
    require_role(actor, RECEIVING_ROLES, "采购入库")
    order = await lock_document(session, PurchaseOrder, order_id, "采购单")
    if order.status not in _RECEIVABLE_STATUSES:
        raise _refuse_state(order, "入库")
    if not lines:
        raise InvalidInput("入库至少要有一行")
    order_lines = await lines_of(session, order_id)
    by_id = {line.id: line for line in order_lines}
    tolerance = Decimal(str(await get_setting(session, OVER_RECEIPT_TOLERANCE_KEY, 0)))
    receipt = Receipt(
        number=await next_number(session, "GR", clock),
        order_id=order.id or 0,
        supplier_id=order.supplier_id,
        warehouse_id=order.warehouse_id,
        received_by=actor.id or 0,
        received_at=clock.now(),
    )
    session.add(receipt)
    await session.flush()
    for item in sorted(lines, key=lambda i: by_id[i.order_line_id].product_id if i.order_line_id in by_id else 0):
        line = by_id.get(item.order_line_id)
        if line is None:
            raise InvalidInput(f"采购单 {order.number} 没有这一行: {item.order_line_id}")
        if item.quantity <= 0:
            raise InvalidInput(f"第 {line.line_no} 行入库数量必须大于 0")
        limit = line.quantity * (1 + tolerance / 100)
        product = await lock_product(session, line.product_id)
        if line.received + item.quantity > limit:
            raise await _over_receipt(session, line, product, limit)
        lot = await lot_for(session, product, order.warehouse_id, item.lot_no, item.production_date, item.expiry_date)
        unit_cost = (line.unit_price * line.unit_quantity / line.quantity).quantize(_COST_UNIT)
        movement = await post(
            session,
            kind=MovementKind.PURCHASE_RECEIPT,
            product=product,
            lot=lot,
            quantity=item.quantity,
            actor=actor,
            unit_cost=unit_cost,
            ref_type="receipt",
            ref_id=receipt.id,
            ref_no=receipt.number,
        )
        amount = cumulative_share(line.amount, line.quantity, line.received, line.received + item.quantity)
        session.add(
            ReceiptLine(
                receipt_id=receipt.id or 0,
                order_line_id=line.id or 0,
                product_id=line.product_id,
                lot_id=lot.id or 0,
                movement_id=movement.id or 0,
                quantity=item.quantity,
                unit_cost=movement.unit_cost,
                amount=amount,
            )
        )
        line.received += item.quantity
        line.received_amount += amount
        receipt.amount += amount

    before = order.status
    if all(line.received >= line.quantity for line in order_lines):
        order.status = PurchaseOrderStatus.CLOSED
        order.closed_at = clock.now()
    else:
        order.status = PurchaseOrderStatus.PARTIALLY_RECEIVED
    await accounts.open_payable(
        session, supplier_id=order.supplier_id, amount=receipt.amount, ref_no=receipt.number, receipt_id=receipt.id
    )
    await record(
        session,
        actor,
        "purchase_order",
        order.id,
        "receive",
        {"status": before},
        {"status": order.status, "receipt": receipt.number, "amount": receipt.amount},
    )
    return receipt


async def _over_receipt(session: AsyncSession, line: PurchaseOrderLine, product: Product, limit: Decimal) -> OverReceipt:
    """"第 1 行 可口可乐 330ml 订了 5箱，已入库 2箱，这次最多还能入库 3箱（72罐）": in the units the warehouse
    counts in, the limit (order plus tolerance) in whole base units of a product that counts things."""
    left = max(limit - line.received, ZERO)
    if not is_measured(product.base_unit):
        left = left.to_integral_value(rounding=ROUND_FLOOR)
    ordered, received = [await describe_quantity(session, product, value) for value in (line.quantity, line.received)]
    return OverReceipt(
        f"第 {line.line_no} 行 {product_label(product)} 订了 {ordered}，已入库 {received}，"
        f"这次最多还能入库 {await describe_quantity(session, product, left, with_base=True)}",
        order_line_id=line.id,
        ordered=line.quantity,
        received=line.received,
    )


async def return_purchase(
    session: AsyncSession,
    actor: User,
    receipt_line_id: int,
    quantity: Decimal,
    *,
    reason: str,
    clock: Clock = DEFAULT_CLOCK,
) -> PurchaseReturn:
    """Send goods of one receipt line back to the supplier out of their lot; the supplier owes us a credit.

    Only what is available (not reserved for sales orders) can leave. The goods leave at the cost they
    came in at, so the stock left behind is re-averaged (`reaverage_after_return`).
    """
    require_role(actor, RECEIVING_ROLES, "办理采购退货")
    received, lot, product = await start_return(session, ReceiptLine, receipt_line_id, "入库行", quantity, reason)
    on_hand_before = await on_hand_total(session, product.id or 0)
    receipt = await session.get(Receipt, received.receipt_id)
    assert receipt is not None
    purchase_return = PurchaseReturn(
        number=await next_number(session, "PR", clock),
        receipt_line_id=received.id or 0,
        supplier_id=receipt.supplier_id,
        product_id=received.product_id,
        quantity=quantity,
        amount=cumulative_share(received.amount, received.quantity, received.returned, received.returned + quantity),
        reason=reason,
        user_id=actor.id or 0,
        created_at=clock.now(),
    )
    await book_return(session, actor, purchase_return, received, lot, product, MovementKind.PURCHASE_RETURN)
    average_before = product.avg_cost
    product.avg_cost = reaverage_after_return(on_hand_before, product.avg_cost, quantity, received.unit_cost)
    await record(
        session, actor, "product", product.id, "reaverage",
        {"avg_cost": average_before}, {"avg_cost": product.avg_cost, "ref": purchase_return.number},
    )
    await accounts.open_payable(
        session,
        supplier_id=receipt.supplier_id,
        amount=-purchase_return.amount,
        ref_no=purchase_return.number,
        purchase_return_id=purchase_return.id,
    )
    return purchase_return


def reaverage_after_return(on_hand: Decimal, average: Decimal, quantity: Decimal, unit_cost: Decimal) -> Decimal:
    """The moving average of what stays when `quantity` of `on_hand` leaves at `unit_cost`, not at the average.

    Value out is `quantity × unit_cost`; what stays is valued at the rest, never below zero (goods that
    came in free or cheaper cannot be worth less than nothing). When nothing stays, the average is kept:
    it values nothing, and the next receipt sets its own.
    """
    remaining = on_hand - quantity
    if remaining <= 0:
        return average
    value = max(on_hand * average - quantity * unit_cost, ZERO)
    return (value / remaining).quantize(_COST_UNIT)


# ---------------------------------------------------------------- reorder suggestions


@dataclass(frozen=True, slots=True)
class SuggestedLine:
    product_id: int
    sku: str
    name: str
    spec: str
    base_unit: str
    available: Decimal
    on_order: Decimal
    safety_stock: Decimal
    target: Decimal  # max stock, or twice the safety stock
    quantity: Decimal  # base units to order: whole purchase units
    unit_price: Decimal  # purchase price per base unit
    unit: str  # the purchase unit (箱), or the base unit when the product has none
    unit_quantity: Decimal  # how many of `unit`


def purchase_unit(units: Sequence[tuple[str, Decimal]], target: Decimal) -> tuple[str, Decimal] | None:
    """The pack a supplier delivers: the product's biggest whole unit (1箱 = 24罐) that fits in the
    target stock, or None to order in base units.

    The catalog keeps no separate purchase unit; suppliers ship whole cases, and a pack bigger than
    the maximum stock (a pallet for a shelf of 60) could never be ordered without overfilling it.
    """
    packs = [(name, factor) for name, factor in units if factor > 1 and factor == factor.to_integral_value()]
    fitting = [pack for pack in packs if pack[1] <= target]
    return max(fitting, key=lambda pack: (pack[1], pack[0])) if fitting else None


def round_up_to(quantity: Decimal, factor: Decimal) -> Decimal:
    """How many whole packs of `factor` cover `quantity` (17 bottles of 24-bottle cases → 1)."""
    return (quantity / factor).to_integral_value(rounding=ROUND_CEILING)


@dataclass(frozen=True, slots=True)
class SupplierSuggestion:
    supplier_id: int | None  # None: products without a preferred supplier
    supplier_name: str
    lines: tuple[SuggestedLine, ...]


_ON_ORDER = type_coerce(PurchaseOrderLine.quantity - PurchaseOrderLine.received, Quantity)


@dataclass(frozen=True, slots=True)
class StockAtHand:
    """What an approver weighs a line against: the product's stock in the order's warehouse (available as
    a sale would count it), its safety stock, and what other open orders still bring there."""

    on_hand: Decimal
    available: Decimal
    safety_stock: Decimal
    on_order: Decimal


async def stock_at_hand(
    session: AsyncSession, order: PurchaseOrder, *, clock: Clock = DEFAULT_CLOCK
) -> dict[int, StockAtHand]:
    """Product id → `StockAtHand`, for each product of the order. What other orders bring is what reorder
    suggestions count as on order (the unreceived quantities of drafts, pending, approved and partly
    received orders), here only into the order's warehouse, as its stock is."""
    product_ids = sorted({line.product_id for line in await lines_of(session, order.id or 0)})
    on_order = await session.execute(
        select(col(PurchaseOrderLine.product_id), func.sum(_ON_ORDER))
        .join(PurchaseOrder, col(PurchaseOrder.id) == PurchaseOrderLine.order_id)
        .where(
            col(PurchaseOrder.status).in_(OPEN_PURCHASE_STATUSES),
            col(PurchaseOrder.warehouse_id) == order.warehouse_id,
            col(PurchaseOrder.id) != order.id,
            col(PurchaseOrderLine.product_id).in_(product_ids),
            col(PurchaseOrderLine.received) < PurchaseOrderLine.quantity,
        )
        .group_by(col(PurchaseOrderLine.product_id))
    )
    coming: dict[int, Decimal] = {product_id: quantity for product_id, quantity in on_order.all()}
    result = {}
    for product_id in product_ids:
        stock = await stock_of(session, product_id, clock=clock)
        here = next((w for w in stock.warehouses if w.warehouse_id == order.warehouse_id), None)
        result[product_id] = StockAtHand(
            here.on_hand if here else ZERO,
            here.available if here else ZERO,
            stock.product.safety_stock,
            coming.get(product_id, ZERO),
        )
    return result


async def reorder_suggestions(session: AsyncSession, *, clock: Clock = DEFAULT_CLOCK) -> list[SupplierSuggestion]:
    """Products below safety stock: order up to max stock (or 2× safety), less what is already on order,
    rounded up to whole purchase units (`purchase_unit`): a purchaser never orders 17 cans of a case of 24.
    What is in stock counts as `core.stock.low_stock` counts it: expired lots are not available.

    "On order" is every unreceived quantity of draft, pending, approved and partially received orders, so
    pressing 生成采购单 twice does not order twice.
    """
    stock = (
        select(
            col(Lot.product_id),
            func.sum(sellable_quantity(clock.today())).label("available"),
        )
        .group_by(col(Lot.product_id))
        .subquery()
    )
    on_order = (
        select(col(PurchaseOrderLine.product_id), func.sum(_ON_ORDER).label("on_order"))
        .join(PurchaseOrder, col(PurchaseOrder.id) == PurchaseOrderLine.order_id)
        .where(col(PurchaseOrder.status).in_(OPEN_PURCHASE_STATUSES), col(PurchaseOrderLine.received) < PurchaseOrderLine.quantity)
        .group_by(col(PurchaseOrderLine.product_id))
        .subquery()
    )
    rows = await session.execute(
        select(Product, stock.c.available, on_order.c.on_order)
        .outerjoin(stock, stock.c.product_id == Product.id)
        .outerjoin(on_order, on_order.c.product_id == Product.id)
        .where(col(Product.active).is_(True), col(Product.safety_stock) > 0)
        .order_by(col(Product.sku))
    )
    low = [row for row in rows.all() if (row[1] or ZERO) < row[0].safety_stock]
    units: dict[int, list[tuple[str, Decimal]]] = {}
    if low:
        unit_rows = await session.execute(
            select(col(ProductUnit.product_id), col(ProductUnit.name), col(ProductUnit.factor)).where(
                col(ProductUnit.product_id).in_([product.id for product, *_ in low])
            )
        )
        for product_id, name, factor in unit_rows.all():
            units.setdefault(product_id, []).append((name, factor))
    grouped: dict[int | None, list[SuggestedLine]] = {}
    for product, in_stock, ordered in low:
        available = in_stock or ZERO
        target = product.max_stock if product.max_stock is not None else 2 * product.safety_stock
        needed = target - available - (ordered or ZERO)
        if needed <= 0:
            continue
        pack = purchase_unit(units.get(product.id or 0, []), target)
        unit, factor = pack if pack else (product.base_unit, Decimal(1))
        packs = round_up_to(needed, factor) if pack else needed
        grouped.setdefault(product.preferred_supplier_id, []).append(
            SuggestedLine(
                product.id or 0,
                product.sku,
                product.name,
                product.spec,
                product.base_unit,
                available,
                ordered or ZERO,
                product.safety_stock,
                target,
                packs * factor,
                product.purchase_price,
                unit,
                packs,
            )
        )
    names = {s.id: s.name for s in (await session.scalars(select(Supplier))).all()}
    return [
        SupplierSuggestion(supplier_id, names.get(supplier_id, "未指定供应商") if supplier_id else "未指定供应商", tuple(lines))
        for supplier_id, lines in sorted(grouped.items(), key=lambda item: (item[0] is None, item[0] or 0))
    ]


async def order_suggestion(
    session: AsyncSession,
    actor: User,
    *,
    supplier_id: int,
    warehouse_id: int,
    submit: bool = False,
    clock: Clock = DEFAULT_CLOCK,
) -> PurchaseOrder:
    """The 生成采购单 button: a draft order of the supplier's current suggestion, optionally submitted.

    The supplier row is locked first so two presses at once make one order, and the second finds
    nothing left to order.
    """
    require_role(actor, PURCHASING_ROLES, "生成采购单")
    await lock_document(session, Supplier, supplier_id, "供应商")
    suggestion = next((s for s in await reorder_suggestions(session, clock=clock) if s.supplier_id == supplier_id), None)
    if suggestion is None:
        raise InvalidState("这个供应商的商品现在都不需要补货（可能已经下过单）")
    order = await create_purchase_order(
        session,
        actor,
        supplier_id=supplier_id,
        warehouse_id=warehouse_id,
        lines=[OrderLineInput(line.product_id, line.unit_quantity, line.unit) for line in suggestion.lines],
        note="补货建议生成",
        clock=clock,
    )
    if submit:
        await session.flush()
        await submit_purchase_order(session, actor, order.id or 0, clock=clock)
    return order
