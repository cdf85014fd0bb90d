from pathlib import Path

import pytest

from core.config import ConfigError, Settings


def test_defaults_and_plain_urls(tmp_path: Path):
    settings = Settings.from_env({}, env_file=None)
    assert settings.database_url.drivername == "sqlite+aiosqlite" and settings.database_url.database == "psibot.db"
    assert settings.redis_url is None and str(settings.timezone) == "Asia/Shanghai"
    pg = Settings.from_env({"PSIBOT_DATABASE_URL": "postgresql://u@h:5432/db"}, env_file=None)
    assert pg.database_url.drivername == "postgresql+asyncpg" and pg.database_url.host == "h"


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"PSIBOT_DATABASE_URL": "mysql://x"}, "PSIBOT_DATABASE_URL"),
        ({"PSIBOT_DATABASE_URL": "::not a url::"}, "PSIBOT_DATABASE_URL"),
        ({"PSIBOT_REDIS_URL": "127.0.0.1:6379"}, "PSIBOT_REDIS_URL"),
        ({"PSIBOT_TIMEZONE": "Mars/Olympus"}, "PSIBOT_TIMEZONE"),
    ],
)
def test_bad_values_name_the_variable(env, named):
    with pytest.raises(ConfigError, match=named):
        Settings.from_env(env, env_file=None)


def test_dotenv_file_is_read_and_environment_wins(tmp_path: Path):
    env_file = tmp_path / ".env"
    env_file.write_text("PSIBOT_TIMEZONE=Asia/Tokyo\nPSIBOT_REDIS_URL=redis://127.0.0.1:6379/1\n")
    settings = Settings.from_env({"PSIBOT_TIMEZONE": "UTC"}, env_file=env_file)
    assert str(settings.timezone) == "UTC" and settings.redis_url == "redis://127.0.0.1:6379/1"
