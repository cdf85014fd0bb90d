"""The aiohttp edge for DingTalk HTTP mode: POST /dingtalk/callback (messages), POST /dingtalk/card (clicks).

Signature rule: the `timestamp` and `sign` headers are checked before anything else, body included
(crypto.verify, app secret, 1-hour window). Deadline: DingTalk waits only a few seconds and re-sends
on timeout or error, so a route verifies, parses, hands events to the sink (which returns at once)
and answers 200 `{}` at once; a re-sent message keeps its msgId and the engine drops the repeat.
Anything forged, stale, oversized or malformed gets a 4xx, reaches no sink and is logged without
headers or body; the only 5xx is a 503 when the sink itself refuses (so DingTalk tries again).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from aiohttp import web

from adapters.http import json_object, read_body
from bot.adapter import EventSink
from bot.model import InboundEvent

from .crypto import BadSignature, verify
from .parse import MalformedPayload, parse_card_callback, parse_message

log = logging.getLogger("psibot.dingtalk")

MESSAGE_PATH = "/dingtalk/callback"
CARD_PATH = "/dingtalk/card"

Parser = Callable[[Mapping[str, Any]], tuple[InboundEvent, ...]]


class _Refused(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


class CallbackRoutes:
    def __init__(self, *, app_secret: str, sink: EventSink, clock: Callable[[], float] = time.time) -> None:
        self._app_secret = app_secret
        self._sink = sink
        self._clock = clock

    def mount(self, app: web.Application) -> None:
        app.router.add_post(MESSAGE_PATH, self._handler(parse_message))
        app.router.add_post(CARD_PATH, self._handler(lambda data: (parse_card_callback(data),)))

    def _handler(self, parse: Parser) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def handle(request: web.Request) -> web.Response:
            try:
                data = await _verified_json(request, self._app_secret, self._clock)
                try:
                    events = parse(data)
                except MalformedPayload as exc:
                    raise _Refused(400, str(exc)) from exc
            except _Refused as exc:
                log.warning("%s refused (%d): %s; remote %s", request.path, exc.status, exc, request.remote)
                return web.json_response({"error": str(exc)}, status=exc.status)
            try:
                for event in events:
                    await self._sink(event)
            except Exception:
                log.exception("%s: the engine did not take the event", request.path)
                return web.json_response({"error": "busy"}, status=503)
            return web.json_response({})

        return handle


async def _verified_json(
    request: web.Request, app_secret: str, clock: Callable[[], float]
) -> Mapping[str, Any]:
    try:
        verify(request.headers.get("timestamp"), request.headers.get("sign"), app_secret, int(clock() * 1000))
    except BadSignature as exc:
        raise _Refused(403, str(exc)) from exc
    body = await read_body(request)
    if body is None:
        raise _Refused(413, "body too large")
    data = json_object(body)
    if data is None:
        raise _Refused(400, "body is not a JSON object")
    return data
