"""Sales orders: draft → confirmed (stock reserved) → (partially) shipped → completed; or cancelled.

Confirming reserves stock lot by lot, earliest expiry first, in the order's warehouse, and records each
reservation, so shipping consumes exactly those lots and cancelling releases exactly them. An order over
its customer's credit limit waits as a draft for a manager's 特批 (`allow_over_credit`) or 驳回
(`refuse_over_credit`), or its salesperson's 撤回 (`withdraw_credit_request`), decided once. The lots of
the order's products are locked as they are read (`_LINES_WITH_LOTS`): concurrent confirmations of the
last units queue on those rows, and each sees what the previous one left.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal

from sqlalchemy import BindParameter, Integer, String, bindparam, func, insert, inspect, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import SQLModel, col

from core import accounts
from core.audit import record
from core.catalog import describe_quantity, get_product, product_label
from core.columns import AwareDateTime, Money, Quantity, money, utcnow
from core.documents import (
    SALES_STATUS_ZH,
    OrderLineInput,
    Reservation,
    SalesOrder,
    SalesOrderLine,
    SalesOrderStatus,
    SalesReturn,
    Shipment,
    ShipmentLine,
    cumulative_share,
    lock_document,
)
from core.errors import (
    AlreadyDecided,
    CreditLimitExceeded,
    Forbidden,
    InsufficientStock,
    InvalidInput,
    InvalidState,
    NotFound,
)
from core.ledger import LotStock, fefo_key, lock_lot, lock_product, post, reserve, usable_lots
from core.lines import book_return, order_lines, price_order, save_order, start_return
from core.models import ZERO, AuditEntry, Customer, Lot, MovementKind, Product, Role, User
from core.numbering import DEFAULT_CLOCK, Clock, next_number
from core.quantity import format_money
from core.users import can_see_costs, has_role, require_role, users_with_roles

SELLING_ROLES = {Role.SALES, Role.MANAGER}
SHIPPING_ROLES = {Role.WAREHOUSE, Role.MANAGER}
RETURN_ROLES = {Role.SALES, Role.WAREHOUSE, Role.MANAGER}
CREDIT_OVERRIDE_ROLES = {Role.MANAGER}

# Orders whose unshipped value already counts against the customer's credit.
_COMMITTED = (SalesOrderStatus.CONFIRMED, SalesOrderStatus.PARTIALLY_SHIPPED)


async def create_sales_order(
    session: AsyncSession,
    actor: User,
    *,
    customer_id: int,
    warehouse_id: int,
    lines: Sequence[OrderLineInput],
    note: str = "",
    clock: Clock = DEFAULT_CLOCK,
) -> SalesOrder:
    """A draft order; lines in any unit of the product, priced at the sale price unless given."""
    require_role(actor, SELLING_ROLES, "开销售单")
    priced = await price_order(
        session,
        lines,
        "sale_price",
        document="销售单",
        partner=Customer,
        partner_id=customer_id,
        warehouse_id=warehouse_id,
    )
    order = SalesOrder(
        number=await next_number(session, "SO", clock),
        customer_id=customer_id,
        warehouse_id=warehouse_id,
        salesperson_id=actor.id or 0,
        note=note,
        created_at=clock.now(),
    )
    await save_order(session, actor, order, SalesOrderLine, priced, "sales_order")
    return order


async def _lines(session: AsyncSession, order_id: int) -> list[SalesOrderLine]:
    return await order_lines(session, SalesOrderLine, order_id)


def _refuse_state(order: SalesOrder, action: str) -> InvalidState:
    return InvalidState(
        f"销售单 {order.number} {SALES_STATUS_ZH[order.status]}，不能{action}", status=order.status.value
    )


def _over_credit(
    customer_id: int, name: str, credit_limit: Decimal, owed: Decimal, unshipped: Decimal, total: Decimal
) -> CreditLimitExceeded:
    exposure = owed + unshipped + total
    return CreditLimitExceeded(
        f"{name} 信用额度 {format_money(credit_limit)}，已欠 {format_money(owed)}，"
        f"未发货订单 {format_money(unshipped)}，本单 {format_money(total)}，"
        f"超出 {format_money(exposure - credit_limit)}，需要经理特批",
        customer_id=customer_id,
        credit_limit=credit_limit,
        exposure=exposure,
    )


async def _short_of_stock(session: AsyncSession, product_id: int, available: Decimal, needed: Decimal) -> InsufficientStock:
    product = await session.get(Product, product_id)
    assert product is not None
    has, wants = [await describe_quantity(session, product, value, with_base=True) for value in (available, needed)]
    return InsufficientStock(
        f"{product_label(product)} 库存不足: 可用 {has}，需要 {wants}",
        product_id=product_id,
        available=available,
        needed=needed,
    )


async def _owed_and_unshipped(session: AsyncSession, customer_id: int, order_id: int) -> tuple[Decimal, Decimal]:
    """What the customer owes, and what their other committed orders still have to ship (by value)."""
    owed = await accounts.customer_balance(session, customer_id)
    # The customer's other committed orders (this one may already be marked confirmed).
    others = (
        col(SalesOrder.customer_id) == customer_id,
        col(SalesOrder.status).in_(_COMMITTED),
        col(SalesOrder.id) != order_id,
    )
    unshipped = await session.scalar(select(func.sum(SalesOrder.total)).where(*others)) or ZERO
    shipped_of_those = await session.scalar(
        select(func.sum(SalesOrderLine.shipped_amount))
        .join(SalesOrder, col(SalesOrder.id) == SalesOrderLine.order_id)
        .where(*others)
    ) or ZERO
    return owed, unshipped - shipped_of_those


async def _check_credit(session: AsyncSession, order: ConfirmedOrder, override_by: User | None) -> ConfirmedOrder:
    """Open receivables + unshipped committed orders + this order must stay within the credit limit."""
    # Lock the customer: two orders of one customer confirmed at once must not both fit the same headroom.
    customer = await lock_document(session, Customer, order.customer_id, "客户")
    assert customer.credit_limit is not None
    owed, unshipped = await _owed_and_unshipped(session, customer.id or 0, order.id)
    if owed + unshipped + order.total <= customer.credit_limit:
        return order
    if override_by is None:
        raise _over_credit(customer.id or 0, customer.name, customer.credit_limit, owed, unshipped, order.total)
    require_role(override_by, CREDIT_OVERRIDE_ROLES, "特批超信用额度")
    await session.execute(_SET_CREDIT_OVERRIDE, {"order_id": order.id, "override_by": override_by.id})
    _held_order_changed(session, order.id, credit_override_by=override_by.id)
    return replace(order, credit_override_by=override_by.id)


_LINES = SQLModel.metadata.tables["sales_order_lines"]
_LOTS = SQLModel.metadata.tables["lots"]
_INSERT_RESERVATIONS = insert(SQLModel.metadata.tables["reservations"])

# The hot path of selling is a few statements built once (building one costs as much Python time as
# running it). The first takes the order from draft to confirmed, which locks it, and reads what the
# rest needs: the customer's credit limit and how many lines the order has. Its subqueries find their
# rows from the order id alone: SQLite's RETURNING names columns without their table, so a subquery
# correlated to the updated row would compare the wrong columns there.
_ORDER_ID: BindParameter[int] = bindparam("order_id")
_CUSTOMER_OF_ORDER = select(col(SalesOrder.customer_id)).where(col(SalesOrder.id) == _ORDER_ID).correlate(None)
_CONFIRM_DRAFT = (
    update(SalesOrder)
    .where(col(SalesOrder.id) == _ORDER_ID, col(SalesOrder.status) == SalesOrderStatus.DRAFT)
    .values(status=SalesOrderStatus.CONFIRMED, confirmed_at=bindparam("now"))
    .returning(
        col(SalesOrder.id),
        col(SalesOrder.number),
        col(SalesOrder.customer_id),
        col(SalesOrder.warehouse_id),
        col(SalesOrder.total),
        select(col(Customer.credit_limit)).where(col(Customer.id) == _CUSTOMER_OF_ORDER.scalar_subquery()).scalar_subquery(),
        select(func.count()).select_from(_LINES).where(_LINES.c.order_id == _ORDER_ID).scalar_subquery(),
    )
    # Columns, not the entity: loading a `SalesOrder` costs more than the rest of the statement. An
    # order this session already holds is brought up to date by `_held_order_changed`.
    .execution_options(synchronize_session=False)
)
_SET_CREDIT_OVERRIDE = (
    update(SalesOrder)
    .where(col(SalesOrder.id) == _ORDER_ID)
    .values(credit_override_by=bindparam("override_by"))
    .execution_options(synchronize_session=False)
)


def _held_order_changed(session: AsyncSession, order_id: int, **values: object) -> None:
    """The session's own copy of the order (the chat creates and confirms in one transaction) takes
    the values the statement wrote, as if it had been read again; other sessions read the row anew."""
    held = session.identity_map.get(inspect(SalesOrder).identity_key_from_primary_key((order_id,)))
    if held is not None:
        for name, value in values.items():
            set_committed_value(held, name, value)


@dataclass(frozen=True, slots=True)
class ConfirmedOrder:
    """What confirming tells the caller: the order as the customer will hear of it."""

    id: int
    number: str
    customer_id: int
    warehouse_id: int
    total: Decimal
    credit_override_by: int | None = None


# The order's lines with every lot of their products in the warehouse, the lots locked in id order (a
# fixed order avoids deadlocks). The lot columns keep the lot's names, so a row serves as `LotStock`.
_LINES_WITH_LOTS = (
    select(
        _LINES.c.id.label("line_id"),
        _LINES.c.line_no,
        _LINES.c.product_id,
        _LINES.c.quantity.label("needed"),
        _LOTS.c.id,
        _LOTS.c.on_hand,
        _LOTS.c.reserved,
        _LOTS.c.expiry_date,
    )
    .join(_LOTS, (_LOTS.c.product_id == _LINES.c.product_id) & (_LOTS.c.warehouse_id == bindparam("warehouse_id")))
    .where(_LINES.c.order_id == bindparam("order_id"))
    .order_by(_LOTS.c.id)
    .with_for_update(of=_LOTS)
)


@dataclass(frozen=True, slots=True)
class _Need:
    """One order line as reserving sees it."""

    line_id: int
    line_no: int
    quantity: Decimal


async def _lots_by_product(
    session: AsyncSession, order_id: int, warehouse_id: int, line_count: int
) -> dict[int, tuple[list[_Need], list[LotStock]]]:
    """Product id → (its lines, its lots in the warehouse, locked); a product without lots has none."""
    by_product: dict[int, tuple[list[_Need], list[LotStock]]] = {}
    seen_lines: set[int] = set()
    seen_lots: set[int] = set()
    rows = await session.execute(_LINES_WITH_LOTS, {"order_id": order_id, "warehouse_id": warehouse_id})
    for row in rows:
        needs, lots = by_product.setdefault(row.product_id, ([], []))
        if row.line_id not in seen_lines:
            seen_lines.add(row.line_id)
            needs.append(_Need(row.line_id, row.line_no, row.needed))
        if row.id not in seen_lots:
            seen_lots.add(row.id)
            lots.append(row)
    if len(seen_lines) < line_count:  # a line whose product has no lot here: its lines are read alone
        for line in await _lines(session, order_id):
            if line.id not in seen_lines:
                by_product.setdefault(line.product_id, ([], []))[0].append(
                    _Need(line.id or 0, line.line_no, line.quantity)
                )
    return by_product


async def _reserve(
    session: AsyncSession, product_id: int, needs: list[_Need], lots: list[LotStock], clock: Clock
) -> tuple[dict[int, Decimal], list[dict[str, object]]]:
    """Reserve the lines of one product lot by lot (FEFO): lot id → quantity taken, and the reservations."""
    usable = usable_lots(lots, clock.today())
    available = sum((lot.on_hand - lot.reserved for lot in usable), ZERO)
    needed = sum((need.quantity for need in needs), ZERO)
    if needed > available:
        raise await _short_of_stock(session, product_id, available, needed)
    taken: defaultdict[int, Decimal] = defaultdict(Decimal)  # lot id → held for this order
    reservations: list[dict[str, object]] = []
    lot_iter = iter(usable)
    lot = next(lot_iter, None)
    for need in sorted(needs, key=lambda need: need.line_no):
        missing = need.quantity
        while missing > 0:
            assert lot is not None
            lot_id = lot.id or 0
            free = lot.on_hand - lot.reserved - taken[lot_id]
            take = min(missing, free)
            if take > 0:
                taken[lot_id] += take
                reservations.append({"order_line_id": need.line_id, "lot_id": lot_id, "quantity": take})
                missing -= take
            if take == free:
                lot = next(lot_iter, None)
    return taken, reservations


async def confirm_sales_order(
    session: AsyncSession,
    actor: User,
    order_id: int,
    *,
    credit_override_by: User | None = None,
    clock: Clock = DEFAULT_CLOCK,
) -> ConfirmedOrder:
    """Reserve the order's stock (FEFO, expired lots skipped) or refuse it whole with 库存不足.

    Over the customer's credit limit it needs `credit_override_by`, a manager who allows it.
    On PostgreSQL the same steps run in the database, in one round trip (core/sql/); elsewhere here.
    """
    require_role(actor, SELLING_ROLES, "确认销售单")
    if session.get_bind().dialect.name == "postgresql":
        return await _confirm_in_database(session, actor, order_id, credit_override_by, clock)
    now = clock.now()
    row = (await session.execute(_CONFIRM_DRAFT, {"order_id": order_id, "now": now})).one_or_none()
    if row is None:  # not a draft (or no such order): refused, and nothing was changed
        refused = await lock_document(session, SalesOrder, order_id, "销售单")
        raise _refuse_state(refused, "确认")
    _held_order_changed(session, order_id, status=SalesOrderStatus.CONFIRMED, confirmed_at=now)
    order = ConfirmedOrder(*row[:5])
    credit_limit, line_count = row[5:]
    if credit_limit is not None:
        order = await _check_credit(session, order, credit_override_by)
    # The order and its audit entry are written before the lots are locked, so that confirmations of
    # one product hold its lots for as short as possible; refusing for stock rolls all of it back.
    await record(
        session,
        actor,
        "sales_order",
        order.id,
        "confirm",
        {"status": SalesOrderStatus.DRAFT},
        {"status": SalesOrderStatus.CONFIRMED, "credit_override_by": order.credit_override_by},
    )
    taken: dict[int, Decimal] = {}
    reservations: list[dict[str, object]] = []
    by_product = await _lots_by_product(session, order_id, order.warehouse_id, line_count)
    for product_id in sorted(by_product):
        product_taken, product_reservations = await _reserve(session, product_id, *by_product[product_id], clock)
        taken.update(product_taken)
        reservations.extend(product_reservations)
    await reserve(session, taken)
    await session.execute(_INSERT_RESERVATIONS, reservations)
    return order


_CONFIRM_IN_DATABASE = (
    text(
        "SELECT * FROM psibot_confirm_sales_order(:order_id, :actor_id, :now, :today, :override_by, :audit_at)"
    )
    .bindparams(bindparam("now", type_=AwareDateTime), bindparam("audit_at", type_=AwareDateTime))
    .columns(
        outcome=String, number=String, customer_id=Integer, warehouse_id=Integer, total=Money,
        credit_override_by=Integer, customer_name=String, credit_limit=Money, owed=Money, unshipped=Money,
        product_id=Integer, available=Quantity, needed=Quantity,
    )
)


async def _confirm_in_database(
    session: AsyncSession, actor: User, order_id: int, override_by: User | None, clock: Clock
) -> ConfirmedOrder:
    """`psibot_confirm_sales_order` (core/sql/confirm_sales_order_v1.sql): the refusals worded as here."""
    now = clock.now()
    allowed_override = override_by if override_by is not None and has_role(override_by, CREDIT_OVERRIDE_ROLES) else None
    result = (
        await session.execute(
            _CONFIRM_IN_DATABASE,
            {
                "order_id": order_id,
                "actor_id": actor.id,
                "now": now,
                "today": clock.today(),
                "override_by": allowed_override.id if allowed_override else None,
                "audit_at": utcnow(),
            },
        )
    ).one()
    if result.outcome == "not_draft":
        raise _refuse_state(await lock_document(session, SalesOrder, order_id, "销售单"), "确认")
    if result.outcome == "credit":
        if override_by is not None:
            require_role(override_by, CREDIT_OVERRIDE_ROLES, "特批超信用额度")
        raise _over_credit(
            result.customer_id, result.customer_name, result.credit_limit, result.owed, result.unshipped, result.total
        )
    if result.outcome == "short":
        raise await _short_of_stock(session, result.product_id, result.available, result.needed)
    assert result.outcome == "confirmed", result.outcome
    _held_order_changed(
        session, order_id, status=SalesOrderStatus.CONFIRMED, confirmed_at=now, credit_override_by=result.credit_override_by
    )
    return ConfirmedOrder(
        order_id, result.number, result.customer_id, result.warehouse_id, result.total, result.credit_override_by
    )


async def _reservations(session: AsyncSession, line_ids: Sequence[int]) -> list[tuple[Reservation, Lot]]:
    """Open reservations of the lines with their lots locked in id order, FEFO within each line."""
    rows = (
        await session.execute(
            select(Reservation, Lot)
            .join(Lot, col(Lot.id) == Reservation.lot_id)
            .where(col(Reservation.order_line_id).in_(line_ids), col(Reservation.quantity) > 0)
        )
    ).all()
    locked = {lot_id: await lock_lot(session, lot_id) for lot_id in sorted({lot.id or 0 for _, lot in rows})}
    pairs = [(reservation, locked[lot.id or 0]) for reservation, lot in rows]
    pairs.sort(key=lambda pair: (pair[0].order_line_id, fefo_key(pair[1])))
    return pairs


async def ship_sales_order(
    session: AsyncSession,
    actor: User,
    order_id: int,
    *,
    quantities: Mapping[int, Decimal] | None = None,
    clock: Clock = DEFAULT_CLOCK,
) -> Shipment:
    """Ship the reserved stock: everything still open, or `quantities` (line id → base units) of it.

    Each lot consumed becomes a ledger movement at the product's moving average cost, and the shipment
    opens a receivable for the customer.
    """
    require_role(actor, SHIPPING_ROLES, "发货")
    order = await lock_document(session, SalesOrder, order_id, "销售单")
    if order.status not in _COMMITTED:
        raise _refuse_state(order, "发货")
    lines = await _lines(session, order_id)
    by_id = {line.id: line for line in lines}
    unknown = set(quantities or {}) - set(by_id)
    if unknown:
        raise InvalidInput(f"销售单 {order.number} 没有这些行: {sorted(unknown)}")
    to_ship = {
        line.id or 0: (line.quantity - line.shipped if quantities is None else quantities.get(line.id or 0, ZERO))
        for line in lines
    }
    for line_id, quantity in to_ship.items():
        line = by_id[line_id]
        if quantity < 0 or quantity > line.quantity - line.shipped:
            product = await get_product(session, line.product_id)
            left, asked = [
                await describe_quantity(session, product, value, with_base=True)
                for value in (line.quantity - line.shipped, quantity)
            ]
            raise InvalidInput(f"第 {line.line_no} 行 {product_label(product)} 最多还能发 {left}，不能发 {asked}")
    if not any(to_ship.values()):
        raise InvalidInput(f"销售单 {order.number} 这次没有要发的数量")

    shipment = Shipment(
        number=await next_number(session, "SH", clock),
        order_id=order.id or 0,
        customer_id=order.customer_id,
        warehouse_id=order.warehouse_id,
        salesperson_id=order.salesperson_id,
        shipped_by=actor.id or 0,
        shipped_at=clock.now(),
    )
    session.add(shipment)
    await session.flush()
    pairs = await _reservations(session, [line_id for line_id, quantity in to_ship.items() if quantity > 0])
    products = {pid: await lock_product(session, pid) for pid in sorted({by_id[i].product_id for i in to_ship})}
    for reservation, lot in pairs:
        line = by_id[reservation.order_line_id]
        take = min(reservation.quantity, to_ship[line.id or 0])
        if take == 0:
            continue
        movement = await post(
            session,
            kind=MovementKind.SALES_SHIPMENT,
            product=products[line.product_id],
            lot=lot,
            quantity=-take,
            consume_reserved=take,
            actor=actor,
            ref_type="shipment",
            ref_id=shipment.id,
            ref_no=shipment.number,
        )
        amount = cumulative_share(line.amount, line.quantity, line.shipped, line.shipped + take)
        cost = money(take * movement.unit_cost)
        session.add(
            ShipmentLine(
                shipment_id=shipment.id or 0,
                order_line_id=line.id or 0,
                product_id=line.product_id,
                lot_id=lot.id or 0,
                movement_id=movement.id or 0,
                quantity=take,
                unit_cost=movement.unit_cost,
                amount=amount,
                cost=cost,
            )
        )
        reservation.quantity -= take
        to_ship[line.id or 0] -= take
        line.shipped += take
        line.shipped_amount += amount
        line.shipped_cost += cost
        shipment.amount += amount
        shipment.cost += cost
    assert not any(to_ship.values()), "a confirmed line always has reservations for what is unshipped"

    before = order.status
    if all(line.shipped == line.quantity for line in lines):
        order.status = SalesOrderStatus.COMPLETED
        order.closed_at = clock.now()
    else:
        order.status = SalesOrderStatus.PARTIALLY_SHIPPED
    await accounts.open_receivable(
        session, customer_id=order.customer_id, amount=shipment.amount, ref_no=shipment.number, shipment_id=shipment.id
    )
    await record(
        session,
        actor,
        "sales_order",
        order.id,
        "ship",
        {"status": before},
        {"status": order.status, "shipment": shipment.number, "amount": shipment.amount},
    )
    return shipment


async def cancel_sales_order(
    session: AsyncSession, actor: User, order_id: int, *, reason: str = "", clock: Clock = DEFAULT_CLOCK
) -> SalesOrder:
    """Cancel a draft or confirmed order; what it had reserved becomes available again."""
    require_role(actor, SELLING_ROLES, "取消销售单")
    order = await lock_document(session, SalesOrder, order_id, "销售单")
    if order.status not in (SalesOrderStatus.DRAFT, SalesOrderStatus.CONFIRMED):
        raise _refuse_state(order, "取消")
    lines = await _lines(session, order_id)
    for reservation, lot in await _reservations(session, [line.id or 0 for line in lines]):
        lot.reserved -= reservation.quantity
        reservation.quantity = ZERO
    before = order.status
    order.status = SalesOrderStatus.CANCELLED
    order.closed_at = clock.now()
    await record(session, actor, "sales_order", order.id, "cancel", {"status": before}, {"status": order.status, "reason": reason})
    return order


async def credit_approvers(session: AsyncSession) -> list[User]:
    """Who is asked for a 特批: the managers, or the owners where there is none (as for purchase approval)."""
    return await users_with_roles(session, CREDIT_OVERRIDE_ROLES) or await users_with_roles(session, [Role.OWNER])


async def awaiting_credit(session: AsyncSession) -> list[SalesOrder]:
    """The orders waiting for a 特批 or 驳回, oldest first: the drafts, for an order over its credit limit
    waits as one (any other order is confirmed in the transaction that makes it)."""
    drafts = select(SalesOrder).where(col(SalesOrder.status) == SalesOrderStatus.DRAFT).order_by(col(SalesOrder.id))
    return list((await session.scalars(drafts)).all())


async def over_credit_reason(session: AsyncSession, order: SalesOrder) -> str:
    """Why the order needs a 特批 as things stand now, in the words confirming it would be refused with;
    "" when it fits the customer's credit now."""
    customer = await session.get(Customer, order.customer_id)
    if customer is None or customer.credit_limit is None:
        return ""
    owed, unshipped = await _owed_and_unshipped(session, customer.id or 0, order.id or 0)
    if owed + unshipped + order.total <= customer.credit_limit:
        return ""
    return _over_credit(customer.id or 0, customer.name, customer.credit_limit, owed, unshipped, order.total).message


