"""Products, their units and barcodes, warehouses, customers and suppliers; and finding them again."""

from __future__ import annotations

import re
import unicodedata
import weakref
from array import array
from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from functools import lru_cache
from heapq import nsmallest
from time import monotonic
from typing import Any, NamedTuple, Protocol, TypeVar

from pypinyin import lazy_pinyin
from pypinyin.constants import RE_HANS
from pypinyin.core import Pinyin
from sqlalchemy import bindparam, or_
from sqlalchemy import select as select_columns
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from core.audit import changes, record
from core.errors import Duplicate, InvalidInput, NotFound
from core.gtin import BarcodeError, clean_text, lookup_forms, normalize_barcode, symbology_of
from core.models import (
    ZERO,
    Barcode,
    Category,
    Customer,
    Product,
    ProductUnit,
    Role,
    Supplier,
    User,
    Warehouse,
)
from core.preferences import bump_catalog_version, bumped_in, catalog_version, catalog_writes
from core.quantity import check_price, format_quantity, parse_decimal
from core.text import normalize
from core.users import require_role

CATALOG_EDITORS = {Role.PURCHASER, Role.MANAGER, Role.WAREHOUSE}
# The product columns the in-process search index holds: whoever changes one of them, or adds a
# barcode that is not all digits (the index holds those too), must call
# core.preferences.bump_catalog_version in the same transaction (save_product and import_products do).
SEARCHED_COLUMNS = {"sku", "name", "name_key", "pinyin_full", "pinyin_initials", "active"}
# Numeric retail codes stay in the barcodes table only; every other code is also in the index.
_RETAIL_SYMBOLOGIES = ("EAN-13", "UPC-A", "EAN-8")
# How long this process's search index is used without reading the catalog version again. A change
# committed by this process is searchable at once (core.preferences.catalog_writes); one committed by
# another instance, within this many seconds.
CATALOG_RECHECK_SECONDS = 1.0


# ---------------------------------------------------------------- text keys for search


def fold(text: str) -> str:
    """`core.text.normalize` without spaces: what both the query and the names are compared as, so 可口可樂
    is stored as 可口可乐 and found by 可乐. A change here changes stored keys: see migration 0006."""
    return _WHITESPACE.sub("", normalize(text))


_WHITESPACE = re.compile(r"\s+")


def pinyin_keys(folded: str) -> tuple[str, str]:
    """(full pinyin, initials) of a name as `fold` gives it: 可口可乐 → ("kekoukele", "kkkl"). Latin letters and
    digits pass through. (The callers have folded the name already for its own key; folding costs as much
    again as the pinyin of a cached name.)"""
    # The initial of a syllable is its first letter, the same as Style.FIRST_LETTER gives, checked for
    # every CJK unified ideograph.
    syllables = pinyin_syllables(folded)
    return "".join(syllables), "".join(s[0] for s in syllables)


def pinyin_syllables(folded: str) -> list[str]:
    """The syllables of a folded text, lower case: a Han character's pinyin, any other character itself
    (康师傅105g → kang, shi, fu, 1, 0, 5, g)."""
    # One conversion for both keys (pypinyin costs ~0.3 ms a name; the bulk import converts every row).
    # pypinyin splits a text into runs of Han characters and the rest, and converts each Han run on its
    # own (segmenting it into words); so the syllables of a run are cached, and the rest passes through.
    syllables: list[str] = []
    for run in _HAN_RUNS.split(folded):
        if not run:
            continue
        syllables += _run_syllables(run) if _HAN_RUNS.fullmatch(run) else list(run)
    return [s.lower() for s in syllables if s.strip()]


# the character class of pypinyin's own RE_HANS, as runs: "康师傅105g红茶" → "", 康师傅, "105g", 红茶, ""
_HAN_RUNS = re.compile("(" + RE_HANS.pattern.removeprefix("^(?:").removesuffix(")+$") + "+)")
_PINYIN = Pinyin()


@lru_cache(maxsize=1 << 16)
def _run_syllables(run: str) -> tuple[str, ...]:
    # pypinyin segments a run into words and converts each word on its own, so a word converts the
    # same in every run: 康师傅|香辣|牛肉面 shares its words with 康师傅|红烧|牛肉面. (Segmenting a word
    # alone gives the word: the segmenter takes the longest known prefix, and the word is one.)
    return tuple(syllable for word in _PINYIN.seg(run) for syllable in _word_syllables(word))


@lru_cache(maxsize=1 << 16)
def _word_syllables(word: str) -> tuple[str, ...]:
    return tuple(lazy_pinyin(word, errors=_unconverted))


def _unconverted(chars: str) -> Any:
    """Characters pypinyin has no reading for stay, one syllable each (typed Any: the stubs say str,
    pypinyin takes a list too)."""
    return list(chars)


def search_fields(name: str, spec: str = "") -> dict[str, str]:
    """Search keys over name and specification, so "可乐330" finds 可口可乐 with spec 330ml."""
    key = fold(name + spec)
    full, initials = pinyin_keys(key)
    return {"name_key": key, "pinyin_full": full, "pinyin_initials": initials}


