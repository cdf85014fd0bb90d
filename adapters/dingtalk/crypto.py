"""DingTalk signatures: pure functions, no I/O.

Signature rule (one construction, two uses):
`sign = base64(HMAC-SHA256(key=secret, msg=f"{timestamp}\\n{secret}"))`, timestamp in ms since epoch.
- Inbound callbacks (robot messages, card actions over HTTP) carry it in the `timestamp` and `sign`
  headers, keyed by the app secret; the body itself is not signed. DingTalk documents a 1-hour window
  for the timestamp, so anything further from our clock is refused as stale.
- Custom group robot webhooks (alerts) carry it in the query string, keyed by the robot's `SEC…`
  secret, URL-encoded.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import quote_plus

WINDOW_MS = 60 * 60 * 1000


class BadSignature(Exception):
    """The request is not provably from DingTalk: missing, malformed, stale or wrong signature."""


def sign(timestamp_ms: str, secret: str) -> str:
    message = f"{timestamp_ms}\n{secret}".encode()
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def verify(timestamp: str | None, signature: str | None, secret: str, now_ms: int) -> None:
    """Raise BadSignature unless `signature` is right for `timestamp` and the timestamp is fresh."""
    if not timestamp or not signature:
        raise BadSignature("missing timestamp or sign header")
    if not timestamp.isdigit() or len(timestamp) > 16:
        raise BadSignature("malformed timestamp")
    if abs(now_ms - int(timestamp)) > WINDOW_MS:
        raise BadSignature("timestamp outside the 1-hour window")
    if not hmac.compare_digest(sign(timestamp, secret).encode(), signature.encode("utf-8", "replace")):
        raise BadSignature("signature mismatch")


def signed_webhook_url(url: str, secret: str, now_ms: int) -> str:
    """The custom robot webhook URL with `timestamp` and `sign` appended (secret: the robot's SEC… key)."""
    timestamp = str(now_ms)
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}timestamp={timestamp}&sign={quote_plus(sign(timestamp, secret))}"
