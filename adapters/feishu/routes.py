"""The Feishu callback edge: POST /feishu/events (messages, card.action.trigger) and POST /feishu/card.

Rules (open.feishu.cn 事件订阅, 卡片回传交互): answer within 3 s or Feishu retries, so events go to the
sink (which returns at once) and the answer follows immediately: {"msg": "success"} for events, {} (no
card change, no toast) for clicks; the engine updates the card afterwards by PATCH.

Checks, in the order of the official SDK's dispatcher, made strict:
1. When a signature header is present it is verified first, on the raw body (events: SHA-256 with the
   Encrypt Key; old card URL: SHA-1 with the verification token).
2. `{"encrypt": …}` is decrypted with the Encrypt Key; undecryptable → 400.
3. The verification token, when the payload carries one, must match (constant time).
4. A url_verification with the right token gets its challenge back (Feishu sends it unsigned).
5. Anything else must have passed step 1 (events: when an Encrypt Key is configured) or, with no
   Encrypt Key, carry the right token.
A failure at any step is a 4xx, with no side effect and one log line without secrets.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from aiohttp import web

from adapters.http import json_object, read_body
from bot.adapter import EventSink

from . import crypto
from .parse import PayloadError, parse_card_callback, parse_event

log = logging.getLogger("psibot.feishu")

EVENTS_PATH = "/feishu/events"
CARD_PATH = "/feishu/card"


class _Rejected(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


class CallbackRoutes:
    def __init__(
        self,
        *,
        verification_token: str,
        encrypt_key: str,
        sink: EventSink,
        bot_open_id: Callable[[], str | None],
    ) -> None:
        self._token = verification_token
        self._encrypt_key = encrypt_key
        self._sink = sink
        self._bot_open_id = bot_open_id

    def mount(self, app: web.Application) -> None:
        app.router.add_post(EVENTS_PATH, self.events)
        app.router.add_post(CARD_PATH, self.card)

    async def events(self, request: web.Request) -> web.Response:
        try:
            payload, signed = await self._open(request, self._encrypt_key, crypto.event_signature)
            token = _str(payload.get("token")) or _str(_dict(payload.get("header")).get("token"))
            if payload.get("type") == "url_verification":
                return self._challenge(payload, token)
            self._check_token(token, required=not self._encrypt_key)
            if self._encrypt_key and not signed:
                raise _Rejected(403, "unsigned event")
            if payload.get("schema") != "2.0":
                return web.json_response({"msg": "success"})  # v1 events: nothing psibot subscribes to
            event = parse_event(payload, self._bot_open_id())
        except _Rejected as exc:
            return _reject(request, exc)
        except PayloadError as exc:
            return _reject(request, _Rejected(400, f"malformed event ({exc})"))
        if event is not None:
            await self._sink(event)
        is_click = _dict(payload.get("header")).get("event_type") == "card.action.trigger"
        return web.json_response({} if is_click else {"msg": "success"})

    async def card(self, request: web.Request) -> web.Response:
        try:
            payload, signed = await self._open(request, self._token, crypto.card_signature)
            token = _str(payload.get("token"))
            if payload.get("type") == "url_verification":
                return self._challenge(payload, token)
            if not signed:
                raise _Rejected(403, "unsigned card callback")
            event = parse_card_callback(payload)
        except _Rejected as exc:
            return _reject(request, exc)
        except PayloadError as exc:
            return _reject(request, _Rejected(400, f"malformed card callback ({exc})"))
        await self._sink(event)
        return web.json_response({})

    async def _open(
        self, request: web.Request, signing_secret: str, sign: Callable[[str, str, str, bytes], str]
    ) -> tuple[dict[str, Any], bool]:
        """The verified, decrypted payload and whether it carried a valid signature."""
        body = await read_body(request)
        if body is None:
            raise _Rejected(413, "body too large")
        given = request.headers.get("X-Lark-Signature", "")
        signed = False
        if given and signing_secret:
            timestamp = request.headers.get("X-Lark-Request-Timestamp", "")
            nonce = request.headers.get("X-Lark-Request-Nonce", "")
            if not crypto.same(sign(timestamp, nonce, signing_secret, body), given):
                raise _Rejected(403, "bad signature")
            signed = True
        payload = json_object(body)
        if payload is None:
            raise _Rejected(400, "body is not a JSON object")
        if "encrypt" in payload:
            if not self._encrypt_key:
                raise _Rejected(400, "encrypted body but FEISHU_ENCRYPT_KEY is not set")
            try:
                payload = json_object(crypto.decrypt(self._encrypt_key, _str(payload["encrypt"])))
            except crypto.CryptoError as exc:
                raise _Rejected(400, f"undecryptable body ({exc})") from None
            if payload is None:
                raise _Rejected(400, "decrypted body is not a JSON object")
        return payload, signed

    def _check_token(self, token: str, *, required: bool) -> None:
        if (token or required) and not crypto.same(self._token, token):
            raise _Rejected(403, "bad verification token")

    def _challenge(self, payload: dict[str, Any], token: str) -> web.Response:
        self._check_token(token, required=True)
        return web.json_response({"challenge": _str(payload.get("challenge"))})


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _reject(request: web.Request, exc: _Rejected) -> web.Response:
    log.warning("feishu callback rejected from %s: %s", request.remote, exc)
    return web.json_response({"msg": "rejected"}, status=exc.status)