async def allow_over_credit(
    session: AsyncSession, manager: User, order_id: int, *, clock: Clock = DEFAULT_CLOCK
) -> ConfirmedOrder:
    """特批: a manager confirms a draft order over its customer's credit limit, allowing the excess.

    Decided once: the order is locked first, and a later 特批 or 驳回 learns who decided it and when."""
    require_role(manager, CREDIT_OVERRIDE_ROLES, "特批超信用额度")
    order = await lock_document(session, SalesOrder, order_id, "销售单")
    if order.status != SalesOrderStatus.DRAFT:
        raise await _decided_before(session, order, clock)
    return await confirm_sales_order(session, manager, order_id, credit_override_by=manager, clock=clock)


async def refuse_over_credit(
    session: AsyncSession, manager: User, order_id: int, *, clock: Clock = DEFAULT_CLOCK
) -> SalesOrder:
    """驳回 of a 特批: the draft order is cancelled; decided once, as `allow_over_credit` is."""
    require_role(manager, CREDIT_OVERRIDE_ROLES, "驳回特批")
    order = await lock_document(session, SalesOrder, order_id, "销售单")
    if order.status != SalesOrderStatus.DRAFT:
        raise await _decided_before(session, order, clock)
    return await cancel_sales_order(session, manager, order_id, reason="信用特批驳回", clock=clock)


