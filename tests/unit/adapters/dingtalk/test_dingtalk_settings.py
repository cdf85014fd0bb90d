import pytest

from adapters.dingtalk import Settings


def test_absent_means_none() -> None:
    assert Settings.from_env({"PATH": "/bin", "DINGTALK_APP_KEY": "  "}) is None


def test_minimal_and_defaults() -> None:
    settings = Settings.from_env({"DINGTALK_APP_KEY": "dingkey", "DINGTALK_APP_SECRET": "s3cret"})
    assert settings is not None
    assert (settings.robot_code, settings.mode) == ("dingkey", "http")
    assert (settings.api_base, settings.oapi_base) == (
        "https://api.dingtalk.com",
        "https://oapi.dingtalk.com",
    )
    assert "s3cret" not in repr(settings)


def test_everything_set() -> None:
    settings = Settings.from_env(
        {
            "DINGTALK_APP_KEY": "dingkey",
            "DINGTALK_APP_SECRET": "s",
            "DINGTALK_ROBOT_CODE": "robot",
            "DINGTALK_MODE": "Stream",
            "DINGTALK_API_BASE": "http://127.0.0.1:9/",
            "DINGTALK_OAPI_BASE": "http://127.0.0.1:9",
            "DINGTALK_CARD_TEMPLATE_ID": "tpl.schema",
        }
    )
    assert settings is not None
    assert (settings.robot_code, settings.mode, settings.api_base) == (
        "robot",
        "stream",
        "http://127.0.0.1:9",
    )
    assert settings.card_template_id == "tpl.schema"


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"DINGTALK_APP_KEY": "k"}, "DINGTALK_APP_SECRET"),
        ({"DINGTALK_ROBOT_CODE": "r"}, "DINGTALK_APP_KEY"),
        ({"DINGTALK_APP_KEY": "k", "DINGTALK_APP_SECRET": "s", "DINGTALK_MODE": "ws"}, "DINGTALK_MODE"),
        (
            {"DINGTALK_APP_KEY": "k", "DINGTALK_APP_SECRET": "s", "DINGTALK_API_BASE": "api.dingtalk.com"},
            "DINGTALK_API_BASE",
        ),
    ],
)
def test_partial_or_malformed_names_the_variable(env: dict[str, str], named: str) -> None:
    with pytest.raises(ValueError, match=named):
        Settings.from_env(env)