def partner_search_key(name: str) -> str:
    """What a customer or supplier is found by: full pinyin, initials and the folded name (华联超市 → 华联, hl)."""
    key = fold(name)
    return " ".join(pinyin_keys(key)) + " " + key


# ---------------------------------------------------------------- units


def _conversion_rules(text: str) -> list[tuple[str, Fraction, str]]:
    """`1箱=12盒;1盒=4支` → [(箱, 12, 盒), (盒, 4, 支)]: one of the first is that many of the second."""
    rules = []
    for part in re.split(r"[;；,，\s]+", unicodedata.normalize("NFKC", text).strip()):
        if not part:
            continue
        match = re.fullmatch(r"(\d+(?:\.\d+)?)?\s*([^\d=\s.]+)\s*=\s*(\d+(?:\.\d+)?)\s*([^\d=\s.]+)", part)
        if not match:
            raise InvalidInput(f"换算写法看不懂: {part}（例: 1箱=24瓶）")
        count, amount = Fraction(match.group(1) or "1"), Fraction(match.group(3))
        if count <= 0 or amount <= 0:
            raise InvalidInput(f"换算数量必须大于 0: {part}")
        rules.append((match.group(2), amount / count, match.group(4)))
    return rules


def _factors_from(unit: str, rules: list[tuple[str, Fraction, str]]) -> dict[str, Fraction]:
    """How many `unit` make one of every unit the rules connect to it (exact fractions)."""
    factors: dict[str, Fraction] = {unit: Fraction(1)}
    pending = list(rules)
    while pending:
        progressed = False
        for rule in list(pending):
            big, amount, small = rule
            if small in factors and big not in factors:
                factors[big] = amount * factors[small]
            elif big in factors and small not in factors:
                factors[small] = factors[big] / amount
            elif big not in factors:
                continue
            pending.remove(rule)
            progressed = True
        if not progressed:
            missing = "、".join(sorted({r[0] for r in pending} | {r[2] for r in pending}))
            raise InvalidInput(f"换算无法换到单位 {unit}: 缺少 {missing} 的换算")
    return factors


def _exact(value: Fraction, unit: str) -> Decimal:
    decimal = Decimal(value.numerator) / Decimal(value.denominator)
    if Fraction(decimal) != value:
        raise InvalidInput(f"单位 {unit} 的换算不是有限小数，请以最小单位为基本单位")
    return decimal


def parse_conversions(text: str, base_unit: str) -> dict[str, Decimal]:
    """`1箱=24罐` or `1箱=12盒;1盒=4支` → factors in the base unit ({"箱": 48, "盒": 4} for base 支)."""
    factors = _factors_from(base_unit, _conversion_rules(text))
    return {unit: _exact(f, unit) for unit, f in factors.items() if unit != base_unit}


def resolve_units(text: str, unit: str) -> tuple[str, dict[str, Decimal]]:
    """(base unit, factors) where the base is the smallest unit connected to `unit` by the conversions."""
    factors = _factors_from(unit, _conversion_rules(text))
    base = min(factors, key=lambda u: factors[u])
    return base, {u: _exact(f / factors[base], u) for u, f in factors.items() if u != base}


async def units_of(session: AsyncSession, product_id: int) -> list[ProductUnit]:
    return list((await session.scalars(select(ProductUnit).where(ProductUnit.product_id == product_id))).all())


async def unit_factor(session: AsyncSession, product: Product, unit: str | None) -> Decimal:
    """Base units in one `unit` of the product; the base unit (or no unit) is 1."""
    if not unit or fold(unit) == fold(product.base_unit):
        return Decimal(1)
    for extra in await units_of(session, product.id or 0):
        if fold(extra.name) == fold(unit):
            return extra.factor
    known = "、".join([product.base_unit] + [u.name for u in await units_of(session, product.id or 0)])
    raise InvalidInput(f"{product.name} 没有单位“{unit}”（可用: {known}）")


async def to_base(session: AsyncSession, product: Product, quantity: Decimal, unit: str | None) -> Decimal:
    return quantity * await unit_factor(session, product, unit)


class Labelled(Protocol):
    """A product, or a row of a list about products (low stock, near expiry, reorder suggestions)."""

    @property
    def name(self) -> str: ...

    @property
    def spec(self) -> str: ...


def product_label(product: Labelled) -> str:
    """可口可乐（330ml）: the name with its spec, so two products of one name never read alike."""
    return f"{product.name}（{product.spec}）" if product.spec else product.name


async def describe_quantity(
    session: AsyncSession,
    product: Product,
    base_quantity: Decimal,
    *,
    units: Mapping[str, Decimal] | None = None,
    with_base: bool = False,
) -> str:
    """`in_units` for one product, its units read from the database unless given (several quantities of
    one product are described with one read)."""
    if units is None:
        units = {u.name: u.factor for u in await units_of(session, product.id or 0)}
    return in_units(base_quantity, product.base_unit, units, with_base=with_base)