CREDIT_WITHDRAWN = "撤回特批申请"  # the reason a withdrawn request's order is cancelled with


async def withdraw_credit_request(
    session: AsyncSession, actor: User, order_id: int, *, clock: Clock = DEFAULT_CLOCK
) -> SalesOrder:
    """撤回: the salesperson takes back a 特批 request before it is decided. The waiting order is cancelled, so
    no manager can approve it; decided once with 特批 and 驳回 (a later one learns it was withdrawn)."""
    order = await lock_document(session, SalesOrder, order_id, "销售单")
    if order.salesperson_id != actor.id:
        raise Forbidden("只有提出特批申请的销售本人可以撤回", role=actor.role.value)
    if order.status != SalesOrderStatus.DRAFT:
        raise await _decided_before(session, order, clock)
    return await cancel_sales_order(session, actor, order_id, reason=CREDIT_WITHDRAWN, clock=clock)


_FIRST_DECISION = (
    select(AuditEntry)
    .where(
        col(AuditEntry.entity) == "sales_order",
        col(AuditEntry.entity_id) == bindparam("order_id"),
        col(AuditEntry.action).in_(["confirm", "cancel"]),
    )
    .order_by(col(AuditEntry.id))
    .limit(1)
)


async def _decided_before(session: AsyncSession, order: SalesOrder, clock: Clock) -> AlreadyDecided:
    """How a late 特批, 驳回 or 撤回 is refused: "已由 张经理 于 10:42 特批", from the audit entry of the first
    decision on the draft (an order leaves draft only by confirm or cancel, both audited with their actor)."""
    entry = await session.scalar(_FIRST_DECISION, {"order_id": order.id})
    assert entry is not None and entry.user_id is not None
    decider = await session.get(User, entry.user_id)
    local = clock.local(entry.at)
    when = f"{local:%H:%M}" if local.date() == clock.today() else f"{local:%Y-%m-%d %H:%M}"
    withdrawn = entry.action == "cancel" and (entry.after or {}).get("reason") == CREDIT_WITHDRAWN
    verb = "撤回" if withdrawn else "驳回" if entry.action == "cancel" else "特批" if order.credit_override_by else "确认"
    return AlreadyDecided(
        f"已由 {decider.name if decider else entry.user_id} 于 {when} {verb}", status=order.status.value,
        decided_by=entry.user_id,
    )


