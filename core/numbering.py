"""Document numbers people can read out on the phone (SO-20261122-0007), and the company clock.

The day in a number is the company's local day, not UTC: an order at 07:30 in Shanghai is that day's.
Numbers come from one counter row per (prefix, day), incremented by an upsert in the caller's
transaction, so concurrent writers queue on that row and never hand out the same number twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from core.columns import utcnow
from core.documents import DocumentCounter

COMPANY_TZ = ZoneInfo("Asia/Shanghai")


@dataclass(frozen=True, slots=True)
class Clock:
    """The company's time zone and the current time (fixed in tests)."""

    tz: ZoneInfo = COMPANY_TZ
    fixed_now: datetime | None = None

    def now(self) -> datetime:
        return utcnow() if self.fixed_now is None else self.fixed_now

    def today(self) -> date:
        return self.local(self.now()).date()

    def local(self, moment: datetime) -> datetime:
        return moment.astimezone(self.tz)


DEFAULT_CLOCK = Clock()


async def next_number(session: AsyncSession, prefix: str, clock: Clock = DEFAULT_CLOCK) -> str:
    """The next number of `prefix` for the company's today: PREFIX-YYYYMMDD-NNNN."""
    day = clock.today()
    dialect = session.bind.dialect.name if session.bind else "sqlite"
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = (
        insert(DocumentCounter)
        .values(prefix=prefix, day=day, last=1)
        .on_conflict_do_update(index_elements=["prefix", "day"], set_={"last": col(DocumentCounter.last) + 1})
        .returning(col(DocumentCounter.last))
    )
    last = (await session.execute(statement)).scalar_one()
    return f"{prefix}-{day:%Y%m%d}-{last:04d}"
