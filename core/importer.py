"""Importing products, stock, customers and suppliers from CSV (UTF-8 or GBK) and Excel files.

All or nothing: every row is checked first and a bad file imports nothing but lists every bad row
with its row number and reason. A good file imports in one transaction; re-running it updates what
exists instead of adding duplicates (stock rows set the lot's quantity through the ledger).

Files are streamed, never held whole: `read_table` gives rows that can be read again, and the
product import reads them twice (check every row, then write a slice at a time), so a file of
100,000 products needs memory for a slice, not for the file.
"""

from __future__ import annotations

import codecs
import csv
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, insert, update
from sqlalchemy import select as select_columns
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel, col, select

from core.audit import json_safe
from core.catalog import (
    ProductInput,
    fold,
    input_factor,
    resolve_units,
    save_customer,
    save_supplier,
    search_fields,
    validate_product_input,
)
from core.columns import utcnow
from core.errors import DomainError, InvalidInput
from core.gtin import BarcodeError, normalize_barcode, symbology_of
from core.ledger import lock_product, lot_for, post
from core.models import (
    MovementKind,
    Product,
    ProductUnit,
    Role,
    User,
    Warehouse,
)
from core.preferences import bump_catalog_version
from core.quantity import check_price, check_whole, parse_decimal
from core.users import require_role

Progress = Callable[[int, int], None]  # (done, total)

PRODUCT_COLUMNS = {
    "sku": ("sku", "编码", "商品编码", "货号"),
    "name": ("name", "名称", "商品名称", "品名"),
    "barcode": ("barcode", "条码", "条形码"),
    "unit": ("unit", "单位"),
    "spec": ("spec", "规格"),
    "category": ("category", "分类", "类别"),
    "brand": ("brand", "品牌"),
    "sale_price": ("sale_price", "售价", "销售价"),
    "purchase_price": ("purchase_price", "进价", "采购价"),
    "safety_stock": ("safety_stock", "安全库存"),
    "max_stock": ("max_stock", "最高库存"),
    "shelf_life_days": ("shelf_life_days", "保质期天数", "保质期"),
    "near_expiry_days": ("near_expiry_days", "临期天数", "临期提醒天数"),
    "conversion": ("conversion", "换算"),
    "supplier": ("supplier", "供应商"),
}
PRODUCT_REQUIRED = ("sku", "name", "unit")

STOCK_COLUMNS = {
    "sku": PRODUCT_COLUMNS["sku"],
    "warehouse": ("warehouse", "仓库"),
    "quantity": ("quantity", "数量"),
    "unit": ("unit", "单位"),
    "lot": ("lot", "批次", "批号"),
    "production_date": ("production_date", "生产日期"),
    "expiry_date": ("expiry_date", "到期日", "有效期至"),
    "unit_cost": ("unit_cost", "成本", "单位成本"),
}
STOCK_REQUIRED = ("sku", "warehouse", "quantity")

PARTNER_COLUMNS = {
    "name": ("name", "名称"),
    "contact": ("contact", "联系人"),
    "phone": ("phone", "电话", "手机"),
    "credit_limit": ("credit_limit", "信用额度"),
}


@dataclass(frozen=True, slots=True)
class RowError:
    row: int  # as the user sees it in the file: the header is row 1
    reason: str


class ImportRejected(DomainError):
    """The file was not imported; `errors` lists every bad row."""

    code = "import_rejected"

    def __init__(self, errors: list[RowError]) -> None:
        lines = "\n".join(f"第 {e.row} 行: {e.reason}" if e.row else e.reason for e in errors[:200])
        more = f"\n……共 {len(errors)} 处错误" if len(errors) > 200 else ""
        super().__init__(f"文件有错误，什么都没有导入:\n{lines}{more}")
        self.errors = errors


@dataclass(slots=True)
class ImportSummary:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    movements: int = 0
    rows: int = 0
    notes: list[str] = field(default_factory=list)


# ---------------------------------------------------------------- reading files


_ENCODINGS = ("utf-8-sig", "gb18030")  # gb18030: GBK as Excel in China writes it, and more
_CHUNK = 1 << 20


