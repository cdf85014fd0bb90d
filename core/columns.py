"""Column types that mean the same on SQLite and PostgreSQL: exact decimals and aware datetimes.

Exact decimals: Decimal in Python, a scaled integer in the column.

SQLite has no exact decimal type (NUMERIC becomes a float), so money, quantities and costs are stored
as integers of their smallest unit. Sums in SQL stay exact on both SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import BigInteger, DateTime
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import operators
from sqlalchemy.types import TypeDecorator

MONEY_PLACES = 2
QTY_PLACES = 3  # grams of a kilogram, millilitres of a litre
COST_PLACES = 6  # unit cost of one base unit (¥3.50 a case of 24 → 0.145833)

CENT = Decimal("0.01")


def money(value: Decimal | int | str) -> Decimal:
    """Round to cents, half up, as Chinese invoices do."""
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


class Fixed(TypeDecorator[Decimal]):
    """A Decimal stored as BIGINT of 10**-places units; more places than that is refused, never rounded."""

    impl = BigInteger
    cache_ok = True

    class Comparator(TypeDecorator.Comparator[Decimal]):
        """`a - b` and `a + b` of the same scale keep the scale, so SQL sums of differences read back right."""

        def _adapt_expression(self, op: Any, other_comparator: Any) -> Any:
            own, other = self.type, other_comparator.type
            if op in (operators.add, operators.sub) and isinstance(own, Fixed) and isinstance(other, Fixed):
                if own.places == other.places:
                    return op, own
            return super()._adapt_expression(op, other_comparator)

    comparator_factory = Comparator

    def __init__(self, places: int) -> None:
        super().__init__()
        self.places = places
        self._unit = Decimal(1).scaleb(-places)
        self._factor = 10**places

    def process_bind_param(self, value: Any, dialect: Dialect) -> int | None:
        if value is None:
            return None
        number = Decimal(value)
        scaled = number.quantize(self._unit, rounding=ROUND_HALF_UP)
        if self.places == COST_PLACES:
            number = scaled  # costs are derived by division; rounding them is expected
        elif scaled != number:
            raise ValueError(f"{value} has more than {self.places} decimal places")
        return int(scaled * self._factor)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return (Decimal(int(value)) / self._factor).quantize(self._unit)

    @property
    def python_type(self) -> type[Decimal]:
        return Decimal


Money = Fixed(MONEY_PLACES)
Quantity = Fixed(QTY_PLACES)
UnitCost = Fixed(COST_PLACES)


class AwareDateTime(TypeDecorator[datetime]):
    """Timezone-aware datetimes on every database: stored in UTC, read back as aware UTC.

    SQLite keeps no offset, so a naive value would silently change meaning; naive input is refused.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: give a timezone")
        utc_value: datetime = value.astimezone(UTC)
        return utc_value.replace(tzinfo=None) if dialect.name == "sqlite" else utc_value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    @property
    def python_type(self) -> type[datetime]:
        return datetime


def utcnow() -> datetime:
    return datetime.now(UTC)
