"""The whole schema: every table module, and Alembic upgrades for any database.

This is the one place that knows every package's tables, so migrations cover core, bot and scheduler.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import URL
from sqlmodel import SQLModel

import core.documents  # noqa: F401 - table registration
import core.models  # noqa: F401 - table registration

MIGRATIONS = Path(__file__).with_name("migrations")


def metadata() -> SQLModel.metadata.__class__:
    return SQLModel.metadata


def alembic_config(url: URL) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["database_url"] = url
    return config


async def upgrade(url: URL, revision: str = "head") -> None:
    """Create or upgrade the database to the newest schema (Alembic runs its own event loop work in a thread)."""
    await asyncio.to_thread(command.upgrade, alembic_config(url), revision)
