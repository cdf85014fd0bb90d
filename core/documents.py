"""Business documents: sales and purchase orders, approvals, receipts, counts, transfers, write-offs, money.

Quantities on lines are kept twice: as the person typed them (`unit_quantity` in `unit`) and exactly in
the product's base unit (`quantity`), which is what stock, reservations and the ledger use.
Amounts are cents; a line's amount is rounded once and document totals are sums of rounded lines.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from importlib import resources
from typing import Any, Protocol, TypeVar

from sqlalchemy import CheckConstraint, Connection, Index, MetaData, UniqueConstraint, event, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel, col

from core.catalog import unit_factor
from core.columns import QTY_PLACES, AwareDateTime, Money, Quantity, UnitCost, money, utcnow
from core.errors import InvalidInput, NotFound
from core.models import ZERO, Product
from core.quantity import check_price, check_quantity, check_whole, format_quantity

_QTY_UNIT = Decimal(1).scaleb(-QTY_PLACES)


# PostgreSQL functions of the documents' hot paths, one frozen file per version in core/sql/: created
# with the tables here, and by the migration that introduced each version (a later version is a new
# file and a new migration, as for tables).
POSTGRES_FUNCTIONS = ("confirm_sales_order_v1.sql",)


def postgres_function_sql(file_name: str) -> str:
    return (resources.files("core") / "sql" / file_name).read_text(encoding="utf-8")


@event.listens_for(SQLModel.metadata, "after_create")
def _create_postgres_functions(_metadata: MetaData, connection: Connection, **_kw: Any) -> None:
    if connection.dialect.name == "postgresql":
        for file_name in POSTGRES_FUNCTIONS:
            connection.exec_driver_sql(postgres_function_sql(file_name))


class DocumentCounter(SQLModel, table=True):
    """The last number handed out for one prefix on one company-local day (SO-20261122-0007)."""

    __tablename__ = "document_counters"

    prefix: str = Field(primary_key=True, max_length=8)
    day: date = Field(primary_key=True)
    last: int = 0


# ---------------------------------------------------------------- sales


class SalesOrderStatus(StrEnum):
    DRAFT = "draft"
    CONFIRMED = "confirmed"
    PARTIALLY_SHIPPED = "partially_shipped"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


SALES_STATUS_ZH = {
    SalesOrderStatus.DRAFT: "草稿",
    SalesOrderStatus.CONFIRMED: "已确认",
    SalesOrderStatus.PARTIALLY_SHIPPED: "部分发货",
    SalesOrderStatus.COMPLETED: "已完成",
    SalesOrderStatus.CANCELLED: "已取消",
}


class SalesOrder(SQLModel, table=True):
    __tablename__ = "sales_orders"
    __table_args__ = (Index("ix_sales_orders_customer_status", "customer_id", "status"),)

    id: int | None = Field(default=None, primary_key=True)
    number: str = Field(max_length=32, unique=True)
    customer_id: int = Field(foreign_key="customers.id")
    warehouse_id: int = Field(foreign_key="warehouses.id")
    salesperson_id: int = Field(foreign_key="users.id", index=True)
    status: SalesOrderStatus = Field(default=SalesOrderStatus.DRAFT, max_length=24)
    total: Decimal = Field(default=ZERO, sa_type=Money)
    note: str = Field(default="", max_length=256)
    credit_override_by: int | None = Field(default=None, foreign_key="users.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=AwareDateTime)
    confirmed_at: datetime | None = Field(default=None, sa_type=AwareDateTime)
    closed_at: datetime | None = Field(default=None, sa_type=AwareDateTime)  # completed or cancelled


class SalesOrderLine(SQLModel, table=True):
    __tablename__ = "sales_order_lines"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="ck_so_lines_quantity"),
        CheckConstraint("shipped >= 0 AND shipped <= quantity", name="ck_so_lines_shipped"),
    )

    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="sales_orders.id", index=True)
    line_no: int
    product_id: int = Field(foreign_key="products.id", index=True)
    unit: str = Field(max_length=16)
    unit_quantity: Decimal = Field(sa_type=Quantity)
    quantity: Decimal = Field(sa_type=Quantity)  # base units
    unit_price: Decimal = Field(sa_type=Money)  # per `unit`
    amount: Decimal = Field(sa_type=Money)
    shipped: Decimal = Field(default=ZERO, sa_type=Quantity)
    shipped_amount: Decimal = Field(default=ZERO, sa_type=Money)
    shipped_cost: Decimal = Field(default=ZERO, sa_type=Money)


class Reservation(SQLModel, table=True):
    """Stock of one lot held for one order line; `quantity` is what is still held."""

    __tablename__ = "reservations"
    __table_args__ = (CheckConstraint("quantity >= 0", name="ck_reservations_quantity"),)

    id: int | None = Field(default=None, primary_key=True)
    order_line_id: int = Field(foreign_key="sales_order_lines.id", index=True)
    lot_id: int = Field(foreign_key="lots.id", index=True)
    quantity: Decimal = Field(sa_type=Quantity)


class Shipment(SQLModel, table=True):
    __tablename__ = "shipments"

    id: int | None = Field(default=None, primary_key=True)
    number: str = Field(max_length=32, unique=True)
    order_id: int = Field(foreign_key="sales_orders.id", index=True)
    customer_id: int = Field(foreign_key="customers.id")
    warehouse_id: int = Field(foreign_key="warehouses.id")
    salesperson_id: int = Field(foreign_key="users.id")
    shipped_by: int = Field(foreign_key="users.id")
    shipped_at: datetime = Field(default_factory=utcnow, sa_type=AwareDateTime, index=True)
    amount: Decimal = Field(default=ZERO, sa_type=Money)
    cost: Decimal = Field(default=ZERO, sa_type=Money)


class ShipmentLine(SQLModel, table=True):
    """What left one lot for one order line, at the moving average cost of that moment."""

    __tablename__ = "shipment_lines"
    __table_args__ = (CheckConstraint("returned >= 0 AND returned <= quantity", name="ck_shipment_lines_returned"),)

    id: int | None = Field(default=None, primary_key=True)
    shipment_id: int = Field(foreign_key="shipments.id", index=True)
    order_line_id: int = Field(foreign_key="sales_order_lines.id", index=True)
    product_id: int = Field(foreign_key="products.id", index=True)
    lot_id: int = Field(foreign_key="lots.id")
    movement_id: int = Field(foreign_key="movements.id")
    quantity: Decimal = Field(sa_type=Quantity)
    unit_cost: Decimal = Field(sa_type=UnitCost)
    amount: Decimal = Field(sa_type=Money)
    cost: Decimal = Field(sa_type=Money)
    returned: Decimal = Field(default=ZERO, sa_type=Quantity)


class SalesReturn(SQLModel, table=True):
    """Goods a customer sent back from one shipment line, booked into the lot they left."""

    __tablename__ = "sales_returns"

    id: int | None = Field(default=None, primary_key=True)
    number: str = Field(max_length=32, unique=True)
    shipment_line_id: int = Field(foreign_key="shipment_lines.id", index=True)
    customer_id: int = Field(foreign_key="customers.id")
    salesperson_id: int = Field(foreign_key="users.id")
    product_id: int = Field(foreign_key="products.id")
    quantity: Decimal = Field(sa_type=Quantity)
    amount: Decimal = Field(sa_type=Money)
    cost: Decimal = Field(sa_type=Money)
    reason: str = Field(max_length=256)
    user_id: int = Field(foreign_key="users.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=AwareDateTime, index=True)


# ---------------------------------------------------------------- purchasing


class PurchaseOrderStatus(StrEnum):
    DRAFT = "draft"
    PENDING_APPROVAL = "pending_approval"
    APPROVED = "approved"
    REJECTED = "rejected"
    PARTIALLY_RECEIVED = "partially_received"
    CLOSED = "closed"
    CANCELLED = "cancelled"


PURCHASE_STATUS_ZH = {
    PurchaseOrderStatus.DRAFT: "草稿",
    PurchaseOrderStatus.PENDING_APPROVAL: "待审批",
    PurchaseOrderStatus.APPROVED: "已批准",
    PurchaseOrderStatus.REJECTED: "已驳回",
    PurchaseOrderStatus.PARTIALLY_RECEIVED: "部分入库",
    PurchaseOrderStatus.CLOSED: "已关闭",
    PurchaseOrderStatus.CANCELLED: "已取消",
}

# Orders whose unreceived quantities count as "already on order" for reorder suggestions.
OPEN_PURCHASE_STATUSES = (
    PurchaseOrderStatus.DRAFT,
    PurchaseOrderStatus.PENDING_APPROVAL,
    PurchaseOrderStatus.APPROVED,
    PurchaseOrderStatus.PARTIALLY_RECEIVED,
)


class PurchaseOrder(SQLModel, table=True):
    __tablename__ = "purchase_orders"
    __table_args__ = (Index("ix_purchase_orders_status", "status"),)

    id: int | None = Field(default=None, primary_key=True)
    number: str = Field(max_length=32, unique=True)
    supplier_id: int = Field(foreign_key="suppliers.id", index=True)
    warehouse_id: int = Field(foreign_key="warehouses.id")
    requester_id: int = Field(foreign_key="users.id")
    status: PurchaseOrderStatus = Field(default=PurchaseOrderStatus.DRAFT, max_length=24)
    total: Decimal = Field(default=ZERO, sa_type=Money)
    note: str = Field(default="", max_length=256)
    created_at: datetime = Field(default_factory=utcnow, sa_type=AwareDateTime)
    submitted_at: datetime | None = Field(default=None, sa_type=AwareDateTime)
    closed_at: datetime | None = Field(default=None, sa_type=AwareDateTime)


class PurchaseOrderLine(SQLModel, table=True):
    __tablename__ = "purchase_order_lines"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="ck_po_lines_quantity"),
        CheckConstraint("received >= 0", name="ck_po_lines_received"),
    )

    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="purchase_orders.id", index=True)
    line_no: int
    product_id: int = Field(foreign_key="products.id", index=True)
    unit: str = Field(max_length=16)
    unit_quantity: Decimal = Field(sa_type=Quantity)
    quantity: Decimal = Field(sa_type=Quantity)  # base units
    unit_price: Decimal = Field(sa_type=Money)  # per `unit`
    amount: Decimal = Field(sa_type=Money)
    received: Decimal = Field(default=ZERO, sa_type=Quantity)
    received_amount: Decimal = Field(default=ZERO, sa_type=Money)


class Decision(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


DECISION_ZH = {Decision.PENDING: "待审批", Decision.APPROVED: "批准", Decision.REJECTED: "驳回"}


class ApprovalStep(SQLModel, table=True):
    """One step of a purchase order's approval chain, decided once by one person."""

    __tablename__ = "approval_steps"
    __table_args__ = (UniqueConstraint("order_id", "step_no"),)

    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="purchase_orders.id", index=True)
    step_no: int
    role: str = Field(max_length=16)
    decision: Decision = Field(default=Decision.PENDING, max_length=16)
    approver_id: int | None = Field(default=None, foreign_key="users.id")
    decided_at: datetime | None = Field(default=None, sa_type=AwareDateTime)
    comment: str = Field(default="", max_length=256)


