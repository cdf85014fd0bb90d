"""Feishu vectors from platforms.md §3.3 and §3.6, against psibot's own crypto."""

import json

import pytest

from adapters.feishu import crypto

CHALLENGE_CIPHERTEXT = (
    "AAECAwQFBgcICQoLDA0OD9f9wT+9irvSOo90S3ts0qZVMSk7U2BH/TtRYOiA40BxKtr4FBzsAl0t3kvCI8melOz6SmahLXaTlD5yU1RziReL"
    "3lqBgI9rQzaBmmNk5koQ"
)
CHALLENGE = '{"challenge":"ch-123","token":"vtoken","type":"url_verification"}'


def test_official_decrypt_vector() -> None:
    assert crypto.decrypt("test key", "P37w+VZImNgPEO1RBhJ6RtKl7n6zymIbEG1pReEzghk=") == "hello world"


def test_encrypt_with_fixed_iv_matches_vector() -> None:
    assert crypto.encrypt("test key", CHALLENGE, iv=bytes(range(16))) == CHALLENGE_CIPHERTEXT
    assert crypto.decrypt("test key", CHALLENGE_CIPHERTEXT) == CHALLENGE


def test_event_signature_vector() -> None:
    body = json.dumps({"encrypt": CHALLENGE_CIPHERTEXT}, separators=(",", ":")).encode()
    assert (
        crypto.event_signature("1700000000", "nonce-abc", "test key", body)
        == "95262d78f3ec4e77795e47c5185d9734737dda9f40228e0fe239a77023be950e"
    )


def test_card_signature_vector() -> None:
    body = b'{"open_id":"ou_1","action":{"value":{"k":"v"},"tag":"button"}}'
    assert (
        crypto.card_signature("1700000000", "n1", "vtoken", body)
        == "483f34639cc845ebabd2e7e8bc87306ad732bf68"
    )


@pytest.mark.parametrize("bad", ["***", "", "AAAA", CHALLENGE_CIPHERTEXT[:-8] + "AAAAAAA="])
def test_garbage_is_refused(bad: str) -> None:
    with pytest.raises(crypto.CryptoError):
        crypto.decrypt("test key", bad)


def test_wrong_key_is_refused() -> None:
    with pytest.raises(crypto.CryptoError):
        crypto.decrypt("other key", CHALLENGE_CIPHERTEXT)


def test_webhook_sign() -> None:
    import base64
    import hashlib
    import hmac

    expected = base64.b64encode(hmac.new(b"1700000000\nsecret", b"", hashlib.sha256).digest()).decode()
    assert crypto.webhook_sign("secret", 1700000000) == expected