def _encoding_of(path: Path) -> str:
    """The first encoding that decodes the whole file, checked a megabyte at a time."""
    for encoding in _ENCODINGS:
        decoder = codecs.getincrementaldecoder(encoding)()
        try:
            with path.open("rb") as file:
                while chunk := file.read(_CHUNK):
                    decoder.decode(chunk)
                decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            continue
        return encoding
    raise ImportRejected([RowError(0, "文件编码无法识别：请另存为 UTF-8 或 GBK 编码的 CSV，或 .xlsx")])


class Table:
    """The rows of a .csv or .xlsx file, header first, read from the file each time they are iterated."""

    def __init__(self, path: Path) -> None:
        suffix = path.suffix.lower()
        if not path.is_file():
            raise ImportRejected([RowError(0, f"找不到文件: {path}")])
        if suffix not in (".xlsx", ".csv", ".txt"):
            raise ImportRejected([RowError(0, f"只支持 .csv 和 .xlsx 文件: {path.name}")])
        self.path = path
        self.encoding = None if suffix == ".xlsx" else _encoding_of(path)
        if self.encoding is None:
            self._open_workbook().close()  # an unreadable workbook is refused before anything runs

    def _open_workbook(self) -> Any:
        from openpyxl import load_workbook

        try:
            return load_workbook(self.path, read_only=True, data_only=True)
        except Exception as exc:  # noqa: BLE001 - any unreadable workbook is the user's file problem
            raise ImportRejected([RowError(0, f"Excel 文件打不开: {exc}")]) from None

    def __iter__(self) -> Iterator[Sequence[Any]]:
        if self.encoding is None:
            workbook = self._open_workbook()
            try:
                yield from workbook.worksheets[0].iter_rows(values_only=True)
            finally:
                workbook.close()
            return
        with self.path.open(encoding=self.encoding, newline="") as file:
            reader = csv.reader(file)
            try:
                yield from reader
            except csv.Error as exc:
                raise ImportRejected([RowError(reader.line_num, f"CSV 格式错误: {exc}")]) from None


def read_table(path: Path) -> Table:
    """Rows of a .csv (UTF-8, GBK as Excel in China writes it) or .xlsx file, header first.

    Checks at once that the file exists, has a known type and decodes; the rows are read only when
    iterated, each time anew."""
    return Table(path)


# Rows given to an import: a Table or a list, header first; the product import iterates them twice.
Rows = Iterable[Sequence[Any]]


def _header_map(header: Sequence[Any], columns: dict[str, tuple[str, ...]], required: tuple[str, ...]) -> dict[str, int]:
    names = {fold(str(alias)): key for key, aliases in columns.items() for alias in aliases}
    found: dict[str, int] = {}
    for index, cell in enumerate(header):
        key = names.get(fold(str(cell or "")))
        if key is not None and key not in found:
            found[key] = index
    missing = [f"{columns[k][0]}/{columns[k][1]}" for k in required if k not in found]
    if missing:
        raise ImportRejected([RowError(1, f"缺少列: {'、'.join(missing)}")])
    return found


def _records(
    rows: Rows, columns: dict[str, tuple[str, ...]], required: tuple[str, ...]
) -> Iterator[tuple[int, dict[str, str]]]:
    """(row number, cell text by column key) of every row that is not empty, after the header."""
    iterator = iter(rows)
    header = next(iterator, None)
    if header is None:
        raise ImportRejected([RowError(0, "文件是空的")])
    mapping = _header_map(header, columns, required)
    for number, row in enumerate(iterator, start=2):
        values = {key: _cell(row[i]) if i < len(row) else "" for key, i in mapping.items()}
        if any(values.values()):
            yield number, values


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return unicodedata.normalize("NFKC", str(value)).strip()


def _decimal(text: str, what: str, *, default: Decimal | None = None) -> Decimal | None:
    if not text:
        return default
    value = parse_decimal(text, what)
    if value < 0:
        raise InvalidInput(f"{what}不能为负数: {text}")
    return value


def _int(text: str, what: str) -> int | None:
    value = _decimal(text, what)
    if value is None:
        return None
    if value != value.to_integral_value():
        raise InvalidInput(f"{what}必须是整数: {text}")
    return int(value)


def _date(text: str, what: str) -> date | None:
    if not text:
        return None
    match = re.fullmatch(r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?", text) or re.fullmatch(
        r"(\d{4})(\d{2})(\d{2})", text
    )
    if not match:
        raise InvalidInput(f"{what}看不懂: {text}（例: 2026-11-22）")
    try:
        return date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    except ValueError:
        raise InvalidInput(f"{what}不是有效日期: {text}") from None