class Receipt(SQLModel, table=True):
    __tablename__ = "receipts"

    id: int | None = Field(default=None, primary_key=True)
    number: str = Field(max_length=32, unique=True)
    order_id: int = Field(foreign_key="purchase_orders.id", index=True)
    supplier_id: int = Field(foreign_key="suppliers.id")
    warehouse_id: int = Field(foreign_key="warehouses.id")
    received_by: int = Field(foreign_key="users.id")
    received_at: datetime = Field(default_factory=utcnow, sa_type=AwareDateTime)
    amount: Decimal = Field(default=ZERO, sa_type=Money)


class ReceiptLine(SQLModel, table=True):
    __tablename__ = "receipt_lines"
    __table_args__ = (CheckConstraint("returned >= 0 AND returned <= quantity", name="ck_receipt_lines_returned"),)

    id: int | None = Field(default=None, primary_key=True)
    receipt_id: int = Field(foreign_key="receipts.id", index=True)
    order_line_id: int = Field(foreign_key="purchase_order_lines.id", index=True)
    product_id: int = Field(foreign_key="products.id")
    lot_id: int = Field(foreign_key="lots.id")
    movement_id: int = Field(foreign_key="movements.id")
    quantity: Decimal = Field(sa_type=Quantity)
    unit_cost: Decimal = Field(sa_type=UnitCost)
    amount: Decimal = Field(sa_type=Money)
    returned: Decimal = Field(default=ZERO, sa_type=Quantity)


