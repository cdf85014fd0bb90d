import pytest

from adapters.dingtalk.crypto import BadSignature, sign, signed_webhook_url, verify

NOW = 1_700_000_000_000


def test_reference_vectors() -> None:
    assert sign("1700000000000", "SEC_test_secret") == "Y2r6fEfRGij3p64GVF+/CNlZCaiH3LPZwPU9dtabvjU="
    assert sign("1577262236757", "testAppSecret") == "Dc2jA7l8d6QkQ44GaOlQvDzR5W1cS7UBLolNXURn+v4="


def test_webhook_url_is_signed_and_url_encoded() -> None:
    url = signed_webhook_url("https://oapi.dingtalk.com/robot/send?access_token=abc", "SEC_test_secret", NOW)
    assert url == (
        "https://oapi.dingtalk.com/robot/send?access_token=abc&timestamp=1700000000000"
        "&sign=Y2r6fEfRGij3p64GVF%2B%2FCNlZCaiH3LPZwPU9dtabvjU%3D"
    )


def test_verify_accepts_a_fresh_genuine_signature() -> None:
    timestamp = str(NOW - 59 * 60 * 1000)
    verify(timestamp, sign(timestamp, "secret"), "secret", NOW)


@pytest.mark.parametrize(
    ("timestamp", "signature"),
    [
        (None, "x"),
        (str(NOW), None),
        ("17e11", "x"),
        (str(NOW - 61 * 60 * 1000), sign(str(NOW - 61 * 60 * 1000), "secret")),  # stale
        (str(NOW + 61 * 60 * 1000), sign(str(NOW + 61 * 60 * 1000), "secret")),  # from the future
        (str(NOW), sign(str(NOW), "other secret")),
        (str(NOW), "不是base64"),
    ],
)
def test_verify_refuses(timestamp: str | None, signature: str | None) -> None:
    with pytest.raises(BadSignature):
        verify(timestamp, signature, "secret", NOW)
