"""What is in stock: per product, per warehouse and lot; low stock, near expiry, slow movers, value."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, NamedTuple

from sqlalchemy import Date, Integer, and_, bindparam, cast, func, inspect, literal_column, or_
from sqlalchemy import select as select_columns
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel, col, select

from core.errors import NotFound
from core.gtin import lookup_forms
from core.ledger import expired, sellable_quantity
from core.models import OUTGOING_KINDS, ZERO, Lot, Movement, Product
from core.numbering import DEFAULT_CLOCK, Clock
from core.preferences import DEFAULT_NEAR_EXPIRY_DAYS, get_setting


@dataclass(frozen=True, slots=True)
class LotStock:
    lot_id: int
    warehouse_id: int
    lot_no: str
    production_date: date | None
    expiry_date: date | None
    on_hand: Decimal
    reserved: Decimal
    expired: bool  # on the day the stock was read (`core.ledger.expired`)

    @property
    def available(self) -> Decimal:
        """What can still be sold: unreserved and not expired, as confirming an order counts it."""
        return ZERO if self.expired else self.on_hand - self.reserved

    @property
    def expired_unreserved(self) -> Decimal:
        """Unreserved stock past its expiry date: on hand, but not for sale."""
        return self.on_hand - self.reserved if self.expired else ZERO


@dataclass(frozen=True, slots=True)
class WarehouseStock:
    warehouse_id: int
    warehouse_name: str
    on_hand: Decimal
    reserved: Decimal
    lots: tuple[LotStock, ...]

    @property
    def available(self) -> Decimal:
        return sum((lot.available for lot in self.lots), ZERO)

    @property
    def expired_unreserved(self) -> Decimal:
        return sum((lot.expired_unreserved for lot in self.lots), ZERO)


@dataclass(frozen=True, slots=True)
class ProductStock:
    """`product` is a snapshot of the product's columns read with its stock, not an entity of the session."""

    product: Product
    warehouses: tuple[WarehouseStock, ...]

    @property
    def on_hand(self) -> Decimal:
        return sum((w.on_hand for w in self.warehouses), ZERO)

    @property
    def reserved(self) -> Decimal:
        return sum((w.reserved for w in self.warehouses), ZERO)

    @property
    def available(self) -> Decimal:
        return sum((w.available for w in self.warehouses), ZERO)

    @property
    def expired_unreserved(self) -> Decimal:
        return sum((w.expired_unreserved for w in self.warehouses), ZERO)


# Stock queries read the tables with Core, not ORM entities. The lookups' statements are built once:
# a lookup only binds its key, so it neither builds nor hashes a statement.
_PRODUCTS, _LOTS, _WAREHOUSES, _BARCODES, _CATEGORIES = (
    SQLModel.metadata.tables[name] for name in ("products", "lots", "warehouses", "barcodes", "categories")
)
_PRODUCT_KEYS = tuple(column.key for column in _PRODUCTS.columns)
# A product with its lots and their warehouses, one row per lot (one row of NULLs without lots).
_STOCK = select_columns(
    _PRODUCTS,
    *(_LOTS.c[name] for name in ("id", "warehouse_id", "lot_no", "production_date", "expiry_date", "on_hand", "reserved")),
    _WAREHOUSES.c.name,
).select_from(
    _PRODUCTS.outerjoin(_LOTS, _LOTS.c.product_id == _PRODUCTS.c.id).outerjoin(
        _WAREHOUSES, _WAREHOUSES.c.id == _LOTS.c.warehouse_id
    )
)
_LOT_ORDER = (_WAREHOUSES.c.id, _LOTS.c.expiry_date.is_(None), _LOTS.c.expiry_date, _LOTS.c.id)
_BY_ID = _STOCK.where(_PRODUCTS.c.id == bindparam("key")).order_by(*_LOT_ORDER)
_BY_SKU = _STOCK.where(_PRODUCTS.c.sku == bindparam("key")).order_by(*_LOT_ORDER)
# `:code` is the best form of the scanned code, `:other` the second (or the same again); the rows of
# the product with `:code` come first.
_BY_BARCODE = (
    _STOCK.join(_BARCODES, _BARCODES.c.product_id == _PRODUCTS.c.id)
    .where(_BARCODES.c.code.in_([bindparam("code"), bindparam("other")]))
    .order_by(_BARCODES.c.code != bindparam("code"), *_LOT_ORDER)
)


