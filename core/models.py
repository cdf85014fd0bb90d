"""Tables of the catalog, stock and people. Business documents live in `core.documents`.

Money, quantities and costs are `Decimal` stored exactly (see `core.columns`); times are aware UTC.
Quantities in stock are always in the product's base unit.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Index, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from core.columns import AwareDateTime, Money, Quantity, UnitCost, utcnow

ZERO = Decimal(0)


class Role(StrEnum):
    SALES = "sales"
    WAREHOUSE = "warehouse"
    PURCHASER = "purchaser"
    MANAGER = "manager"
    OWNER = "owner"
    ADMIN = "admin"


class User(SQLModel, table=True):
    __tablename__ = "users"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=64, index=True)
    role: Role = Field(max_length=16)
    active: bool = True
    created_at: datetime = Field(default_factory=utcnow, sa_type=AwareDateTime)


class Identity(SQLModel, table=True):
    """A chat account of a psibot user: (platform, platform user id) → user."""

    __tablename__ = "identities"
    __table_args__ = (UniqueConstraint("platform", "platform_user_id"),)

    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=16)
    platform_user_id: str = Field(max_length=128)
    user_id: int = Field(foreign_key="users.id", index=True)


class Category(SQLModel, table=True):
    __tablename__ = "categories"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=64, unique=True)
    near_expiry_days: int | None = None


class Supplier(SQLModel, table=True):
    __tablename__ = "suppliers"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=128, unique=True)
    contact: str = Field(default="", max_length=64)
    phone: str = Field(default="", max_length=32)
    search_key: str = Field(default="", max_length=512)


class Customer(SQLModel, table=True):
    __tablename__ = "customers"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=128, unique=True)
    contact: str = Field(default="", max_length=64)
    phone: str = Field(default="", max_length=32)
    credit_limit: Decimal | None = Field(default=None, sa_type=Money)
    search_key: str = Field(default="", max_length=512)


class Warehouse(SQLModel, table=True):
    __tablename__ = "warehouses"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=32, unique=True)
    name: str = Field(max_length=64, unique=True)
    active: bool = True


class Product(SQLModel, table=True):
    __tablename__ = "products"
    __table_args__ = (
        CheckConstraint("sale_price >= 0", name="ck_products_sale_price"),
        CheckConstraint("purchase_price >= 0", name="ck_products_purchase_price"),
        Index("ix_products_pinyin_initials", "pinyin_initials"),
        Index("ix_products_pinyin_full", "pinyin_full"),
    )

    id: int | None = Field(default=None, primary_key=True)
    sku: str = Field(max_length=64, unique=True)
    name: str = Field(max_length=128, index=True)
    spec: str = Field(default="", max_length=128)
    category_id: int | None = Field(default=None, foreign_key="categories.id", index=True)
    brand: str = Field(default="", max_length=64)
    base_unit: str = Field(max_length=16)
    sale_price: Decimal = Field(default=ZERO, sa_type=Money)  # per base unit
    purchase_price: Decimal = Field(default=ZERO, sa_type=Money)  # per base unit
    safety_stock: Decimal = Field(default=ZERO, sa_type=Quantity)
    max_stock: Decimal | None = Field(default=None, sa_type=Quantity)
    shelf_life_days: int | None = None
    near_expiry_days: int | None = Field(default=None, index=True)  # indexed: near_expiry reads its max
    lot_tracked: bool = False
    active: bool = True
    preferred_supplier_id: int | None = Field(default=None, foreign_key="suppliers.id")
    avg_cost: Decimal = Field(default=ZERO, sa_type=UnitCost)  # moving weighted average, per base unit
    name_key: str = Field(default="", max_length=256)  # folded name for substring search
    pinyin_full: str = Field(default="", max_length=512)
    pinyin_initials: str = Field(default="", max_length=128)
    version: int = 1
    created_at: datetime = Field(default_factory=utcnow, sa_type=AwareDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=AwareDateTime)


class ProductUnit(SQLModel, table=True):
    """An extra unit: `factor` base units make one of it (1 箱 = 24 瓶 → factor 24)."""

    __tablename__ = "product_units"
    __table_args__ = (UniqueConstraint("product_id", "name"), CheckConstraint("factor > 0", name="ck_unit_factor"))

    id: int | None = Field(default=None, primary_key=True)
    product_id: int = Field(foreign_key="products.id", index=True)
    name: str = Field(max_length=16)
    factor: Decimal = Field(sa_type=Quantity)


class Barcode(SQLModel, table=True):
    """A code printed on the product (or on its case, then `unit_id` names the case unit)."""

    __tablename__ = "barcodes"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=256, unique=True)  # normalised by core.gtin.normalize_barcode
    symbology: str = Field(default="", max_length=16)
    product_id: int = Field(foreign_key="products.id", index=True)
    unit_id: int | None = Field(default=None, foreign_key="product_units.id")


class Lot(SQLModel, table=True):
    """Stock of one product in one warehouse from one lot; untracked products have lot_no ''."""

    __tablename__ = "lots"
    __table_args__ = (
        UniqueConstraint("product_id", "warehouse_id", "lot_no"),
        CheckConstraint("on_hand >= 0", name="ck_lots_on_hand"),
        CheckConstraint("reserved >= 0 AND reserved <= on_hand", name="ck_lots_reserved"),
        # near_expiry reads the lots in stock by expiry from this index alone (no table reads); lots
        # sold out stay in the table for ever but not in the index.
        Index(
            "ix_lots_in_stock_by_expiry",
            "expiry_date", "product_id", "warehouse_id", "lot_no", "on_hand", "id",
            sqlite_where=text("on_hand > 0"),
            postgresql_where=text("on_hand > 0"),
        ),
        Index("ix_lots_warehouse_product", "warehouse_id", "product_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    product_id: int = Field(foreign_key="products.id", index=True)
    warehouse_id: int = Field(foreign_key="warehouses.id")
    lot_no: str = Field(default="", max_length=64)
    production_date: date | None = None
    expiry_date: date | None = None
    on_hand: Decimal = Field(default=ZERO, sa_type=Quantity)
    reserved: Decimal = Field(default=ZERO, sa_type=Quantity)
    created_at: datetime = Field(default_factory=utcnow, sa_type=AwareDateTime)


class MovementKind(StrEnum):
    OPENING = "opening"
    ADJUSTMENT = "adjustment"
    PURCHASE_RECEIPT = "purchase_receipt"
    PURCHASE_RETURN = "purchase_return"
    SALES_SHIPMENT = "sales_shipment"
    SALES_RETURN = "sales_return"
    TRANSFER_OUT = "transfer_out"
    TRANSFER_IN = "transfer_in"
    COUNT = "count"


OUTGOING_KINDS = (MovementKind.SALES_SHIPMENT, MovementKind.PURCHASE_RETURN, MovementKind.TRANSFER_OUT)


class Movement(SQLModel, table=True):
    """One immutable line of the stock ledger. Never updated, never deleted."""

    __tablename__ = "movements"
    __table_args__ = (
        Index("ix_movements_product_created", "product_id", "created_at"),
        Index("ix_movements_ref", "ref_type", "ref_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    kind: MovementKind = Field(max_length=24)
    product_id: int = Field(foreign_key="products.id")
    warehouse_id: int = Field(foreign_key="warehouses.id")
    lot_id: int = Field(foreign_key="lots.id", index=True)
    quantity: Decimal = Field(sa_type=Quantity)  # signed, base units
    unit_cost: Decimal = Field(default=ZERO, sa_type=UnitCost)
    ref_type: str = Field(default="", max_length=24)  # "sales_order", "purchase_order", "count", …
    ref_id: int | None = None
    ref_no: str = Field(default="", max_length=32)
    reason: str = Field(default="", max_length=256)
    user_id: int | None = Field(default=None, foreign_key="users.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=AwareDateTime)


class AuditEntry(SQLModel, table=True):
    """Who changed what, with the values before and after."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_entity", "entity", "entity_id"),)

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_type=AwareDateTime)
    user_id: int | None = Field(default=None, foreign_key="users.id")
    entity: str = Field(max_length=32)
    entity_id: int | None = None
    action: str = Field(max_length=32)
    before: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    after: dict[str, Any] | None = Field(default=None, sa_type=JSON)


class Setting(SQLModel, table=True):
    """Company-wide settings changed at run time (approval rules, default lead days, …)."""

    __tablename__ = "settings"

    key: str = Field(primary_key=True, max_length=64)
    value: Any = Field(sa_type=JSON)
