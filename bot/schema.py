"""The whole schema: every table module, and Alembic upgrades for any database.

This is the one place that knows every package's tables, so migrations cover them all (core's, among
them the alerts', and the outbox).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import MetaData
from sqlalchemy.engine import URL
from sqlmodel import SQLModel

import bot.outbox  # noqa: F401 - table registration
import core.alerts.models  # noqa: F401 - table registration
import core.documents  # noqa: F401 - table registration
import core.models  # noqa: F401 - table registration

MIGRATIONS = Path(__file__).with_name("migrations")


def metadata() -> MetaData:
    return SQLModel.metadata


def alembic_config(url: URL, pg_schema: str | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["database_url"] = url
    config.attributes["pg_schema"] = pg_schema
    return config


async def upgrade(url: URL, revision: str = "head", *, pg_schema: str | None = None) -> None:
    """Create or upgrade the database to the newest schema (Alembic runs its own event loop work in a thread)."""
    await asyncio.to_thread(command.upgrade, alembic_config(url, pg_schema), revision)