_NEW_PRODUCT = inspect(Product).class_manager.new_instance


def _product_snapshot(columns: dict[str, Any]) -> Product:
    """A product from its columns, not an entity of the session: changing it changes nothing in the
    database. Built the way the ORM loads a row (a new instance, its columns set, no __init__ and no
    validation of values the database already holds): 4 µs, where Product(**columns) took 85."""
    product: Product = _NEW_PRODUCT()
    product.__dict__.update(columns)
    return product


async def _stock(
    session: AsyncSession, statement: Any, params: dict[str, Any], include_empty_lots: bool, today: date
) -> ProductStock | None:
    rows = (await session.execute(statement, params)).all()
    if not rows:
        return None
    width = len(_PRODUCT_KEYS)
    product = _product_snapshot(dict(zip(_PRODUCT_KEYS, rows[0][:width], strict=True)))
    per_warehouse: dict[int, tuple[str, list[LotStock]]] = {}
    for row in rows:
        if row[0] != product.id:  # two codes of one scan can name two products: the first wins
            continue
        lot_id, warehouse_id, lot_no, production, expiry, on_hand, reserved, warehouse_name = row[width:]
        if lot_id is None or (on_hand == 0 and reserved == 0 and not include_empty_lots):
            continue
        per_warehouse.setdefault(warehouse_id, (warehouse_name, []))[1].append(
            LotStock(lot_id, warehouse_id, lot_no, production, expiry, on_hand, reserved, expired(expiry, today))
        )
    warehouses = tuple(
        WarehouseStock(
            warehouse_id,
            name,
            sum((lot.on_hand for lot in lots), ZERO),
            sum((lot.reserved for lot in lots), ZERO),
            tuple(lots),
        )
        for warehouse_id, (name, lots) in per_warehouse.items()
    )
    return ProductStock(product, warehouses)


async def stock_of(
    session: AsyncSession, product_id: int, *, include_empty_lots: bool = False, clock: Clock = DEFAULT_CLOCK
) -> ProductStock:
    """Stock of one product in every warehouse, lots earliest expiry first (one statement); what is
    available is what could be sold on the clock's day."""
    stock = await _stock(session, _BY_ID, {"key": product_id}, include_empty_lots, clock.today())
    if stock is None:
        raise NotFound(f"没有这个商品: {product_id}")
    return stock


async def stock_by_barcode(
    session: AsyncSession, text: str, *, include_empty_lots: bool = False, clock: Clock = DEFAULT_CLOCK
) -> ProductStock | None:
    """`product_by_barcode` and `stock_of` in one statement; None when no product has the code.

    The code is normalised as it is stored (full-width digits, spaces, a UPC-A with or without
    its leading 0, a UPC-E and its UPC-A form all find the same product)."""
    forms = lookup_forms(text)
    if not forms:
        return None
    params = {"code": forms[0], "other": forms[-1]}
    return await _stock(session, _BY_BARCODE, params, include_empty_lots, clock.today())


async def stock_by_sku(
    session: AsyncSession, sku: str, *, include_empty_lots: bool = False, clock: Clock = DEFAULT_CLOCK
) -> ProductStock | None:
    """`product_by_sku` and `stock_of` in one statement; None when no product has the SKU."""
    params = {"key": unicodedata.normalize("NFKC", sku).strip()}
    return await _stock(session, _BY_SKU, params, include_empty_lots, clock.today())