def in_units(base_quantity: Decimal, base_unit: str, units: Mapping[str, Decimal], *, with_base: bool = False) -> str:
    """24 瓶 with 1 箱 = 24 瓶 → "1箱"; 30 → "1箱6瓶": how a warehouse person says it. `with_base` adds the
    base units when they read differently, "1箱6瓶（30瓶）", where the exact count matters (what is short).
    `units`: the extra units, name → factor in base units."""
    whole_units = sorted(
        ((name, factor) for name, factor in units.items() if factor == factor.to_integral_value() and factor > 1),
        key=lambda unit: unit[1],
        reverse=True,
    )
    plain = f"{format_quantity(base_quantity)}{base_unit}"
    if not whole_units or base_quantity < 0:
        return plain
    parts, rest = [], base_quantity
    for name, factor in whole_units:
        count = rest // factor
        if count:
            parts.append(f"{format_quantity(count)}{name}")
            rest -= count * factor
    if rest or not parts:
        parts.append(f"{format_quantity(rest)}{base_unit}")
    described = "".join(parts)
    return f"{described}（{plain}）" if with_base and described != plain else described


async def units_by_product(session: AsyncSession, product_ids: Iterable[int]) -> dict[int, dict[str, Decimal]]:
    """Every listed product's extra units in one statement, for lists that describe many products'
    quantities (临期, 缺货); a product without extra units is absent."""
    ids = set(product_ids)
    if not ids:
        return {}
    found: dict[int, dict[str, Decimal]] = {}
    rows = await session.execute(
        select(col(ProductUnit.product_id), col(ProductUnit.name), col(ProductUnit.factor)).where(
            col(ProductUnit.product_id).in_(ids)
        )
    )
    for product_id, name, factor in rows:
        found.setdefault(product_id, {})[name] = factor
    return found


# ---------------------------------------------------------------- products


@dataclass(slots=True)
class ProductInput:
    """What a person gives for a product; prices and stock lines are per `unit` (default: base unit)."""

    sku: str
    name: str
    base_unit: str
    spec: str = ""
    category: str = ""
    brand: str = ""
    unit: str = ""  # the unit prices and stock lines are given in
    conversions: dict[str, Decimal] = field(default_factory=dict)  # unit → base units
    barcodes: list[str] = field(default_factory=list)
    sale_price: Decimal = ZERO
    purchase_price: Decimal = ZERO
    safety_stock: Decimal = ZERO
    max_stock: Decimal | None = None
    shelf_life_days: int | None = None
    near_expiry_days: int | None = None
    lot_tracked: bool | None = None  # default: tracked when it has a shelf life
    preferred_supplier: str = ""
    active: bool = True


def validate_product_input(data: ProductInput) -> None:
    if not data.sku.strip():
        raise InvalidInput("编码(SKU)不能为空")
    if not data.name.strip():
        raise InvalidInput("名称不能为空")
    if not data.base_unit.strip():
        raise InvalidInput("单位不能为空")
    for label, value in (("售价", data.sale_price), ("进价", data.purchase_price), ("安全库存", data.safety_stock)):
        if value < 0:
            raise InvalidInput(f"{label}不能为负数: {value}")
    if data.max_stock is not None and data.max_stock < data.safety_stock:
        raise InvalidInput(f"最高库存 {data.max_stock} 低于安全库存 {data.safety_stock}")
    for label, days in (("保质期天数", data.shelf_life_days), ("临期提醒天数", data.near_expiry_days)):
        if days is not None and days < 0:
            raise InvalidInput(f"{label}不能为负数: {days}")
    if data.unit and data.unit != data.base_unit and data.unit not in data.conversions:
        raise InvalidInput(f"单位“{data.unit}”没有换算（例: 1{data.unit}=24{data.base_unit}）")
    for label, price in (("售价", data.sale_price), ("进价", data.purchase_price)):
        check_price(price, label, data.base_unit, per=input_factor(data))


def input_factor(data: ProductInput) -> Decimal:
    """Base units in one `data.unit`: the prices and stock lines given are per it."""
    return data.conversions.get(data.unit, Decimal(1)) if data.unit and data.unit != data.base_unit else Decimal(1)


async def _category_id(session: AsyncSession, name: str) -> int | None:
    if not name.strip():
        return None
    category = await session.scalar(select(Category).where(Category.name == name.strip()))
    if category is None:
        category = Category(name=name.strip())
        session.add(category)
        await session.flush()
    return category.id


async def _supplier_id(session: AsyncSession, name: str) -> int | None:
    if not name.strip():
        return None
    supplier = await find_supplier(session, name)
    return supplier.id


