import pytest

from adapters.wecom import Settings

GOOD = {
    "WECOM_CORP_ID": "ww_corp",
    "WECOM_AGENT_ID": "1000002",
    "WECOM_SECRET": "s3cret",
    "WECOM_TOKEN": "tok",
    "WECOM_ENCODING_AES_KEY": "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR",
}


def test_absent_is_none_and_complete_is_read() -> None:
    assert Settings.from_env({"WECOM_API_BASE": "http://x"}) is None
    settings = Settings.from_env(GOOD)
    assert settings is not None and settings.agent_id == 1000002
    assert settings.api_base == "https://qyapi.weixin.qq.com/cgi-bin"
    assert "s3cret" not in repr(settings)


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"WECOM_SECRET": ""}, "WECOM_SECRET"),
        ({"WECOM_AGENT_ID": "abc"}, "WECOM_AGENT_ID"),
        ({"WECOM_ENCODING_AES_KEY": "short"}, "WECOM_ENCODING_AES_KEY"),
        ({"WECOM_API_BASE": "ftp://x"}, "WECOM_API_BASE"),
    ],
)
def test_bad_or_partial_names_the_variable(change: dict[str, str], named: str) -> None:
    with pytest.raises(ValueError, match=named):
        Settings.from_env({**GOOD, **change})