@dataclass(frozen=True, slots=True)
class LowStockRow:
    product_id: int
    sku: str
    name: str
    spec: str
    base_unit: str
    safety_stock: Decimal
    max_stock: Decimal | None
    on_hand: Decimal
    available: Decimal
    preferred_supplier_id: int | None

    @property
    def shortage(self) -> Decimal:
        return self.safety_stock - self.available


async def low_stock(
    session: AsyncSession, warehouse_id: int | None = None, *, clock: Clock = DEFAULT_CLOCK
) -> list[LowStockRow]:
    """Active products whose available stock (in one warehouse, or in total) is below their safety stock.

    Available is what could be sold on the clock's day: expired lots count as on hand, not as available,
    so a product whose only stock has expired is short."""
    totals = (
        select(
            Lot.product_id,
            func.sum(Lot.on_hand).label("on_hand"),
            func.sum(sellable_quantity(clock.today())).label("available"),
        )
        .where(*([] if warehouse_id is None else [Lot.warehouse_id == warehouse_id]))
        .group_by(col(Lot.product_id))
        .subquery()
    )
    available = func.coalesce(totals.c.available, 0)
    # Columns, not Product entities: building thousands of ORM objects cost more than the query.
    rows = await session.execute(
        select_columns(
            col(Product.id),
            col(Product.sku),
            col(Product.name),
            col(Product.spec),
            col(Product.base_unit),
            col(Product.safety_stock),
            col(Product.max_stock),
            totals.c.on_hand,
            totals.c.available,
            col(Product.preferred_supplier_id),
        )
        .outerjoin(totals, totals.c.product_id == Product.id)
        .where(col(Product.active).is_(True), col(Product.safety_stock) > 0, available < col(Product.safety_stock))
        .order_by(col(Product.sku))
    )
    return [
        LowStockRow(
            product_id,
            sku,
            name,
            spec,
            base_unit,
            safety_stock,
            max_stock,
            ZERO if on_hand is None else on_hand,
            ZERO if avail is None else avail,
            supplier_id,
        )
        for product_id, sku, name, spec, base_unit, safety_stock, max_stock, on_hand, avail, supplier_id in rows.all()
    ]


class ExpiringLot(NamedTuple):
    """Immutable, and a named tuple rather than a frozen dataclass: the list can have tens of thousands
    of rows, and a frozen dataclass's __init__ (one object.__setattr__ a field) builds them at half the speed."""

    lot_id: int
    product_id: int
    sku: str
    name: str
    spec: str
    base_unit: str
    warehouse_id: int
    warehouse_name: str
    lot_no: str
    expiry_date: date
    on_hand: Decimal
    days_left: int  # negative: already expired
    lead_days: int

    @property
    def expired(self) -> bool:
        return self.days_left < 0


