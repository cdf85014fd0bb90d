import pytest

from adapters.feishu import Settings, receive_id_type
from bot.model import Target

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
        ({"FEISHU_MODE": "stream"}, "FEISHU_MODE"),
        ({"FEISHU_MODE": "websocket", "FEISHU_APP_SECRET": ""}, "FEISHU_APP_SECRET"),
        ({"FEISHU_API_BASE": "open.feishu.cn"}, "FEISHU_API_BASE"),
    ],
)
def test_bad_or_partial_names_the_variable(change: dict[str, str], named: str) -> None:
    with pytest.raises(ValueError, match=named):
        Settings.from_env({**GOOD, **change})


def test_websocket_mode_needs_only_the_app_credentials() -> None:
    settings = Settings.from_env(
        {"FEISHU_APP_ID": "cli_a1b2", "FEISHU_APP_SECRET": "s3cret", "FEISHU_MODE": "WebSocket"}
    )
    assert settings is not None and settings.mode == "websocket" and settings.verification_token == ""
    assert Settings.from_env(GOOD).mode == "webhook"  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="FEISHU_APP_ID"):
        Settings.from_env({"FEISHU_MODE": "websocket"})


def test_receive_id_type_follows_the_shape_of_the_bound_id() -> None:
    assert receive_id_type(Target("feishu", "user", "ou_7d8a6e6df7621556ce0d21922b676706")) == "open_id"
    assert receive_id_type(Target("feishu", "user", "on_94a1ee5551019f18cd73d9f111898cf2")) == "union_id"
    assert receive_id_type(Target("feishu", "user", "zhangsan")) == "user_id"
    assert receive_id_type(Target("feishu", "user", "zhang.san@example.com")) == "email"
    assert receive_id_type(Target("feishu", "chat", "oc_a0553eda9014c201e6969b478895c230")) == "chat_id"
