import pytest

from adapters.feishu import Settings

GOOD = {"FEISHU_APP_ID": "cli_a1b2", "FEISHU_APP_SECRET": "s3cret", "FEISHU_VERIFICATION_TOKEN": "vtoken"}


def test_absent_is_none_and_complete_is_read() -> None:
    assert Settings.from_env({}) is None
    settings = Settings.from_env({**GOOD, "FEISHU_ENCRYPT_KEY": "ek"})
    assert settings is not None and settings.encrypt_key == "ek"
    assert settings.api_base == "https://open.feishu.cn"
    assert "s3cret" not in repr(settings)


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"FEISHU_APP_SECRET": ""}, "FEISHU_APP_SECRET"),
        ({"FEISHU_VERIFICATION_TOKEN": ""}, "FEISHU_VERIFICATION_TOKEN"),
        ({"FEISHU_APP_ID": "a1b2"}, "FEISHU_APP_ID"),
        ({"FEISHU_MODE": "websocket"}, "FEISHU_MODE"),
        ({"FEISHU_API_BASE": "open.feishu.cn"}, "FEISHU_API_BASE"),
    ],
)
def test_bad_or_partial_names_the_variable(change: dict[str, str], named: str) -> None:
    with pytest.raises(ValueError, match=named):
        Settings.from_env({**GOOD, **change})