async def near_expiry(session: AsyncSession, today: date, warehouse_id: int | None = None) -> list[ExpiringLot]:
    """Lots in stock expiring within their lead days (product → category → global), and expired ones."""
    default_days = int(await get_setting(session, "near_expiry_days", DEFAULT_NEAR_EXPIRY_DAYS))
    products, categories = _PRODUCTS, _CATEGORIES
    # The longest lead days anyone may have bounds expiry_date, so the lots are one range of the
    # index of lots in stock; both maxima are read from indexes.
    longest = (
        await session.execute(
            select_columns(
                select_columns(func.max(products.c.near_expiry_days)).scalar_subquery(),
                select_columns(func.max(categories.c.near_expiry_days)).scalar_subquery(),
            )
        )
    ).one()
    horizon = today + timedelta(days=max(days for days in (*longest, default_days) if days is not None))
    lots = _LOTS
    lead = func.coalesce(products.c.near_expiry_days, categories.c.near_expiry_days, default_days)
    if session.get_bind().dialect.name == "sqlite":  # dates are ISO text: days between by julian day
        days_left: Any = cast(func.julianday(lots.c.expiry_date) - func.julianday(today.isoformat()), Integer)
    else:  # PostgreSQL: date - date is an integer of days
        days_left = lots.c.expiry_date - bindparam("today", today, type_=Date)
    # `on_hand > 0` written as a literal, as the partial index says it: both planners then use the
    # index for any parameters. Each lot's own lead days are applied in SQL, so only listed lots
    # are fetched; Core columns, not entities, for tens of thousands of rows.
    where = [lots.c.on_hand > literal_column("0"), lots.c.expiry_date <= horizon, days_left <= lead]
    if warehouse_id is not None:
        where.append(lots.c.warehouse_id == warehouse_id)
    rows: Any = await session.execute(  # rows of thirteen columns, as ExpiringLot's fields
        select_columns(
            lots.c.id,
            lots.c.product_id,
            products.c.sku,
            products.c.name,
            products.c.spec,
            products.c.base_unit,
            lots.c.warehouse_id,
            _WAREHOUSES.c.name,
            lots.c.lot_no,
            lots.c.expiry_date,
            lots.c.on_hand,
            days_left,
            lead,
        )
        .select_from(
            lots.join(products, products.c.id == lots.c.product_id)
            .join(_WAREHOUSES, _WAREHOUSES.c.id == lots.c.warehouse_id)
            .outerjoin(categories, categories.c.id == products.c.category_id)
        )
        .where(*where)
        .order_by(lots.c.expiry_date, lots.c.id)
    )
    return list(map(ExpiringLot._make, rows.all()))  # all(): one fetch, not one a row


@dataclass(frozen=True, slots=True)
class SlowMover:
    product_id: int
    sku: str
    name: str
    on_hand: Decimal
    last_outgoing: datetime | None


async def slow_moving(session: AsyncSession, days: int, now: datetime) -> list[SlowMover]:
    """Products in stock with no outgoing movement in the last `days` days."""
    since = now - timedelta(days=days)
    last_out = (
        select(Movement.product_id, func.max(Movement.created_at).label("last_out"))
        .where(col(Movement.kind).in_([k.value for k in OUTGOING_KINDS]))
        .group_by(col(Movement.product_id))
        .subquery()
    )
    on_hand = (
        select(Lot.product_id, func.sum(Lot.on_hand).label("on_hand")).group_by(col(Lot.product_id)).subquery()
    )
    rows = await session.execute(
        select(Product, on_hand.c.on_hand, last_out.c.last_out)
        .join(on_hand, on_hand.c.product_id == Product.id)
        .outerjoin(last_out, last_out.c.product_id == Product.id)
        .where(on_hand.c.on_hand > 0, or_(last_out.c.last_out.is_(None), last_out.c.last_out < since))
        .order_by(col(Product.sku))
    )
    return [
        SlowMover(product.id or 0, product.sku, product.name, total, last)
        for product, total, last in rows.all()
    ]


@dataclass(frozen=True, slots=True)
class StockValueRow:
    product_id: int
    sku: str
    name: str
    on_hand: Decimal
    avg_cost: Decimal
    value: Decimal


async def stock_value(session: AsyncSession, warehouse_id: int | None = None) -> tuple[list[StockValueRow], Decimal]:
    """Stock at moving weighted average cost, per product and in total (cents, half up)."""
    totals = (
        select(Lot.product_id, func.sum(Lot.on_hand).label("on_hand"))
        .where(*([] if warehouse_id is None else [Lot.warehouse_id == warehouse_id]))
        .group_by(col(Lot.product_id))
        .subquery()
    )
    rows = await session.execute(
        select(Product, totals.c.on_hand)
        .join(totals, totals.c.product_id == Product.id)
        .where(and_(totals.c.on_hand > 0))
        .order_by(col(Product.sku))
    )
    result = []
    for product, quantity in rows.all():
        value = (quantity * product.avg_cost).quantize(Decimal("0.01"))
        result.append(StockValueRow(product.id or 0, product.sku, product.name, quantity, product.avg_cost, value))
    return result, sum((r.value for r in result), ZERO)
