"""Company-wide preferences kept in the database, so every instance and every chat sees the same."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import record
from core.models import Setting, User

DEFAULT_NEAR_EXPIRY_DAYS = 60


async def get_setting(session: AsyncSession, key: str, default: Any) -> Any:
    setting = await session.get(Setting, key)
    return default if setting is None else setting.value


async def set_setting(session: AsyncSession, actor: User | None, key: str, value: Any) -> None:
    setting = await session.get(Setting, key)
    before = None if setting is None else {"value": setting.value}
    if setting is None:
        session.add(Setting(key=key, value=value))
    else:
        setting.value = value
    await record(session, actor, "setting", None, key, before, {"value": value})
    await session.flush()
