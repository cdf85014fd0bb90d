"""The wechatpy test vectors (platforms.md §1.7), against psibot's own WeCom crypto."""

import pytest

from adapters.wecom import crypto

TOKEN = "123456"
AES_KEY = "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR"
CORP_ID = "wx49f0ab532d5d035a"
ECHOSTR = "4ByGGj+sVCYcvGeQYhaKIk1o0pQRNbRjxybjTGblXrBaXlTXeOo1+bXFXDQQb1o6co6Yh9Bv41n7hOchLF6p+Q=="
ENCRYPTED_TEXT = (
    "RgqEoJj5A4EMYlLvWO1F86ioRjZfaex/gePD0gOXTxpsq5Yj4GNglrBb8I2BAJVODGajiFnXBu7mCPatfjsu6IHCrsTyeDXz"
    "F6Bv283dGymzxh6ydJRvZsryDyZbLTE7rhnus50qGPMfp2wASFlzEgMW9z1ef/RD8XzaFYgm7iTdaXpXaG4+BiYyolBug/gY"
    "Nx410cvkKR2/nPwBiT+P4hIiOAQqGp/TywZBtDh1yCF2KOd0gpiMZ5jSw3e29mTvmUHzkVQiMS6td7vXUaWOMZnYZlF3So2S"
    "jHnwh4jYFxdgpkHHqIrH/54SNdshoQgWYEvccTKe7FS709/5t6NMxuGhcUGAPOQipvWTT4dShyqio7mlsl5noTrb++x6En74"
    "9zCpQVhDpbV6GDnTbcX2e8K9QaNWHp91eBdCRxthuL0="
)
REPLY_XML = "\n".join(
    [
        "<xml>",
        "<MsgType><![CDATA[text]]></MsgType>",
        "<Content><![CDATA[test]]></Content>",
        "<FromUserName><![CDATA[wx49f0ab532d5d035a]]></FromUserName>",
        "<ToUserName><![CDATA[messense]]></ToUserName>",
        "<AgentID>1</AgentID>",
        "<CreateTime>1411525903</CreateTime>",
        "</xml>",
    ]
)
EXPECTED_ENCRYPT = (
    "9s4gMv99m88kKTh/H8IdkOiMg6bisoy3ypwy9H4hvSPe9nsGaqyw5hhSjdYbcrKk+j3nba4HMOTzHrluLBYqxgNcBqGsL8Gq"
    "xlhZgURnAtObvesEl5nZ+uBE8bviY0LWke8Zy9V/QYKxNV2FqllNXcfmstttyIkMKCCmVbCFM2JTF5wY0nFhHZSjPUL2Q1qv"
    "SUCUld+/WIXrx0oyKQmpB6o8NRrrNrsDf03oxI1p9FxUgMnwKKZeOA/uu+2IEvEBtb7muXsVbwbgX05UPPJvFurDXafG0RQy"
    "PR+mf1nDnAtQmmNOuiR5MIkdQ39xn1vWwi1O5oazPoQJz0nTYjxxEE8kv3kFxtAGVRe3ypD3WeK2XeFYFMNMpatF9XiKzHo3"
)


@pytest.fixture
def key() -> bytes:
    return crypto.aes_key(AES_KEY)


def test_url_verification_vector(key: bytes) -> None:
    sig = "dd6b9c95b495b3f7e2901bfbc76c664930ffdb96"
    assert crypto.verify_signature(TOKEN, "1411443780", "437374425", ECHOSTR, sig)
    assert not crypto.verify_signature(TOKEN, "1411443780", "437374424", ECHOSTR, sig)
    assert crypto.decrypt(key, ECHOSTR, CORP_ID) == "5927782489442352469"


def test_decrypt_message_vector(key: bytes) -> None:
    sig = "74d92dfeb87ba7c714f89d98870ae5eb62dff26d"
    assert crypto.verify_signature(TOKEN, "1411525903", "461056294", ENCRYPTED_TEXT, sig)
    xml = crypto.decrypt(key, ENCRYPTED_TEXT, CORP_ID)
    assert "<FromUserName><![CDATA[messense]]></FromUserName>" in xml
    assert "<MsgId>4363689963896700987</MsgId>" in xml


def test_encrypt_vector(key: bytes) -> None:
    encrypted = crypto.encrypt(key, REPLY_XML, CORP_ID, prefix=b"1234567890123456")
    assert encrypted == EXPECTED_ENCRYPT
    assert (
        crypto.signature(TOKEN, "1411525903", "461056294", encrypted)
        == "407518b7649e86ef23978113f92d27afa9296533"
    )
    assert crypto.decrypt(key, encrypted, CORP_ID) == REPLY_XML


def test_other_corp_and_garbage_are_refused(key: bytes) -> None:
    with pytest.raises(crypto.CryptoError):
        crypto.decrypt(key, ENCRYPTED_TEXT, "wx_other_corp")
    for bad in ("not base64!", "", "AAAA", ENCRYPTED_TEXT[:-8] + "AAAAAAA="):
        with pytest.raises(crypto.CryptoError):
            crypto.decrypt(key, bad, CORP_ID)


@pytest.mark.parametrize("bad", ["short", AES_KEY + "x", "!" * 43])
def test_bad_encoding_aes_key(bad: str) -> None:
    with pytest.raises(ValueError):
        crypto.aes_key(bad)
