"""The audit log: one row per change to master data or stock, in the same transaction as the change."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel

from core.columns import utcnow
from core.models import User


def json_safe(value: Any) -> Any:
    """JSON-safe values: Decimal and dates as strings, so nothing is lost to floats."""
    if isinstance(value, Decimal | date | datetime):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value


# Audit rows are written by one prebuilt INSERT, not as `AuditEntry` objects: nothing reads them back in
# the transaction, and building the object (pydantic inspects the `at` default factory on every
# construction, ~0.4 ms) and flushing it through the unit of work is the costlier way to the same row.
_INSERT_AUDIT = insert(SQLModel.metadata.tables["audit_log"])


async def record(
    session: AsyncSession,
    actor: User | None,
    entity: str,
    entity_id: int | None,
    action: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> None:
    """Write one audit row now, in the caller's transaction."""
    await session.execute(
        _INSERT_AUDIT,
        {
            "at": utcnow(),
            "user_id": actor.id if actor else None,
            "entity": entity,
            "entity_id": entity_id,
            "action": action,
            "before": json_safe(before) if before is not None else None,
            "after": json_safe(after) if after is not None else None,
        },
    )


def changes(obj: object, updates: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Apply updates to obj; return (before, after) of the fields that really changed."""
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    for field, value in updates.items():
        old = getattr(obj, field)
        if old != value:
            before[field], after[field] = old, value
            setattr(obj, field, value)
    return before, after
