"""Feishu callback signatures and encryption (pure functions).

Rules (open.feishu.cn "配置 Encrypt Key" / "事件订阅概述" / "卡片回传交互"):
- Events and `card.action.trigger` (when an Encrypt Key is set): X-Lark-Signature = hex SHA-256 of
  timestamp + nonce + encrypt_key + the raw body bytes (plain hash, not HMAC).
- The older card request URL: X-Lark-Signature = hex SHA-1 of timestamp + nonce + verification_token +
  raw body.
- Encryption: key = SHA-256(encrypt_key); `encrypt` = base64(IV(16 random bytes) || AES-256-CBC with
  PKCS#7 to 16-byte blocks).
- Custom bot webhooks: sign = base64(HMAC-SHA256(key = f"{timestamp}\\n{secret}", message = b"")).
Feishu documents no timestamp window (the official SDK checks none), so none is applied; replays are
harmless because the engine dedupes on event_id. Signatures are compared in constant time.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes


class CryptoError(ValueError):
    """The payload is forged or corrupt."""


def event_signature(timestamp: str, nonce: str, encrypt_key: str, body: bytes) -> str:
    return hashlib.sha256((timestamp + nonce + encrypt_key).encode() + body).hexdigest()


def card_signature(timestamp: str, nonce: str, verification_token: str, body: bytes) -> str:
    return hashlib.sha1((timestamp + nonce + verification_token).encode() + body).hexdigest()


def same(expected: str, given: str) -> bool:
    return hmac.compare_digest(expected.encode(), given.encode())


def _key(encrypt_key: str) -> bytes:
    return hashlib.sha256(encrypt_key.encode()).digest()


def decrypt(encrypt_key: str, encrypted: str) -> str:
    try:
        raw = base64.b64decode(encrypted, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise CryptoError("ciphertext is not base64") from exc
    if len(raw) < 32 or len(raw) % 16:
        raise CryptoError("ciphertext has a bad length")
    decryptor = Cipher(algorithms.AES(_key(encrypt_key)), modes.CBC(raw[:16])).decryptor()
    plain = decryptor.update(raw[16:]) + decryptor.finalize()
    pad = plain[-1]
    if not 1 <= pad <= 16 or plain[-pad:] != bytes([pad]) * pad:
        raise CryptoError("bad padding")
    try:
        return plain[:-pad].decode()
    except UnicodeDecodeError as exc:
        raise CryptoError("plaintext is not UTF-8") from exc


def encrypt(encrypt_key: str, plaintext: str, iv: bytes | None = None) -> str:
    """Encrypt as Feishu does; `iv` is random unless a test fixes it."""
    iv = iv or os.urandom(16)
    data = plaintext.encode()
    pad = 16 - len(data) % 16
    encryptor = Cipher(algorithms.AES(_key(encrypt_key)), modes.CBC(iv)).encryptor()
    return base64.b64encode(iv + encryptor.update(data + bytes([pad]) * pad) + encryptor.finalize()).decode()


def webhook_sign(secret: str, timestamp: int) -> str:
    digest = hmac.new(f"{timestamp}\n{secret}".encode(), b"", hashlib.sha256).digest()
    return base64.b64encode(digest).decode()
