"""Reading and writing quantities and prices as people type them."""

from __future__ import annotations

import unicodedata
from decimal import Decimal, InvalidOperation

from core.errors import InvalidInput


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


def format_quantity(value: Decimal) -> str:
    """12.500 → "12.5", 24.000 → "24": quantities read as people write them."""
    normalized = value.normalize()
    text = f"{normalized:f}"
    return text if "." not in text else text.rstrip("0").rstrip(".")


def format_money(value: Decimal) -> str:
    return f"¥{value:,.2f}"
