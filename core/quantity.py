"""Reading and writing quantities and prices as people type them."""

from __future__ import annotations

import unicodedata
from decimal import Decimal, InvalidOperation

from core.columns import MONEY_PLACES, QTY_PLACES
from core.errors import InvalidInput

# The most one line (or one movement) may move, in base units, derived from the BIGINT columns of
# core/columns.py: every 18-digit number fits a BIGINT (2**63 - 1 ≈ 9.2 × 10**18). An amount in cents is
# quantity × price, so with prices below ¥100,000 a base unit and totals and reports adding up to
# 100,000 lines, a quantity keeps 18 - 2 - 5 - 5 = 6 digits; the quantity columns alone would allow 10.
_BIGINT_DIGITS = len(str(2**63 - 1)) - 1
_PRICE_DIGITS = 5
_SUM_DIGITS = 5
MAX_LINE_QUANTITY = Decimal(10) ** min(
    _BIGINT_DIGITS - MONEY_PLACES - _PRICE_DIGITS - _SUM_DIGITS,
    _BIGINT_DIGITS - QTY_PLACES - _SUM_DIGITS,
)


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


def format_quantity(value: Decimal) -> str:
    """12.500 → "12.5", 24.000 → "24": quantities read as people write them."""
    normalized = value.normalize()
    text = f"{normalized:f}"
    return text if "." not in text else text.rstrip("0").rstrip(".")


def format_money(value: Decimal) -> str:
    return f"¥{value:,.2f}"
