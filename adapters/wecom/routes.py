"""The WeCom callback edge: GET (URL verification) and POST (messages and events) on /wecom/callback.

Rules (developer.work.weixin.qq.com/document/path/90930, 90238): the signature is checked first, on
every request; then the payload is decrypted and parsed. A request that fails any step gets a 4xx
with no side effect and one log line without secrets. The GET handshake answers the decrypted echostr
as the raw body. A POST is answered with an empty 200 at once (WeCom waits 5 s, then retries, three
attempts in all): the sink returns immediately and the work runs in the background.
"""

from __future__ import annotations

import logging

from aiohttp import web

from adapters.http import read_body
from bot.adapter import EventSink

from . import crypto
from .parse import PayloadError, parse_envelope, parse_message

log = logging.getLogger("psibot.wecom")

PATH = "/wecom/callback"


class CallbackRoutes:
    def __init__(self, *, token: str, key: bytes, corp_id: str, sink: EventSink) -> None:
        self._token = token
        self._key = key
        self._corp_id = corp_id
        self._sink = sink

    def mount(self, app: web.Application) -> None:
        app.router.add_get(PATH, self.verify_url)
        app.router.add_post(PATH, self.receive)

    def _signed(self, request: web.Request, encrypted: str) -> bool:
        q = request.query
        given, timestamp, nonce = q.get("msg_signature", ""), q.get("timestamp", ""), q.get("nonce", "")
        return bool(given and timestamp and nonce) and crypto.verify_signature(
            self._token, timestamp, nonce, encrypted, given
        )

    async def verify_url(self, request: web.Request) -> web.Response:
        echostr = request.query.get("echostr", "")
        if not echostr or not self._signed(request, echostr):
            return _reject(request, 403, "bad signature on URL verification")
        try:
            echo = crypto.decrypt(self._key, echostr, self._corp_id)
        except crypto.CryptoError as exc:
            return _reject(request, 400, f"undecryptable echostr ({exc})")
        return web.Response(body=echo.encode(), content_type="text/plain")

    async def receive(self, request: web.Request) -> web.Response:
        body = await read_body(request)
        if body is None:
            return _reject(request, 413, "body too large")
        try:
            envelope = parse_envelope(body)
        except PayloadError as exc:
            return _reject(request, 400, f"malformed envelope ({exc})")
        if not self._signed(request, envelope.encrypt):
            return _reject(request, 403, "bad signature")
        try:
            event = parse_message(crypto.decrypt(self._key, envelope.encrypt, self._corp_id), self._corp_id)
        except (crypto.CryptoError, PayloadError) as exc:
            return _reject(request, 400, f"unreadable message ({exc})")
        if event is not None:
            await self._sink(event)
        return web.Response(text="")


def _reject(request: web.Request, status: int, reason: str) -> web.Response:
    log.warning("wecom callback rejected from %s: %s", request.remote, reason)
    return web.Response(status=status, text="rejected")