async def save_product(session: AsyncSession, actor: User | None, data: ProductInput) -> tuple[Product, bool]:
    """Create the product, or update the one with this SKU. Returns (product, created).

    `actor` None is the system itself (demo seed, migrations); people must have a catalog role.
    """
    if actor is not None:
        require_role(actor, CATALOG_EDITORS, "维护商品资料")
    validate_product_input(data)
    per_unit = input_factor(data)
    values: dict[str, Any] = {
        "name": data.name.strip(),
        "spec": data.spec.strip(),
        "brand": data.brand.strip(),
        "base_unit": data.base_unit.strip(),
        "category_id": await _category_id(session, data.category),
        "sale_price": (data.sale_price / per_unit).quantize(Decimal("0.01")),
        "purchase_price": (data.purchase_price / per_unit).quantize(Decimal("0.01")),
        "safety_stock": data.safety_stock * per_unit,
        "max_stock": None if data.max_stock is None else data.max_stock * per_unit,
        "shelf_life_days": data.shelf_life_days,
        "near_expiry_days": data.near_expiry_days,
        "lot_tracked": bool(data.shelf_life_days) if data.lot_tracked is None else data.lot_tracked,
        "preferred_supplier_id": await _supplier_id(session, data.preferred_supplier),
        "active": data.active,
        **search_fields(data.name, data.spec),
    }
    sku = data.sku.strip()
    product = await session.scalar(select(Product).where(Product.sku == sku))
    created = product is None
    if product is None:
        product = Product(sku=sku, **values)
        session.add(product)
        await session.flush()
        await record(session, actor, "product", product.id, "create", None, {"sku": sku, **values})
        await bump_catalog_version(session)
    else:
        before, after = changes(product, values)
        if after:
            product.version += 1
            await record(session, actor, "product", product.id, "update", before, after)
            if after.keys() & SEARCHED_COLUMNS:
                await bump_catalog_version(session)
    await _save_units(session, actor, product, data.conversions)
    await _save_barcodes(session, actor, product, data.barcodes)
    return product, created


async def _save_units(session: AsyncSession, actor: User | None, product: Product, factors: dict[str, Decimal]) -> None:
    existing = {u.name: u for u in await units_of(session, product.id or 0)}
    for name, factor in factors.items():
        unit = existing.get(name)
        if unit is None:
            session.add(ProductUnit(product_id=product.id or 0, name=name, factor=factor))
            await record(session, actor, "product_unit", product.id, "create", None, {"unit": name, "factor": factor})
        elif unit.factor != factor:
            await record(session, actor, "product_unit", product.id, "update", {"factor": unit.factor}, {"factor": factor})
            unit.factor = factor
    await session.flush()


async def _save_barcodes(session: AsyncSession, actor: User | None, product: Product, codes: Sequence[str]) -> None:
    for raw in codes:
        try:
            code = normalize_barcode(raw)
        except BarcodeError as exc:
            raise InvalidInput(str(exc)) from None
        owner = await session.scalar(select(Barcode).where(Barcode.code == code))
        if owner is None:
            session.add(Barcode(code=code, symbology=symbology_of(code), product_id=product.id or 0))
            await record(session, actor, "barcode", product.id, "create", None, {"code": code})
            if not code.isdigit():
                await bump_catalog_version(session)
        elif owner.product_id != product.id:
            other = await session.get(Product, owner.product_id)
            raise Duplicate(f"条码 {code} 已属于商品 {other.sku if other else owner.product_id}")
    await session.flush()


async def get_product(session: AsyncSession, product_id: int) -> Product:
    product = await session.get(Product, product_id)
    if product is None:
        raise NotFound(f"没有这个商品: {product_id}")
    return product


async def product_by_sku(session: AsyncSession, sku: str) -> Product | None:
    return await session.scalar(select(Product).where(Product.sku == unicodedata.normalize("NFKC", sku).strip()))


async def product_by_barcode(session: AsyncSession, text: str) -> Product | None:
    """The product with this code; a UPC-A and its EAN-13 form (leading 0) find the same product."""
    forms = lookup_forms(text)
    if not forms:
        return None
    return await session.scalar(
        select(Product).join(Barcode, col(Barcode.product_id) == Product.id).where(col(Barcode.code).in_(forms))
    )


async def barcodes_of(session: AsyncSession, product_id: int) -> list[str]:
    return list((await session.scalars(select(Barcode.code).where(Barcode.product_id == product_id))).all())


@dataclass(frozen=True, slots=True)
class Match:
    product: Product
    score: int  # higher is better
    reason: str  # "barcode", "sku", "name", "pinyin_initials", "pinyin", "homophone"


class _SearchKeys(Protocol):
    sku: str
    name_key: str
    pinyin_initials: str
    pinyin_full: str


def _score(product: _SearchKeys, q: str) -> tuple[int, str] | None:
    """Exact before prefix before substring; among substrings, the earlier match ranks higher."""
    name = product.name_key
    if name == q:
        return 900, "name"
    if name.startswith(q):
        return 800, "name"
    if q in name:
        return 700 - min(name.index(q), 50), "name"
    if product.pinyin_initials == q:
        return 650, "pinyin_initials"
    if product.pinyin_initials.startswith(q):
        return 600, "pinyin_initials"
    if product.pinyin_full == q:
        return 580, "pinyin"
    if product.pinyin_full.startswith(q):
        return 550, "pinyin"
    if q in product.pinyin_full:
        return 450 - min(product.pinyin_full.index(q), 50), "pinyin"
    if q in product.pinyin_initials:
        return 400 - min(product.pinyin_initials.index(q), 50), "pinyin_initials"
    if q in fold(product.sku):
        return 350, "sku"
    return None


# ---------------------------------------------------------------- the in-process search index


_SEP = "\n"  # never in a folded query: fold() removes every whitespace character