# ---------------------------------------------------------------- products


def _product_row(values: dict[str, str]) -> ProductInput:
    unit = values.get("unit", "")
    conversion_text = values.get("conversion", "")
    base_unit, conversions = resolve_units(conversion_text, unit) if conversion_text else (unit, {})
    barcodes = [b for b in re.split(r"[;；,，\s]+", values.get("barcode", "")) if b]
    data = ProductInput(
        sku=values["sku"],
        name=values["name"],
        base_unit=base_unit,
        unit=unit,
        spec=values.get("spec", ""),
        category=values.get("category", ""),
        brand=values.get("brand", ""),
        conversions=conversions,
        barcodes=[],
        sale_price=_decimal(values.get("sale_price", ""), "售价", default=Decimal(0)) or Decimal(0),
        purchase_price=_decimal(values.get("purchase_price", ""), "进价", default=Decimal(0)) or Decimal(0),
        safety_stock=_decimal(values.get("safety_stock", ""), "安全库存", default=Decimal(0)) or Decimal(0),
        max_stock=_decimal(values.get("max_stock", ""), "最高库存"),
        shelf_life_days=_int(values.get("shelf_life_days", ""), "保质期天数"),
        near_expiry_days=_int(values.get("near_expiry_days", ""), "临期天数"),
        preferred_supplier=values.get("supplier", ""),
    )
    validate_product_input(data)
    for raw in barcodes:
        try:
            data.barcodes.append(normalize_barcode(raw))
        except BarcodeError as exc:
            raise InvalidInput(str(exc)) from None
    return data


@dataclass(slots=True)
class _ProductFileCheck:
    """What the first pass over a products file learns, without keeping the rows."""

    rows: int = 0
    errors: list[RowError] = field(default_factory=list)
    categories: set[str] = field(default_factory=set)
    supplier_rows: dict[str, list[int]] = field(default_factory=dict)  # name → rows naming it
    code_rows: dict[str, tuple[int, str]] = field(default_factory=dict)  # barcode → (row, sku)


def _check_product_rows(rows: Rows) -> _ProductFileCheck:
    """Every row parsed and checked on its own and against the rows before it; nothing kept but keys."""
    check = _ProductFileCheck()
    seen_sku: dict[str, int] = {}
    for number, values in _records(rows, PRODUCT_COLUMNS, PRODUCT_REQUIRED):
        try:
            data = _product_row(values)
        except DomainError as exc:
            check.errors.append(RowError(number, exc.message))
            continue
        if data.sku in seen_sku:
            check.errors.append(RowError(number, f"编码 {data.sku} 与第 {seen_sku[data.sku]} 行重复"))
            continue
        seen_sku[data.sku] = number
        check.rows += 1
        for code in data.barcodes:
            if code in check.code_rows:
                check.errors.append(RowError(number, f"条码 {code} 与第 {check.code_rows[code][0]} 行重复"))
            else:
                check.code_rows[code] = (number, data.sku)
        if data.category:
            check.categories.add(data.category)
        if data.preferred_supplier:
            check.supplier_rows.setdefault(data.preferred_supplier, []).append(number)
    return check


def _product_values(data: ProductInput, category_id: int | None, supplier_id: int | None) -> dict[str, Any]:
    per_unit = input_factor(data)
    return {
        "name": data.name.strip(),
        "spec": data.spec,
        "brand": data.brand,
        "base_unit": data.base_unit,
        "category_id": category_id,
        "sale_price": (data.sale_price / per_unit).quantize(Decimal("0.01")),
        "purchase_price": (data.purchase_price / per_unit).quantize(Decimal("0.01")),
        "safety_stock": data.safety_stock * per_unit,
        "max_stock": None if data.max_stock is None else data.max_stock * per_unit,
        "shelf_life_days": data.shelf_life_days,
        "near_expiry_days": data.near_expiry_days,
        "lot_tracked": bool(data.shelf_life_days),
        "preferred_supplier_id": supplier_id,
        **search_fields(data.name, data.spec),
    }


