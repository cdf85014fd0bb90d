"""Importing products, stock, customers and suppliers from CSV (UTF-8 or GBK) and Excel files.

All or nothing: every row is checked first and a bad file imports nothing but lists every bad row
with its row number and reason. A good file imports in one transaction; re-running it updates what
exists instead of adding duplicates (stock rows set the lot's quantity through the ledger).
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import insert, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from core.audit import json_safe
from core.catalog import (
    ProductInput,
    fold,
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
    AuditEntry,
    Barcode,
    Category,
    MovementKind,
    Product,
    ProductUnit,
    Role,
    Supplier,
    User,
    Warehouse,
)
from core.preferences import bump_catalog_version
from core.quantity import parse_decimal
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


def _decode(raw: bytes) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ImportRejected([RowError(0, "文件编码无法识别：请另存为 UTF-8 或 GBK 编码的 CSV，或 .xlsx")])


def read_table(path: Path) -> list[list[Any]]:
    """Rows of a .csv (UTF-8, GBK as Excel in China writes it) or .xlsx file, header first."""
    suffix = path.suffix.lower()
    if not path.is_file():
        raise ImportRejected([RowError(0, f"找不到文件: {path}")])
    if suffix == ".xlsx":
        from openpyxl import load_workbook

        try:
            workbook = load_workbook(path, read_only=True, data_only=True)
        except Exception as exc:  # noqa: BLE001 - any unreadable workbook is the user's file problem
            raise ImportRejected([RowError(0, f"Excel 文件打不开: {exc}")]) from None
        sheet = workbook.worksheets[0]
        rows = [list(row) for row in sheet.iter_rows(values_only=True)]
        workbook.close()
        return rows
    if suffix in (".csv", ".txt"):
        text = _decode(path.read_bytes())
        return [row for row in csv.reader(io.StringIO(text))]
    raise ImportRejected([RowError(0, f"只支持 .csv 和 .xlsx 文件: {path.name}")])


def _header_map(header: list[Any], columns: dict[str, tuple[str, ...]], required: tuple[str, ...]) -> dict[str, int]:
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


def _records(rows: list[list[Any]], mapping: dict[str, int]) -> Iterator[tuple[int, dict[str, str]]]:
    for number, row in enumerate(rows[1:], start=2):
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


def parse_products(rows: list[list[Any]]) -> list[tuple[int, ProductInput]]:
    if not rows:
        raise ImportRejected([RowError(0, "文件是空的")])
    mapping = _header_map(rows[0], PRODUCT_COLUMNS, PRODUCT_REQUIRED)
    errors: list[RowError] = []
    parsed: list[tuple[int, ProductInput]] = []
    seen_sku: dict[str, int] = {}
    seen_code: dict[str, int] = {}
    for number, values in _records(rows, mapping):
        try:
            data = _product_row(values)
        except DomainError as exc:
            errors.append(RowError(number, exc.message))
            continue
        if data.sku in seen_sku:
            errors.append(RowError(number, f"编码 {data.sku} 与第 {seen_sku[data.sku]} 行重复"))
            continue
        seen_sku[data.sku] = number
        for code in data.barcodes:
            if code in seen_code:
                errors.append(RowError(number, f"条码 {code} 与第 {seen_code[code]} 行重复"))
            seen_code[code] = number
        parsed.append((number, data))
    if errors:
        raise ImportRejected(errors)
    return parsed


def _product_values(data: ProductInput, category_id: int | None, supplier_id: int | None) -> dict[str, Any]:
    per_unit = data.conversions.get(data.unit, Decimal(1)) if data.unit != data.base_unit else Decimal(1)
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


async def _name_ids(session: AsyncSession, model: type[Category] | type[Supplier], names: set[str]) -> dict[str, int]:
    ids: dict[str, int] = {}
    for chunk in _chunks(sorted(names), 500):
        for row in (await session.execute(select(model.id, model.name).where(col(model.name).in_(chunk)))).all():
            ids[row.name] = row.id
    return ids


def _chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


async def import_products(
    session: AsyncSession, actor: User | None, rows: list[list[Any]], progress: Progress | None = None
) -> ImportSummary:
    """Create or update products in bulk (set-based statements: 100,000 rows in well under a minute)."""
    if actor is not None:
        require_role(actor, {Role.PURCHASER, Role.MANAGER, Role.WAREHOUSE}, "导入商品")
    parsed = parse_products(rows)
    summary = ImportSummary(rows=len(parsed))
    total = len(parsed)

    categories = await _name_ids(session, Category, {d.category for _, d in parsed if d.category})
    for name in sorted({d.category for _, d in parsed if d.category} - categories.keys()):
        category = Category(name=name)
        session.add(category)
        await session.flush()
        categories[name] = category.id or 0
    suppliers = await _name_ids(session, Supplier, {d.preferred_supplier for _, d in parsed if d.preferred_supplier})
    missing_suppliers = {d.preferred_supplier for _, d in parsed if d.preferred_supplier} - suppliers.keys()
    errors = [
        RowError(number, f"供应商“{d.preferred_supplier}”不存在，请先导入供应商")
        for number, d in parsed
        if d.preferred_supplier in missing_suppliers
    ]

    existing: dict[str, Product] = {}
    for chunk in _chunks([d.sku for _, d in parsed], 500):
        for product in (await session.scalars(select(Product).where(col(Product.sku).in_(chunk)))).all():
            existing[product.sku] = product
    code_owner: dict[str, int] = {}
    for chunk in _chunks(sorted({c for _, d in parsed for c in d.barcodes}), 500):
        for code, product_id in (await session.execute(select(Barcode.code, Barcode.product_id).where(col(Barcode.code).in_(chunk)))).all():
            code_owner[code] = product_id
    sku_of_id = {p.id: sku for sku, p in existing.items()}
    for number, data in parsed:
        for code in data.barcodes:
            owner = code_owner.get(code)
            if owner is not None and sku_of_id.get(owner) != data.sku:
                errors.append(RowError(number, f"条码 {code} 已属于另一个商品"))
    if errors:
        raise ImportRejected(errors)

    now = utcnow()
    product_ids = {sku: product.id or 0 for sku, product in existing.items()}
    audits: list[dict[str, Any]] = []
    done = 0
    for part in _chunks(parsed, 2000):
        # A slice at a time (values, insert, ids, audit), so the row dicts of the whole file never sit in
        # memory together; the transaction is still one.
        new_rows, updates = [], []
        for _, data in part:
            values = _product_values(data, categories.get(data.category), suppliers.get(data.preferred_supplier))
            product = existing.get(data.sku)
            if product is None:
                new_rows.append({"sku": data.sku, **values, "created_at": now, "updated_at": now, "version": 1, "active": True, "avg_cost": Decimal(0)})
            else:
                before = {k: getattr(product, k) for k in values if getattr(product, k) != values[k]}
                if before:
                    updates.append({"id": product.id, **values, "updated_at": now, "version": product.version + 1})
                    audits.append(_audit(actor, "product", product.id, "import_update", before, {k: values[k] for k in before}, now))
                    summary.updated += 1
                else:
                    summary.unchanged += 1
            done += 1
            if progress and done % 1000 == 0:
                progress(done // 2, total)
        if new_rows:
            # A plain executemany, then the new ids by SKU: a bulk insert with RETURNING goes row by row
            # on SQLite, and an ORM object per new product cost more than the insert itself.
            await session.execute(insert(Product), new_rows)
            skus = [row["sku"] for row in new_rows]
            for product_id, sku in (await session.execute(select(Product.id, Product.sku).where(col(Product.sku).in_(skus)))).all():
                product_ids[sku] = product_id
            audits += [_audit(actor, "product", product_ids[sku], "import_create", None, {"sku": sku}, now) for sku in skus]
            summary.created += len(new_rows)
        if updates:
            await session.execute(update(Product), updates)
        if audits:
            await session.execute(insert(AuditEntry), audits)
            audits = []
    existing.clear()
    if summary.created or summary.updated:
        await bump_catalog_version(session)  # the search index of every instance reloads

    unit_rows, unit_updates, barcode_rows = [], [], []
    ids = [product_ids[d.sku] for _, d in parsed]
    known_units: dict[tuple[int, str], ProductUnit] = {}
    for chunk in _chunks(ids, 500):
        for unit in (await session.scalars(select(ProductUnit).where(col(ProductUnit.product_id).in_(chunk)))).all():
            known_units[(unit.product_id, unit.name)] = unit
    for _, data in parsed:
        product_id = product_ids[data.sku]
        for name, factor in data.conversions.items():
            unit = known_units.get((product_id, name))
            if unit is None:
                unit_rows.append({"product_id": product_id, "name": name, "factor": factor})
            elif unit.factor != factor:
                unit_updates.append({"id": unit.id, "factor": factor})
        for code in data.barcodes:
            if code not in code_owner:
                barcode_rows.append({"code": code, "symbology": symbology_of(code), "product_id": product_id})
    for chunk in _chunks(unit_rows, 5000):
        await session.execute(insert(ProductUnit), chunk)
    for chunk in _chunks(unit_updates, 5000):
        await session.execute(update(ProductUnit), chunk)
    for chunk in _chunks(barcode_rows, 5000):
        await session.execute(insert(Barcode), chunk)
    for chunk in _chunks(audits, 5000):
        await session.execute(insert(AuditEntry), chunk)
    if progress:
        progress(total, total)
    return summary


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
    session: AsyncSession, actor: User, rows: list[list[Any]], progress: Progress | None = None
) -> ImportSummary:
    """Set each (product, warehouse, lot) to the file's quantity through the ledger."""
    require_role(actor, {Role.WAREHOUSE, Role.MANAGER}, "导入库存")
    if not rows:
        raise ImportRejected([RowError(0, "文件是空的")])
    mapping = _header_map(rows[0], STOCK_COLUMNS, STOCK_REQUIRED)
    records = list(_records(rows, mapping))
    warehouses = {fold(w.code): w for w in (await session.scalars(select(Warehouse))).all()}
    warehouses |= {fold(w.name): w for w in warehouses.values()}
    products: dict[str, Product] = {}
    for chunk in _chunks(sorted({v["sku"] for _, v in records}), 500):
        for product in (await session.scalars(select(Product).where(col(Product.sku).in_(chunk)))).all():
            products[product.sku] = product
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
            production = _date(values.get("production_date", ""), "生产日期")
            expiry = _date(values.get("expiry_date", ""), "到期日")
            if production and expiry and expiry < production:
                raise InvalidInput(f"到期日 {expiry} 早于生产日期 {production}")
            lot_no = values.get("lot", "") if product.lot_tracked else ""
            if product.lot_tracked and not lot_no:
                raise InvalidInput(f"{product.name} 按批次管理，请填写批次")
            cost = _decimal(values.get("unit_cost", ""), "成本")
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
    session: AsyncSession, actor: User | None, kind: str, rows: list[list[Any]], progress: Progress | None = None
) -> ImportSummary:
    if kind not in ("customers", "suppliers"):
        raise InvalidInput(f"只能导入 customers 或 suppliers: {kind}")
    if not rows:
        raise ImportRejected([RowError(0, "文件是空的")])
    mapping = _header_map(rows[0], PARTNER_COLUMNS, ("name",))
    errors: list[RowError] = []
    plan: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for number, values in _records(rows, mapping):
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
