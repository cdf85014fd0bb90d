"""Small HTTP helpers shared by the platform adapters, on both sides of the wire.

Outbound: one request, with network failures and 5xx mapped to a transient DeliveryError, and no URL in
any message (WeCom carries the access token in the query string). Inbound: a request body read with a
hard size cap, since callbacks are small and anything larger is not from the platform.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web

from bot.adapter import DeliveryError

MAX_CALLBACK_BYTES = 256 * 1024


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    headers: Mapping[str, str]
    body: bytes
    content_type: str

    def json(self) -> dict[str, Any]:
        """The body as a JSON object; {} when it is not one (the caller reports the status)."""
        try:
            data = json.loads(self.body)
        except ValueError:
            return {}
        return data if isinstance(data, dict) else {}


async def request(
    session: aiohttp.ClientSession,
    method: str,
    url: str,
    *,
    what: str,
    time_limit: float = 15.0,
    **kwargs: Any,
) -> Response:
    """Perform one call; `what` names it in errors (never the URL, which may hold a token)."""
    try:
        async with session.request(
            method, url, timeout=aiohttp.ClientTimeout(total=time_limit), **kwargs
        ) as resp:
            body = await resp.read()
            response = Response(resp.status, dict(resp.headers), body, resp.content_type)
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise DeliveryError(f"{what}: network error ({type(exc).__name__})", transient=True) from exc
    if response.status >= 500:
        raise DeliveryError(f"{what}: HTTP {response.status}", transient=True)
    return response


async def read_body(request: web.Request, limit: int = MAX_CALLBACK_BYTES) -> bytes | None:
    """The raw body, or None when it is larger than `limit`."""
    if request.content_length is not None and request.content_length > limit:
        return None
    return await read_limited(request.content, limit)


async def read_limited(stream: aiohttp.StreamReader, limit: int) -> bytes | None:
    """All of a body as it arrives, or None once it passes `limit` bytes. `StreamReader.read(n)` is not
    this: it returns what has arrived so far, often the first 64 KB of a photo."""
    parts, size = [], 0
    async for chunk in stream.iter_any():
        size += len(chunk)
        if size > limit:
            return None
        parts.append(chunk)
    return b"".join(parts)


def json_object(data: bytes | str) -> dict[str, Any] | None:
    """Parse a JSON object; None for anything else, so a malformed payload is a 4xx, not a 500."""
    try:
        value = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        return None
    return value if isinstance(value, dict) else None


class SessionOwner:
    """One aiohttp session per platform client, opened on first use (inside the running loop) and closed once."""

    _session: aiohttp.ClientSession | None = None

    def session_timeout(self) -> aiohttp.ClientTimeout | None:
        """The timeout for a new session; None keeps aiohttp's default."""
        return None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            timeout = self.session_timeout()
            self._session = aiohttp.ClientSession(timeout=timeout) if timeout else aiohttp.ClientSession()
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