def _batches(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


# The import writes with Core statements over the tables: the ORM's bulk paths cost more per row
# than the database did. Executemany with these statements binds the rows' own keys.
_PRODUCTS, _UNITS, _BARCODES, _CATEGORIES, _SUPPLIERS, _AUDIT = (
    SQLModel.metadata.tables[name]
    for name in ("products", "product_units", "barcodes", "categories", "suppliers", "audit_log")
)
_UPDATE_PRODUCT = update(_PRODUCTS).where(_PRODUCTS.c.id == bindparam("row_id"))
_UPDATE_UNIT = update(_UNITS).where(_UNITS.c.id == bindparam("row_id"))
_SLICE = 2000


async def _ids_by(session: AsyncSession, key: Any, names: Iterable[str]) -> dict[str, int]:
    """{name: id} of the rows whose `key` column is one of the names (500 a query)."""
    ids: dict[str, int] = {}
    for batch in _batches(sorted(names), 500):
        rows = await session.execute(select_columns(key, key.table.c.id).where(key.in_(batch)))
        ids.update({name: row_id for name, row_id in rows.all()})
    return ids


async def import_products(session: AsyncSession, actor: User | None, rows: Rows, progress: Progress | None = None) -> ImportSummary:
    """Create or update products in bulk: check the whole file, then write it a slice at a time.

    The first pass parses every row and checks it against the others and against the database
    (suppliers, barcodes of other products), keeping only keys; a bad file raises `ImportRejected`
    with every bad row before anything is written. The second pass parses the rows again and
    writes 2,000 at a time with set-based statements, in the caller's one transaction.
    """
    if actor is not None:
        require_role(actor, {Role.PURCHASER, Role.MANAGER, Role.WAREHOUSE}, "导入商品")
    check = _check_product_rows(rows)
    errors = check.errors
    suppliers = await _ids_by(session, _SUPPLIERS.c.name, check.supplier_rows)
    errors += [
        RowError(number, f"供应商“{name}”不存在，请先导入供应商")
        for name, numbers in check.supplier_rows.items()
        if name not in suppliers
        for number in numbers
    ]
    owner_sku: dict[str, str] = {}  # codes already in the database → the SKU of their product
    for batch in _batches(sorted(check.code_rows), 500):
        owned = await session.execute(
            select_columns(_BARCODES.c.code, _PRODUCTS.c.sku)
            .join(_PRODUCTS, _PRODUCTS.c.id == _BARCODES.c.product_id)
            .where(_BARCODES.c.code.in_(batch))
        )
        owner_sku.update({code: sku for code, sku in owned.all()})
    for code, sku in owner_sku.items():
        number, row_sku = check.code_rows[code]
        if row_sku != sku:
            errors.append(RowError(number, f"条码 {code} 已属于另一个商品"))
    if errors:
        raise ImportRejected(sorted(errors, key=lambda e: e.row))
    check.code_rows.clear()  # the largest part of the check; only the codes already stored are needed

    categories = await _ids_by(session, _CATEGORIES.c.name, check.categories)
    if new_categories := sorted(check.categories - categories.keys()):
        await session.execute(insert(_CATEGORIES), [{"name": name} for name in new_categories])
        categories |= await _ids_by(session, _CATEGORIES.c.name, new_categories)

    summary = ImportSummary(rows=check.rows)
    codes_added = False
    now = utcnow()
    records = ((number, _product_row(values)) for number, values in _records(rows, PRODUCT_COLUMNS, PRODUCT_REQUIRED))
    for part in _batches(records, _SLICE):
        skus = [data.sku for _, data in part]
        stored = await session.execute(select_columns(_PRODUCTS).where(_PRODUCTS.c.sku.in_(skus)))
        existing = {row.sku: row._mapping for row in stored.all()}
        new_rows: list[dict[str, Any]] = []
        updates: list[dict[str, Any]] = []
        audits: list[dict[str, Any]] = []
        for _, data in part:
            values = _product_values(data, categories.get(data.category), suppliers.get(data.preferred_supplier))
            product = existing.get(data.sku)
            if product is None:
                new_rows.append(
                    {"sku": data.sku, **values, "created_at": now, "updated_at": now, "version": 1, "active": True, "avg_cost": Decimal(0)}
                )
                continue
            before = {k: product[k] for k in values if product[k] != values[k]}
            if before:
                updates.append({"row_id": product["id"], **values, "updated_at": now, "version": product["version"] + 1})
                audits.append(_audit(actor, "product", product["id"], "import_update", before, {k: values[k] for k in before}, now))
                summary.updated += 1
            else:
                summary.unchanged += 1
        product_ids = {sku: row["id"] for sku, row in existing.items()}
        if new_rows:
            # A plain executemany, then the new ids by SKU: a bulk insert with RETURNING goes row by
            # row on SQLite.
            await session.execute(insert(_PRODUCTS), new_rows)
            created = await _ids_by(session, _PRODUCTS.c.sku, [row["sku"] for row in new_rows])
            product_ids |= created
            audits += [_audit(actor, "product", product_ids[row["sku"]], "import_create", None, {"sku": row["sku"]}, now) for row in new_rows]
            summary.created += len(new_rows)
        if updates:
            await session.execute(_UPDATE_PRODUCT, updates)
        codes_added |= await _write_units_and_barcodes(
            session, part, product_ids, [row["id"] for row in existing.values()], owner_sku
        )
        if audits:
            await session.execute(insert(_AUDIT), audits)
        if progress:
            progress(summary.created + summary.updated + summary.unchanged, summary.rows)
    if summary.created or summary.updated or codes_added:
        await bump_catalog_version(session)  # the search index of every instance reloads
    if progress:
        progress(summary.rows, summary.rows)
    return summary


async def _write_units_and_barcodes(
    session: AsyncSession,
    part: list[tuple[int, ProductInput]],
    product_ids: dict[str, int],
    existing_ids: list[int],
    stored_codes: dict[str, str],
) -> bool:
    """The slice's extra units (added, or their factor updated) and its barcodes not yet stored.

    True when a code the search index holds (one that is not all digits) was added.
    """
    known: dict[tuple[int, str], tuple[int, Decimal]] = {}
    if existing_ids:
        rows = await session.execute(
            select_columns(_UNITS.c.product_id, _UNITS.c.name, _UNITS.c.id, _UNITS.c.factor).where(
                _UNITS.c.product_id.in_(existing_ids)
            )
        )
        known = {(product_id, name): (unit_id, factor) for product_id, name, unit_id, factor in rows.all()}
    new_units: list[dict[str, Any]] = []
    changed_units: list[dict[str, Any]] = []
    new_codes: list[dict[str, Any]] = []
    for _, data in part:
        product_id = product_ids[data.sku]
        for name, factor in data.conversions.items():
            unit = known.get((product_id, name))
            if unit is None:
                new_units.append({"product_id": product_id, "name": name, "factor": factor})
            elif unit[1] != factor:
                changed_units.append({"row_id": unit[0], "factor": factor})
        new_codes += [
            {"code": code, "symbology": symbology_of(code), "product_id": product_id, "unit_id": None}
            for code in data.barcodes
            if code not in stored_codes
        ]
    if new_units:
        await session.execute(insert(_UNITS), new_units)
    if changed_units:
        await session.execute(_UPDATE_UNIT, changed_units)
    if new_codes:
        await session.execute(insert(_BARCODES), new_codes)
    return any(not row["code"].isdigit() for row in new_codes)


def _audit(
    actor: User | None, entity: str, entity_id: int | None, action: str, before: Any, after: Any, at: datetime
) -> dict[str, Any]:

    return {
        "user_id": actor.id if actor else None,
        "entity": entity,
        "entity_id": entity_id,
        "action": action,
        "before": json_safe(before) if before is not None else None,
        "after": json_safe(after),
        "at": at,
    }


# ---------------------------------------------------------------- stock


async def import_stock(
    session: AsyncSession, actor: User, rows: Rows, progress: Progress | None = None
) -> ImportSummary:
    """Set each (product, warehouse, lot) to the file's quantity through the ledger."""
    require_role(actor, {Role.WAREHOUSE, Role.MANAGER}, "导入库存")
    records = list(_records(rows, STOCK_COLUMNS, STOCK_REQUIRED))
    warehouses = {fold(w.code): w for w in (await session.scalars(select(Warehouse))).all()}
    warehouses |= {fold(w.name): w for w in warehouses.values()}
    products: dict[str, Product] = {}
    for chunk in _batches(sorted({v["sku"] for _, v in records}), 500):
        products.update({p.sku: p for p in (await session.scalars(select(Product).where(col(Product.sku).in_(chunk)))).all()})
    units = {
        (u.product_id, u.name): u.factor
        for u in (await session.scalars(select(ProductUnit).where(col(ProductUnit.product_id).in_([p.id for p in products.values()])))).all()
    } if products else {}

    errors: list[RowError] = []
    plan: list[tuple[Product, Warehouse, Decimal, str, date | None, date | None, Decimal | None]] = []
    seen: dict[tuple[str, int, str], int] = {}
    for number, values in records:
        try:
            product = products.get(values["sku"])
            if product is None:
                raise InvalidInput(f"没有编码为 {values['sku']} 的商品")
            warehouse = warehouses.get(fold(values["warehouse"]))
            if warehouse is None:
                raise InvalidInput(f"没有仓库“{values['warehouse']}”")
            quantity = _decimal(values["quantity"], "数量")
            if quantity is None:
                raise InvalidInput("数量不能为空")
            unit = values.get("unit", "")
            if unit and unit != product.base_unit:
                factor = units.get((product.id or 0, unit))
                if factor is None:
                    raise InvalidInput(f"{product.name} 没有单位“{unit}”的换算")
                quantity *= factor
            check_whole(quantity, product.base_unit, product.name)
            production = _date(values.get("production_date", ""), "生产日期")
            expiry = _date(values.get("expiry_date", ""), "到期日")
            if production and expiry and expiry < production:
                raise InvalidInput(f"到期日 {expiry} 早于生产日期 {production}")
            lot_no = values.get("lot", "") if product.lot_tracked else ""
            if product.lot_tracked and not lot_no:
                raise InvalidInput(f"{product.name} 按批次管理，请填写批次")
            cost = _decimal(values.get("unit_cost", ""), "成本")
            if cost is not None:
                check_price(cost, "成本", product.base_unit)
        except DomainError as exc:
            errors.append(RowError(number, exc.message))
            continue
        key = (product.sku, warehouse.id or 0, lot_no)
        if key in seen:
            errors.append(RowError(number, f"与第 {seen[key]} 行是同一商品、仓库和批次"))
            continue
        seen[key] = number
        plan.append((product, warehouse, quantity, lot_no, production, expiry, cost))
    if errors:
        raise ImportRejected(errors)

    summary = ImportSummary(rows=len(plan))
    for done, (product, warehouse, quantity, lot_no, production, expiry, cost) in enumerate(plan, start=1):
        locked = await lock_product(session, product.id or 0)
        lot = await lot_for(session, locked, warehouse.id or 0, lot_no, production, expiry)
        delta = quantity - lot.on_hand
        if delta == 0:
            summary.unchanged += 1
        else:
            new_lot = lot.on_hand == 0
            kind = MovementKind.OPENING if delta > 0 and (cost is not None or new_lot) else MovementKind.ADJUSTMENT
            await post(
                session,
                kind=kind,
                product=locked,
                lot=lot,
                quantity=delta,
                actor=actor,
                unit_cost=(cost if cost is not None else locked.purchase_price) if kind is MovementKind.OPENING else None,
                reason="导入库存",
            )
            summary.movements += 1
            summary.created += new_lot
            summary.updated += not new_lot
        if progress and done % 200 == 0:
            progress(done, len(plan))
    if progress:
        progress(len(plan), len(plan))
    return summary


# ---------------------------------------------------------------- customers and suppliers


async def import_partners(
    session: AsyncSession, actor: User | None, kind: str, rows: Rows, progress: Progress | None = None
) -> ImportSummary:
    if kind not in ("customers", "suppliers"):
        raise InvalidInput(f"只能导入 customers 或 suppliers: {kind}")
    errors: list[RowError] = []
    plan: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for number, values in _records(rows, PARTNER_COLUMNS, ("name",)):
        if not values.get("name"):
            errors.append(RowError(number, "名称不能为空"))
            continue
        if values["name"] in seen:
            errors.append(RowError(number, f"名称与第 {seen[values['name']]} 行重复"))
            continue
        seen[values["name"]] = number
        try:
            limit = _decimal(values.get("credit_limit", ""), "信用额度") if kind == "customers" else None
        except DomainError as exc:
            errors.append(RowError(number, exc.message))
            continue
        plan.append({"name": values["name"], "contact": values.get("contact", ""), "phone": values.get("phone", ""), "credit_limit": limit})
    if errors:
        raise ImportRejected(errors)
    summary = ImportSummary(rows=len(plan))
    for done, item in enumerate(plan, start=1):
        if kind == "customers":
            _, created = await save_customer(session, actor, **item)
        else:
            item.pop("credit_limit")
            _, created = await save_supplier(session, actor, **item)
        summary.created += created
        summary.updated += not created
        if progress and done % 200 == 0:
            progress(done, len(plan))
    return summary