CLOSING_ROLES = SELLING_ROLES  # who may cancel an order may also give up the rest of it


async def close_sales_order(
    session: AsyncSession, actor: User, order_id: int, *, reason: str = "", clock: Clock = DEFAULT_CLOCK
) -> SalesOrder:
    """结单: a partly shipped order whose rest will not ship is completed as it stands.

    What is still reserved becomes available again; the shortfall of each line (ordered − shipped)
    stays on the lines and is written to the audit entry with the reason.
    """
    require_role(actor, CLOSING_ROLES, "结单")
    order = await lock_document(session, SalesOrder, order_id, "销售单")
    if order.status == SalesOrderStatus.CONFIRMED:
        raise InvalidState(
            f"销售单 {order.number} 还没有发货，不能结单；不要了请取消", status=order.status.value
        )
    if order.status != SalesOrderStatus.PARTIALLY_SHIPPED:
        raise _refuse_state(order, "结单")
    lines = await _lines(session, order_id)
    for reservation, lot in await _reservations(session, [line.id or 0 for line in lines]):
        lot.reserved -= reservation.quantity
        reservation.quantity = ZERO
    order.status = SalesOrderStatus.COMPLETED
    order.closed_at = clock.now()
    shortfall = {str(line.line_no): line.quantity - line.shipped for line in lines if line.shipped < line.quantity}
    await record(
        session,
        actor,
        "sales_order",
        order.id,
        "short_close",
        {"status": SalesOrderStatus.PARTIALLY_SHIPPED},
        {"status": order.status, "shortfall": shortfall, "reason": reason},
    )
    return order