class PurchaseReturn(SQLModel, table=True):
    """Goods sent back to the supplier from one receipt line, out of the lot they came in as."""

    __tablename__ = "purchase_returns"

    id: int | None = Field(default=None, primary_key=True)
    number: str = Field(max_length=32, unique=True)
    receipt_line_id: int = Field(foreign_key="receipt_lines.id", index=True)
    supplier_id: int = Field(foreign_key="suppliers.id")
    product_id: int = Field(foreign_key="products.id")
    quantity: Decimal = Field(sa_type=Quantity)
    amount: Decimal = Field(sa_type=Money)
    reason: str = Field(max_length=256)
    user_id: int = Field(foreign_key="users.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=AwareDateTime)


# ---------------------------------------------------------------- counts and transfers


class CountStatus(StrEnum):
    OPEN = "open"
    FINISHED = "finished"
    CANCELLED = "cancelled"


class StockCount(SQLModel, table=True):
    __tablename__ = "stock_counts"

    id: int | None = Field(default=None, primary_key=True)
    number: str = Field(max_length=32, unique=True)
    warehouse_id: int = Field(foreign_key="warehouses.id", index=True)
    category_id: int | None = Field(default=None, foreign_key="categories.id")
    status: CountStatus = Field(default=CountStatus.OPEN, max_length=16)
    started_by: int = Field(foreign_key="users.id")
    started_at: datetime = Field(default_factory=utcnow, sa_type=AwareDateTime)
    finished_by: int | None = Field(default=None, foreign_key="users.id")
    finished_at: datetime | None = Field(default=None, sa_type=AwareDateTime)


class CountLine(SQLModel, table=True):
    """One lot in a count: what the books said at the start, and the last quantity someone counted."""

    __tablename__ = "count_lines"
    __table_args__ = (UniqueConstraint("count_id", "lot_id"),)

    id: int | None = Field(default=None, primary_key=True)
    count_id: int = Field(foreign_key="stock_counts.id", index=True)
    product_id: int = Field(foreign_key="products.id")
    lot_id: int = Field(foreign_key="lots.id")
    expected: Decimal = Field(sa_type=Quantity)
    counted: Decimal | None = Field(default=None, sa_type=Quantity)
    counted_by: int | None = Field(default=None, foreign_key="users.id")
    counted_at: datetime | None = Field(default=None, sa_type=AwareDateTime)


class Transfer(SQLModel, table=True):
    __tablename__ = "transfers"

    id: int | None = Field(default=None, primary_key=True)
    number: str = Field(max_length=32, unique=True)
    from_warehouse_id: int = Field(foreign_key="warehouses.id")
    to_warehouse_id: int = Field(foreign_key="warehouses.id")
    user_id: int = Field(foreign_key="users.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=AwareDateTime)


class TransferLine(SQLModel, table=True):
    __tablename__ = "transfer_lines"

    id: int | None = Field(default=None, primary_key=True)
    transfer_id: int = Field(foreign_key="transfers.id", index=True)
    product_id: int = Field(foreign_key="products.id")
    from_lot_id: int = Field(foreign_key="lots.id")
    to_lot_id: int = Field(foreign_key="lots.id")
    quantity: Decimal = Field(sa_type=Quantity)


class WriteOff(SQLModel, table=True):
    """报损: stock of one product in one warehouse that is gone (expired, broken, lost), with why and what it
    cost. Its lots are the ADJUSTMENT movements that refer to it (ref_type "write_off"); a reversal's are
    those of ref_type "write_off_reversal"."""

    __tablename__ = "write_offs"
    __table_args__ = (CheckConstraint("quantity > 0", name="ck_write_offs_quantity"),)

    id: int | None = Field(default=None, primary_key=True)
    number: str = Field(max_length=32, unique=True)
    product_id: int = Field(foreign_key="products.id", index=True)
    warehouse_id: int = Field(foreign_key="warehouses.id")
    quantity: Decimal = Field(sa_type=Quantity)  # base units
    value: Decimal = Field(default=ZERO, sa_type=Money)  # at the average cost of the day
    reason: str = Field(max_length=128)
    user_id: int = Field(foreign_key="users.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=AwareDateTime, index=True)
    # 撤销: a manager put the stock back into the lots it left (a mistyped quantity, goods found again).
    reversed_by: int | None = Field(default=None, foreign_key="users.id")
    reversed_at: datetime | None = Field(default=None, sa_type=AwareDateTime)


# ---------------------------------------------------------------- money


class Receivable(SQLModel, table=True):
    """What a customer owes for one shipment (a sales return is a negative one, a credit)."""

    __tablename__ = "receivables"
    __table_args__ = (CheckConstraint("paid >= 0 AND (amount < 0 OR paid <= amount)", name="ck_receivables_paid"),)

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customers.id", index=True)
    shipment_id: int | None = Field(default=None, foreign_key="shipments.id")
    sales_return_id: int | None = Field(default=None, foreign_key="sales_returns.id")
    ref_no: str = Field(max_length=32)
    amount: Decimal = Field(sa_type=Money)
    paid: Decimal = Field(default=ZERO, sa_type=Money)
    created_at: datetime = Field(default_factory=utcnow, sa_type=AwareDateTime)


class Payable(SQLModel, table=True):
    """What is owed to a supplier for one receipt (a purchase return is a negative one)."""

    __tablename__ = "payables"
    __table_args__ = (CheckConstraint("paid >= 0 AND (amount < 0 OR paid <= amount)", name="ck_payables_paid"),)

    id: int | None = Field(default=None, primary_key=True)
    supplier_id: int = Field(foreign_key="suppliers.id", index=True)
    receipt_id: int | None = Field(default=None, foreign_key="receipts.id")
    purchase_return_id: int | None = Field(default=None, foreign_key="purchase_returns.id")
    ref_no: str = Field(max_length=32)
    amount: Decimal = Field(sa_type=Money)
    paid: Decimal = Field(default=ZERO, sa_type=Money)
    created_at: datetime = Field(default_factory=utcnow, sa_type=AwareDateTime)


class Payment(SQLModel, table=True):
    """Money received against one receivable, or paid against one payable."""

    __tablename__ = "payments"
    __table_args__ = (
        CheckConstraint("amount > 0", name="ck_payments_amount"),
        CheckConstraint("(receivable_id IS NULL) <> (payable_id IS NULL)", name="ck_payments_target"),
    )

    id: int | None = Field(default=None, primary_key=True)
    receivable_id: int | None = Field(default=None, foreign_key="receivables.id", index=True)
    payable_id: int | None = Field(default=None, foreign_key="payables.id", index=True)
    amount: Decimal = Field(sa_type=Money)
    method: str = Field(default="", max_length=32)
    note: str = Field(default="", max_length=256)
    user_id: int = Field(foreign_key="users.id")
    paid_at: datetime = Field(default_factory=utcnow, sa_type=AwareDateTime, index=True)


# ---------------------------------------------------------------- helpers shared by the workflows

class _Identified(Protocol):
    id: int | None


Document = TypeVar("Document", bound=_Identified)


async def lock_document(session: AsyncSession, model: type[Document], document_id: int, label: str) -> Document:
    """The document row, locked for this transaction: state changes of one document happen one at a time."""
    document = await session.scalar(
        select(model)
        .where(col(model.id) == document_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if document is None:
        raise NotFound(f"没有这个{label}: {document_id}")
    return document


def cumulative_share(total: Decimal, of_quantity: Decimal, before: Decimal, after: Decimal) -> Decimal:
    """The part of `total` (cents) that quantities (before, after] of `of_quantity` carry.

    Each part is the difference of two rounded running totals, so parts always add up to the total
    (and to exactly `total` once everything is done), however the quantity is split.
    """
    return money(after * total / of_quantity) - money(before * total / of_quantity)


@dataclass(frozen=True, slots=True)
class OrderLineInput:
    """A line as a person gives it: quantity in any unit of the product; no price means the list price."""

    product_id: int
    quantity: Decimal
    unit: str | None = None
    unit_price: Decimal | None = None


@dataclass(frozen=True, slots=True)
class PricedLine:
    product: Product
    unit: str
    unit_quantity: Decimal
    quantity: Decimal  # base units
    unit_price: Decimal
    amount: Decimal


async def price_line(session: AsyncSession, line: OrderLineInput, list_price_per_base: str) -> PricedLine:
    """Convert a line to base units exactly and price it; `list_price_per_base` names the product's price field."""
    product = await session.get(Product, line.product_id)
    if product is None:
        raise NotFound(f"没有这个商品: {line.product_id}")
    if not product.active:
        raise InvalidInput(f"{product.name} 已停用")
    factor = await unit_factor(session, product, line.unit)
    quantity = line.quantity * factor
    check_quantity(quantity, f"{product.name} 的数量", product.base_unit)
    check_whole(quantity, product.base_unit, product.name)
    if quantity != quantity.quantize(_QTY_UNIT) or line.quantity != line.quantity.quantize(_QTY_UNIT):
        raise InvalidInput(
            f"{product.name} 的数量最多 {QTY_PLACES} 位小数: {format_quantity(line.quantity)}{line.unit or product.base_unit}"
        )
    unit_price = money(getattr(product, list_price_per_base) * factor) if line.unit_price is None else line.unit_price
    check_price(unit_price, f"{product.name} 的单价", product.base_unit, per=factor)
    if unit_price != money(unit_price):
        raise InvalidInput(f"{product.name} 的单价不对: {unit_price}")
    unit = line.unit.strip() if line.unit else product.base_unit
    return PricedLine(product, unit, line.quantity, quantity, unit_price, money(line.quantity * unit_price))
