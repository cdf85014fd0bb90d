"""WeCom callback signature and encryption (pure functions).

Rules (developer.work.weixin.qq.com/document/path/90968):
- `msg_signature` = hex SHA-1 of the sorted, concatenated [token, timestamp, nonce, encrypt]; checked
  with a constant-time compare before anything is decrypted. WeCom documents no timestamp window, so
  none is applied; replays are harmless because the engine dedupes on MsgId.
- AES-256-CBC, key = base64(EncodingAESKey + "="), IV = the key's first 16 bytes, PKCS#7 padding to
  32-byte blocks. Plaintext = 16 random bytes || uint32 big-endian length || message || CorpID.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import struct

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

_BLOCK = 32


class CryptoError(ValueError):
    """The payload is forged, corrupt or for another corp."""


def aes_key(encoding_aes_key: str) -> bytes:
    if len(encoding_aes_key) != 43:
        raise ValueError("EncodingAESKey must be 43 characters")
    try:
        key = base64.b64decode(encoding_aes_key + "=", validate=True)
    except binascii.Error as exc:
        raise ValueError("EncodingAESKey is not valid base64") from exc
    if len(key) != 32:
        raise ValueError("EncodingAESKey does not decode to 32 bytes")
    return key


def signature(token: str, timestamp: str, nonce: str, encrypt: str) -> str:
    joined = "".join(sorted([token, timestamp, nonce, encrypt]))
    return hashlib.sha1(joined.encode()).hexdigest()


def verify_signature(token: str, timestamp: str, nonce: str, encrypt: str, given: str) -> bool:
    return hmac.compare_digest(signature(token, timestamp, nonce, encrypt), given.lower())


def decrypt(key: bytes, encrypted: str, receive_id: str) -> str:
    """The message inside `encrypted`; CryptoError if it cannot be read or names another receiver."""
    try:
        raw = base64.b64decode(encrypted, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise CryptoError("ciphertext is not base64") from exc
    if not raw or len(raw) % 16:
        raise CryptoError("ciphertext length is not a multiple of the AES block")
    decryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).decryptor()
    plain = decryptor.update(raw) + decryptor.finalize()
    pad = plain[-1]
    if not 1 <= pad <= _BLOCK or len(plain) < 20 + pad:
        raise CryptoError("bad padding")
    content = plain[16:-pad]
    (length,) = struct.unpack(">I", content[:4])
    if length > len(content) - 4:
        raise CryptoError("bad message length")
    message, receiver = content[4 : 4 + length], content[4 + length :]
    if not hmac.compare_digest(receiver, receive_id.encode()):
        raise CryptoError("message is for another receiver")
    try:
        return message.decode()
    except UnicodeDecodeError as exc:
        raise CryptoError("message is not UTF-8") from exc


def encrypt(key: bytes, message: str, receive_id: str, prefix: bytes | None = None) -> str:
    """Encrypt for WeCom; `prefix` (16 bytes) is random unless a test fixes it."""
    body = message.encode()
    plain = (prefix or os.urandom(16)) + struct.pack(">I", len(body)) + body + receive_id.encode()
    pad = _BLOCK - len(plain) % _BLOCK
    plain += bytes([pad]) * pad
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode()