async def return_sale(
    session: AsyncSession,
    actor: User,
    shipment_line_id: int,
    quantity: Decimal,
    *,
    reason: str,
    clock: Clock = DEFAULT_CLOCK,
) -> SalesReturn:
    """Take goods back into the lot they were shipped from, at their shipping cost, crediting the customer."""
    require_role(actor, RETURN_ROLES, "办理销售退货")
    shipped, lot, product = await start_return(session, ShipmentLine, shipment_line_id, "发货行", quantity, reason)
    shipment = await session.get(Shipment, shipped.shipment_id)
    assert shipment is not None
    amount = cumulative_share(shipped.amount, shipped.quantity, shipped.returned, shipped.returned + quantity)
    cost = cumulative_share(shipped.cost, shipped.quantity, shipped.returned, shipped.returned + quantity)
    sales_return = SalesReturn(
        number=await next_number(session, "SR", clock),
        shipment_line_id=shipped.id or 0,
        customer_id=shipment.customer_id,
        salesperson_id=shipment.salesperson_id,
        product_id=shipped.product_id,
        quantity=quantity,
        amount=amount,
        cost=cost,
        reason=reason,
        user_id=actor.id or 0,
        created_at=clock.now(),
    )
    await book_return(session, actor, sales_return, shipped, lot, product, MovementKind.SALES_RETURN)
    await accounts.open_receivable(
        session,
        customer_id=shipment.customer_id,
        amount=-amount,
        ref_no=sales_return.number,
        sales_return_id=sales_return.id,
    )
    return sales_return


