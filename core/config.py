"""Settings read from the environment (and an optional `.env` file), checked once at start."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dotenv import dotenv_values
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError


class ConfigError(ValueError):
    """A bad setting; the message names the variable and says what is expected."""


_ASYNC_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg", "postgres": "postgresql+asyncpg"}


def database_url(raw: str) -> URL:
    """A URL as a user writes it (`sqlite:///x.db`, `postgresql://u@h/db`) with psibot's own async driver."""
    try:
        url = make_url(raw)
    except ArgumentError as exc:
        raise ConfigError(f"PSIBOT_DATABASE_URL is not a database URL: {raw!r}") from exc
    backend = url.get_backend_name()
    if backend not in ("sqlite", "postgresql", "postgres"):
        raise ConfigError(f"PSIBOT_DATABASE_URL must be sqlite:/// or postgresql://, got {backend!r}")
    return url.set(drivername=_ASYNC_DRIVERS[backend])


@dataclass(frozen=True, slots=True)
class Settings:
    database_url: URL
    redis_url: str | None
    timezone: ZoneInfo
    console_token: str | None
    env: Mapping[str, str]  # everything, for the platform adapters' own variables

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, env_file: Path | None = Path(".env")) -> Settings:
        merged: dict[str, str] = {}
        if env_file is not None and env_file.is_file():
            merged.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
        merged.update(os.environ if env is None else env)

        db = database_url(merged.get("PSIBOT_DATABASE_URL") or "sqlite:///psibot.db")

        redis_url = merged.get("PSIBOT_REDIS_URL") or None
        if redis_url and not redis_url.startswith(("redis://", "rediss://", "unix://")):
            raise ConfigError(f"PSIBOT_REDIS_URL must start with redis://, rediss:// or unix://, got {redis_url!r}")

        tz_name = merged.get("PSIBOT_TIMEZONE") or "Asia/Shanghai"
        try:
            timezone = ZoneInfo(tz_name)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ConfigError(f"PSIBOT_TIMEZONE is not a known time zone: {tz_name!r}") from exc

        return cls(
            database_url=db,
            redis_url=redis_url,
            timezone=timezone,
            console_token=merged.get("PSIBOT_CONSOLE_TOKEN") or None,
            env=merged,
        )