class _Column:
    """One search key of every product as a single string: "\nvalue0\nvalue1\n…\n".

    `str.find` scans it at C speed and `bisect` over the row start offsets maps a position to its
    row. Scanning left to right and resuming at the next row after each hit gives exactly the first
    occurrence in every row that has one (a match never spans a separator).
    """

    __slots__ = ("text", "starts")

    def __init__(self, values: Sequence[str]) -> None:
        self.text = _SEP + _SEP.join(values) + _SEP
        self.starts = array("q", [0]) * (len(values) + 1)  # starts[n]: one past the last separator
        position = 1
        for row, value in enumerate(values):
            self.starts[row] = position
            position += len(value) + 1
        self.starts[len(values)] = position

    def length(self, row: int) -> int:
        return self.starts[row + 1] - self.starts[row] - 1

    def value(self, row: int) -> str:
        return self.text[self.starts[row] : self.starts[row + 1] - 1]

    def first_offsets(self, pattern: re.Pattern[str]) -> dict[int, int]:
        """row → offset of the first occurrence of q in that row's value, for the pattern `q[^\n]*`.

        Each match runs to the end of its row, so the scan finds exactly one match per row: the first.
        """
        starts = self.starts
        return {
            (row := bisect_right(starts, position) - 1): position - starts[row]
            for position in [match.start() for match in pattern.finditer(self.text)]
        }

    def row_equal_to(self, value: str) -> int | None:
        if _SEP in value:
            return None
        position = self.text.find(_SEP + value + _SEP)
        return None if position < 0 else bisect_right(self.starts, position + 1) - 1


class SearchIndex:
    """The search keys of every product (active or not) at one catalog version; ranks as `_score`.

    About 100 bytes a product: five joined strings (sku, folded sku, name_key, both pinyin keys),
    their row offsets, ids and name lengths in arrays, an active flag per byte.
    """

    def __init__(self, version: Any, rows: Sequence[Sequence[Any]], text_codes: Sequence[tuple[str, int]] = ()) -> None:
        # rows: (id, sku, name, name_key, pinyin_full, pinyin_initials, active), any order;
        # text_codes: (code, product id) of the codes that are not all digits (Code 128, QR text)
        self.version = version
        # Used without reading the version until then, while this process's catalog writes stand at
        # `trusted_writes` (see `search_index`).
        self.trusted_until = 0.0
        self.trusted_writes = -1
        self.text_codes = {code.casefold(): product_id for code, product_id in text_codes if not code.isdigit()}
        self.ids = array("q", [r[0] for r in rows])
        self.name_lengths = array("l", [len(r[2]) for r in rows])
        self.active = bytes(bool(r[6]) for r in rows)
        self.skus = _Column([r[1] for r in rows])
        self.folded_skus = _Column([fold(r[1]) for r in rows])
        self.names = _Column([r[3] for r in rows])
        self.full = _Column([r[4] for r in rows])
        self.initials = _Column([r[5] for r in rows])

    def __len__(self) -> int:
        return len(self.ids)

    def by_text_code(self, text: str) -> int | None:
        """The product with this Code 128 / QR text code (any letter case); numbers are the database's."""
        code = clean_text(text)
        return None if not code or code.isdigit() else self.text_codes.get(code.casefold())

    def by_sku(self, sku: str) -> tuple[int, bool] | None:
        """(id, active) of the product with exactly this SKU."""
        row = self.skus.row_equal_to(sku)
        return None if row is None else (self.ids[row], bool(self.active[row]))

    def search(self, q: str, *, limit: int, include_inactive: bool = False) -> list[tuple[int, int, str]]:
        """[(product id, score, reason)] for a folded text, best first: `_score`'s scores, ties by
        (name length, SKU) as `search_products` always ordered them. Every match is scored, none capped."""
        if not q or _SEP in q or limit <= 0:
            return []
        active, names, n = self.active, self.names, len(q)
        pattern = re.compile(re.escape(q) + "[^\n]*")
        scores: dict[int, int] = {}
        reasons: dict[int, str] = {}

        def settled(above: int) -> bool:
            """`limit` rows already score above what the keys not yet scanned can give: stop there."""
            return sum(1 for score in scores.values() if score > above) >= limit

        # Keys in the order of `_score`'s tiers: names 650–900, initials as a prefix 600–650, then full
        # pinyin 550–580 as a prefix, 400–450 inside; initials inside 350–400; SKU 350.
        for row, offset in names.first_offsets(pattern).items():
            if include_inactive or active[row]:
                scores[row] = (900 if names.length(row) == n else 800) if offset == 0 else 700 - min(offset, 50)
                reasons[row] = "name"
        if not settled(650):
            initials = {r: o for r, o in self.initials.first_offsets(pattern).items() if r not in scores}
            for row, offset in initials.items():
                if offset == 0 and (include_inactive or active[row]):
                    scores[row] = 650 if self.initials.length(row) == n else 600
                    reasons[row] = "pinyin_initials"
            if not settled(580):
                full = {r: o for r, o in self.full.first_offsets(pattern).items() if r not in scores}
                for row in (initials.keys() | full.keys()) - scores.keys():
                    if not (include_inactive or active[row]):
                        continue
                    at_initials, at_full = initials.get(row), full.get(row)
                    if at_full == 0:
                        scores[row], reasons[row] = (580 if self.full.length(row) == n else 550), "pinyin"
                    elif at_full is not None:
                        scores[row], reasons[row] = 450 - min(at_full, 50), "pinyin"
                    elif at_initials is not None:
                        scores[row], reasons[row] = 400 - min(at_initials, 50), "pinyin_initials"
                if not settled(350):
                    for row in self.folded_skus.first_offsets(pattern):
                        if row not in scores and (include_inactive or active[row]):
                            scores[row], reasons[row] = 350, "sku"
        # One integer per candidate orders by (-score, name length); only the rows tied with the
        # `limit`-th need their SKU to break ties.
        lengths = self.name_lengths
        keyed = [((1000 - score) << 32 | lengths[row], row) for row, score in scores.items()]
        if len(keyed) > limit:
            cutoff = nsmallest(limit, keyed)[-1][0]
            keyed = [item for item in keyed if item[0] <= cutoff]
        keyed.sort(key=lambda item: (item[0], self.skus.value(item[1])))
        return [(self.ids[row], scores[row], reasons[row]) for _, row in keyed[:limit]]


    def homophones(self, folded: str, *, limit: int, include_inactive: bool = False) -> list[tuple[int, int, str]]:
        """[(product id, score, "homophone")] of the names that sound like the text, syllable for syllable:
        a pinyin input method's slip types a character of the same sound (可口可了, 王老急, 雪币), the
        commonest typo in Chinese. Scored 200-250, below any match of the text as typed (SKU: 350), so
        callers ask for it only when that finds nothing."""
        sounds = pinyin_syllables(folded)
        pattern = re.compile(re.escape("".join(sounds)) + "[^\n]*")
        scored: list[tuple[int, int, int]] = []  # (score, name length, row)
        for row in self.full.first_offsets(pattern):
            if not (include_inactive or self.active[row]):
                continue
            # The joined pinyin also matches across syllables (xuebi in wangwang·xue·bing): keep whole ones.
            at = _sublist_at(pinyin_syllables(self.names.value(row)), sounds)
            if at is not None:
                scored.append((250 if at == 0 else 200, self.name_lengths[row], row))
        scored.sort(key=lambda item: (-item[0], item[1], self.skus.value(item[2])))
        return [(self.ids[row], score, "homophone") for score, _, row in scored[:limit]]