@dataclass(frozen=True, slots=True)
class LineMargin:
    line_no: int
    product_id: int
    shipped: Decimal  # base units, net of returns
    revenue: Decimal
    cost: Decimal

    @property
    def margin(self) -> Decimal:
        return self.revenue - self.cost

    @property
    def margin_rate(self) -> Decimal | None:
        return None if self.revenue == 0 else (self.margin / self.revenue).quantize(Decimal("0.0001"))


@dataclass(frozen=True, slots=True)
class OrderMargin:
    order_id: int
    number: str
    lines: tuple[LineMargin, ...]

    @property
    def revenue(self) -> Decimal:
        return sum((line.revenue for line in self.lines), ZERO)

    @property
    def cost(self) -> Decimal:
        return sum((line.cost for line in self.lines), ZERO)

    @property
    def margin(self) -> Decimal:
        return self.revenue - self.cost


async def order_margin(session: AsyncSession, actor: User, order_id: int) -> OrderMargin:
    """Gross margin of what was shipped (less returns), at the moving average cost when it shipped."""
    if not can_see_costs(actor):
        raise Forbidden("没有权限查看成本和毛利", role=actor.role.value)
    order = await session.get(SalesOrder, order_id)
    if order is None:
        raise NotFound(f"没有这个销售单: {order_id}")
    returned = dict(
        (line_id, (quantity, amount, cost))
        for line_id, quantity, amount, cost in (
            await session.execute(
                select(
                    col(ShipmentLine.order_line_id),
                    func.sum(SalesReturn.quantity),
                    func.sum(SalesReturn.amount),
                    func.sum(SalesReturn.cost),
                )
                .join(ShipmentLine, col(ShipmentLine.id) == SalesReturn.shipment_line_id)
                .join(SalesOrderLine, col(SalesOrderLine.id) == ShipmentLine.order_line_id)
                .where(col(SalesOrderLine.order_id) == order_id)
                .group_by(col(ShipmentLine.order_line_id))
            )
        ).all()
    )
    margins = []
    for line in await _lines(session, order_id):
        back_quantity, back_amount, back_cost = returned.get(line.id or 0, (ZERO, ZERO, ZERO))
        margins.append(
            LineMargin(
                line.line_no,
                line.product_id,
                line.shipped - back_quantity,
                line.shipped_amount - back_amount,
                line.shipped_cost - back_cost,
            )
        )
    return OrderMargin(order.id or 0, order.number, tuple(margins))
