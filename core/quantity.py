"""Reading and writing quantities and prices as people type them."""

from __future__ import annotations

import unicodedata
from decimal import Decimal, InvalidOperation

from core.columns import CENT, MONEY_PLACES, QTY_PLACES, money
from core.errors import InvalidInput

# The most one line (or one movement) may move, in base units, derived from the BIGINT columns of
# core/columns.py: every 18-digit number fits a BIGINT (2**63 - 1 ≈ 9.2 × 10**18). An amount in cents is
# quantity × price, so with prices below ¥100,000 a base unit (MAX_PRICE, kept by check_price) and totals
# and reports adding up to 100,000 lines, a quantity keeps 18 - 2 - 5 - 5 = 6 digits; the quantity columns
# alone would allow 10.
_BIGINT_DIGITS = len(str(2**63 - 1)) - 1
_PRICE_DIGITS = 5
_SUM_DIGITS = 5
MAX_LINE_QUANTITY = Decimal(10) ** min(
    _BIGINT_DIGITS - MONEY_PLACES - _PRICE_DIGITS - _SUM_DIGITS,
    _BIGINT_DIGITS - QTY_PLACES - _SUM_DIGITS,
)
MAX_PRICE = Decimal(10) ** _PRICE_DIGITS  # a price or cost of one base unit stays below it


def parse_decimal(text: str | int | Decimal, what: str = "数量") -> Decimal:
    """A Decimal from user text (full-width digits and thousands separators allowed); never a float."""
    if isinstance(text, Decimal):
        return text
    if isinstance(text, int):
        return Decimal(text)
    cleaned = unicodedata.normalize("NFKC", text).strip().replace(",", "").replace("¥", "").replace("￥", "")
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise InvalidInput(f"{what}不是数字: {text}") from None
    if not value.is_finite():
        raise InvalidInput(f"{what}不是数字: {text}")
    return value


def check_quantity(quantity: Decimal, what: str = "数量", unit: str = "", *, zero_allowed: bool = False) -> None:
    """Refuse what the books cannot hold: a negative quantity, zero (unless counted), more than MAX_LINE_QUANTITY.

    Checked before any rounding or storing, so a huge number is a clear refusal, not an overflow."""
    if quantity < 0:
        raise InvalidInput(f"{what}不能为负数")
    if quantity == 0 and not zero_allowed:
        raise InvalidInput(f"{what}不能为 0")
    if quantity > MAX_LINE_QUANTITY:
        raise InvalidInput(f"{what}太大：最多 {format_quantity(MAX_LINE_QUANTITY)}{unit}", maximum=MAX_LINE_QUANTITY)


def check_price(price: Decimal, what: str, unit: str, *, per: Decimal = Decimal(1)) -> None:
    """Refuse a negative price, and one of MAX_PRICE or more a base unit, which MAX_LINE_QUANTITY was derived
    for: beyond it a line's amount may not fit its column. `price` is for `per` base units (a case's price)."""
    if price < 0:
        raise InvalidInput(f"{what}不能为负数: {format_quantity(price)}")
    per_base = money(price / per)
    if per_base >= MAX_PRICE:
        raise InvalidInput(f"{what}太高：每{unit} {format_money(per_base)}，最多 {format_money(MAX_PRICE - CENT)}")


# Base units that measure (weight, volume, length, area): what is sold by them may be split. Every other unit
# counts things (罐, 瓶, 个 …): 0.5箱 of 24 is 12罐, but 0.5罐 is stock nobody can hold or hand over.
MEASURED_UNITS = frozenset(
    "克 g 千克 kg 公斤 斤 两 吨 t 磅 lb 盎司 oz 毫升 ml 升 l 立方米 m3 毫米 mm 厘米 cm 米 m 公里 km 尺 码 平方米 m2".split()
)


def is_measured(unit: str) -> bool:
    """公斤, KG, ㎏, L, 米 …: a unit a quantity may be a fraction of."""
    return unicodedata.normalize("NFKC", unit).strip().lower() in MEASURED_UNITS


def check_whole(quantity: Decimal, unit: str, name: str) -> None:
    """Refuse a fraction of a base unit that counts things, by the product's name, before anything is stored.

    Checked on what people give (order and purchase lines, transfers, counts, opening and imported stock), not
    on every movement: a count may correct stock booked in fractions before this rule by a fraction."""
    if quantity != quantity.to_integral_value() and not is_measured(unit):
        raise InvalidInput(f"{name} 只能是整{unit}，不能是 {format_quantity(quantity)}{unit}")


def format_quantity(value: Decimal) -> str:
    """12.500 → "12.5", 24.000 → "24": quantities read as people write them."""
    normalized = value.normalize()
    text = f"{normalized:f}"
    return text if "." not in text else text.rstrip("0").rstrip(".")


def format_money(value: Decimal) -> str:
    """¥1,234.50; a negative amount (a credit, a loss) as people write it: -¥7.00, not ¥-7.00."""
    return f"-¥{-value:,.2f}" if value < 0 else f"¥{value:,.2f}"