HOMOPHONE_MIN_HANS = 2  # one character's sound (ke, le) is in too many names to stand for one of them


def _sublist_at(items: list[str], part: list[str]) -> int | None:
    """Where `part` first stands in `items` as a run, or None."""
    n = len(part)
    return next((i for i in range(len(items) - n + 1) if items[i : i + n] == part), None)


# One index per database: SQLite by file (its read and write engines share it), others by engine.
_FILE_INDEXES: dict[str, SearchIndex] = {}
_ENGINE_INDEXES: weakref.WeakKeyDictionary[Any, SearchIndex] = weakref.WeakKeyDictionary()


async def search_index(session: AsyncSession) -> SearchIndex:
    """This process's index of the catalog, reloaded when the database's catalog version moved on.

    The version (one primary-key read) is read at most once every CATALOG_RECHECK_SECONDS, and at
    once after a transaction of this process bumped it (committed or rolled back): so another
    instance's change is searchable within that time, this process's own as soon as it commits. An
    index read or confirmed by a transaction that bumped the version itself is not trusted beyond it.
    The version is read before the rows, so an index is never newer than the version it is stored
    with (at worst it is reloaded once more than needed).
    """
    engine = session.get_bind().engine
    path = engine.url.database if engine.dialect.name == "sqlite" else None
    file_key = path if path and path != ":memory:" else None
    index = _FILE_INDEXES.get(file_key) if file_key else _ENGINE_INDEXES.get(engine)
    writes, now = catalog_writes(), monotonic()  # taken before the read: a write during it counts
    if index is not None and index.trusted_writes == writes and now < index.trusted_until:
        return index
    version = await catalog_version(session)
    if index is None or index.version != version:
        index = await _load_index(session, version)
        if file_key:
            _FILE_INDEXES.pop(file_key, None)
            while len(_FILE_INDEXES) >= 8:  # tests open many small databases; a bot has one
                _FILE_INDEXES.pop(next(iter(_FILE_INDEXES)))
            _FILE_INDEXES[file_key] = index
        else:
            _ENGINE_INDEXES[engine] = index
    if not bumped_in(session):
        index.trusted_until, index.trusted_writes = now + CATALOG_RECHECK_SECONDS, writes
    return index


_INDEX_ROWS = select_columns(
    *[col(c) for c in (Product.id, Product.sku, Product.name, Product.name_key, Product.pinyin_full,
                       Product.pinyin_initials, Product.active)]
)
_TEXT_CODES = select_columns(col(Barcode.code), col(Barcode.product_id)).where(
    col(Barcode.symbology).not_in(_RETAIL_SYMBOLOGIES)
)


async def _load_index(session: AsyncSession, version: Any) -> SearchIndex:
    rows = (await session.execute(_INDEX_ROWS)).all()
    text_codes = await session.execute(_TEXT_CODES)
    return SearchIndex(version, rows, [(code, product_id) for code, product_id in text_codes.all()])


class Ranked(NamedTuple):
    """A search hit before its product is loaded."""

    product_id: int
    score: int  # higher is better
    reason: str  # "barcode", "sku", "name", "pinyin_initials", "pinyin", "homophone"


async def rank_products(
    session: AsyncSession, text: str, *, limit: int = 10, include_inactive: bool = False
) -> list[Ranked]:
    """Exact barcode, exact SKU, then name substring, pinyin initials and full pinyin; best first; when
    none of these finds anything, the names that sound like the text (`homophones`).

    Only a number is looked up in the barcodes table; text codes (Code 128, QR) are in the index, so a
    name such as 可乐 costs no query but the index's (at most one a second, see `search_index`). No
    product is loaded: a caller that needs only the winner's id (the stock card) reads nothing more.
    """
    q = fold(text)
    if not q:
        return []
    by_number = await product_by_barcode(session, q) if q.isdigit() else None
    if by_number is not None:
        return [Ranked(by_number.id or 0, 1000, "barcode")]
    index = await search_index(session)
    by_text_code = index.by_text_code(text)
    if by_text_code is not None:
        return [Ranked(by_text_code, 1000, "barcode")]
    by_sku = index.by_sku(unicodedata.normalize("NFKC", text).strip())
    if by_sku is not None and (by_sku[1] or include_inactive):
        return [Ranked(by_sku[0], 1000, "sku")]
    hits = index.search(q, limit=limit, include_inactive=include_inactive)
    if not hits and sum(map(len, _HAN_RUNS.findall(q))) >= HOMOPHONE_MIN_HANS:
        hits = index.homophones(q, limit=limit, include_inactive=include_inactive)
    return [Ranked(*hit) for hit in hits]


_PRODUCTS_BY_IDS = select(Product).where(col(Product.id).in_(bindparam("ids", expanding=True)))


async def products_by_ids(session: AsyncSession, ids: Sequence[int]) -> dict[int, Product]:
    """The products with these ids that this transaction sees (one statement, none for one already loaded)."""
    if len(ids) == 1:
        product = await session.get(Product, ids[0])
        return {} if product is None else {ids[0]: product}
    if not ids:
        return {}
    return {product.id or 0: product for product in (await session.scalars(_PRODUCTS_BY_IDS, {"ids": list(ids)})).all()}


async def search_products(
    session: AsyncSession, text: str, *, limit: int = 10, include_inactive: bool = False
) -> list[Match]:
    """`rank_products` with the products loaded.

    A product the index knows but this transaction does not see yet (committed by another
    transaction after this one's snapshot) is left out.
    """
    ranked = await rank_products(session, text, limit=limit, include_inactive=include_inactive)
    products = await products_by_ids(session, [hit.product_id for hit in ranked])
    return [Match(products[hit.product_id], hit.score, hit.reason) for hit in ranked if hit.product_id in products]


async def closest_names(session: AsyncSession, text: str, *, limit: int = 3) -> list[Product]:
    """Products whose names share the most characters with the text, for a helpful "没有找到"."""
    q = fold(text)
    chars = {c for c in q if not c.isspace()}
    if not chars:
        return []
    conditions = [col(Product.name_key).contains(c) for c in list(chars)[:8]]
    if q.isascii():
        conditions += [col(Product.pinyin_initials).contains(q[:2]), col(Product.pinyin_full).contains(q[:3])]
    candidates = (
        await session.scalars(select(Product).where(or_(*conditions), col(Product.active).is_(True)).limit(2000))
    ).all()

    def overlap(product: Product) -> float:
        target = product.name_key if not q.isascii() else product.pinyin_full
        common = sum(1 for c in set(target) if c in chars)
        return common / max(len(set(target) | chars), 1)

    ranked = sorted(candidates, key=lambda p: (-overlap(p), len(p.name)))
    return [p for p in ranked[:limit] if overlap(p) > 0]


# ---------------------------------------------------------------- warehouses, partners


async def save_warehouse(session: AsyncSession, actor: User | None, code: str, name: str) -> Warehouse:
    if actor is not None:
        require_role(actor, {Role.MANAGER}, "维护仓库")
    if not code.strip() or not name.strip():
        raise InvalidInput("仓库编码和名称都不能为空")
    warehouse = await session.scalar(select(Warehouse).where(Warehouse.code == code.strip()))
    if warehouse is None:
        warehouse = Warehouse(code=code.strip(), name=name.strip())
        session.add(warehouse)
        await session.flush()
        await record(session, actor, "warehouse", warehouse.id, "create", None, {"code": code, "name": name})
    else:
        before, after = changes(warehouse, {"name": name.strip()})
        if after:
            await record(session, actor, "warehouse", warehouse.id, "update", before, after)
    return warehouse


async def list_warehouses(session: AsyncSession) -> list[Warehouse]:
    return list((await session.scalars(select(Warehouse).where(col(Warehouse.active).is_(True)).order_by(col(Warehouse.id)))).all())


async def find_warehouse(session: AsyncSession, text: str) -> Warehouse:
    """By code, exact name, or a unique part of the name ("门店" for "门店仓")."""
    q = fold(text)
    warehouses = await list_warehouses(session)
    for warehouse in warehouses:
        if fold(warehouse.code) == q or fold(warehouse.name) == q:
            return warehouse
    partial = [w for w in warehouses if q and (q in fold(w.name) or fold(w.name) in q)]
    if len(partial) == 1:
        return partial[0]
    names = "、".join(w.name for w in warehouses)
    if partial:
        raise InvalidInput(f"“{text}”对应多个仓库: {'、'.join(w.name for w in partial)}")
    raise NotFound(f"没有找到仓库“{text}”（现有: {names}）")


_Partner = TypeVar("_Partner", Customer, Supplier)


async def _save_partner(
    session: AsyncSession, actor: User | None, model: type[_Partner], values: dict[str, Any]
) -> tuple[_Partner, bool]:
    name = values["name"].strip()
    if not name:
        raise InvalidInput("名称不能为空")
    values = {**values, "name": name, "search_key": partner_search_key(name)}
    entity = "customer" if model is Customer else "supplier"
    partner = await session.scalar(select(model).where(model.name == name))
    if partner is None:
        partner = model(**values)
        session.add(partner)
        await session.flush()
        await record(session, actor, entity, partner.id, "create", None, values)
        return partner, True
    before, after = changes(partner, values)
    if after:
        await record(session, actor, entity, partner.id, "update", before, after)
    return partner, False


async def save_customer(
    session: AsyncSession,
    actor: User | None,
    *,
    name: str,
    contact: str = "",
    phone: str = "",
    credit_limit: Decimal | None = None,
) -> tuple[Customer, bool]:
    if actor is not None:
        require_role(actor, {Role.SALES, Role.MANAGER}, "维护客户资料")
    if credit_limit is not None and credit_limit < 0:
        raise InvalidInput(f"信用额度不能为负数: {credit_limit}")
    return await _save_partner(
        session, actor, Customer, {"name": name, "contact": contact, "phone": phone, "credit_limit": credit_limit}
    )


async def save_supplier(
    session: AsyncSession, actor: User | None, *, name: str, contact: str = "", phone: str = ""
) -> tuple[Supplier, bool]:
    if actor is not None:
        require_role(actor, {Role.PURCHASER, Role.MANAGER}, "维护供应商资料")
    return await _save_partner(session, actor, Supplier, {"name": name, "contact": contact, "phone": phone})


async def _find_partner(session: AsyncSession, model: type[_Partner], text: str, label: str) -> _Partner:
    q = fold(text)
    if not q:
        raise InvalidInput(f"请写{label}名称")
    exact = await session.scalar(select(model).where(model.name == unicodedata.normalize("NFKC", text).strip()))
    if exact is not None:
        return exact
    candidates = (await session.scalars(select(model).where(col(model.search_key).contains(q)).limit(20))).all()
    if not candidates and sum(map(len, _HAN_RUNS.findall(q))) >= HOMOPHONE_MIN_HANS:
        candidates = await _partners_sounding_like(session, model, q)
    if len(candidates) == 1:
        return candidates[0]
    if candidates:
        starts = [c for c in candidates if fold(c.name).startswith(q)]
        if len(starts) == 1:
            return starts[0]
        raise InvalidInput(f"“{text}”对应多个{label}: {'、'.join(c.name for c in candidates[:5])}")
    near = await _closest_partners(session, model, q)
    if near:
        raise NotFound(f"没有找到{label}“{text}”，是不是：{'、'.join(near)}？")
    raise NotFound(f"没有找到{label}“{text}”")


async def _partners_sounding_like(session: AsyncSession, model: type[_Partner], folded: str) -> Sequence[_Partner]:
    """Partners whose name sounds like the text, syllable for syllable (华连 for 华联超市), as products'."""
    sounds = pinyin_syllables(folded)
    rows = (await session.scalars(select(model).where(col(model.search_key).contains("".join(sounds))).limit(20))).all()
    return [row for row in rows if _sublist_at(pinyin_syllables(fold(row.name)), sounds) is not None]


async def _closest_partners(session: AsyncSession, model: type[_Partner], folded: str, limit: int = 3) -> list[str]:
    """Names sharing the most characters with a name not found (a typo: 华连 for 华联超市)."""
    chars = {c for c in folded if not c.isspace()}
    if not chars or folded.isascii():
        return []
    conditions = [col(model.search_key).contains(c) for c in list(chars)[:8]]
    names = (await session.scalars(select(model.name).where(or_(*conditions)).limit(200))).all()

    def overlap(name: str) -> float:
        own = set(fold(name))
        return len(own & chars) / len(own | chars)

    ranked = sorted((name for name in names if overlap(name) > 0), key=lambda name: (-overlap(name), len(name)))
    return ranked[:limit]


async def find_customer(session: AsyncSession, text: str) -> Customer:
    """By full name, or a short name that matches one customer only (华联 → 华联超市), or its pinyin."""
    return await _find_partner(session, Customer, text, "客户")


async def find_supplier(session: AsyncSession, text: str) -> Supplier:
    return await _find_partner(session, Supplier, text, "供应商")


def parse_quantity_text(text: str) -> Decimal:
    value = parse_decimal(text, "数量")
    if value < 0:
        raise InvalidInput(f"数量不能为负数: {text}")
    return value
